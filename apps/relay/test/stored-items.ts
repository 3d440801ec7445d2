import * as Y from 'yjs';

/** The `items` map of the document that `updates` (as a storage returned them) make up. */
export function itemsOf(updates: readonly Uint8Array[]): unknown {
  const doc = new Y.Doc();
  for (const update of updates) Y.applyUpdate(doc, update);
  return doc.getMap('items').toJSON();
}

/** `count` updates of `source`, each setting one item: `item<i>` to `value <i>`. */
export function makeUpdates(count: number, source = new Y.Doc()): { source: Y.Doc; updates: Uint8Array[] } {
  const updates: Uint8Array[] = [];
  source.on('update', (u: Uint8Array) => updates.push(u));
  for (let i = 0; i < count; i++) source.getMap('items').set(`item${i}`, `value ${i}`);
  return { source, updates };
}

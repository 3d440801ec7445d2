/**
 * The seeded list both the benchmark and the cold-start profiler open, so a
 * profile explains exactly what the benchmark measured.
 */
import * as Y from 'yjs';
import { ShoppingList } from '@basket/list-core';

export function randomListId() {
  return Buffer.from(crypto.getRandomValues(new Uint8Array(16))).toString('base64url');
}

/** A list document with `items` items and `edits` historical edits in total (adds included). */
export function buildListUpdate(items, edits) {
  const doc = new Y.Doc();
  let clock = 1_700_000_000_000;
  const list = new ShoppingList(doc, { actor: 'Seeder', now: () => clock++ });
  list.setTitle(`Bench ${items}`);
  const ids = [];
  for (let i = 0; i < items; i++) ids.push(list.addItem({ name: `Item ${String(i).padStart(5, '0')}` }));
  list.destroy();
  // The remaining history as the field writes edits make (one transaction each), without the
  // model attached: seeding cost is not what is measured.
  const map = doc.getMap('items');
  for (let e = items; e < edits; e++) {
    const item = map.get(ids[e % ids.length]);
    doc.transact(() => {
      if (e % 3 === 0) item.set('note', `note ${e}`);
      else item.set('quantity', (e % 9) + 1);
    });
  }
  return Y.encodeStateAsUpdate(doc);
}

/** Writes the update into IndexedDB exactly as y-indexeddb lays it out. */
export async function seedIndexedDb(page, listId, update) {
  await page.evaluate(
    async ({ name, bytes }) => {
      const db = await new Promise((resolve, reject) => {
        const request = indexedDB.open(name);
        request.onupgradeneeded = () => {
          request.result.createObjectStore('updates', { autoIncrement: true });
          request.result.createObjectStore('custom');
        };
        request.onsuccess = () => resolve(request.result);
        request.onerror = () => reject(request.error);
      });
      await new Promise((resolve, reject) => {
        const tx = db.transaction(['updates'], 'readwrite');
        tx.objectStore('updates').add(new Uint8Array(bytes));
        tx.oncomplete = resolve;
        tx.onerror = () => reject(tx.error);
      });
      db.close();
    },
    { name: `basket-list-${listId}`, bytes: Array.from(update) },
  );
}

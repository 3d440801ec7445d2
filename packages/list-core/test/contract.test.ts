import * as Y from 'yjs';
import { describe, expect, it } from 'vitest';
import { ShoppingList } from '../src/index.js';

/**
 * The PRODUCT.md contracts driven as a test outside the project would: the public API, plain
 * Y.Docs synced with Y.applyUpdate, and the default clock.
 */

function storedName(doc: Y.Doc, id: string): string {
  return (doc.getMap('items').get(id) as Y.Map<unknown>).get('name') as string;
}

describe('document contract: name is trimmed, 1–200 chars', () => {
  it('a name cut at 200 characters just after a space is still trimmed', () => {
    const doc = new Y.Doc();
    const list = new ShoppingList(doc, { actor: 'A' });
    const id = list.addItem({ name: `${'a'.repeat(199)} bread` });
    expect(storedName(doc, id)).toBe('a'.repeat(199));
    expect(list.items()[0]!.name).toBe('a'.repeat(199));
  });

  it('a rename cut at 200 characters just after a space is still trimmed', () => {
    const doc = new Y.Doc();
    const list = new ShoppingList(doc, { actor: 'A' });
    const id = list.addItem({ name: 'Bread' });
    list.updateItem(id, { name: `${'b'.repeat(199)}  rolls` });
    expect(storedName(doc, id)).toBe('b'.repeat(199));
  });

  it('a cut never splits a character made of two UTF-16 halves', () => {
    const doc = new Y.Doc();
    const list = new ShoppingList(doc, { actor: 'A' });
    const id = list.addItem({ name: `${'c'.repeat(199)}🍞🍞` });
    expect(storedName(doc, id)).toBe('c'.repeat(199));
  });

  it('a name longer than 200 characters written by another phone shows cut to 200', () => {
    const peer = new Y.Doc();
    const item = new Y.Map<unknown>();
    peer.getMap('items').set('longnamefrompeer', item);
    item.set('name', 'd'.repeat(300));
    item.set('quantity', 1);
    const doc = new Y.Doc();
    const list = new ShoppingList(doc, { actor: 'A' });
    Y.applyUpdate(doc, Y.encodeStateAsUpdate(peer));
    expect(list.items().map((shown) => shown.name)).toEqual(['d'.repeat(200)]);
  });

  it('a name from another phone cut at 200 characters never splits a character made of two UTF-16 halves', () => {
    const peer = new Y.Doc();
    const item = new Y.Map<unknown>();
    peer.getMap('items').set('emojinamefrompeer', item);
    // The 200th UTF-16 unit is the first half of the second 🧀.
    item.set('name', `${'e'.repeat(197)}🧀🧀`);
    item.set('quantity', 1);
    const doc = new Y.Doc();
    const list = new ShoppingList(doc, { actor: 'A' });
    Y.applyUpdate(doc, Y.encodeStateAsUpdate(peer));
    expect(list.items().map((shown) => shown.name)).toEqual([`${'e'.repeat(197)}🧀`]);
  });
});

/** Both ways, as Y.applyUpdate with state vectors, like y-websocket's sync steps. */
function syncDocs(a: Y.Doc, b: Y.Doc): void {
  Y.applyUpdate(b, Y.encodeStateAsUpdate(a, Y.encodeStateVector(b)));
  Y.applyUpdate(a, Y.encodeStateAsUpdate(b, Y.encodeStateVector(a)));
}

describe('merge rule 7 within one millisecond', () => {
  // A test on the default clock makes its edits in a row, usually in the same millisecond of
  // Date.now: the frozen clock makes that certain.
  for (const now of [undefined, () => 1_700_000_000_000]) {
    it(`A removes Milk, B (offline, still seeing it) adds "Milk" right after → B's Milk visible on both, the old one in Recently deleted (${now === undefined ? 'Date.now' : 'frozen clock'})`, () => {
      const docA = new Y.Doc();
      const docB = new Y.Doc();
      const a = new ShoppingList(docA, now === undefined ? { actor: 'A' } : { actor: 'A', now });
      const b = new ShoppingList(docB, now === undefined ? { actor: 'B' } : { actor: 'B', now });
      const oldMilk = a.addItem({ name: 'Milk' });
      syncDocs(docA, docB);
      a.removeItem(oldMilk);
      b.addItem({ name: 'Milk' });
      syncDocs(docA, docB);
      for (const list of [a, b]) {
        expect(list.items().map((item) => [item.name, item.addedBy])).toEqual([['Milk', 'B']]);
        expect(list.deletedItems().map((item) => item.id)).toEqual([oldMilk]);
      }
      // B's Milk is on the list: nothing to tell B.
      expect(b.notices()).toEqual([]);
    });
  }
});

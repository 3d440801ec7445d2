import { describe, expect, it } from 'vitest';
import * as Y from 'yjs';
import { keepLocalEdits } from './kept-edits.js';
import { createMemoryStore } from './device-storage.js';

const LIST = 'keptedits00000000001';

/** A tab of the list: its own document, the device's shared store. */
function tab(store = createMemoryStore()) {
  const doc = new Y.Doc();
  return { doc, kept: keepLocalEdits(store, LIST, doc), names: () => [...doc.getMap<string>('items').values()].sort() };
}

describe('keepLocalEdits across tabs of one list', () => {
  it("a tab's clear drops only what its own document holds, not another tab's edit it never saw", () => {
    const store = createMemoryStore();
    const a = tab(store);
    const b = tab(store);
    a.doc.getMap('items').set('a1', 'Eggs');
    b.doc.getMap('items').set('b1', 'Milk');
    // Tab B's edits are all on the relay; tab A's Eggs never reached it (nor tab B).
    b.kept.clear();
    expect(tab(store).names()).toEqual(['Eggs']);
  });

  it("two tabs' edits are both kept", () => {
    const store = createMemoryStore();
    const a = tab(store);
    const b = tab(store);
    a.doc.getMap('items').set('a1', 'Eggs');
    b.doc.getMap('items').set('b1', 'Milk');
    a.doc.getMap('items').set('a2', 'Bread');
    expect(tab(store).names()).toEqual(['Bread', 'Eggs', 'Milk']);
  });
});

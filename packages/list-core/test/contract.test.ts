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
});

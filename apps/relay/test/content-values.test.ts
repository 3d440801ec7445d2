import * as Y from 'yjs';
import { describe, expect, it } from 'vitest';
import { MAX_VALUE_DEPTH } from '../src/sync/content-values.js';
import { decodeIncomingMessage, encodeSyncUpdate } from '../src/sync/protocol.js';

/** The update a phone sends setting the key 'value' of the map 'items' to `value`. */
function settingValue(value: unknown): Uint8Array {
  const doc = new Y.Doc();
  doc.getMap('items').set('value', value);
  return encodeSyncUpdate(Y.encodeStateAsUpdate(doc));
}

function nested(depth: number): unknown {
  let value: unknown = 'innermost';
  for (let level = 0; level < depth; level++) value = level % 2 === 0 ? [value] : { inner: value };
  return value;
}

describe('values an item may hold (content-values.ts)', () => {
  it(`takes values nested up to ${MAX_VALUE_DEPTH} levels, and refuses deeper ones before they reach a list`, () => {
    expect(decodeIncomingMessage(settingValue(nested(MAX_VALUE_DEPTH))).kind).toBe('sync-update');
    expect(() => decodeIncomingMessage(settingValue(nested(MAX_VALUE_DEPTH + 1)))).toThrow(/nested more than 100 levels/);
  });

  it('takes what honest phones write: plain objects, arrays, binary, numbers, strings, null, and a subdocument', () => {
    const doc = new Y.Doc();
    const items = doc.getMap('items');
    items.set('milk', { name: 'Milk', quantity: 2, done: false, tags: ['dairy', null], photo: new Uint8Array([1, 2]), added: 2n ** 40n });
    items.set('notes', new Y.Doc({ meta: { title: 'Notes' } }));
    const message = decodeIncomingMessage(encodeSyncUpdate(Y.encodeStateAsUpdate(doc)));
    expect(message.kind).toBe('sync-update');
  });
});

import fc from 'fast-check';
import * as decoding from 'lib0/decoding';
import * as encoding from 'lib0/encoding';
import * as Y from 'yjs';
import { describe, expect, it } from 'vitest';
import { encodeDurableAck, MESSAGE_DURABLE_ACK } from '../src/sync/protocol.js';
import { encodeStateVectorOf, varUintLength, writeVarUint } from '../src/sync/state-vector.js';

/** lib0's own encoding of one var-length integer, the reference for ours. */
function lib0VarUint(value: number): Uint8Array {
  const encoder = encoding.createEncoder();
  encoding.writeVarUint(encoder, value);
  return encoding.toUint8Array(encoder);
}

/** Edits by several clients (ids up to 2^32 − 1, as Yjs draws them), some of them concurrent. */
const editsArbitrary = fc.array(
  fc.record({
    client: fc.oneof(fc.integer({ min: 0, max: 300 }), fc.integer({ min: 0, max: 2 ** 32 - 1 })),
    key: fc.string({ maxLength: 3 }),
    text: fc.string({ maxLength: 40 }),
    delete: fc.boolean(),
  }),
  { maxLength: 30 },
);

function docFrom(edits: ReadonlyArray<{ client: number; key: string; text: string; delete: boolean }>): Y.Doc {
  const doc = new Y.Doc();
  const phones = new Map<number, Y.Doc>();
  for (const edit of edits) {
    let phone = phones.get(edit.client);
    if (phone === undefined) {
      phone = new Y.Doc();
      phone.clientID = edit.client;
      phones.set(edit.client, phone);
    }
    Y.applyUpdate(phone, Y.encodeStateAsUpdate(doc));
    const items = phone.getMap<string>('items');
    if (edit.delete && items.has(edit.key)) items.delete(edit.key);
    else items.set(edit.key, edit.text);
    Y.applyUpdate(doc, Y.encodeStateAsUpdate(phone));
  }
  return doc;
}

describe('state vector written directly', () => {
  it('[V1] var-length integers are byte for byte what lib0 writes, up to 2^53', () => {
    fc.assert(
      fc.property(fc.oneof(fc.integer({ min: 0, max: 300 }), fc.integer({ min: 0, max: 2 ** 32 }), fc.maxSafeNat()), (value) => {
        const expected = lib0VarUint(value);
        const bytes = new Uint8Array(varUintLength(value));
        expect(writeVarUint(bytes, 0, value)).toBe(expected.length);
        expect(bytes).toEqual(expected);
      }),
    );
  });

  it('[V2] decodes to the same clocks as Y.encodeStateVector, for any edits by any clients', () => {
    fc.assert(
      fc.property(editsArbitrary, (edits) => {
        const doc = docFrom(edits);
        expect(Y.decodeStateVector(encodeStateVectorOf(doc))).toEqual(Y.decodeStateVector(Y.encodeStateVector(doc)));
      }),
      { numRuns: 200 },
    );
  });

  it('[V5] byte for byte what Y.encodeStateVector writes (PRODUCT.md: the ack payload is exactly it), whatever order clients arrived in', () => {
    fc.assert(
      fc.property(editsArbitrary, (edits) => {
        const doc = docFrom(edits);
        expect(encodeStateVectorOf(doc)).toEqual(Y.encodeStateVector(doc));
      }),
      { numRuns: 200 },
    );
  });

  it('[V6] byte for byte what Y.encodeStateVector writes for a list written by hundreds of clients, and again after more', () => {
    // Each app session is a new Yjs client, so a long-lived list gathers many; the encoder's
    // reused scratch space must grow past its first size and stay right afterwards.
    const edits = Array.from({ length: 300 }, (_, i) => ({ client: (i * 2654435761) % 2 ** 32, key: `k${i % 7}`, text: `${i}`, delete: false }));
    const small = docFrom(edits.slice(0, 3));
    const large = docFrom(edits);
    expect(large.store.clients.size).toBe(300);
    expect(encodeStateVectorOf(large)).toEqual(Y.encodeStateVector(large));
    expect(encodeStateVectorOf(small)).toEqual(Y.encodeStateVector(small));
    expect(encodeStateVectorOf(large)).toEqual(Y.encodeStateVector(large));
  });

  it('[V3] an update held back for a missing dependency is not counted, as in Yjs', () => {
    const phone = new Y.Doc();
    phone.clientID = 7;
    const first = captureUpdate(phone, () => phone.getMap('items').set('a', 1));
    const second = captureUpdate(phone, () => phone.getMap('items').set('b', 2));
    const relay = new Y.Doc();
    Y.applyUpdate(relay, second);
    expect(relay.store.pendingStructs).not.toBeNull();
    expect(Y.decodeStateVector(encodeStateVectorOf(relay))).toEqual(new Map());
    Y.applyUpdate(relay, first);
    expect(Y.decodeStateVector(encodeStateVectorOf(relay))).toEqual(new Map([[7, 2]]));
  });

  it('[V4] the durable ack is message 100 carrying the state vector, as lib0 would frame it', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 400 }), (stateVector) => {
        const decoder = decoding.createDecoder(encodeDurableAck(stateVector));
        expect(decoding.readVarUint(decoder)).toBe(MESSAGE_DURABLE_ACK);
        expect(decoding.readVarUint8Array(decoder)).toEqual(stateVector);
        expect(decoding.hasContent(decoder)).toBe(false);
      }),
    );
  });
});

function captureUpdate(doc: Y.Doc, edit: () => void): Uint8Array {
  let captured: Uint8Array | undefined;
  const capture = (update: Uint8Array): void => {
    captured = update;
  };
  doc.on('update', capture);
  edit();
  doc.off('update', capture);
  if (captured === undefined) throw new Error('the edit made no update');
  return captured;
}

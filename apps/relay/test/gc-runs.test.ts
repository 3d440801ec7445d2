import fc from 'fast-check';
import * as encoding from 'lib0/encoding';
import * as Y from 'yjs';
import { describe, expect, it } from 'vitest';
import { gcRunJoins, joinGcRuns } from '../src/sync/gc-runs.js';
import type { DecodedUpdate } from '../src/sync/v1-update.js';
import { clientBlocks, writeV1Update } from '../src/sync/v1-update.js';

/** What a document holds, compared across documents: contents, state vector and deletions. */
function sameDocument(a: Y.Doc, b: Y.Doc): void {
  expect(b.getArray('order').toJSON()).toEqual(a.getArray('order').toJSON());
  expect(b.getMap('items').toJSON()).toEqual(a.getMap('items').toJSON());
  expect(Y.decodeStateVector(Y.encodeStateVector(b))).toEqual(Y.decodeStateVector(Y.encodeStateVector(a)));
  expect(Y.equalDeleteSets(Y.createDeleteSetFromStructStore(b.store), Y.createDeleteSetFromStructStore(a.store))).toBe(true);
  expect(b.store.pendingStructs).toEqual(a.store.pendingStructs);
}

/** The update written again with each run of adjacent GC structs as one, as the decode worker does (protocol.ts). */
function withGcRunsJoined({ structs, ds }: DecodedUpdate): Uint8Array {
  return writeV1Update(clientBlocks(structs).map(joinGcRuns), ds);
}

function applied(update: Uint8Array): Y.Doc {
  const doc = new Y.Doc();
  Y.applyUpdate(doc, update);
  return doc;
}

/** One client's block of structs from `clock`, each written by one of `writers`. */
function block(encoder: encoding.Encoder, client: number, clock: number, writers: ReadonlyArray<() => void>): void {
  encoding.writeVarUint(encoder, writers.length);
  encoding.writeVarUint(encoder, client);
  encoding.writeVarUint(encoder, clock);
  for (const write of writers) write();
}

describe('runs of GC structs written as one', () => {
  it('[G1] any document, written again, loads the same (Yjs joins its own GC runs: the rewrite must change nothing else)', () => {
    fc.assert(
      fc.property(
        fc.array(fc.record({ phone: fc.integer({ min: 0, max: 2 }), op: fc.constantFrom('push', 'insertTop', 'deleteLast', 'deleteFirst', 'set', 'unset') }), { maxLength: 120 }),
        (ops) => {
          const phones = [1, 2, 3].map((client) => {
            const doc = new Y.Doc();
            doc.clientID = client;
            return doc;
          });
          ops.forEach(({ phone, op }, i) => {
            const doc = phones[phone] as Y.Doc;
            const order = doc.getArray<string>('order');
            if (op === 'push') order.push([`item ${i}`]);
            else if (op === 'insertTop') order.insert(0, [`top ${i}`]);
            else if (op === 'deleteLast' && order.length > 0) order.delete(order.length - 1, 1);
            else if (op === 'deleteFirst' && order.length > 0) order.delete(0, 1);
            else if (op === 'set') {
              // A nested map: deleting it turns its fields into GC structs, one run per item.
              const item = new Y.Map<unknown>();
              doc.getMap('items').set(`k${i % 5}`, item);
              item.set('name', `item ${i}`);
              item.set('checked', i % 2 === 0);
            }
            else if (op === 'unset') doc.getMap('items').delete(`k${i % 5}`);
            // Phones sync now and then, so deletions cross clients too.
            if (i % 7 === 0) for (const other of phones) Y.applyUpdate(other, Y.encodeStateAsUpdate(doc));
          });
          const update = Y.mergeUpdates(phones.map((doc) => Y.encodeStateAsUpdate(doc)));
          const rewritten = withGcRunsJoined(Y.decodeUpdate(update));
          expect(rewritten).toBeDefined();
          const decoded = Y.decodeUpdate(rewritten as Uint8Array);
          expect(gcRunJoins(decoded.structs)).toBe(0);
          sameDocument(applied(update), applied(rewritten as Uint8Array));
        },
      ),
      { numRuns: 300 },
    );
  });

  it('[G2] a crafted run of one-clock GC structs around an item becomes two structs and the item; deletions are kept', () => {
    const target = new Y.Doc();
    target.clientID = 5;
    target.getMap('items').set('milk', 'Milk');
    const milk = Y.decodeUpdate(Y.encodeStateAsUpdate(target)).structs[0] as Y.Item;
    const gc = (): void => {
      encoding.writeUint8(update, 0);
      encoding.writeVarUint(update, 1);
    };
    const stringItem = (): void => {
      encoding.writeUint8(update, 4); // ContentString, no origins: at the start of the root array
      encoding.writeVarUint(update, 1);
      encoding.writeVarString(update, 'order');
      encoding.writeVarString(update, 'x');
    };
    const update = encoding.createEncoder();
    encoding.writeVarUint(update, 2);
    block(update, 7, 0, [...Array.from({ length: 1000 }, () => gc), stringItem, ...Array.from({ length: 1001 }, () => gc)]);
    block(update, 5, 0, [
      () => {
        const encoder = new Y.UpdateEncoderV1();
        milk.write(encoder, 0);
        encoding.writeUint8Array(update, encoder.toUint8Array());
      },
    ]);
    // Delete set: client 5, clock 0, length 1 (the milk).
    for (const value of [1, 5, 1, 0, 1]) encoding.writeVarUint(update, value);
    const original = encoding.toUint8Array(update);
    expect(gcRunJoins(Y.decodeUpdate(original).structs)).toBe(1999);
    const rewritten = withGcRunsJoined(Y.decodeUpdate(original)) as Uint8Array;
    expect(Y.decodeUpdate(rewritten).structs.map((struct) => [struct.constructor.name, struct.length])).toEqual([
      ['GC', 1000],
      ['Item', 1],
      ['GC', 1001],
      ['Item', 1],
    ]);
    expect(rewritten.length).toBeLessThan(original.length / 50);
    sameDocument(applied(original), applied(rewritten));
    expect(applied(rewritten).getArray('order').toJSON()).toEqual(['x']);
    expect(applied(rewritten).getMap('items').has('milk')).toBe(false);
  });

  it('[G3] an update listing one client in two blocks is written with the last only, as Yjs reads it: the same document, its GC runs still joined', () => {
    for (const clocks of [
      [0, 10],
      [10, 0],
    ]) {
      const update = encoding.createEncoder();
      encoding.writeVarUint(update, 2);
      const gc = (): void => {
        encoding.writeUint8(update, 0);
        encoding.writeVarUint(update, 1);
      };
      // The first block a handful of structs, the last a long run: listing a client twice must
      // not get a flood past the rewrite.
      for (const [i, clock] of clocks.entries()) block(update, 7, clock, Array.from({ length: i === 0 ? 3 : 2000 }, () => gc));
      encoding.writeVarUint(update, 0);
      const original = encoding.toUint8Array(update);
      const rewritten = withGcRunsJoined(Y.decodeUpdate(original));
      expect(Y.decodeUpdate(rewritten).structs.map((struct) => [struct.id.clock, struct.length])).toEqual([[clocks[1], 2000]]);
      const [before, after] = [applied(original), applied(rewritten)];
      expect(after.store.pendingStructs?.missing).toEqual(before.store.pendingStructs?.missing);
      // Held back the same (in other bytes: joined): once the gap is filled they are the same.
      const filler = encoding.createEncoder();
      encoding.writeVarUint(filler, 1);
      block(filler, 7, 0, [() => (encoding.writeUint8(filler, 0), encoding.writeVarUint(filler, 10))]);
      encoding.writeVarUint(filler, 0);
      for (const doc of [before, after]) Y.applyUpdate(doc, encoding.toUint8Array(filler));
      sameDocument(before, after);
    }
  });

  it('[G4] crafted updates of GC pieces, items and deletions from several clients load the same once their GC runs are joined', () => {
    const structArbitrary = fc.oneof(
      fc.record({ kind: fc.constant('gc' as const), length: fc.integer({ min: 1, max: 3 }) }),
      fc.record({ kind: fc.constant('item' as const), text: fc.string({ minLength: 1, maxLength: 3 }) }),
    );
    const clientsArbitrary = fc.uniqueArray(fc.record({ client: fc.integer({ min: 1, max: 2 ** 32 - 1 }), structs: fc.array(structArbitrary, { minLength: 1, maxLength: 30 }) }), {
      selector: ({ client }) => client,
      maxLength: 4,
    });
    const deletesArbitrary = fc.array(fc.record({ clockOffset: fc.integer({ min: 0, max: 40 }), length: fc.integer({ min: 1, max: 5 }) }), { maxLength: 4 });
    fc.assert(
      fc.property(clientsArbitrary, deletesArbitrary, (clients, deletes) => {
        const update = encoding.createEncoder();
        encoding.writeVarUint(update, clients.length);
        for (const { client, structs } of clients) {
          block(
            update,
            client,
            0,
            structs.map((struct) => () => {
              if (struct.kind === 'gc') {
                encoding.writeUint8(update, 0);
                encoding.writeVarUint(update, struct.length);
              } else {
                encoding.writeUint8(update, 4); // ContentString at the start of the root array
                encoding.writeVarUint(update, 1);
                encoding.writeVarString(update, 'order');
                encoding.writeVarString(update, struct.text);
              }
            }),
          );
        }
        // Deletions of the first client's clocks.
        const first = clients[0];
        encoding.writeVarUint(update, first === undefined || deletes.length === 0 ? 0 : 1);
        if (first !== undefined && deletes.length > 0) {
          encoding.writeVarUint(update, first.client);
          encoding.writeVarUint(update, deletes.length);
          for (const { clockOffset, length } of deletes) {
            encoding.writeVarUint(update, clockOffset);
            encoding.writeVarUint(update, length);
          }
        }
        const original = encoding.toUint8Array(update);
        const rewritten = withGcRunsJoined(Y.decodeUpdate(original));
        expect(rewritten).toBeDefined();
        expect(gcRunJoins(Y.decodeUpdate(rewritten as Uint8Array).structs)).toBe(0);
        sameDocument(applied(original), applied(rewritten as Uint8Array));
      }),
      { numRuns: 500 },
    );
  });
});

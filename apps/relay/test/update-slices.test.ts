import fc from 'fast-check';
import * as encoding from 'lib0/encoding';
import * as Y from 'yjs';
import { describe, expect, it } from 'vitest';
import { decodeIncomingMessage, encodeSyncUpdate, ProtocolError } from '../src/sync/protocol.js';
import { estimatedUpdateHeapBytes } from '../src/sync/heap-estimate.js';
import { cutStoredList, updateSlices } from '../src/sync/update-slices.js';
import type { Struct } from '../src/sync/v1-update.js';
import { clientBlocks, writeV1Update } from '../src/sync/v1-update.js';
import { interleavedDeletedUpdate } from './helpers.js';

/** What a document holds, compared across documents: contents, state vector, deletions, held-back updates. */
function sameDocument(a: Y.Doc, b: Y.Doc): void {
  expect(b.getArray('order').toJSON()).toEqual(a.getArray('order').toJSON());
  expect(b.getMap('items').toJSON()).toEqual(a.getMap('items').toJSON());
  expect(b.getText('note').toString()).toBe(a.getText('note').toString());
  expect(Y.decodeStateVector(Y.encodeStateVector(b))).toEqual(Y.decodeStateVector(Y.encodeStateVector(a)));
  expect(Y.equalDeleteSets(Y.createDeleteSetFromStructStore(b.store), Y.createDeleteSetFromStructStore(a.store))).toBe(true);
  expect(b.store.pendingStructs).toEqual(a.store.pendingStructs);
  expect(b.store.pendingDs).toEqual(a.store.pendingDs);
}

function slicesOf(update: Uint8Array, maxStructs: number): ReturnType<typeof updateSlices> {
  const decoded = Y.decodeUpdate(update);
  const blocks = clientBlocks(decoded.structs);
  expect(blocks).toBeDefined();
  return updateSlices(blocks as Struct[][], decoded.ds, maxStructs);
}

/** A document that starts from `base` (if any) and applies each update in turn. */
function docWith(base: Uint8Array | undefined, updates: readonly Uint8Array[], afterEach?: (doc: Y.Doc) => void): Y.Doc {
  const doc = new Y.Doc();
  if (base !== undefined) Y.applyUpdate(doc, base);
  for (const update of updates) {
    Y.applyUpdate(doc, update);
    afterEach?.(doc);
  }
  return doc;
}

const opArbitrary = fc.record({
  phone: fc.integer({ min: 0, max: 2 }),
  op: fc.constantFrom('push', 'insertTop', 'insertMiddle', 'deleteFirst', 'deleteMiddle', 'set', 'setField', 'unset', 'type', 'erase'),
  sync: fc.boolean(),
});

describe('large updates cut into slices', () => {
  it('[U1] any phones\' merged edits, applied slice after slice, never hold anything back and give the document the whole update gives', () => {
    fc.assert(
      fc.property(fc.array(opArbitrary, { maxLength: 80 }), fc.integer({ min: 1, max: 6 }), fc.integer({ min: -1, max: 2 }), (ops, maxStructs, startFrom) => {
        const phones = [11, 22, 33].map((client) => {
          const doc = new Y.Doc();
          doc.clientID = client;
          return doc;
        });
        ops.forEach(({ phone, op, sync }, i) => {
          const doc = phones[phone] as Y.Doc;
          const order = doc.getArray<string>('order');
          const items = doc.getMap<Y.Map<unknown>>('items');
          const note = doc.getText('note');
          if (op === 'push') order.push([`item ${i}`]);
          else if (op === 'insertTop') order.insert(0, [`top ${i}`, `top ${i}b`]);
          else if (op === 'insertMiddle') order.insert(Math.floor(order.length / 2), [`mid ${i}`]);
          else if (op === 'deleteFirst' && order.length > 0) order.delete(0, 1);
          else if (op === 'deleteMiddle' && order.length > 1) order.delete(Math.floor(order.length / 2), 1);
          else if (op === 'set') items.set(`k${i % 4}`, new Y.Map<unknown>([['name', `item ${i}`]]));
          else if (op === 'setField') items.get(`k${i % 4}`)?.set('checked', i % 2 === 0);
          else if (op === 'unset') items.delete(`k${i % 4}`);
          else if (op === 'type') note.insert(Math.floor(note.length / 2), `w${i} `);
          else if (op === 'erase' && note.length > 2) note.delete(1, 2);
          // Phones sync now and then: their later edits build on each other's, across clients.
          if (sync) {
            const other = phones[(phone + 1) % 3] as Y.Doc;
            Y.applyUpdate(other, Y.encodeStateAsUpdate(doc));
          }
        });
        const update = Y.mergeUpdates(phones.map((doc) => Y.encodeStateAsUpdate(doc)));
        // The receiving document has nothing, or one phone's part already.
        const base = startFrom < 0 ? undefined : Y.encodeStateAsUpdate(phones[startFrom] as Y.Doc);
        const whole = docWith(base, [update]);
        const slices = slicesOf(update, maxStructs);
        if (Y.decodeUpdate(update).structs.length === 0) return;
        expect(Array.isArray(slices)).toBe(true);
        const sliced = docWith(base, slices as Uint8Array[], (doc) => expect(doc.store.pendingStructs).toBeNull());
        sameDocument(whole, sliced);
        for (const slice of slices as Uint8Array[]) expect(Y.decodeUpdate(slice).structs.length).toBeLessThanOrEqual(maxStructs);
      }),
      { numRuns: 400 },
    );
  });

  it('[U2] two clients each building on the other\'s last item are sliced in turn; sliced in client order instead, Yjs holds back nearly all', () => {
    const update = interleavedDeletedUpdate(500);
    const slices = slicesOf(update, 50) as Uint8Array[];
    // 3, 6, 12, 24, 48, then 50 structs a slice.
    expect(slices.map((slice) => Y.decodeUpdate(slice).structs.length)).toEqual([3, 6, 12, 24, 48, ...Array(18).fill(50), 7]);
    // Every slice alternates the two clients.
    for (const slice of slices) {
      const clients = Y.decodeUpdate(slice).structs.map((struct) => struct.id.client);
      expect(Math.abs(clients.filter((client) => client === 1).length * 2 - clients.length)).toBeLessThanOrEqual(1);
    }
    const sliced = docWith(undefined, slices, (doc) => expect(doc.store.pendingStructs).toBeNull());
    sameDocument(docWith(undefined, [update]), sliced);
    expect(sliced.store.clients.get(1)).toHaveLength(500);

    // The order is what makes it work: the same slices cut from each client's block in turn.
    const decoded = Y.decodeUpdate(update);
    const inClientOrder = (clientBlocks(decoded.structs) as Struct[][]).flatMap((block) => {
      const pieces: Uint8Array[] = [];
      for (let start = 0; start < block.length; start += 50) pieces.push(writeV1Update([block.slice(start, start + 50)], undefined));
      return pieces;
    });
    const naive = docWith(undefined, [inClientOrder[0] as Uint8Array]);
    expect(naive.store.pendingStructs).not.toBeNull();
  });

  it('[U5] a first value set in a map another phone made comes after that map, which it names as its parent', () => {
    const [mum, dad] = [1, 2].map((client) => {
      const doc = new Y.Doc();
      doc.clientID = client;
      return doc;
    }) as [Y.Doc, Y.Doc];
    for (let i = 0; i < 5; i++) mum.getMap('items').set(`k${i}`, new Y.Map<unknown>([['name', `item ${i}`]]));
    Y.applyUpdate(dad, Y.encodeStateAsUpdate(mum));
    // Dad's first 'checked' of each item: no origin, no neighbour; its parent is Mum's map.
    for (let i = 0; i < 5; i++) dad.getMap<Y.Map<unknown>>('items').get(`k${i}`)?.set('checked', true);
    const update = Y.mergeUpdates([Y.encodeStateAsUpdate(mum), Y.encodeStateAsUpdate(dad)]);
    expect(Y.decodeUpdate(update).structs.some((struct) => struct instanceof Y.Item && struct.parent instanceof Y.ID)).toBe(true);
    const slices = slicesOf(update, 2) as Uint8Array[];
    const sliced = docWith(undefined, slices, (doc) => expect(doc.store.pendingStructs).toBeNull());
    sameDocument(docWith(undefined, [update]), sliced);
    expect(sliced.getMap<Y.Map<unknown>>('items').get('k3')?.get('checked')).toBe(true);
  });

  it('[U6] an update listing a client twice (Yjs reads the last block) is still sliced, to the same document', () => {
    const phone = new Y.Doc();
    phone.clientID = 4;
    for (let i = 0; i < 60; i++) phone.getArray<Y.Map<unknown>>('order').push([new Y.Map()]);
    const full = Y.decodeUpdate(Y.encodeStateAsUpdate(phone));
    // A stale first block of the same client, then the real one.
    const update = writeV1Update([full.structs.slice(0, 3), full.structs], full.ds);
    expect(Y.decodeUpdate(update).structs).toHaveLength(63);
    const message = decodeIncomingMessage(encodeSyncUpdate(update), { sliceStructs: 10 });
    const slices = message.kind === 'sync-update' ? message.sliced?.slices : undefined;
    expect((slices as Uint8Array[]).length).toBeGreaterThan(6);
    const sliced = docWith(undefined, slices as Uint8Array[], (doc) => expect(doc.store.pendingStructs).toBeNull());
    sameDocument(docWith(undefined, [update]), sliced);
    expect(sliced.getArray('order').length).toBe(60);
  });

  it('[U7] what waits for a gap in a client\'s clocks, and what builds on it, goes in the last slice as it is; the rest is sliced, and the list ends up as with the update in one go', () => {
    // Mum's pushes 0 and 4–5 (a gap where 1–3 were); Dad's map entries, then his items after
    // Mum's first and after her last: only what follows the gap must wait.
    const mum = new Y.Doc();
    mum.clientID = 1;
    const mumsUpdates: Uint8Array[] = [];
    mum.on('update', (u: Uint8Array) => mumsUpdates.push(u));
    for (let i = 0; i < 6; i++) mum.getArray<Y.Map<unknown>>('order').push([new Y.Map()]);
    const dad = new Y.Doc();
    dad.clientID = 2;
    Y.applyUpdate(dad, Y.encodeStateAsUpdate(mum));
    for (let i = 0; i < 30; i++) dad.getMap('items').set(`k${i}`, i);
    dad.getArray<Y.Map<unknown>>('order').insert(1, [new Y.Map()]); // after Mum's first: before the gap
    dad.getArray<Y.Map<unknown>>('order').insert(6, [new Y.Map()]); // after Mum's last: behind the gap
    const gapped = Y.mergeUpdates([mumsUpdates[0], mumsUpdates[4], mumsUpdates[5], Y.encodeStateAsUpdate(dad, Y.encodeStateVector(mum))] as Uint8Array[]);
    expect(Y.decodeUpdate(gapped).structs.some((struct) => struct instanceof Y.Skip)).toBe(true);
    const slices = slicesOf(gapped, 4) as Uint8Array[];
    expect(slices.length).toBeGreaterThan(5);
    const last = Y.decodeUpdate(slices[slices.length - 1] as Uint8Array).structs;
    // Mum's after the gap (with the Skip), and Dad's two items: each names one of Mum's after the
    // gap as a neighbour (the first one its right one). His map entries are in the earlier slices.
    expect(last.map((struct) => `${struct.id.client}:${struct.id.clock} ${struct.constructor.name}`).sort()).toEqual(['1:1 Skip', '1:4 Item', '1:5 Item', '2:30 Item', '2:31 Item']);
    const sliced = docWith(undefined, slices, (doc) => {
      if (doc.getMap('items').size < 30) expect(doc.store.pendingStructs).toBeNull();
    });
    const whole = docWith(undefined, [gapped]);
    sameDocument(whole, sliced);
    expect(sliced.store.pendingStructs).not.toBeNull();
    // Once the gap is filled, both hold everything.
    for (const doc of [whole, sliced]) for (const update of mumsUpdates.slice(1, 4)) Y.applyUpdate(doc, update);
    sameDocument(whole, sliced);
    expect(sliced.getArray('order').length).toBe(8);
  });

  it('[U3] two clients each building on a later item of the other: not sliced, refused', () => {
    // A cycle: client 2's first item follows client 1's second, which follows client 2's first.
    const cycle = encoding.createEncoder();
    encoding.writeVarUint(cycle, 2);
    const item = (originClient: number | undefined, originClock: number): void => {
      if (originClient === undefined) {
        encoding.writeUint8(cycle, 1); // ContentDeleted at the root array's start
        encoding.writeVarUint(cycle, 1);
        encoding.writeVarString(cycle, 'order');
      } else {
        encoding.writeUint8(cycle, 1 | 0x80);
        encoding.writeVarUint(cycle, originClient);
        encoding.writeVarUint(cycle, originClock);
      }
      encoding.writeVarUint(cycle, 1);
    };
    for (const [client, writeItems] of [
      [2, () => item(1, 1)],
      [1, () => (item(undefined, 0), item(2, 0))],
    ] as const) {
      encoding.writeVarUint(cycle, client === 2 ? 1 : 2);
      encoding.writeVarUint(cycle, client);
      encoding.writeVarUint(cycle, 0);
      writeItems();
    }
    encoding.writeVarUint(cycle, 0);
    const cyclic = encoding.toUint8Array(cycle);
    expect(slicesOf(cyclic, 1)).toBe('cycle');
    // Yjs can never integrate such items: a large update holding them is refused at its check.
    expect(() => decodeIncomingMessage(encodeSyncUpdate(cyclic), { sliceStructs: 1 })).toThrow(ProtocolError);
    const held = new Y.Doc();
    Y.applyUpdate(held, cyclic);
    expect(held.store.pendingStructs).not.toBeNull();
    expect(held.getArray('order').length).toBe(0);
  });

  it('[U4] the deletions travel in the last slice only, and are applied', () => {
    const phone = new Y.Doc();
    phone.clientID = 9;
    const order = phone.getArray<number>('order');
    order.push(Array.from({ length: 40 }, (_, i) => i));
    for (let i = 0; i < 10; i++) order.insert(i * 3, [100 + i]);
    order.delete(5, 10);
    const update = Y.encodeStateAsUpdate(phone);
    const slices = slicesOf(update, 3) as Uint8Array[];
    expect(slices.length).toBeGreaterThan(2);
    for (const slice of slices.slice(0, -1)) expect(Y.decodeUpdate(slice).ds.clients.size).toBe(0);
    expect(Y.decodeUpdate(slices[slices.length - 1] as Uint8Array).ds.clients.size).toBe(1);
    const sliced = docWith(undefined, slices);
    expect(sliced.getArray('order').toJSON()).toEqual(order.toJSON());
  });

  it('[U8] a stored list readied for a load in turns: its large updates cut, the small ones and those of few structs left whole, an unreadable one left whole and counted for nothing, and its heap estimated from every readable update', () => {
    const phone = new Y.Doc();
    const records: Uint8Array[] = [];
    phone.on('update', (update: Uint8Array) => records.push(update));
    phone.getArray<number>('order').push(Array.from({ length: 40 }, (_, i) => i));
    phone.getMap('items').set('eggs', 'Eggs');
    phone.transact(() => {
      for (let i = 0; i < 60; i++) phone.getMap('items').set(`item ${i}`, i);
    });
    const [large, small] = [Y.encodeStateAsUpdate(phone), records[1] as Uint8Array];
    const note = new Y.Doc();
    note.getMap('items').set('note', 'x'.repeat(500));
    const fewStructs = Y.encodeStateAsUpdate(note);
    const unreadable = new Uint8Array([0xff, 0xff, 0xff, 0xff, 0x0f]);
    const minBytes = 200;
    expect(Math.min(large.length, fewStructs.length)).toBeGreaterThanOrEqual(minBytes);
    expect(small.length).toBeLessThan(minBytes);
    const cut = cutStoredList([large, small, unreadable, fewStructs], minBytes, 10);
    expect(cut.slices).toHaveLength(4);
    expect(cut.slices[0]?.length).toBeGreaterThan(2);
    expect(cut.slices.slice(1)).toEqual([undefined, undefined, undefined]);
    expect(docWith(undefined, cut.slices[0] as Uint8Array[]).getMap('items').toJSON()).toEqual(phone.getMap('items').toJSON());
    const estimate = (update: Uint8Array): number => estimatedUpdateHeapBytes(Y.decodeUpdate(update).structs);
    expect(cut.heapBytes).toBe(estimate(large) + estimate(small) + estimate(fewStructs));
    expect(cut.heapBytes).toBeGreaterThan(0);
  });

  it('[S1] an update holding formatted text is not sliced, incoming or stored: applied in slices, the text lost its bold, on the relay and on every phone', () => {
    // Mum bolds "milk"; Dad types a bold "X" in it, ticks 700 items, types "oat" after the "X",
    // then deletes "milk" and the "X": in slices, one could end between the "X" (deleted) and
    // "oat", and Yjs's formatting cleanup after that transaction deleted the bold start.
    const mum = new Y.Doc();
    mum.clientID = 300;
    mum.getXmlFragment('doc').insert(0, [new Y.XmlText('Buy milk')]);
    const mumText = mum.getXmlFragment('doc').get(0) as Y.XmlText;
    mumText.format(4, 4, { bold: true });
    const dad = new Y.Doc();
    dad.clientID = 100;
    Y.applyUpdate(dad, Y.encodeStateAsUpdate(mum));
    const dadText = dad.getXmlFragment('doc').get(0) as Y.XmlText;
    dadText.insert(8, 'X', { bold: true });
    for (let i = 0; i < 700; i++) dad.getMap('items').set(`d${i}`, i);
    dadText.insert(9, 'oat', { bold: true });
    dadText.delete(4, 4);
    dadText.delete(4, 1);
    const filler = new Y.Doc();
    filler.clientID = 50;
    for (let i = 0; i < 400; i++) filler.getMap('items').set(`b${i}`, i);
    const phone = new Y.Doc();
    for (const doc of [mum, dad, filler]) Y.applyUpdate(phone, Y.encodeStateAsUpdate(doc));
    const update = Y.encodeStateAsUpdate(phone);
    const textOf = (doc: Y.Doc): string => (doc.getXmlFragment('doc').get(0) as Y.XmlText).toString();
    expect(textOf(phone)).toBe('Buy <bold>oat</bold>');

    const incoming = decodeIncomingMessage(encodeSyncUpdate(update), { joinGcRuns: true, sliceStructs: 64 });
    expect(incoming.kind === 'sync-update' && incoming.sliced).toBeUndefined();
    const stored = cutStoredList([update], 0, 64);
    expect(stored.slices).toEqual([undefined]);

    // Cut anyway, as before: some slice boundary leaves the relay's own document plain.
    const plain = Array.from({ length: 200 }, (_, i) => i + 1).filter((maxStructs) => {
      const slices = updateSlices(clientBlocks(Y.decodeUpdate(update).structs), Y.decodeUpdate(update).ds, maxStructs);
      const relay = new Y.Doc();
      for (const slice of slices as Uint8Array[]) Y.applyUpdate(relay, slice);
      return textOf(relay) !== 'Buy <bold>oat</bold>';
    });
    expect(plain.length).toBeGreaterThan(0);
  });
});

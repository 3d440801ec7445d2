import * as Y from 'yjs';
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { MAX_ARRAY_RUN_JOIN_COPIES, UNPLACED_SEPARATOR_ALLOWANCE } from '../src/sync/array-run-joins.js';
import { positionCrowded, positionHash } from '../src/sync/conflict-flood.js';
import { estimatedDocHeapBytes } from '../src/sync/heap-estimate.js';
import { decodeIncomingMessage, encodeSyncUpdate, MAX_CONCURRENT_INSERTS, MAX_ROOT_TYPES, MAX_UNANCHORED_VALUES_PER_KEY, ProtocolError } from '../src/sync/protocol.js';
import type { RelayLimits } from '../src/http/relay-server.js';
import { writeV1Update } from '../src/sync/v1-update.js';
import { closeCodeOf, connectPhone, newListId, openRawSocket, rightNeighbourValuesUpdate, rightToLeftListUpdate, splitRunUpdate, startRelay, unanchoredValuesUpdate, waitFor } from './helpers.js';
import type { RunningRelay } from './helpers.js';
import type WebSocket from 'ws';

/** `clients` phones, none aware of the others, each setting the same key and adding at the top. */
function concurrentInserts(clients: number): Uint8Array {
  const updates: Uint8Array[] = [];
  for (let i = 0; i < clients; i++) {
    const doc = new Y.Doc();
    doc.clientID = i + 1;
    doc.getMap('items').set('milk', { checked: i % 2 === 0 });
    updates.push(Y.encodeStateAsUpdate(doc));
  }
  return Y.mergeUpdates(updates);
}

function decodingError(update: Uint8Array, options: { refuseListContent?: boolean } = {}): unknown {
  try {
    decodeIncomingMessage(encodeSyncUpdate(update), options);
    return undefined;
  } catch (error) {
    return error;
  }
}

/** A relay given `update` by a raw socket closes it with 4400 at once, and phones on the list keep syncing. */
async function expectRefusedAtOnceWhilePhonesSync(update: Uint8Array, limits: Partial<RelayLimits> = {}): Promise<void> {
  await withPhonesSyncingAround(limits, async (socket) => {
    const closed = closeCodeOf(socket, 3_000);
    socket.send(encodeSyncUpdate(update));
    expect(await closed).toBe(4400);
  });
}

/** Runs `act` with a raw socket on a list two phones are synced on, then checks the phones still sync. */
async function withPhonesSyncingAround(
  limits: Partial<RelayLimits>,
  act: (socket: WebSocket, running: RunningRelay, listId: string) => Promise<void>,
): Promise<void> {
  const running = await startRelay({ limits });
  const listId = newListId();
  const mum = connectPhone(running.syncUrl, listId);
  const dad = connectPhone(running.syncUrl, listId);
  try {
    await waitFor(() => mum.provider.synced && dad.provider.synced, 5000, 'phones synced');
    await act(await openRawSocket(running.syncUrl, listId), running, listId);
    mum.doc.getMap('items').set('milk', 'Milk');
    await waitFor(() => dad.doc.getMap('items').get('milk') === 'Milk', 3_000, 'Dad to get the milk');
    await waitFor(() => mum.isFullyStored(), 3_000, 'Mum acknowledged');
  } finally {
    mum.destroy();
    dad.destroy();
    await running.close();
  }
}

describe('updates crafted to make Yjs conflict resolution quadratic', () => {
  it('[Q1] 2,000 concurrent inserts at one position are refused before they reach a list', () => {
    const bomb = concurrentInserts(2_000);
    const error = decodingError(bomb);
    expect(error).toBeInstanceOf(ProtocolError);
    expect(String(error)).toMatch(/one position/);
  });

  it('[Q2] up to the limit of concurrent inserts at one position passes', () => {
    expect(decodingError(concurrentInserts(MAX_CONCURRENT_INSERTS))).toBeUndefined();
    expect(decodingError(concurrentInserts(MAX_CONCURRENT_INSERTS + 1))).toBeInstanceOf(ProtocolError);
  });

  it('[Q3] a long history from thousands of sessions (each saw the one before) passes', () => {
    // Every app start is a new Yjs client id: a list used for years holds thousands of them,
    // writing the same keys and the same end of an array, one after another.
    const history = new Y.Doc();
    for (let session = 0; session < 2000; session++) {
      history.clientID = session + 1;
      history.getMap('items').set('milk', { checked: session % 2 === 0 });
      history.getArray('order').insert(0, [`item ${session}`]);
      history.getArray('order').push([`last ${session}`]);
    }
    expect(Y.decodeUpdate(Y.encodeStateAsUpdate(history)).structs.length).toBeGreaterThan(2000);
    expect(decodingError(Y.encodeStateAsUpdate(history))).toBeUndefined();
  });

  it('[Q4] one client\'s values with no origin for one map key are refused past the limit in one message, however few clients', () => {
    // Each one walks the key's whole chain of values: 80,000 of them (1.1 MB) held the relay 26 s.
    const started = performance.now();
    const error = decodingError(unanchoredValuesUpdate(80_000));
    expect(error).toBeInstanceOf(ProtocolError);
    expect(String(error)).toMatch(/one map key with no earlier value/);
    expect(performance.now() - started).toBeLessThan(2_000);
    expect(decodingError(unanchoredValuesUpdate(MAX_UNANCHORED_VALUES_PER_KEY))).toBeUndefined();
    expect(decodingError(unanchoredValuesUpdate(MAX_UNANCHORED_VALUES_PER_KEY + 1))).toBeInstanceOf(ProtocolError);
  });

  it('[Q8] values naming only a right neighbour take its key, and count for it: a chain of them on one key is refused in one message', () => {
    const first = unanchoredValuesUpdate(1);
    const chain = rightNeighbourValuesUpdate(MAX_UNANCHORED_VALUES_PER_KEY, { firstClock: 1, rightOf: { client: 777, clock: 0 } });
    const merged = Y.mergeUpdates([first, chain]);
    const error = decodingError(merged);
    expect(error).toBeInstanceOf(ProtocolError);
    expect(String(error)).toMatch(/one map key with no earlier value/);
    // One fewer fits: the first value and 255 that follow it.
    expect(decodingError(Y.mergeUpdates([first, rightNeighbourValuesUpdate(MAX_UNANCHORED_VALUES_PER_KEY - 1, { firstClock: 1, rightOf: { client: 777, clock: 0 } })]))).toBeUndefined();
  });

  it('[Q5] the relay refuses such a message with 4400 at once, and phones on the list keep syncing', async () => {
    await expectRefusedAtOnceWhilePhonesSync(unanchoredValuesUpdate(80_000));
  });

  it('[Q6] with REFUSE_LIST_CONTENT, an update that starts array or text content is refused; nested maps, and overwrites of their values, pass', () => {
    const refusing = (update: Uint8Array): unknown => decodingError(update, { refuseListContent: true });
    const maps = new Y.Doc();
    const item = new Y.Map<unknown>();
    maps.getMap('items').set('milk', item);
    item.set('name', 'Milk');
    item.set('quantity', 1);
    item.set('quantity', 2);
    const first = Y.encodeStateAsUpdate(maps);
    const before = Y.encodeStateVector(maps);
    item.set('checked', true);
    expect(refusing(first)).toBeUndefined();
    expect(refusing(Y.encodeStateAsUpdate(maps, before))).toBeUndefined();

    const text = new Y.Doc();
    text.getText('notes').insert(0, 'hello');
    const array = new Y.Doc();
    array.getArray('order').push(['milk']);
    const nested = new Y.Doc();
    const note = new Y.Text();
    nested.getMap('items').set('note', note);
    note.insert(0, 'x');
    for (const update of [Y.encodeStateAsUpdate(text), Y.encodeStateAsUpdate(array), Y.encodeStateAsUpdate(nested)]) {
      expect(String(refusing(update))).toMatch(/content in an array or text/);
      // Without the setting the relay carries any Yjs document.
      expect(decodingError(update)).toBeUndefined();
    }
  });

  it('[Q9] an array run sent in thousands of pieces is refused at once, without any setting; phones on the list keep syncing', async () => {
    // Yjs joins the pieces from the right, copying the run at each join: these 40,000 (0.59 MB)
    // held the relay 14.6 s and then aborted it (heap exhausted).
    await expectRefusedAtOnceWhilePhonesSync(rightToLeftListUpdate(40_000));
  });

  it('[Q10] what Yjs clients send of arrays and text passes: a document\'s updates and state, and a merge of a thousand one-value pushes; a merge of three thousand is refused', () => {
    const doc = new Y.Doc();
    const pushes = (count: number): Uint8Array[] => {
      const updates: Uint8Array[] = [];
      const collect = (update: Uint8Array): number => updates.push(update);
      doc.on('update', collect);
      for (let i = 0; i < count; i++) doc.getArray('chat').push([{ text: `message ${i}` }]);
      const typed = doc.getText('note');
      for (let i = 0; i < count; i++) typed.insert(typed.length, 'x');
      doc.off('update', collect);
      return updates;
    };
    for (const update of pushes(10_000)) expect(decodingError(update)).toBeUndefined();
    expect(decodingError(Y.encodeStateAsUpdate(doc))).toBeUndefined();
    // A merge of updates keeps each push a piece of its own (text pieces join in linear time).
    const thousand = Y.mergeUpdates(pushes(1_000));
    expect(decodingError(thousand)).toBeUndefined();
    const started = performance.now();
    Y.applyUpdate(new Y.Doc(), thousand);
    expect(performance.now() - started).toBeLessThan(1_000);
    const error = decodingError(Y.mergeUpdates(pushes(3_000)));
    expect(error).toBeInstanceOf(ProtocolError);
    expect(String(error)).toMatch(/array run into too many pieces/);
    expect(MAX_ARRAY_RUN_JOIN_COPIES).toBeLessThan((3_000 * 3_000) / 2);
    // The bound, in one-value pieces of one run: the joins copy (L−1)(L−2)/2 + L−2 values more
    // than once, which passes 2^20 from L = 1,449.
    expect(decodingError(splitRunUpdate(1_448))).toBeUndefined();
    expect(decodingError(splitRunUpdate(1_449))).toBeInstanceOf(ProtocolError);
  });

  it('[S2] a run with another phone\'s row between each pair of its values passes: Yjs never joins pieces with items between them', () => {
    // Phone 1 pushes 2,000 rows at once; phone 2, synced, then inserts a row between each pair.
    const pusher = new Y.Doc();
    pusher.clientID = 1;
    const inserter = new Y.Doc();
    inserter.clientID = 2;
    pusher.getArray('rows').push(Array.from({ length: 2_000 }, (_, i) => `row ${i}`));
    Y.applyUpdate(inserter, Y.encodeStateAsUpdate(pusher));
    inserter.transact(() => {
      for (let i = 1_999; i >= 1; i--) inserter.getArray('rows').insert(i, [`between ${i}`]);
    });
    // Its whole state (a relay lacking the list gets it as sync step 2) holds phone 1's run in
    // 2,000 pieces, which joined would cost Yjs twice the bound.
    const state = Y.encodeStateAsUpdate(inserter);
    expect(decodingError(state)).toBeUndefined();
    const started = performance.now();
    const applied = new Y.Doc();
    Y.applyUpdate(applied, state);
    expect(performance.now() - started).toBeLessThan(1_000);
    expect(applied.getArray('rows').length).toBe(3_999);
  });

  it('[S2] pieces kept apart only by items Yjs may not place are held to four times the bound, whichever way such an item goes unplaced', () => {
    // One run of one-value pieces of client 1, each pair with an item between them that Yjs does
    // not place, so that it joins the run whole: the most that passes, and one piece more.
    const largestPassing = 2_896;
    const shapes: Record<string, (pieces: number) => { before: Uint8Array[]; update: Uint8Array }> = {
      'another client\'s, at clocks the list already holds': (pieces) => ({
        before: [writeV1Update([[arrayItem(2, 0, null, null, pieces, 'elsewhere')]], undefined)],
        update: writeV1Update([separatorsOf(pieces, 2, 0), runPieces(pieces)], undefined),
      }),
      'another client\'s, after its item on a client the list lacks': (pieces) => ({
        before: [],
        update: writeV1Update([[arrayItem(2, 0, Y.createID(3, 5), null), ...separatorsOf(pieces, 2, 1)], runPieces(pieces)], undefined),
      }),
      'another client\'s, from a clock past the list\'s': (pieces) => ({ before: [], update: writeV1Update([separatorsOf(pieces, 2, 1), runPieces(pieces)], undefined) }),
      'another client\'s, in a block Yjs does not read (the client listed again)': (pieces) => ({
        before: [],
        update: writeV1Update([separatorsOf(pieces, 2, 0), runPieces(pieces), [arrayItem(2, 0, null, null, 1, 'elsewhere')]], undefined),
      }),
      // Counted as never joined before [S2]: the block's rest is held back at the item whose
      // neighbour is missing, and the run joined whatever its length.
      'the run\'s client\'s, after its item on a client the list lacks': (pieces) => ({
        before: [],
        update: writeV1Update([[...runPieces(pieces), arrayItem(1, pieces, Y.createID(3, 5), null), ...separatorsOf(pieces, 1, pieces + 1)]], undefined),
      }),
    };
    for (const [shape, build] of Object.entries(shapes)) {
      const { before, update } = build(largestPassing);
      expect(decodingError(update), shape).toBeUndefined();
      const doc = new Y.Doc();
      for (const earlier of before) Y.applyUpdate(doc, earlier);
      const started = performance.now();
      Y.applyUpdate(doc, update);
      expect(performance.now() - started, shape).toBeLessThan(1_000);
      // Joined into one item: Yjs placed none of the items between the pieces.
      expect(doc.store.clients.get(1)?.length, shape).toBe(1);
      expect(decodingError(build(largestPassing + 1).update), shape).toBeInstanceOf(ProtocolError);
    }
    // The bound, in one-value pieces of one run: the joins copy (L−1)(L−2)/2 + L−2 values more than once.
    const joinCopies = (pieces: number): number => ((pieces - 1) * (pieces - 2)) / 2 + pieces - 2;
    expect(joinCopies(largestPassing)).toBeLessThanOrEqual(UNPLACED_SEPARATOR_ALLOWANCE * MAX_ARRAY_RUN_JOIN_COPIES);
    expect(joinCopies(largestPassing + 1)).toBeGreaterThan(UNPLACED_SEPARATOR_ALLOWANCE * MAX_ARRAY_RUN_JOIN_COPIES);
  });

  it('[Q7] with REFUSE_LIST_CONTENT, crafted list content that would exhaust the relay\'s heap is refused at once; phones on the list keep syncing', async () => {
    // 40,000 such items (0.59 MB) held the relay 14.6 s and then aborted it (heap exhausted).
    await expectRefusedAtOnceWhilePhonesSync(rightToLeftListUpdate(40_000), { refuseListContent: true });
  });

  it('[RT1] an update naming more top-level types than a list may hold is refused at once; one that would take the list past them, when it arrives; phones on the list keep syncing', async () => {
    // Yjs finds an item's top-level type's name by a search through all of them: 10,000 made a
    // sync answer take 374 ms, 40,000 6.1 s.
    const rootTypes = (from: number, count: number): Uint8Array => {
      const doc = new Y.Doc();
      for (let i = from; i < from + count; i++) doc.getMap(`t${i}`).set('k', i);
      return Y.encodeStateAsUpdate(doc);
    };
    expect(decodingError(rootTypes(0, MAX_ROOT_TYPES))).toBeUndefined();
    expect(decodingError(rootTypes(0, MAX_ROOT_TYPES + 1))).toBeInstanceOf(ProtocolError);
    await expectRefusedAtOnceWhilePhonesSync(rootTypes(0, MAX_ROOT_TYPES + 1));

    await withPhonesSyncingAround({}, async (filling, running, listId) => {
      filling.send(encodeSyncUpdate(rootTypes(0, MAX_ROOT_TYPES - 10)));
      await waitFor(() => (running.relay.registry.get(listId)?.doc.share.size ?? 0) >= MAX_ROOT_TYPES - 10, 3000, 'the list nearly full of types');
      // Types it has already pass; ten new ones more than it may hold do not.
      const closed = closeCodeOf(filling, 3000);
      filling.send(encodeSyncUpdate(rootTypes(MAX_ROOT_TYPES - 20, 30)));
      expect(await closed).toBe(4400);
      expect(running.relay.metrics.errors.get({ kind: 'too_many_root_types' })).toBe(1);
    });
  });

  it('[HE1] a list\'s heap estimate counts its top-level types', () => {
    const oneMap = new Y.Doc();
    const manyMaps = new Y.Doc();
    for (let i = 0; i < 200; i++) {
      oneMap.getMap('items').set(`k${i}`, i);
      manyMaps.getMap(`t${i}`).set('k', i);
    }
    expect(estimatedDocHeapBytes(manyMaps) - estimatedDocHeapBytes(oneMap)).toBeGreaterThanOrEqual(199 * 600);
  });

  it('[Q11] the hashed count of clients per position agrees with naming every position, whatever the hash', () => {
    // Positions from a small set, so that random updates crowd some; a constant hash and a
    // one-bit hash put many positions in one bucket, which must never refuse an update that no
    // single position crowds.
    // A decoded item's parent is a root type's name or an item's id (Y.Item types it as integrated).
    const positions: Array<Pick<Y.Item, 'origin' | 'rightOrigin' | 'parentSub'> & { parent: string | Y.ID | null }> = [
      { origin: Y.createID(9, 0), rightOrigin: null, parent: null, parentSub: null },
      { origin: null, rightOrigin: Y.createID(9, 0), parent: null, parentSub: null },
      { origin: Y.createID(9, 0), rightOrigin: Y.createID(9, 1), parent: null, parentSub: null },
      { origin: Y.createID(9, 2 ** 40), rightOrigin: null, parent: null, parentSub: null },
      { origin: null, rightOrigin: null, parent: 'items', parentSub: 'milk' },
      { origin: null, rightOrigin: null, parent: 'items', parentSub: null },
      { origin: null, rightOrigin: null, parent: Y.createID(9, 0), parentSub: 'milk' },
    ];
    const structsArbitrary = fc.array(
      fc.record({ client: fc.integer({ min: 1, max: 6 }), position: fc.integer({ min: 0, max: positions.length - 1 }), gc: fc.boolean() }),
      { maxLength: 40 },
    );
    fc.assert(
      fc.property(structsArbitrary, fc.integer({ min: 1, max: 4 }), (drawn, maxClients) => {
        const structs = drawn.map(({ client, position, gc }, clock) => {
          if (gc) return new Y.GC(Y.createID(client, clock), 1);
          const { origin, rightOrigin, parent, parentSub } = positions[position]!;
          return new Y.Item(Y.createID(client, clock), null, origin, null, rightOrigin, parent as unknown as Y.AbstractType<unknown> | null, parentSub, new Y.ContentAny([0]));
        });
        const expected = crowdedByName(structs, maxClients);
        expect(positionCrowded(structs, maxClients)).toBe(expected);
        expect(positionCrowded(structs, maxClients, () => 0)).toBe(expected);
        expect(positionCrowded(structs, maxClients, (item) => positionHash(item) & 1)).toBe(expected);
      }),
      { numRuns: 2000 },
    );
  });
});

/** An item of the root array `rows` of `values` one-clock values, at the array's start when it names no neighbour. */
function arrayItem(client: number, clock: number, origin: Y.ID | null, rightOrigin: Y.ID | null, values = 1, array = 'rows'): Y.Item {
  const parent = origin === null && rightOrigin === null ? (array as unknown as Y.AbstractType<unknown>) : null;
  const content = new Y.ContentAny(Array.from({ length: values }, (_, i) => `${client}:${clock + i}`));
  return new Y.Item(Y.createID(client, clock), null, origin, null, rightOrigin, parent, null, content);
}

/** Client 1's run of `pieces` one-value pieces from clock 0, each after the one before. */
function runPieces(pieces: number): Y.Item[] {
  return Array.from({ length: pieces }, (_, i) => arrayItem(1, i, i === 0 ? null : Y.createID(1, i - 1), null));
}

/** Items of `client` from `firstClock`, one between each pair of runPieces(pieces). */
function separatorsOf(pieces: number, client: number, firstClock: number): Y.Item[] {
  return Array.from({ length: pieces - 1 }, (_, i) => arrayItem(client, firstClock + i, Y.createID(1, i), Y.createID(1, i + 1)));
}

/** The count as first written: every item's position named in a string. */
function crowdedByName(structs: ReadonlyArray<Y.Item | Y.GC>, maxClients: number): boolean {
  const clientsAt = new Map<string, { lastClient: number; clients: number }>();
  for (const struct of structs) {
    if (!(struct instanceof Y.Item)) continue;
    const { origin, rightOrigin, parent, parentSub } = struct;
    const position =
      origin === null && rightOrigin === null
        ? `type ${parent instanceof Y.ID ? `${parent.client}:${parent.clock}` : String(parent)} ${parentSub ?? ''}`
        : `${origin === null ? '-' : `${origin.client}:${origin.clock}`} ${rightOrigin === null ? '-' : `${rightOrigin.client}:${rightOrigin.clock}`}`;
    const seen = clientsAt.get(position);
    if (seen === undefined) clientsAt.set(position, { lastClient: struct.id.client, clients: 1 });
    else if (seen.lastClient !== struct.id.client) {
      seen.lastClient = struct.id.client;
      seen.clients += 1;
      if (seen.clients > maxClients) return true;
    }
  }
  return false;
}

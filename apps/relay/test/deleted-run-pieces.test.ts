/**
 * [HN1] Pieces of a split run that the update itself deletes cost Yjs nothing to join, so they do
 * not count toward the array-run bound (src/sync/array-run-joins.ts): a phone that set one map
 * key in thousands of transactions offline and sends its updates merged (Y.mergeUpdates) is no
 * longer refused. A run whose head names a map key, and deletions Yjs applies only after the
 * pieces were joined (a sliced update's), still count.
 */
import { afterEach, describe, expect, it } from 'vitest';
import type WebSocket from 'ws';
import * as Y from 'yjs';
import { MAX_ARRAY_RUN_JOIN_COPIES } from '../src/sync/array-run-joins.js';
import type { DecodeOptions, SyncUpdateMessage } from '../src/sync/protocol.js';
import { decodeIncomingMessage, encodeSyncUpdate, ProtocolError } from '../src/sync/protocol.js';
import { STRUCTS_PER_SLICE } from '../src/sync/update-slices.js';
import type { CraftedStruct, CraftedUpdate, Ref } from './fuzz/crafted-update-encoding.js';
import { encodeCrafted } from './fuzz/crafted-update-encoding.js';
import type { RunningRelay } from './helpers.js';
import { closeCodeOf, connectPhone, firstAck, newListId, openRawSocket, startRelay, waitFor } from './helpers.js';

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  while (cleanups.length > 0) await cleanups.pop()?.();
});

/** The decode worker's options: the update cut into slices past STRUCTS_PER_SLICE structs. */
const DECODE_WORKER: DecodeOptions = { joinGcRuns: true, sliceStructs: STRUCTS_PER_SLICE };

function decoded(update: Uint8Array, options: DecodeOptions = {}): SyncUpdateMessage | ProtocolError {
  try {
    return decodeIncomingMessage(encodeSyncUpdate(update), options) as SyncUpdateMessage;
  } catch (error) {
    if (error instanceof ProtocolError) return error;
    throw error;
  }
}

function refusal(update: Uint8Array, options: DecodeOptions = {}): string | undefined {
  const result = decoded(update, options);
  return result instanceof ProtocolError ? result.message : undefined;
}

/** The updates a phone's document emits while `edit` runs, one per transaction. */
function updatesOf(doc: Y.Doc, edit: () => void): Uint8Array[] {
  const updates: Uint8Array[] = [];
  const collect = (update: Uint8Array): number => updates.push(update);
  doc.on('update', collect);
  edit();
  doc.off('update', collect);
  return updates;
}

/** A phone's `count` writes of one "last seen" stamp, each in a transaction of its own, as Y.mergeUpdates joins them. */
function mergedStampWrites(count: number, doc = new Y.Doc()): Uint8Array {
  return Y.mergeUpdates(
    updatesOf(doc, () => {
      for (let i = 0; i < count; i++) doc.getMap('meta').set('lastSeen', 1_760_000_000_000 + i * 60_000);
    }),
  );
}

function timed(apply: () => void): number {
  const started = performance.now();
  apply();
  return performance.now() - started;
}

const RUN_CLIENT = 4242;

/** One-value items of RUN_CLIENT from clock 0, each after the one before; the first as `head` says. */
function runOf(pieces: number, head: Pick<CraftedStruct, 'parent' | 'key'>): CraftedStruct[] {
  const structs: CraftedStruct[] = [{ kind: 'any', length: 1, origin: null, rightOrigin: null, ...head }];
  for (let clock = 1; clock < pieces; clock++) {
    structs.push({ kind: 'any', length: 1, origin: { client: RUN_CLIENT, clock: clock - 1 }, rightOrigin: null, parent: { root: 'items' }, key: null });
  }
  return structs;
}

function craftedRun(structs: CraftedStruct[], deletions: CraftedUpdate['deletions'] = []): Uint8Array {
  return encodeCrafted({ blocks: [{ client: RUN_CLIENT, clock: 0, structs }], deletions });
}

/** RUN_CLIENT's value at clock 0 at the start of the root array `items`: what a list may hold before a crafted run. */
const ARRAY_HEAD = craftedRun(runOf(1, { parent: { root: 'items' }, key: null }));

async function relayWithPhones(): Promise<{ running: RunningRelay; listId: string; phonesStillSync: () => Promise<void> }> {
  const running = await startRelay();
  cleanups.push(() => running.close());
  const listId = newListId();
  const mum = connectPhone(running.syncUrl, listId);
  const dad = connectPhone(running.syncUrl, listId);
  cleanups.push(() => mum.destroy(), () => dad.destroy());
  await waitFor(() => mum.provider.synced && dad.provider.synced, 5000, 'phones synced');
  const phonesStillSync = async (): Promise<void> => {
    mum.doc.getMap('items').set('milk', 'Milk');
    await waitFor(() => dad.doc.getMap('items').get('milk') === 'Milk', 3_000, 'Dad to get the milk');
    await waitFor(() => mum.isFullyStored(), 3_000, 'Mum acknowledged');
  };
  return { running, listId, phonesStillSync };
}

async function rawSocket(running: RunningRelay, listId: string): Promise<WebSocket> {
  const socket = await openRawSocket(running.syncUrl, listId);
  cleanups.push(() => socket.terminate());
  return socket;
}

describe('[HN1] split-run pieces the update deletes itself', () => {
  it('[HN1] a phone that set one map key in 1,500 transactions offline and sends them merged is acknowledged, and the list holds the last value', async () => {
    const { running, listId, phonesStillSync } = await relayWithPhones();
    const phone = new Y.Doc();
    const merged = mergedStampWrites(1_500, phone);
    const socket = await rawSocket(running, listId);
    const acknowledged = firstAck(socket);
    socket.send(encodeSyncUpdate(merged));
    // Refused before [HN1]: closed with 4400 ("update splits an array run into too many pieces").
    expect((await acknowledged).get(phone.clientID)).toBe(1_500);
    expect(running.relay.registry.get(listId)?.doc.getMap('meta').get('lastSeen')).toBe(phone.getMap('meta').get('lastSeen'));
    await phonesStillSync();
  });

  it('[HN1] deleted pieces are no pieces, map value or array value: merges of 3,000 stamp writes, and of 3,000 one-value pushes later cleared, pass and apply in linear time', () => {
    const stamps = mergedStampWrites(3_000);
    const rows = new Y.Doc();
    const pushes = updatesOf(rows, () => {
      for (let i = 0; i < 3_000; i++) rows.getArray('rows').push([`row ${i}`]);
    });
    const cleared = Y.mergeUpdates([...pushes, ...updatesOf(rows, () => rows.getArray('rows').delete(0, 3_000))]);
    for (const update of [stamps, cleared]) {
      const message = decoded(update);
      // Refused before [HN1] (3,000 pieces of one run cost 4.5 million copies, the bound 2^20).
      expect(message).not.toBeInstanceOf(ProtocolError);
      // What is deleted may join nothing: no held-back message of them ever counts.
      expect((message as SyncUpdateMessage).joiningValues).toBeLessThanOrEqual(1);
      expect(timed(() => Y.applyUpdate(new Y.Doc(), update))).toBeLessThan(1_000);
    }
    // The same pushes, not cleared, still are refused.
    expect(refusal(Y.mergeUpdates(pushes))).toMatch(/array run into too many pieces/);
  });

  it('[HN1] held back behind a missing value, such writes are not refused once the relay counts the joins of what it holds back: their deletions are held back with them', async () => {
    const { running, listId, phonesStillSync } = await relayWithPhones();
    // Another phone set the stamp first; this phone had its value, the relay not (yet).
    const other = new Y.Doc();
    other.getMap('meta').set('lastSeen', 0);
    const phone = new Y.Doc();
    Y.applyUpdate(phone, Y.encodeStateAsUpdate(other));
    const merged = Y.mergeUpdates(
      updatesOf(phone, () => {
        for (let i = 1; i <= 1_500; i++) phone.getMap('meta').set('lastSeen', i);
        // 1,100 one-value pushes: values that may join, enough to make the relay count the joins
        // of all it holds back (1,100 pieces of one run cost 0.6 million copies, within the bound).
        for (let i = 0; i < 1_100; i++) phone.getArray('log').push([i]);
      }),
    );
    const socket = await rawSocket(running, listId);
    let closedWith: number | undefined;
    socket.once('close', (code) => (closedWith = code));
    socket.send(encodeSyncUpdate(merged));
    const list = (): Y.Doc | undefined => running.relay.registry.get(listId)?.doc;
    await waitFor(() => (list()?.store.pendingStructs ?? null) !== null || closedWith !== undefined, 5_000, 'the merge held back');
    // Before [HN1]'s held-back part: closed with 4400 ("held-back updates split an array run…").
    expect(closedWith).toBeUndefined();
    const late = await rawSocket(running, listId);
    late.send(encodeSyncUpdate(Y.encodeStateAsUpdate(other)));
    await waitFor(() => list()?.getArray('log').length === 1_100, 5_000, 'the held-back merge integrated');
    expect(list()?.getMap('meta').get('lastSeen')).toBe(1_500);
    expect(list()?.store.pendingStructs).toBeNull();
    expect(closedWith).toBeUndefined();
    await phonesStillSync();
  });

  it('[HN1] a run whose head names a map key still counts as an array run: in a list holding the head\'s clock as an array value, Yjs joins it as one', async () => {
    // Yjs takes an item's parent and key from the item its origin names as the list holds it,
    // and skips the update's items at clocks the list already holds.
    const claimsKey = (pieces: number): Uint8Array => craftedRun(runOf(pieces, { parent: { root: 'meta' }, key: 'lastSeen' }));
    const list = new Y.Doc();
    Y.applyUpdate(list, ARRAY_HEAD);
    Y.applyUpdate(list, claimsKey(1_000));
    expect(list.getArray('items').length).toBe(1_000);
    expect(list.getMap('meta').size).toBe(0);
    // Joined into one item, piece by piece, copying the run at each join.
    expect(list.store.clients.get(RUN_CLIENT)?.length).toBe(1);
    expect(refusal(claimsKey(1_448))).toBeUndefined();
    expect(refusal(claimsKey(1_449))).toMatch(/array run into too many pieces/);
    // 20,000 such pieces, given to a relay holding the head: refused at once.
    const { running, listId, phonesStillSync } = await relayWithPhones();
    const socket = await rawSocket(running, listId);
    const acknowledged = firstAck(socket);
    socket.send(encodeSyncUpdate(ARRAY_HEAD));
    await acknowledged;
    const closed = closeCodeOf(socket, 3_000);
    socket.send(encodeSyncUpdate(claimsKey(20_000)));
    expect(await closed).toBe(4400);
    expect(running.relay.registry.get(listId)?.doc.getArray('items').length).toBe(1);
    await phonesStillSync();
  });

  it('[HN1] only deletions Yjs applies in the transaction that integrates the pieces, of every clock of a piece, count', () => {
    const pieces = 3_000;
    const arrayRun = runOf(pieces, { parent: { root: 'items' }, key: null });
    const everyClock = (client: number): CraftedUpdate['deletions'] => [{ client, ranges: [[0, pieces]] }];
    const deleted = craftedRun(arrayRun, everyClock(RUN_CLIENT));
    expect(refusal(deleted)).toBeUndefined();
    // Whatever the list holds at their clocks: deleted in the transaction, joined as lengths.
    const list = new Y.Doc();
    Y.applyUpdate(list, ARRAY_HEAD);
    expect(timed(() => Y.applyUpdate(list, craftedRun(runOf(pieces, { parent: { root: 'meta' }, key: 'k' }), everyClock(RUN_CLIENT))))).toBeLessThan(1_000);
    expect(list.getArray('items').length).toBe(0);
    const joined = list.store.clients.get(RUN_CLIENT) ?? [];
    expect(joined.length).toBe(1);
    expect((joined[0] as Y.Item).content).toBeInstanceOf(Y.ContentDeleted);

    // Another client's clocks.
    expect(refusal(craftedRun(arrayRun, everyClock(RUN_CLIENT + 1)))).toMatch(/array run into too many pieces/);
    // Part of each piece of two values: Yjs splits it and joins the part left.
    const twoValuePieces = arrayRun.map((struct, i): CraftedStruct => ({ ...struct, length: 2, origin: i === 0 ? null : ({ client: RUN_CLIENT, clock: 2 * i - 1 } satisfies Ref) }));
    const firstValues: Array<[number, number]> = Array.from({ length: pieces }, (_, i) => [2 * i, 1]);
    expect(refusal(craftedRun(twoValuePieces, [{ client: RUN_CLIENT, ranges: firstValues }]))).toMatch(/array run into too many pieces/);
    // Cut into slices, the deletions come in the last one: earlier slices' pieces are joined
    // before they are deleted (10,000 such pieces: their slice of 5,000 took Yjs 176 ms).
    const large = craftedRun(runOf(STRUCTS_PER_SLICE + 1, { parent: { root: 'items' }, key: null }), [{ client: RUN_CLIENT, ranges: [[0, STRUCTS_PER_SLICE + 1]] }]);
    expect(refusal(large)).toBeUndefined();
    expect(refusal(large, DECODE_WORKER)).toMatch(/array run into too many pieces/);
    expect(((STRUCTS_PER_SLICE - 1) * (STRUCTS_PER_SLICE - 2)) / 2).toBeGreaterThan(MAX_ARRAY_RUN_JOIN_COPIES);
  });
});

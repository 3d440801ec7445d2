import { getHeapStatistics } from 'node:v8';
import WebSocket from 'ws';
import * as Y from 'yjs';
import { afterEach, describe, expect, it } from 'vitest';
import { configFromEnvironment, DEFAULT_LIMITS, maxReadableFrameBytes } from '../src/config.js';
import { DiskListStorage } from '../src/storage/disk-storage.js';
import { MemoryListStorage } from '../src/storage/memory-storage.js';
import type { RunningRelay } from './helpers.js';
import { connectPhone, newListId, openRawSocket, startRelay, stateVectorCovers, temporaryDirectory, waitFor } from './helpers.js';

/** A list like a heavily used one: thousands of items, each edited several times. */
function largeDocument(minBytes: number): Y.Doc {
  const doc = new Y.Doc();
  const items = doc.getMap<Y.Map<unknown>>('items');
  let n = 0;
  while (Y.encodeStateAsUpdate(doc).length < minBytes) {
    doc.transact(() => {
      for (let i = 0; i < 500; i += 1, n += 1) {
        const item = new Y.Map<unknown>();
        items.set(`item-${n}`, item);
        item.set('name', `Item number ${n} with a fairly long descriptive name ${'x'.repeat(n % 40)}`);
        item.set('quantity', n % 7);
        item.set('checked', n % 2 === 0);
        item.set('checked', n % 3 === 0);
      }
    });
  }
  return doc;
}

/** A list storing about `bytes`: one map value that long. */
function listOfBytes(bytes: number): Uint8Array {
  const doc = new Y.Doc();
  doc.getMap('items').set('note', 'x'.repeat(bytes));
  return Y.encodeStateAsUpdate(doc);
}

/**
 * A connection from `localAddress` to each list, all opened at once: for each, 'loaded' once the
 * relay greets it (the list is loaded), or the code it was closed with, or the HTTP status refusing it.
 */
async function openAtOnce(running: RunningRelay, listIds: readonly string[], localAddress: string, open: WebSocket[]): Promise<Array<'loaded' | number>> {
  return Promise.all(
    listIds.map(
      (listId) =>
        new Promise<'loaded' | number>((resolve) => {
          const socket = new WebSocket(`${running.syncUrl}/${listId}`, { localAddress });
          open.push(socket);
          socket.on('error', () => undefined);
          socket.once('message', () => resolve('loaded'));
          socket.once('close', (code) => resolve(code));
          socket.once('unexpected-response', (_request, response) => resolve(response.statusCode ?? 0));
        }),
    ),
  );
}

describe('a large list syncs with the default limits', () => {
  const cleanups: Array<() => unknown> = [];
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  });

  it('[L1] an unmodified y-websocket client syncs a > 3 MB document in one message and gets the durable ack', async () => {
    const { dir, remove } = await temporaryDirectory('basket-large-');
    cleanups.push(remove);
    const running = await startRelay({ storage: new DiskListStorage({ dataDir: dir }) });
    cleanups.push(() => running.close());
    const doc = largeDocument(3.2 * 1024 * 1024);
    const fullState = Y.encodeStateAsUpdate(doc);
    expect(fullState.length).toBeGreaterThan(3 * 1024 * 1024);

    const listId = newListId();
    const phone = connectPhone(running.syncUrl, listId, doc);
    cleanups.push(() => phone.destroy());
    let closeCode: number | undefined;
    phone.provider.on('connection-close', (event: { code: number } | null) => {
      closeCode = event?.code;
    });
    await waitFor(() => phone.isFullyStored() || closeCode !== undefined, 20_000, 'durable ack of the large list');
    expect(closeCode).toBeUndefined();
    expect(stateVectorCovers(phone.acks.at(-1)!, Y.encodeStateVector(doc))).toBe(true);

    // What was acknowledged is what a second phone receives.
    const other = connectPhone(running.syncUrl, listId);
    cleanups.push(() => other.destroy());
    await waitFor(() => other.doc.getMap('items').size === doc.getMap('items').size, 20_000, 'second phone synced');
    expect(other.doc.getMap('items').size).toBeGreaterThan(5000);
  }, 60_000);

  it('[L3] by default a list stops growing at 8 MiB: a second phone whose edits would take it past that gets 4422, and they are neither stored nor passed on', async () => {
    const { dir, remove } = await temporaryDirectory('basket-large-');
    cleanups.push(remove);
    const storage = new DiskListStorage({ dataDir: dir });
    const running = await startRelay({ storage });
    cleanups.push(() => running.close());
    const listId = newListId();

    // A list far larger than honest use makes (bench/list-growth.mjs) still syncs…
    const first = connectPhone(running.syncUrl, listId, largeDocument(4.5 * 1024 * 1024));
    cleanups.push(() => first.destroy());
    await waitFor(() => first.isFullyStored(), 30_000, 'first phone acknowledged');

    // …but another 4.5 MiB of edits would take it past the default limit.
    const second = connectPhone(running.syncUrl, listId, largeDocument(4.5 * 1024 * 1024));
    cleanups.push(() => second.destroy());
    const closes: number[] = [];
    second.provider.on('connection-close', (event: { code: number } | null) => {
      if (event !== null) closes.push(event.code);
    });
    await waitFor(() => closes.length > 0, 30_000, 'second phone closed');
    expect(closes[0]).toBe(4422);
    expect(second.isFullyStored()).toBe(false);
    const storedDoc = new Y.Doc();
    for (const update of (await storage.load(listId)).updates) Y.applyUpdate(storedDoc, update);
    expect(Y.encodeStateVector(storedDoc)).toEqual(Y.encodeStateVector(first.doc));
    expect(Y.decodeStateVector(Y.encodeStateVector(first.doc)).has(second.doc.clientID)).toBe(false);
  }, 90_000);

  it('[L2] one message may be as large as a list; the send backlog holds one such message', () => {
    expect(DEFAULT_LIMITS.maxMessageBytes).toBe(DEFAULT_LIMITS.maxListBytes);
    expect(DEFAULT_LIMITS.maxBufferedBytes).toBeGreaterThan(DEFAULT_LIMITS.maxListBytes);
    expect(maxReadableFrameBytes(DEFAULT_LIMITS.maxMessageBytes)).toBeGreaterThan(DEFAULT_LIMITS.maxMessageBytes);
    const fromEnvironment = configFromEnvironment({ MAX_LIST_BYTES: String(64 * 1024 * 1024) });
    expect(fromEnvironment.maxMessageBytes).toBe(64 * 1024 * 1024);
    expect(fromEnvironment.maxBufferedBytes).toBeGreaterThan(64 * 1024 * 1024);
    expect(configFromEnvironment({ MAX_MESSAGE_BYTES: '4096' }).maxMessageBytes).toBe(4096);
  });

  it('[L4] the loaded lists\' stored bytes are bounded: a list that does not fit is refused (503) while phones on loaded lists keep syncing; once the large list is left, it loads', async () => {
    const storage = new MemoryListStorage();
    const [largeList, otherList] = [newListId(), newListId()];
    await storage.append(largeList, [Y.encodeStateAsUpdate(largeDocument(2.1 * 1024 * 1024))]);
    const running = await startRelay({ storage, limits: { maxLoadedListBytes: 2 * 1024 * 1024 } });
    cleanups.push(() => running.close());
    const holder = connectPhone(running.syncUrl, largeList);
    cleanups.push(() => holder.destroy());
    await waitFor(() => holder.provider.synced, 20_000, 'the large list synced');

    // With only the count of loaded lists bounded, it loaded: lists held open this way filled the heap.
    await expect(openRawSocket(running.syncUrl, otherList)).rejects.toThrow(/503/);
    expect(running.relay.registry.get(otherList)).toBeUndefined();
    expect(running.relay.metrics.errors.get({ kind: 'too_many_lists' })).toBe(1);
    const second = connectPhone(running.syncUrl, largeList);
    cleanups.push(() => second.destroy());
    await waitFor(() => second.provider.synced, 20_000, 'a second phone on the loaded list');
    holder.doc.getMap('items').set('still syncing', 'yes');
    await waitFor(() => second.doc.getMap('items').get('still syncing') === 'yes', 5000, 'fan-out on the loaded list');

    holder.destroy();
    second.destroy();
    await waitFor(() => running.relay.registry.get(largeList)?.peerCount === 0, 5000, 'the large list left');
    const later = connectPhone(running.syncUrl, otherList);
    cleanups.push(() => later.destroy());
    await waitFor(() => later.provider.synced, 5000, 'the other list loaded once the large one was idle');
    expect(running.relay.registry.get(largeList)).toBeUndefined();
  }, 60_000);

  it('[L6] connections opened at once to stored lists that together pass the bound: those that fit load, the others are told to come back later (1013), and nothing passes the bound', async () => {
    const storage = new MemoryListStorage();
    const listIds = Array.from({ length: 5 }, () => newListId());
    for (const listId of listIds) await storage.append(listId, [listOfBytes(300_000)]);
    const bound = 1_000_000;
    const running = await startRelay({ storage, limits: { maxLoadedListBytes: bound, maxLoadedListBytesPerIp: 10 * bound } });
    cleanups.push(() => running.close());
    const sockets: WebSocket[] = [];
    cleanups.push(() => sockets.forEach((socket) => socket.terminate()));

    // Each passes the check made at the upgrade (nothing is loaded yet); they are admitted once read.
    const outcomes = await openAtOnce(running, listIds, '127.0.0.2', sockets);
    expect(outcomes.filter((outcome) => outcome === 'loaded')).toHaveLength(3);
    expect(outcomes.filter((outcome) => outcome === 1013)).toHaveLength(2);
    expect(running.relay.registry.loadedCount).toBe(3);
    expect(running.relay.registry.loadedByteCount).toBeLessThanOrEqual(bound);
    expect(running.relay.metrics.errors.get({ kind: 'too_many_lists' })).toBe(2);

    // One held list left: a refused one loads when its phone comes back.
    sockets[outcomes.indexOf('loaded')]?.close();
    const refused = listIds[outcomes.indexOf(1013)] as string;
    await waitFor(() => running.relay.registry.loadedCount === 2 || running.relay.registry.get(listIds[outcomes.indexOf('loaded')] as string)?.peerCount === 0, 5000, 'a list left');
    expect(await openAtOnce(running, [refused], '127.0.0.2', sockets)).toEqual(['loaded']);
  }, 30_000);

  it('[L7] an address past its share of the loaded lists loads more only while they stay under half the bound; other addresses still load theirs, and the share comes back as its connections leave', async () => {
    const storage = new MemoryListStorage();
    const listIds = Array.from({ length: 6 }, () => newListId());
    for (const listId of listIds) await storage.append(listId, [listOfBytes(300_000)]);
    const running = await startRelay({ storage, limits: { maxLoadedListBytes: 1_000_000, maxLoadedListBytesPerIp: 400_000 } });
    cleanups.push(() => running.close());
    const holders: WebSocket[] = [];
    cleanups.push(() => holders.forEach((socket) => socket.terminate()));
    const [a1, a2, a3, a4, b1, b2] = listIds as [string, string, string, string, string, string];

    // Its first list whatever its size; a second (past its share of 400 kB) only while the
    // loaded lists stay under 500 kB, which two of 300 kB do not.
    const first = await openAtOnce(running, [a1, a2, a3], '127.0.0.2', holders);
    expect(first.filter((outcome) => outcome === 'loaded')).toHaveLength(1);
    expect(first.filter((outcome) => outcome === 1013)).toHaveLength(2);
    expect(running.relay.metrics.errors.get({ kind: 'address_list_share' })).toBe(2);
    // Another address loads its own.
    expect(await openAtOnce(running, [b1], '127.0.0.3', holders)).toEqual(['loaded']);
    // Still not while it holds one: the room would pass half.
    expect(await openAtOnce(running, [a4, b2], '127.0.0.2', holders)).toEqual([1013, 1013]);
    expect(running.relay.registry.get(a4)).toBeUndefined();
    expect(running.relay.registry.loadedCount).toBe(2);

    // A leaves its list: its share is whole again.
    const held = holders[first.indexOf('loaded')] as WebSocket;
    held.close();
    await waitFor(() => running.relay.registry.get(listIds[first.indexOf('loaded')] as string)?.peerCount === 0, 5000, 'A left its list');
    expect(await openAtOnce(running, [a4], '127.0.0.2', holders)).toEqual(['loaded']);
  }, 30_000);

  it('[L8] lists of subdocuments (far more heap than bytes) opened at once from several addresses: each is admitted by the heap the decode worker estimates before it is replayed, and together they stay within the bound (they took the relay past its heap)', async () => {
    const storage = new MemoryListStorage();
    const listIds = Array.from({ length: 5 }, () => newListId());
    const subdocs = new Y.Doc();
    subdocs.transact(() => {
      for (let i = 0; i < 4000; i += 1) subdocs.getMap('docs').set(i.toString(36), new Y.Doc({ guid: `s${i}` }));
    });
    const stored = Y.encodeStateAsUpdate(subdocs);
    // Large enough to be readied on the worker; about 350 kB each once replayed.
    expect(stored.length).toBeGreaterThanOrEqual(DEFAULT_LIMITS.offThreadDecodeBytes);
    for (const listId of listIds) await storage.append(listId, [stored]);
    const bound = 1_000_000;
    // By their stored bytes all five fit.
    expect(5 * stored.length).toBeLessThan(bound);
    const running = await startRelay({ storage, limits: { maxLoadedListBytes: bound } });
    cleanups.push(() => running.close());
    const sockets: WebSocket[] = [];
    cleanups.push(() => sockets.forEach((socket) => socket.terminate()));

    const outcomes = (await Promise.all(listIds.map((listId, index) => openAtOnce(running, [listId], `127.0.0.${index + 2}`, sockets)))).flat();
    const loaded = listIds.filter((_, index) => outcomes[index] === 'loaded');
    expect(loaded.length).toBeGreaterThan(0);
    expect(loaded.length).toBeLessThan(listIds.length);
    expect(outcomes.filter((outcome) => outcome === 1013).length).toBe(listIds.length - loaded.length);
    expect(running.relay.registry.loadedByteCount).toBeLessThanOrEqual(bound);
    for (const listId of loaded) {
      const room = running.relay.registry.get(listId);
      expect(room?.doc.getMap('docs').size).toBe(4000);
      expect(room?.sizeBytes).toBeGreaterThan(3 * stored.length);
    }
    expect(running.relay.metrics.errors.get({ kind: 'too_many_lists' })).toBe(listIds.length - loaded.length);
  }, 30_000);

  it('[L5] by default the loaded lists may store a fortieth of the heap, and at least one list at the size limit', () => {
    expect(DEFAULT_LIMITS.maxLoadedListBytes).toBe(Math.max(DEFAULT_LIMITS.maxListBytes, Math.floor(getHeapStatistics().heap_size_limit / 40)));
    expect(configFromEnvironment({}).maxLoadedListBytes).toBe(DEFAULT_LIMITS.maxLoadedListBytes);
    expect(configFromEnvironment({ MAX_LOADED_LIST_BYTES: String(64 * 1024 * 1024) }).maxLoadedListBytes).toBe(64 * 1024 * 1024);
    expect(() => configFromEnvironment({ MAX_LOADED_LIST_BYTES: '1024' })).toThrow(/MAX_LOADED_LIST_BYTES/);
    // An address's share: an eighth of that, at least one list at the size limit.
    expect(DEFAULT_LIMITS.maxLoadedListBytesPerIp).toBe(Math.max(DEFAULT_LIMITS.maxListBytes, Math.floor(DEFAULT_LIMITS.maxLoadedListBytes / 8)));
    expect(configFromEnvironment({ MAX_LOADED_LIST_BYTES: String(160 * 1024 * 1024) }).maxLoadedListBytesPerIp).toBe(20 * 1024 * 1024);
    expect(configFromEnvironment({ MAX_LOADED_LIST_BYTES_PER_IP: String(1024 * 1024) }).maxLoadedListBytesPerIp).toBe(1024 * 1024);
  });
});

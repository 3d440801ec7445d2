import * as Y from 'yjs';
import { describe, expect, it } from 'vitest';
import { silentLogger } from '../src/log.js';
import { MemoryListStorage } from '../src/storage/memory-storage.js';
import { HeldLists } from '../src/sync/held-lists.js';
import type { ListRoom } from '../src/sync/list-room.js';
import { decodeIncomingMessage, encodeSyncUpdate } from '../src/sync/protocol.js';
import type { ListRequester } from '../src/sync/room-registry.js';
import { RoomRegistry } from '../src/sync/room-registry.js';
import { cutStoredList } from '../src/sync/update-slices.js';
import { GatedStorage, waitFor } from './helpers.js';
import { fakePeer, registryOptions } from './room-fakes.js';

/** A list of about `bytes` stored bytes: one map value that long. */
function storedList(key: string, bytes: number): Uint8Array {
  const doc = new Y.Doc();
  doc.getMap('items').set(key, 'x'.repeat(bytes));
  return Y.encodeStateAsUpdate(doc);
}

function itemUpdate(key: string): ReturnType<typeof decodeIncomingMessage> {
  return decodeIncomingMessage(encodeSyncUpdate(storedList(key, 10)));
}

/** An address as the registry sees it (requesterOf), with the lists its connections hold (HeldLists). */
function address(): { requester: ListRequester; lists: HeldLists<ListRoom> } {
  const lists = new HeldLists<ListRoom>();
  return {
    lists,
    requester: { turn: () => Promise.resolve(), charge: () => undefined, finished: () => undefined, heldListBytes: (except) => lists.bytes(except) },
  };
}

describe('a list\'s life in memory: load, eviction, unload', () => {
  it('[LR1] a list evicted for another is released before the other is read: on a slow disk, lists churned through never pile up in memory past MAX_LOADED_LISTS', async () => {
    const storage = new GatedStorage();
    const maxLoadedLists = 2;
    const rooms = new RoomRegistry(registryOptions(storage, { maxLoadedLists }));
    const acquired: ListRoom[] = [];
    /** Lists read from storage whose documents the relay still holds: loaded, or unloaded and not yet released. */
    const inMemory = (): number => acquired.filter((list, i) => i < storage.loadsStarted && !list.doc.isDestroyed).length;
    // The disk is slow (an fsync under I/O pressure): appends take a while to return.
    storage.holdAppends();
    const openWriteLeave = async (i: number): Promise<ListRoom> => {
      // A phone opens a list, adds an item and leaves: the next list evicts the idle one.
      const room = rooms.acquire(`churnedList${i}xxxxxx`) as ListRoom;
      acquired.push(room);
      const phone = fakePeer(i + 1);
      room.attach(phone);
      await waitFor(() => room.isReady, 2000, 'list loaded');
      room.receive(phone, itemUpdate(`item${i}`), 0);
      await waitFor(() => storage.appendsStarted === i + 1, 2000, 'write started');
      room.detach(phone);
      return room;
    };
    const first = await openWriteLeave(0);
    await openWriteLeave(1);
    // A third list evicts the first, whose write has not returned: it is not read meanwhile.
    const third = rooms.acquire('churnedList2xxxxxx') as ListRoom;
    acquired.push(third);
    third.attach(fakePeer(3));
    await new Promise((resolve) => setTimeout(resolve, 100));
    // Read at once, it was the third list held, and churning on, any number of them.
    expect({ read: storage.loadsStarted, inMemory: inMemory(), loadedCount: rooms.loadedCount }).toEqual({ read: 2, inMemory: 2, loadedCount: 2 });
    // The write returns: the first list is released, then the third read.
    storage.releaseAppends();
    await waitFor(() => third.isReady, 2000, 'the third list loaded');
    expect({ firstReleased: first.doc.isDestroyed, inMemory: inMemory() }).toEqual({ firstReleased: true, inMemory: 2 });
    await rooms.shutdown(1012, 'restarting');
  });

  it('[LR2] an address\'s first list larger than its share is admitted when read but refused (1013) when its replay turn comes, at every attempt, while the upgrade keeps letting it in', async () => {
    const storage = new MemoryListStorage();
    await storage.append('firstOfItsAddressB', [storedList('B', 30_000)]);
    await storage.append('firstOfItsAddressL', [storedList('L', 30_000)]);
    // Room for 100 kB; an address's share is 20 kB (MAX_LOADED_LIST_BYTES_PER_IP may be set below
    // a list's size; a list's stored log may also be over MAX_LIST_BYTES until it is compacted).
    const rooms = new RoomRegistry(registryOptions(storage, { maxLoadedListBytes: 100_000, maxLoadedListBytesPerAddress: 20_000 }));
    const open = async (from: ReturnType<typeof address>, name: string): Promise<'loaded' | number> => {
      const room = rooms.acquire(`firstOfItsAddress${name}`, from.requester) as ListRoom;
      const phone = fakePeer(1);
      from.lists.hold(room);
      room.attach(phone);
      await waitFor(() => room.isReady || phone.closed.length > 0, 2000, 'loaded or closed');
      if (room.isReady) return 'loaded';
      from.lists.release(room);
      return phone.closed[0] as number;
    };
    // Another address holds one 30 kB list.
    expect(await open(address(), 'B')).toBe('loaded');
    // A second address opens its one and only list: "an address's first list is within its share
    // whatever its size", and the two lists would take 60 kB of the 100 kB.
    const a = address();
    const attempts: Array<{ upgrade: boolean; outcome: 'loaded' | number }> = [];
    for (let attempt = 0; attempt < 3; attempt++) {
      const upgrade = rooms.canAcquire('firstOfItsAddressL', a.requester);
      attempts.push({ upgrade, outcome: upgrade ? await open(a, 'L') : 503 });
    }
    // It was let in at the upgrade, admitted once read (the address held nothing yet), then
    // refused when its replay turn came, where it counted in its own address's held bytes (so not
    // its first list any more): 1013 at every attempt, a disk read each time, for as long as the
    // loaded lists stayed over half the bound.
    expect(attempts).toEqual([
      { upgrade: true, outcome: 'loaded' },
      { upgrade: true, outcome: 'loaded' },
      { upgrade: true, outcome: 'loaded' },
    ]);
    await rooms.shutdown(1012, 'restarting');
  });
  it('[LR3] a list whose read fails after the relay began shutting down closes its phones with 1011 "list reloading" (and logs list.failed), not 1012 "relay restarting"', async () => {
    /** A disk read that fails once it returns (an I/O error), held until the test lets it return. */
    class FailingReadStorage extends MemoryListStorage {
      private openRead: (() => void) | undefined;
      readsStarted = 0;
      override async load(): Promise<never> {
        this.readsStarted += 1;
        await new Promise<void>((resolve) => (this.openRead = resolve));
        throw Object.assign(new Error('EIO: i/o error, read'), { code: 'EIO' });
      }
      letReadReturn(): void {
        this.openRead?.();
      }
    }
    const storage = new FailingReadStorage();
    const logged: string[] = [];
    const logger = { ...silentLogger, error: (event: string) => void logged.push(event) };
    const rooms = new RoomRegistry(registryOptions(storage, { logger }));
    const room = rooms.acquire('readFailsInShutdown01') as ListRoom;
    const phone = fakePeer(1);
    room.attach(phone);
    await waitFor(() => storage.readsStarted === 1, 2000, 'read started');
    // SIGTERM: the relay abandons the load and waits for the read, then closes the list's phones.
    const shutdown = rooms.shutdown(1012, 'relay restarting');
    storage.letReadReturn();
    await shutdown;
    // The abandoned load's failure was handled as a live list's: its phone told the list failed (1011).
    expect({ closed: phone.closed, failedLogged: logged.includes('list.failed') }).toEqual({ closed: [1012], failedLogged: false });
  });

  it('[LB1] lists asked for at once are read one at a time, each admitted or refused before the next is read: what is read waits no longer uncounted', async () => {
    const storage = new GatedStorage();
    const listIds = Array.from({ length: 10 }, (_, i) => `burstList${i}xxxxxxxxx`);
    for (const [i, listId] of listIds.entries()) await storage.inner.append(listId, [storedList(`item${i}`, 100_000)]);
    const rooms = new RoomRegistry(registryOptions(storage, { maxLoadedListBytes: 250_000, maxLoadedListBytesPerAddress: 250_000 }));
    // The journal's replay after a crash: every read waits for it.
    storage.holdLoads();
    const acquired = listIds.map((listId, i) => {
      const room = rooms.acquire(listId) as ListRoom;
      room.attach(fakePeer(i + 1));
      return room;
    });
    await new Promise((resolve) => setTimeout(resolve, 50));
    // Side by side, all ten were read before the first was admitted.
    expect(storage.loadsStarted).toBe(1);
    storage.releaseLoads();
    await waitFor(() => storage.loadsStarted === listIds.length && acquired.every((room) => room.isReady || room.doc.isDestroyed), 5000, 'every list read, and loaded or refused');
    const loaded = acquired.filter((room) => room.isReady);
    expect(loaded.length).toBe(2);
    expect(loaded.reduce((bytes, room) => bytes + room.sizeBytes, 0)).toBeLessThanOrEqual(250_000);
  });

  it('[GC2] a list unloaded by the idle sweep counts until it is released: on a slow disk, a list opened meanwhile waits for it before it is read, and is not refused at the upgrade for it', async () => {
    const storage = new GatedStorage();
    const rooms = new RoomRegistry(registryOptions(storage, { maxLoadedLists: 2 }));
    const acquired: ListRoom[] = [];
    /** Lists read from storage whose documents the relay still holds: loaded, or unloaded and not yet released. */
    const inMemory = (): number => acquired.filter((list, i) => i < storage.loadsStarted && !list.doc.isDestroyed).length;
    const open = async (listId: string, phoneId: number): Promise<{ room: ListRoom; phone: ReturnType<typeof fakePeer> }> => {
      const room = rooms.acquire(listId) as ListRoom;
      acquired.push(room);
      const phone = fakePeer(phoneId);
      room.attach(phone);
      await waitFor(() => room.isReady, 2000, 'list loaded');
      return { room, phone };
    };
    // The disk is slow: the first list's write has not returned when its phone leaves and the
    // idle sweep unloads it (its flush waits for the write).
    storage.holdAppends();
    const first = await open('sweptWhileWriting01', 1);
    first.room.receive(first.phone, itemUpdate('milk'), 0);
    await waitFor(() => storage.appendsStarted === 1, 2000, 'write started');
    first.room.detach(first.phone);
    rooms.sweepIdle();
    expect(rooms.loadedCount).toBe(0);
    // A second list fits beside it and loads at once.
    await open('openedAfterSweep001', 2);
    // A third one is let in at the upgrade (the unloading list is not a reason to refuse phones)...
    expect(rooms.canAcquire('openedAfterSweep002')).toBe(true);
    const third = rooms.acquire('openedAfterSweep002') as ListRoom;
    acquired.push(third);
    third.attach(fakePeer(3));
    await new Promise((resolve) => setTimeout(resolve, 100));
    // ...but not read while the swept list is still in memory. Before: read at once, and on a
    // slow disk every list churned through stayed in memory past MAX_LOADED_LISTS.
    expect({ read: storage.loadsStarted, inMemory: inMemory(), ready: third.isReady }).toEqual({ read: 2, inMemory: 2, ready: false });
    storage.releaseAppends();
    await waitFor(() => third.isReady, 2000, 'the third list loaded');
    expect({ firstReleased: first.room.doc.isDestroyed, inMemory: inMemory(), unloading: rooms.unloadingCount }).toEqual({ firstReleased: true, inMemory: 2, unloading: 0 });
    await rooms.shutdown(1012, 'restarting');
  });

  it('[GC2] a list waiting for room beside unloading lists does not wait for their compactions still waiting for their turn: those are dropped, the lists keep their logs', async () => {
    /** Compactions wait for a turn (the disk storage's slots, all taken) until the test gives it. */
    class QueuedCompactions extends MemoryListStorage {
      asked = 0;
      private openTurn: () => void = () => undefined;
      private readonly turn = new Promise<void>((resolve) => (this.openTurn = resolve));
      override async compact(...args: Parameters<MemoryListStorage['compact']>): Promise<void> {
        this.asked += 1;
        await this.turn;
        return super.compact(...args);
      }
      giveTurn(): void {
        this.openTurn();
      }
    }
    const storage = new QueuedCompactions();
    const rooms = new RoomRegistry(registryOptions(storage, { maxLoadedLists: 1 }));
    const first = rooms.acquire('unloadedCompacting1') as ListRoom;
    const phone = fakePeer(1);
    first.attach(phone);
    await waitFor(() => first.isReady, 2000, 'loaded');
    first.receive(phone, itemUpdate('milk'), 0);
    await first.flush();
    first.detach(phone);
    // Unloaded by the sweep: flushed, its compaction waits for its turn behind many others.
    rooms.sweepIdle();
    await waitFor(() => storage.asked === 1, 2000, 'the unload compaction asked for');
    const second = rooms.acquire('waitsForTheFirst01') as ListRoom;
    let firstReleasedWhenRead: boolean | undefined;
    second.doc.on('afterTransaction', () => (firstReleasedWhenRead ??= first.doc.isDestroyed));
    second.attach(fakePeer(2));
    // Before: read at once beside the unloading list (2 lists in memory with a bound of 1); waiting
    // for its compaction instead, it would wait for the whole backlog ahead of it.
    await waitFor(() => second.isReady, 2000, 'the second list loaded');
    expect(firstReleasedWhenRead).toBe(true);
    storage.giveTurn();
    await rooms.whenUnloaded();
    const stored = await storage.load('unloadedCompacting1');
    expect({ records: stored.updates.length, compacted: stored.logBytes < stored.storedBytes }).toEqual({ records: 1, compacted: false });
    await rooms.shutdown(1012, 'restarting');
  });

  it('[DW3] the shutdown does not wait for a loading list\'s cut queued on a busy decode worker: nothing is replayed, the stored list stays as it was, and the cut\'s time is charged once spent', async () => {
    const storage = new MemoryListStorage();
    const stored = [storedList('large', 5_000), storedList('small', 10)];
    await storage.append('largeListCutOnWorker', stored);
    const minBytes = 4096;
    let cutsAsked = 0;
    let finishCut: () => void = () => undefined;
    const rooms = new RoomRegistry({
      ...registryOptions(storage),
      storedUpdateSlicer: {
        minBytes,
        estimateBytes: 4 * minBytes,
        // Queued behind other addresses' frames, each of which may take DECODE_WORKER_CHECK_MS.
        cut: (updates) => {
          cutsAsked += 1;
          return new Promise((resolve) => (finishCut = () => resolve({ ...cutStoredList(updates, minBytes, 100), ms: 7 })));
        },
      },
    });
    const charged: number[] = [];
    const { requester } = address();
    const room = rooms.acquire('largeListCutOnWorker', { ...requester, charge: (ms) => charged.push(ms) }) as ListRoom;
    const phone = fakePeer(1);
    room.attach(phone);
    await waitFor(() => cutsAsked === 1, 2000, 'the cut asked for');
    const shutdown = rooms.shutdown(1012, 'relay restarting');
    // Before: the stop waited for the worker's whole queue ahead of the cut (11 s in the review).
    expect(await Promise.race([shutdown.then(() => 'stopped'), new Promise((resolve) => setTimeout(() => resolve('waiting'), 1000))])).toBe('stopped');
    expect({ closed: phone.closed, replayed: room.doc.getMap('items').size }).toEqual({ closed: [1012], replayed: 0 });
    expect((await storage.load('largeListCutOnWorker')).updates).toEqual(stored);
    finishCut();
    await waitFor(() => charged.includes(7), 2000, 'the cut charged');
  });
});

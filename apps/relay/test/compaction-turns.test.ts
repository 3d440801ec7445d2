import * as Y from 'yjs';
import { describe, expect, it } from 'vitest';
import { DiskListStorage } from '../src/storage/disk-storage.js';
import type { SnapshotSource } from '../src/storage/list-storage.js';
import { MemoryListStorage } from '../src/storage/memory-storage.js';
import type { ListRoom } from '../src/sync/list-room.js';
import { decodeIncomingMessage, encodeSyncUpdate, MESSAGE_DURABLE_ACK } from '../src/sync/protocol.js';
import { RoomRegistry } from '../src/sync/room-registry.js';
import { ackVector, directoryPerTest, waitFor, within } from './helpers.js';
import { fakePeer, listWithMumAndDad, registryOptions } from './room-fakes.js';

/**
 * A storage whose compactions wait for their turn (the disk storage's compaction slots, taken by
 * the compactions of lists the idle sweep unloaded) until the test gives it.
 */
class QueuedCompactions extends MemoryListStorage {
  asked = 0;
  private openTurn: () => void = () => undefined;
  private readonly turn = new Promise<void>((resolve) => (this.openTurn = resolve));

  override async compact(listId: string, source: Uint8Array | SnapshotSource): Promise<void> {
    this.asked += 1;
    await this.turn;
    return super.compact(listId, source);
  }

  giveTurn(): void {
    this.openTurn();
  }
}

/** An update from `doc` setting one item. */
function itemFrom(doc: Y.Doc, key: string): ReturnType<typeof decodeIncomingMessage> {
  const before = Y.encodeStateVector(doc);
  doc.getMap('items').set(key, key);
  return decodeIncomingMessage(encodeSyncUpdate(Y.encodeStateAsUpdate(doc, before)));
}

function itemsOf(updates: readonly Uint8Array[]): Record<string, unknown> {
  const doc = new Y.Doc();
  for (const update of updates) Y.applyUpdate(doc, update);
  return doc.getMap('items').toJSON();
}

describe('compactions wait for their turn without holding up the list', () => {
  it('[GC3] a list whose compaction waits for its turn among the storage\'s compactions goes on acknowledging its phones\' edits; the snapshot is taken once the turn comes', async () => {
    const storage = new QueuedCompactions();
    // Every write takes the log past COMPACT_LOG_BYTES: the first ack starts a compaction.
    const { list, mum } = await listWithMumAndDad(storage, { compactLogBytes: 1 });
    const phone = new Y.Doc();
    const acked = (): number => ackVector(mum.sent.filter((message) => message[0] === MESSAGE_DURABLE_ACK).at(-1) ?? new Uint8Array([MESSAGE_DURABLE_ACK, 0])).get(phone.clientID) ?? 0;
    list.receive(mum, itemFrom(phone, 'milk'), 0);
    await waitFor(() => storage.asked === 1, 2000, 'a compaction asked for');
    // Lists unloaded by the idle sweep hold every compaction slot: this one waits for its turn.
    list.receive(mum, itemFrom(phone, 'eggs'), 0);
    await new Promise((resolve) => setTimeout(resolve, 100));
    // Before: the compaction waited for its slot with the list's writes stopped, and no edit was
    // acknowledged until the backlog ahead of it was done (seconds).
    expect({ acked: acked(), ofClock: Y.getState(phone.store, phone.clientID) }).toEqual({ acked: 2, ofClock: 2 });
    storage.giveTurn();
    // The compaction in flight (the one that waited), not a new one.
    expect(await list.compactIfLarge()).toBe(true);
    expect(storage.asked).toBe(1);
    await list.flush();
    // The snapshot was taken when the turn came: it holds both items, and the log is empty.
    const stored = await storage.load(list.listId);
    expect({ items: itemsOf(stored.updates.slice(0, 1)), logBytes: stored.logBytes }).toEqual({ items: { milk: 'milk', eggs: 'eggs' }, logBytes: 0 });
    list.destroy();
  });

  it('[GC3] the shutdown does not wait for compactions still waiting for their turn (a loaded list\'s, an unloading list\'s): they are dropped, the lists keep their logs', async () => {
    const storage = new QueuedCompactions();
    const rooms = new RoomRegistry(registryOptions(storage, { compactLogBytes: 1 }));
    const open = async (listId: string): Promise<{ room: ListRoom; phone: ReturnType<typeof fakePeer> }> => {
      const room = rooms.acquire(listId) as ListRoom;
      const phone = fakePeer(1);
      room.attach(phone);
      await waitFor(() => room.isReady, 2000, 'loaded');
      room.receive(phone, itemFrom(new Y.Doc(), listId), 0);
      await waitFor(() => phone.sent.some((message) => message[0] === MESSAGE_DURABLE_ACK), 2000, 'acknowledged');
      return { room, phone };
    };
    // A loaded list whose log passed COMPACT_LOG_BYTES, and one its phone left, unloaded by the sweep.
    const active = await open('activeListCompacting');
    const idle = await open('idleListUnloading01');
    idle.room.detach(idle.phone);
    rooms.sweepIdle();
    await waitFor(() => storage.asked === 2, 2000, 'both compactions asked for');
    // Before: the stop waited for the loaded list's compaction (and so for every one queued ahead).
    expect(await within(rooms.shutdown(1012, 'restarting'), 1000)).toBe('settled');
    expect(active.phone.closed).toEqual([1012]);
    storage.giveTurn();
    await new Promise((resolve) => setTimeout(resolve, 20));
    for (const listId of ['activeListCompacting', 'idleListUnloading01']) {
      const stored = await storage.load(listId);
      expect({ listId, items: itemsOf(stored.updates), compacted: stored.logBytes < stored.storedBytes }).toEqual({ listId, items: { [listId]: listId }, compacted: false });
    }
  });
});

describe('the disk storage\'s compaction slots', () => {
  const dataDir = directoryPerTest('basket-compaction-turns-');

  it('[GC3] a compaction asks for its snapshot only once it holds a slot, and a loaded list\'s compaction takes the next slot before unload compactions queued earlier', async () => {
    const storage = new DiskListStorage({ dataDir: dataDir(), checkpointIntervalMs: 0, newListReserveBytes: 0, maxConcurrentCompactions: 1 });
    const docs = new Map<string, Y.Doc>();
    const lists = ['slotHolderList0001', 'unloadedListA00001', 'unloadedListB00001', 'loadedListWriting1'];
    for (const listId of lists) {
      const doc = new Y.Doc();
      doc.getMap('items').set(listId, listId);
      docs.set(listId, doc);
      await storage.append(listId, [Y.encodeStateAsUpdate(doc)]);
    }
    const asked: string[] = [];
    let letHolderGo: () => void = () => undefined;
    const holderMayGo = new Promise<void>((resolve) => (letHolderGo = resolve));
    const source =
      (listId: string, before?: Promise<void>): SnapshotSource =>
      async () => {
        asked.push(listId);
        await before;
        return Y.encodeStateAsUpdate(docs.get(listId) as Y.Doc);
      };
    const [holder, unloadedA, unloadedB, loaded] = lists as [string, string, string, string];
    const compactions = [
      storage.compact(holder, source(holder, holderMayGo)),
      storage.compact(unloadedA, source(unloadedA), { background: true }),
      storage.compact(unloadedB, source(unloadedB), { background: true }),
      storage.compact(loaded, source(loaded)),
    ];
    await waitFor(() => asked.length === 1, 2000, 'the first snapshot asked for');
    await new Promise((resolve) => setTimeout(resolve, 50));
    // One slot: the others' snapshots are not taken (nor their lists' writes stopped) meanwhile.
    expect(asked).toEqual([holder]);
    letHolderGo();
    await Promise.all(compactions);
    expect(asked).toEqual([holder, loaded, unloadedA, unloadedB]);
    for (const listId of lists) {
      const stored = await storage.load(listId);
      expect({ listId, records: stored.updates.length, logBytes: stored.logBytes, items: itemsOf(stored.updates) }).toEqual({ listId, records: 1, logBytes: 0, items: { [listId]: listId } });
    }
    await storage.close();
  });
});

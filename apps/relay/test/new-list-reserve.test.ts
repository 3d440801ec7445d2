import { readdir } from 'node:fs/promises';
import * as Y from 'yjs';
import { afterEach, describe, expect, it } from 'vitest';
import { configFromEnvironment } from '../src/config.js';
import type { Logger } from '../src/log.js';
import { createJsonLogger } from '../src/log.js';
import { DiskListStorage } from '../src/storage/disk-storage.js';
import { freeBytesOnDisk, isNewListsPaused, NewListReserve } from '../src/storage/new-list-reserve.js';
import type { Phone, RunningRelay } from './helpers.js';
import { connectPhone, directoryPerTest, newListId, startRelay, waitFor } from './helpers.js';

const MiB = 1024 * 1024;

/** A real JSON logger whose lines are kept. */
function recordingLogger(): { logger: Logger; lines: Array<{ level: string; event: string }> } {
  const lines: Array<{ level: string; event: string }> = [];
  return { lines, logger: createJsonLogger('debug', (line) => lines.push(JSON.parse(line) as { level: string; event: string })) };
}

function updateSetting(key: string): Uint8Array {
  const doc = new Y.Doc();
  doc.getMap('items').set(key, { checked: false });
  return Y.encodeStateAsUpdate(doc);
}

describe('NewListReserve', () => {
  it('[N1] admits new lists while the disk has the reserve free, pauses them below it, says so once each way, and reads statfs at most once a second', async () => {
    let free = 500 * MiB;
    let reads = 0;
    let clock = 0;
    const { logger, lines } = recordingLogger();
    const reserve = new NewListReserve({
      dataDir: '/nowhere',
      reserveBytes: 256 * MiB,
      logger,
      now: () => clock,
      freeBytes: async () => {
        reads += 1;
        return free;
      },
    });
    await reserve.admitNewList();
    free = 100 * MiB;
    // Within the second the earlier reading still holds.
    clock = 999;
    await reserve.admitNewList();
    expect(reads).toBe(1);
    clock = 1_000;
    const refusal = await reserve.admitNewList().then(
      () => undefined,
      (error: unknown) => error,
    );
    expect(isNewListsPaused(refusal)).toBe(true);
    expect(String(refusal)).toMatch(/104857600 bytes free, under the 268435456 bytes kept/);
    clock = 2_000;
    await expect(reserve.admitNewList()).rejects.toThrow(/new lists wait/);
    free = 300 * MiB;
    clock = 3_000;
    await reserve.admitNewList();
    expect(reads).toBe(4);
    expect(lines.map((line) => `${line.level} ${line.event}`)).toEqual(['warn storage.new_lists_paused', 'info storage.new_lists_resumed']);
  });

  it('[N2] a disk it cannot measure, or a reserve of 0, refuses nothing', async () => {
    const { logger, lines } = recordingLogger();
    const unmeasurable = new NewListReserve({ dataDir: '/nowhere', reserveBytes: MiB, logger, freeBytes: () => Promise.reject(new Error('EIO')) });
    await expect(unmeasurable.admitNewList()).resolves.toBeUndefined();
    expect(lines.map((line) => line.event)).toEqual(['storage.free_space_unknown']);
    const off = new NewListReserve({ dataDir: '/nowhere', reserveBytes: 0, logger, freeBytes: async () => 0 });
    await expect(off.admitNewList()).resolves.toBeUndefined();
  });

  it('[N3] measures the nearest existing parent of a DATA_DIR not made yet', async () => {
    const free = await freeBytesOnDisk('/tmp/basket-not-made-yet/a/b');
    expect(free).toBeGreaterThan(0);
    expect(configFromEnvironment({}).newListReserveBytes).toBe(256 * MiB);
    expect(configFromEnvironment({ NEW_LIST_RESERVE_BYTES: '0' }).newListReserveBytes).toBe(0);
    expect(() => configFromEnvironment({ NEW_LIST_RESERVE_BYTES: '-5' })).toThrow(/NEW_LIST_RESERVE_BYTES must be an integer ≥ 0/);
  });
});

describe('below the disk reserve, only lists with nothing stored wait', () => {
  const dataDir = directoryPerTest('basket-reserve-');
  const phones: Phone[] = [];
  let running: RunningRelay | undefined;
  afterEach(async () => {
    for (const phone of phones.splice(0)) phone.destroy();
    await running?.close();
    running = undefined;
  });

  it('[N4] the storage writes nothing for a new list, keeps writing stored ones, and stores the new one once there is room', async () => {
    let free = 100 * MiB;
    // Each change of the free space comes a second later, when the reserve reads it again.
    let clock = 0;
    const setFree = (bytes: number): void => {
      free = bytes;
      clock += 1_000;
    };
    const storage = new DiskListStorage({ dataDir: dataDir(), newListReserveBytes: 64 * MiB, freeBytes: async () => free, now: () => clock, checkpointIntervalMs: 0 });
    const stored = newListId();
    await storage.load(stored);
    await storage.append(stored, [updateSetting('milk')]);
    setFree(10 * MiB);

    const fresh = newListId();
    await storage.load(fresh);
    await expect(storage.append(fresh, [updateSetting('eggs')])).rejects.toSatisfy(isNewListsPaused);
    await storage.append(stored, [updateSetting('bread')]);
    await storage.checkpoint();
    expect((await readdir(dataDir())).filter((name) => name.startsWith(fresh))).toEqual([]);
    expect((await storage.load(stored)).updates).toHaveLength(2);

    // Released and loaded again, it still has nothing stored: still new.
    await storage.release(fresh);
    expect((await storage.load(fresh)).updates).toEqual([]);
    await expect(storage.append(fresh, [updateSetting('eggs')])).rejects.toSatisfy(isNewListsPaused);

    // Once there is room the write goes through, and from then on the list is a stored one.
    setFree(100 * MiB);
    await storage.append(fresh, [updateSetting('eggs')]);
    setFree(10 * MiB);
    await storage.append(fresh, [updateSetting('jam')]);
    await storage.close();

    const reopened = new DiskListStorage({ dataDir: dataDir(), checkpointIntervalMs: 0 });
    expect((await reopened.load(fresh)).updates).toHaveLength(2);
    await reopened.close();
  });

  it('[N5] phones on a new list keep syncing with each other unacknowledged, a stored list is still acknowledged, and the new one is once there is room', async () => {
    let free = 100 * MiB;
    const storage = new DiskListStorage({ dataDir: dataDir(), newListReserveBytes: 64 * MiB, freeBytes: async () => free });
    running = await startRelay({ storage });
    const storedList = newListId();
    const family = connectPhone(running.syncUrl, storedList);
    phones.push(family);
    family.doc.getMap('items').set('milk', { checked: false });
    await waitFor(() => family.isFullyStored(), 5000, 'the stored list acknowledged');

    free = 10 * MiB;
    await new Promise((resolve) => setTimeout(resolve, 1_050));
    const newList = newListId();
    const alice = connectPhone(running.syncUrl, newList);
    const bob = connectPhone(running.syncUrl, newList);
    phones.push(alice, bob);
    let disconnects = 0;
    alice.provider.on('status', ({ status }: { status: string }) => {
      if (status === 'disconnected') disconnects += 1;
    });
    alice.doc.getMap('items').set('eggs', { checked: false });
    await waitFor(() => bob.doc.getMap('items').has('eggs'), 5000, 'Bob to get Alice\'s eggs');
    await waitFor(() => (running?.relay.metrics.errors.get({ kind: 'new_list_waiting_for_disk' }) ?? 0) >= 1, 5000, 'the write to wait');
    family.doc.getMap('items').set('bread', { checked: false });
    await waitFor(() => family.isFullyStored(), 5000, 'the stored list still acknowledged');
    expect(alice.isFullyStored()).toBe(false);
    expect(running.relay.metrics.errors.get({ kind: 'storage_write_failed' })).toBe(0);

    free = 100 * MiB;
    await waitFor(() => alice.isFullyStored(), 10_000, 'Alice\'s eggs acknowledged once there is room');
    expect(disconnects).toBe(0);
  }, 30_000);
});

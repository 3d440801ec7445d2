import path from 'node:path';
import { describe, expect, it, vi } from 'vitest';
import { lockDataDir } from '../src/storage/data-dir-lock.js';
import { DiskListStorage } from '../src/storage/disk-storage.js';
import { directoryPerTest, newListId } from './helpers.js';

const synced = vi.hoisted(() => [] as string[]);
vi.mock('../src/storage/file-ops.js', async (importOriginal) => {
  const original = await importOriginal<typeof import('../src/storage/file-ops.js')>();
  return {
    ...original,
    syncDirectory: async (dir: string) => {
      synced.push(path.resolve(dir));
      await original.syncDirectory(dir);
    },
  };
});

describe('DATA_DIR created by the relay', () => {
  const directory = directoryPerTest('basket-datadir-');

  it('[D1] is made durable in its parents: each new directory\'s entry is synced before anything in it is acknowledged', async () => {
    const top = directory();
    const dataDir = path.join(top, 'srv', 'basket', 'data');
    const storage = new DiskListStorage({ dataDir, checkpointIntervalMs: 0 });
    try {
      synced.length = 0;
      await storage.append(newListId(), [new Uint8Array([0, 0])]);
      // `srv` was the first directory made: its entry is in `top`.
      for (const parent of [top, path.join(top, 'srv'), path.join(top, 'srv', 'basket')]) {
        expect(synced, parent).toContain(path.resolve(parent));
      }
      expect(synced.indexOf(path.resolve(top)), 'the parents before DATA_DIR\'s own entries').toBeLessThan(synced.indexOf(path.resolve(dataDir)));
      expect(synced).not.toContain(path.dirname(path.resolve(top)));
    } finally {
      await storage.close();
    }
  });

  it('[D2] is made durable in its parents when the DATA_DIR lock creates it, as the relay does before the storage (which then finds it there)', async () => {
    const top = directory();
    const dataDir = path.join(top, 'srv', 'basket', 'data');
    synced.length = 0;
    const outcome = await lockDataDir(dataDir, { waitMs: 0 });
    try {
      const storage = new DiskListStorage({ dataDir, checkpointIntervalMs: 0 });
      let syncedBeforeAck: string[];
      try {
        await storage.append(newListId(), [new Uint8Array([0, 0])]);
        syncedBeforeAck = [...synced];
      } finally {
        await storage.close();
      }
      // Left to the storage, which finds DATA_DIR there and creates nothing, none was synced: a
      // power loss could take DATA_DIR away, with what it had acknowledged.
      for (const parent of [top, path.join(top, 'srv'), path.join(top, 'srv', 'basket')]) {
        expect(syncedBeforeAck, parent).toContain(path.resolve(parent));
      }
      expect(syncedBeforeAck).not.toContain(path.dirname(path.resolve(top)));
    } finally {
      if (outcome.kind === 'acquired') await outcome.lock.release();
    }
  });
});

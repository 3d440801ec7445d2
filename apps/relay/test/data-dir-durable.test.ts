import path from 'node:path';
import { describe, expect, it, vi } from 'vitest';
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
});

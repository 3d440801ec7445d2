/**
 * A list log whose torn tail cannot be cut when the list loads (the truncate fails: EIO, a disk
 * remounted read-only). Its whole records are served; nothing is copied after the tail until the
 * cut succeeds.
 */
import { appendFile, readFile } from 'node:fs/promises';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { DiskListStorage } from '../src/storage/disk-storage.js';
import type { StorageFailureKind } from '../src/storage/list-storage.js';
import { frameRecord, scanRecords } from '../src/storage/record-framing.js';
import { temporaryDirectory } from './helpers.js';
import { itemsOf, makeUpdates } from './stored-items.js';

const truncates = vi.hoisted(() => ({ failing: false, failed: 0 }));
vi.mock('../src/storage/file-ops.js', async (importOriginal) => {
  const original = await importOriginal<typeof import('../src/storage/file-ops.js')>();
  return {
    ...original,
    truncateAndSync: async (filePath: string, length: number) => {
      if (truncates.failing) {
        truncates.failed += 1;
        throw Object.assign(new Error(`EIO: i/o error, ftruncate '${filePath}'`), { code: 'EIO' });
      }
      await original.truncateAndSync(filePath, length);
    },
  };
});

const LIST = 'tornTailListId0001';

describe('a torn log tail that cannot be cut', () => {
  let dir: string;
  let remove: () => Promise<void>;
  const failures: StorageFailureKind[] = [];
  const storages: DiskListStorage[] = [];
  const open = (): DiskListStorage => {
    const observer = { journalWritten: () => undefined, checkpointed: () => undefined, failed: (kind: StorageFailureKind) => void failures.push(kind) };
    const storage = new DiskListStorage({ dataDir: dir, observer, checkpointIntervalMs: 0 });
    storages.push(storage);
    return storage;
  };

  beforeEach(async () => {
    ({ dir, remove } = await temporaryDirectory('basket-torn-tail-'));
    truncates.failing = false;
    truncates.failed = 0;
    failures.length = 0;
  });
  afterEach(async () => {
    truncates.failing = false;
    await Promise.all(storages.splice(0).map((storage) => storage.close().catch(() => undefined)));
    await remove();
  });

  it('[TT1] the list loads from its whole records (it failed to load, and its phones were closed with 1011 on every attempt); copies into the log fail while the cut does, and then land after the whole records, never after the tail', async () => {
    const { source, updates: made } = makeUpdates(3);
    // makeUpdates goes on collecting into `made` when called again with `source`.
    const updates = [...made];
    const first = open();
    await first.append(LIST, updates);
    await first.close();
    const logPath = path.join(dir, `${LIST}.log`);
    await appendFile(logPath, frameRecord(new Uint8Array(50).fill(9)).subarray(0, 30));

    truncates.failing = true;
    const storage = open();
    const stored = await storage.load(LIST);
    expect(stored.updates).toEqual(updates);
    expect(truncates.failed).toBe(1);
    expect(failures).toContain('torn_tail_cut_failed');

    // An edit is stored (the journal) and acknowledged; its copy into the log must cut the tail
    // first, and fails while it cannot: the log is left as it was.
    const more = makeUpdates(1, source).updates;
    await storage.append(LIST, more);
    const logBefore = await readFile(logPath);
    await expect(storage.checkpoint()).rejects.toThrow(/EIO/);
    expect(await readFile(logPath)).toEqual(logBefore);

    // The disk works again: the copy cuts the tail, then appends.
    truncates.failing = false;
    await storage.checkpoint();
    const scan = scanRecords(await readFile(logPath));
    expect(scan.kind).toBe('complete');
    expect(scan.records).toEqual([...updates, ...more]);
    await storage.close();
    const reloaded = await open().load(LIST);
    expect(itemsOf(reloaded.updates)).toEqual(source.getMap('items').toJSON());
  });
});

import { existsSync } from 'node:fs';
import { open as openFile, readdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { DiskListStorage } from '../src/storage/disk-storage.js';
import { syncDirectory } from '../src/storage/file-ops.js';
import { encodeJournalRecord, writeAt } from '../src/storage/journal.js';
import { temporaryDirectory } from './helpers.js';
import { itemsOf, makeUpdates } from './stored-items.js';

const LIST = 'writeFailures00001';

const eio = (): Error => Object.assign(new Error('EIO: i/o error, write'), { code: 'EIO' });

describe('durable storage after a failed write or fsync', () => {
  let dir: string;
  let remove: () => Promise<void>;
  const storages: DiskListStorage[] = [];
  const logged: Array<{ event: string; fields: Record<string, unknown> }> = [];
  const logger = {
    debug: () => undefined,
    info: (event: string, fields: Record<string, unknown> = {}) => void logged.push({ event, fields }),
    warn: (event: string, fields: Record<string, unknown> = {}) => void logged.push({ event, fields }),
    error: (event: string, fields: Record<string, unknown> = {}) => void logged.push({ event, fields }),
  };
  const open = (options: Partial<ConstructorParameters<typeof DiskListStorage>[0]> = {}): DiskListStorage => {
    const storage = new DiskListStorage({ dataDir: dir, logger, wallClock: () => 1234, checkpointIntervalMs: 0, ...options });
    storages.push(storage);
    return storage;
  };
  const journalFiles = async (): Promise<string[]> => (await readdir(dir)).filter((name) => name.endsWith('.wal'));

  beforeEach(async () => {
    ({ dir, remove } = await temporaryDirectory('write-failures-'));
    logged.length = 0;
  });
  afterEach(async () => {
    await Promise.all(storages.splice(0).map((s) => s.close().catch(() => undefined)));
    await remove();
  });

  it('[WF1] a list-log write that fails after its bytes reached the file (EIO from an O_DSYNC write) is cut off before the retry, not built on: a crash that loses those undurable bytes must not take the retried, acknowledged records with it', async () => {
    const { source, updates } = makeUpdates(4);
    // An O_DSYNC write that reports EIO: its bytes are in the page cache (a read sees them), but
    // nothing says they are on the disk.
    let failNext = false;
    /** Byte ranges of the log a failed write put in the file, and those later successful (durable) writes covered. */
    const failedRanges: Array<[number, number]> = [];
    const durableRanges: Array<[number, number]> = [];
    const writeLogBytes: typeof writeAt = async (fd, buffer, offset, position) => {
      const written = await writeAt(fd, buffer, offset, position);
      if (failNext) {
        failNext = false;
        failedRanges.push([position, position + written]);
        throw eio();
      }
      if (failedRanges.length > 0) durableRanges.push([position, position + written]);
      return written;
    };
    const storage = open({ writeLogBytes });
    await storage.load(LIST);
    await storage.append(LIST, updates.slice(0, 2));
    await storage.checkpoint();
    const logPath = path.join(dir, `${LIST}.log`);
    const durableEnd = (await readFile(logPath)).length;

    await storage.append(LIST, updates.slice(2)); // acknowledged: in the journal
    failNext = true;
    await expect(storage.checkpoint()).rejects.toThrow('EIO');
    // The retry succeeds, and the journal segment holding updates 2 and 3 is deleted.
    await storage.checkpoint();
    expect(await journalFiles()).toEqual([]);

    // Power loss: the failed write's bytes never reached the disk (read back as zeros) unless a
    // later successful O_DSYNC write covered them; the file length the later writes set did.
    expect(failedRanges).toHaveLength(1);
    const length = (await readFile(logPath)).length;
    const handle = await openFile(logPath, 'r+');
    const [failedStart, failedEnd] = failedRanges[0] as [number, number];
    expect(failedStart).toBe(durableEnd);
    for (let byte = failedStart; byte < Math.min(failedEnd, length); byte++) {
      if (durableRanges.some(([start, end]) => start <= byte && byte < end)) continue;
      await handle.write(Buffer.alloc(1), 0, 1, byte);
    }
    await handle.close();

    const restarted = new DiskListStorage({ dataDir: dir, checkpointIntervalMs: 0 });
    storages.push(restarted);
    const stored = await restarted.load(LIST);
    expect(itemsOf(stored.updates)).toEqual(source.getMap('items').toJSON());
  });

  it('[WF2] a journal segment quarantined at replay whose DATA_DIR fsync fails once (after the rename) is not renamed again for ever: later checkpoints succeed', async () => {
    const { updates } = makeUpdates(3);
    // A segment damaged in the middle: record 1 intact, record 2 with a flipped byte, record 3 intact.
    const records = updates.map((u) => encodeJournalRecord(LIST, u));
    const damaged = Buffer.concat(records);
    const flipAt = (records[0] as Buffer).length + 10;
    damaged.writeUInt8((damaged.readUInt8(flipAt) ^ 0xff) & 0xff, flipAt);
    await writeFile(path.join(dir, 'journal.1.wal'), damaged);

    let failedOnce = false;
    const syncDataDir = async (dataDir: string): Promise<void> => {
      // Once, just after the segment was moved into quarantine (a passing EIO).
      if (!failedOnce && existsSync(path.join(dataDir, 'quarantine', 'journal.1.wal.1234'))) {
        failedOnce = true;
        throw eio();
      }
      await syncDirectory(dataDir);
    };
    const storage = open({ syncDataDir });
    expect((await storage.load(LIST)).updates).toEqual(updates.slice(0, 1));
    expect(failedOnce).toBe(true);
    expect(await readdir(path.join(dir, 'quarantine'))).toContain('journal.1.wal.1234');

    // The disk is fine again: a checkpoint has nothing left to do but forget the segment.
    await storage.checkpoint();
    await storage.append(LIST, updates.slice(1, 2));
    await storage.checkpoint();
  });
});

import { constants as fsConstants, existsSync, promises as fsPromises, readdirSync, readFileSync } from 'node:fs';
import type { FileHandle } from 'node:fs/promises';
import { appendFile, mkdir, readdir, readFile, rename, rm, rmdir, stat, symlink, writeFile } from 'node:fs/promises';
import path from 'node:path';
import * as Y from 'yjs';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { CompactionStep, QuarantineStep } from '../src/storage/disk-storage.js';
import { DiskListStorage } from '../src/storage/disk-storage.js';
import { syncDirectory } from '../src/storage/file-ops.js';
import { encodeJournalRecord, openSegmentFile, writeAt } from '../src/storage/journal.js';
import { frameRecord, MAX_RECORD_BYTES, scanRecords } from '../src/storage/record-framing.js';
import { temporaryDirectory } from './helpers.js';
import { itemsOf, makeUpdates } from './stored-items.js';

const LIST = 'recoveryListId0001';
const OTHER = 'recoveryListId0002';

describe('record framing', () => {
  it('round-trips records and reports a complete file', () => {
    const payloads = [new Uint8Array([1, 2, 3]), new Uint8Array(0), new Uint8Array(1000).fill(7)];
    const scan = scanRecords(Buffer.concat(payloads.map(frameRecord)));
    expect(scan.kind).toBe('complete');
    expect(scan.records).toEqual(payloads);
  });

  it('treats a cut-off last record as torn at every cut point', () => {
    const file = Buffer.concat([frameRecord(new Uint8Array([1, 2, 3])), frameRecord(new Uint8Array([4, 5, 6, 7]))]);
    const firstEnd = 8 + 3;
    for (let cut = firstEnd + 1; cut < file.length; cut++) {
      const scan = scanRecords(file.subarray(0, cut));
      expect(scan.kind).toBe('torn');
      expect(scan.validBytes).toBe(firstEnd);
      expect(scan.records).toEqual([new Uint8Array([1, 2, 3])]);
    }
  });

  it('reports a flipped byte in a middle record as corrupt, keeping the records before it', () => {
    const records = [new Uint8Array([1, 2, 3]), new Uint8Array([4, 5, 6]), new Uint8Array([7, 8, 9])];
    const file = Buffer.concat(records.map(frameRecord));
    file[11 + 9] = (file[11 + 9] as number) ^ 0xff;
    const scan = scanRecords(file);
    expect(scan.kind).toBe('corrupt');
    expect(scan.records).toEqual([records[0]]);
  });

  it('treats a zero-filled tail as torn', () => {
    const file = Buffer.concat([frameRecord(new Uint8Array([1])), Buffer.alloc(64)]);
    const scan = scanRecords(file);
    expect(scan.kind).toBe('torn');
    expect(scan.records).toHaveLength(1);
  });

  it('reports a damaged length that points past the end as corrupt when valid records follow it, not as a torn tail', () => {
    const records = [new Uint8Array([1, 2, 3]), new Uint8Array([4, 5, 6]), new Uint8Array([7, 8, 9])];
    for (const [index, recordStart] of [0, 11, 22].entries()) {
      const file = Buffer.concat(records.map(frameRecord));
      // Bit 16 of the length: 65,536 more, far past the end, as a torn append's length would be.
      file[recordStart + 2] = (file[recordStart + 2] as number) ^ 0x01;
      const scan = scanRecords(file);
      // The last record has nothing after it: torn, as a short write there would look.
      expect(scan.kind).toBe(index === records.length - 1 ? 'torn' : 'corrupt');
      expect(scan.records).toEqual(records.slice(0, index));
      expect(scan.validBytes).toBe(recordStart);
    }
  });

  it('still treats a large update cut short as torn: nothing in its bytes passes for a record', () => {
    const source = new Y.Doc();
    source.getArray('items').push(Array.from({ length: 20_000 }, (_, i) => ({ name: `item ${i}`, quantity: i % 7, done: i % 3 === 0 })));
    const update = Y.encodeStateAsUpdate(source);
    const file = Buffer.concat([frameRecord(new Uint8Array([1, 2, 3])), frameRecord(update)]);
    expect(update.length).toBeGreaterThan(300_000);
    for (const fraction of [0.1, 0.5, 0.99]) {
      const scan = scanRecords(file.subarray(0, Math.floor(file.length * fraction)));
      expect(scan.kind).toBe('torn');
      expect(scan.records).toHaveLength(1);
    }
  });

  it('treats a last record whose data only partly reached the disk (the rest zeros) as torn', () => {
    const payload = new Uint8Array(200 * 1024).fill(7);
    const partly = frameRecord(payload);
    partly.fill(0, 8 + 4096);
    const scan = scanRecords(Buffer.concat([frameRecord(new Uint8Array([1])), partly]));
    expect(scan.kind).toBe('torn');
    expect(scan.records).toHaveLength(1);
  });

  it('keeps the file (corrupt) when ruling out a valid record after the damage would cost too much', () => {
    // Every 4-byte window of this tail is a length that fits (1, 65,536, 256), and each costs a
    // checksum: a torn tail shaped like this would take seconds to clear.
    const tail = Buffer.alloc(256 * 1024);
    for (let i = 0; i < tail.length; i += 4) tail[i] = 1;
    const cutShort = Buffer.from([0xff, 0xff, 0xff, 0x00, 0, 0, 0, 0]);
    const scan = scanRecords(Buffer.concat([frameRecord(new Uint8Array([1])), cutShort, tail]));
    expect(scan.kind).toBe('corrupt');
    expect(scan.records).toHaveLength(1);
  });
});

describe('disk storage recovery', () => {
  let dir: string;
  let remove: () => Promise<void>;
  const storages: DiskListStorage[] = [];
  const open = (afterCompactionStep?: (step: CompactionStep) => void): DiskListStorage => {
    const storage = new DiskListStorage({ dataDir: dir, afterCompactionStep, wallClock: () => 1234 });
    storages.push(storage);
    return storage;
  };

  beforeEach(async () => {
    ({ dir, remove } = await temporaryDirectory('basket-recovery-'));
  });
  afterEach(async () => {
    await Promise.all(storages.splice(0).map((s) => s.close()));
    await remove();
  });

  it('creates no files for a list that is only loaded', async () => {
    const storage = open();
    await storage.load(LIST);
    await storage.release(LIST);
    expect(await readdir(dir).catch(() => [])).toEqual([]);
  });

  /** Appends, then stops cleanly: the journal is copied into the list log. */
  const storeAndStop = async (updates: readonly Uint8Array[], compactTo?: Uint8Array): Promise<void> => {
    const storage = open();
    await storage.append(LIST, updates);
    if (compactTo !== undefined) await storage.compact(LIST, compactTo);
    await storage.close();
  };

  it('cuts a torn log tail, keeps every complete record, and appends after it', async () => {
    const { source, updates } = makeUpdates(3);
    await storeAndStop(updates);
    const logPath = path.join(dir, `${LIST}.log`);
    const torn = frameRecord(new Uint8Array(50).fill(9)).subarray(0, 30);
    await appendFile(logPath, torn);
    const reopened = open();
    const stored = await reopened.load(LIST);
    expect(itemsOf(stored.updates)).toEqual(source.getMap('items').toJSON());
    expect(stored.updates).toHaveLength(3);
    const more = makeUpdates(1, source).updates;
    await reopened.append(LIST, more);
    const again = await open().load(LIST);
    expect(again.updates).toHaveLength(4);
  });

  it('quarantines a log corrupted in the middle and keeps the intact prefix', async () => {
    const { updates } = makeUpdates(3);
    await storeAndStop(updates);
    const logPath = path.join(dir, `${LIST}.log`);
    const bytes = await readFile(logPath);
    const secondRecordPayload = 8 + (updates[0] as Uint8Array).length + 8;
    bytes[secondRecordPayload] = (bytes[secondRecordPayload] as number) ^ 0xff;
    await writeFile(logPath, bytes);
    const stored = await open().load(LIST);
    expect(stored.updates).toEqual([updates[0]]);
    const quarantined = await readdir(path.join(dir, 'quarantine'));
    expect(quarantined).toEqual([`${LIST}.log.1234`]);
    expect(await readFile(path.join(dir, 'quarantine', quarantined[0] as string))).toEqual(bytes);
    // The rewritten log holds the intact prefix, so the next load sees no corruption.
    expect((await open().load(LIST)).updates).toEqual([updates[0]]);
  });

  it('never overwrites a quarantined file: a second one at the same clock reading gets its own name', async () => {
    const { source, updates } = makeUpdates(3);
    await storeAndStop(updates);
    const logPath = path.join(dir, `${LIST}.log`);
    // Damages the second record; a damaged last record would be cut as a torn tail instead.
    const corrupt = async (): Promise<Buffer> => {
      const bytes = await readFile(logPath);
      const secondRecordPayload = 8 + (updates[0] as Uint8Array).length + 8;
      bytes[secondRecordPayload] = (bytes[secondRecordPayload] as number) ^ 0xff;
      await writeFile(logPath, bytes);
      return bytes;
    };
    const first = await corrupt();
    expect((await open().load(LIST)).updates).toEqual([updates[0]]);
    // The list goes on, its log is damaged again, and the clock reads the same (it was set back).
    await storeAndStop(makeUpdates(2, source).updates);
    const second = await corrupt();
    expect((await open().load(LIST)).updates).toEqual([updates[0]]);
    const quarantine = path.join(dir, 'quarantine');
    expect((await readdir(quarantine)).sort()).toEqual([`${LIST}.log.1234`, `${LIST}.log.1234.2`]);
    expect(await readFile(path.join(quarantine, `${LIST}.log.1234`))).toEqual(first);
    expect(await readFile(path.join(quarantine, `${LIST}.log.1234.2`))).toEqual(second);
  });

  it('quarantines a log whose first record has a damaged length, instead of cutting every record as a torn tail', async () => {
    const { updates } = makeUpdates(3);
    await storeAndStop(updates);
    const logPath = path.join(dir, `${LIST}.log`);
    const bytes = await readFile(logPath);
    bytes[2] = (bytes[2] as number) ^ 0x01;
    await writeFile(logPath, bytes);
    expect((await open().load(LIST)).updates).toEqual([]);
    expect(await readdir(path.join(dir, 'quarantine'))).toEqual([`${LIST}.log.1234`]);
    expect(await readFile(path.join(dir, 'quarantine', `${LIST}.log.1234`))).toEqual(bytes);
  });

  it('quarantines a corrupt snapshot instead of overwriting it', async () => {
    const { source, updates } = makeUpdates(2);
    await storeAndStop(updates, Y.encodeStateAsUpdate(source));
    const snapshotPath = path.join(dir, `${LIST}.snapshot`);
    const bytes = await readFile(snapshotPath);
    bytes[bytes.length - 1] = (bytes[bytes.length - 1] as number) ^ 0x01;
    await writeFile(snapshotPath, bytes);
    const stored = await open().load(LIST);
    expect(stored.updates).toEqual([]);
    expect(await readdir(path.join(dir, 'quarantine'))).toEqual([`${LIST}.snapshot.1234`]);
  });

  it('a quarantined snapshot keeps a copy of the records after it: a compaction that leaves them out cannot lose them', async () => {
    const { source, updates } = makeUpdates(2);
    const snapshot = Y.encodeStateAsUpdate(source);
    await storeAndStop(updates, snapshot);
    // Later edits by the same phone: they build on the snapshot's.
    const later = makeUpdates(3, source).updates;
    const [inLog, inJournal] = [later.slice(0, 2), later.slice(2)];
    await storeAndStop(inLog);
    const logBytes = await readFile(path.join(dir, `${LIST}.log`));
    const snapshotPath = path.join(dir, `${LIST}.snapshot`);
    const damaged = await readFile(snapshotPath);
    damaged[damaged.length - 1] = (damaged[damaged.length - 1] as number) ^ 0x01;
    await writeFile(snapshotPath, damaged);

    const storage = open();
    await storage.append(LIST, inJournal);
    const stored = await storage.load(LIST);
    expect(stored.updates).toEqual([...inLog, ...inJournal]);
    // Without the snapshot Yjs holds them back: the room's next snapshot has none of them.
    const loaded = new Y.Doc();
    for (const update of stored.updates) Y.applyUpdate(loaded, update);
    expect(loaded.store.pendingStructs).not.toBeNull();
    await storage.compact(LIST, Y.encodeStateAsUpdate(new Y.Doc()));
    await storage.close();
    expect((await stat(path.join(dir, `${LIST}.log`))).size).toBe(0);

    const quarantine = path.join(dir, 'quarantine');
    expect((await readdir(quarantine)).sort()).toEqual([`${LIST}.snapshot.1234`, `${LIST}.snapshot.1234.after`]);
    const after = await readFile(path.join(quarantine, `${LIST}.snapshot.1234.after`));
    expect(after.subarray(0, logBytes.length)).toEqual(logBytes);
    expect(scanRecords(after)).toMatchObject({ kind: 'complete', records: [...inLog, ...inJournal] });
    // A human who repairs the snapshot has the whole list back.
    expect(itemsOf([snapshot, ...scanRecords(after).records])).toEqual(source.getMap('items').toJSON());
  });

  const steps: CompactionStep[] = ['temp-written', 'temp-synced', 'renamed', 'directory-synced', 'log-truncated'];
  for (const step of steps) {
    it(`keeps every update when compaction is interrupted after "${step}"`, async () => {
      const { source, updates } = makeUpdates(6);
      const crashing = open((reached) => {
        if (reached === step) throw new Error(`simulated crash after ${step}`);
      });
      await crashing.append(LIST, updates.slice(0, 4));
      // In the list log, not only in the journal: the crash must not lose what the log holds.
      await crashing.checkpoint();
      // The snapshot holds more than the log: accepted-but-unwritten updates may be included.
      const compaction = crashing.compact(LIST, Y.encodeStateAsUpdate(source));
      await expect(compaction).rejects.toThrow('simulated crash');
      const stored = await open().load(LIST);
      const recovered = itemsOf(stored.updates) as Record<string, string>;
      for (let i = 0; i < 4; i++) expect(recovered[`item${i}`]).toBe(`value ${i}`);
      expect(await readdir(dir)).not.toContain(`${LIST}.snapshot.tmp`);
    });
  }

  /** A log of three acknowledged records whose second is damaged (bit rot): its intact prefix is the first. */
  const storeDamagedLog = async (): Promise<{ source: Y.Doc; updates: Uint8Array[]; damaged: Buffer }> => {
    const { source, updates } = makeUpdates(3);
    await storeAndStop(updates);
    const logPath = path.join(dir, `${LIST}.log`);
    const damaged = await readFile(logPath);
    const secondRecordPayload = 8 + (updates[0] as Uint8Array).length + 8;
    damaged[secondRecordPayload] = (damaged[secondRecordPayload] as number) ^ 0xff;
    await writeFile(logPath, damaged);
    return { source, updates, damaged };
  };
  /**
   * A storage whose quarantine of a damaged file fails once, just after `step`. A `killed` one
   * stands for a relay SIGKILLed there: never closed, nor used again.
   */
  const openFailingOnceAfter = (step: QuarantineStep, { killed = false } = {}): DiskListStorage => {
    let failures = 1;
    const afterQuarantineStep = (reached: QuarantineStep): void => {
      if (reached === step && failures-- > 0) throw new Error(`simulated failure after ${step}`);
    };
    const storage = new DiskListStorage({ dataDir: dir, wallClock: () => 1234, checkpointIntervalMs: 0, afterQuarantineStep });
    if (!killed) storages.push(storage);
    return storage;
  };
  /**
   * Every file in quarantine/ is `damaged`, each with its own `.after` copy holding `after`. An
   * attempt cut short may leave a copy with no file beside it, but never one a later attempt's
   * file is paired with (which would then show the records of an earlier moment).
   */
  const expectQuarantined = async (damaged: Buffer, after: readonly Uint8Array[]): Promise<void> => {
    const quarantine = path.join(dir, 'quarantine');
    const names = await readdir(quarantine);
    const files = names.filter((name) => !name.includes('.after'));
    expect(files.length).toBeGreaterThan(0);
    for (const name of files) {
      expect(await readFile(path.join(quarantine, name))).toEqual(damaged);
      expect(scanRecords(await readFile(path.join(quarantine, `${name}.after`)))).toMatchObject({ kind: 'complete', records: after });
    }
    expect(names.filter((name) => name.includes('.after') && !name.endsWith('.after'))).toEqual([]);
  };

  it('a damaged log whose intact prefix cannot be written stays in place: the next load and a restart serve the prefix, and no checkpoint appends after the damage', async () => {
    const { source, updates, damaged } = await storeDamagedLog();
    const later = makeUpdates(2, source).updates;
    const storage = open();
    await storage.append(LIST, later);
    // The one stale-temp scan runs at the first load: it would remove what stands in for the failure below.
    await storage.load(OTHER);
    // The prefix cannot be written (stands for ENOSPC or EIO).
    const tempPath = path.join(dir, `${LIST}.log.tmp`);
    await mkdir(tempPath);
    // Served from its intact prefix and the journal all the same, the damaged log left in place.
    expect((await storage.load(LIST)).updates).toEqual([updates[0], ...later]);
    const logPath = path.join(dir, `${LIST}.log`);
    expect(await readFile(logPath)).toEqual(damaged);
    // Appended after the damage, the journal's records would be read by no load: they stay in the journal.
    await expect(storage.checkpoint()).rejects.toThrow('EISDIR');
    expect(await readFile(logPath)).toEqual(damaged);
    await rmdir(tempPath);
    expect((await storage.load(LIST)).updates).toEqual([updates[0], ...later]);
    await storage.close();
    expect((await open().load(LIST)).updates).toEqual([updates[0], ...later]);
    await expectQuarantined(damaged, later);
  });

  const logRepairSteps: QuarantineStep[] = ['prefix-written', 'after-copy-written', 'quarantined', 'prefix-renamed', 'directory-synced'];
  for (const step of logRepairSteps) {
    it(`keeps the intact prefix of a damaged log when its repair fails after "${step}": the next load repairs it, a restart serves it`, async () => {
      const { source, updates, damaged } = await storeDamagedLog();
      const later = makeUpdates(2, source).updates;
      const storage = openFailingOnceAfter(step);
      await storage.append(LIST, later);
      // Served from the intact prefix all the same; the next load repairs it.
      expect((await storage.load(LIST)).updates).toEqual([updates[0], ...later]);
      expect((await storage.load(LIST)).updates).toEqual([updates[0], ...later]);
      await storage.close();
      expect((await open().load(LIST)).updates).toEqual([updates[0], ...later]);
      await expectQuarantined(damaged, later);
    });

    it(`keeps the intact prefix of a damaged log when the relay is killed after "${step}" of its repair`, async () => {
      const { source, updates, damaged } = await storeDamagedLog();
      const later = makeUpdates(2, source).updates;
      const killed = openFailingOnceAfter(step, { killed: true });
      await killed.append(LIST, later);
      // Served all the same (a real kill answers nothing: what counts is what the restart finds).
      expect((await killed.load(LIST)).updates).toEqual([updates[0], ...later]);
      const restarted = open();
      expect((await restarted.load(LIST)).updates).toEqual([updates[0], ...later]);
      await restarted.close();
      expect((await open().load(LIST)).updates).toEqual([updates[0], ...later]);
      expect(await readdir(dir)).not.toContain(`${LIST}.log.tmp`);
      await expectQuarantined(damaged, later);
    });
  }

  it('where the file system has no hard links, the damaged log is copied into quarantine before its prefix replaces it', async () => {
    const { updates, damaged } = await storeDamagedLog();
    const link = vi.spyOn(fsPromises, 'link').mockRejectedValue(Object.assign(new Error('EPERM: operation not permitted, link'), { code: 'EPERM' }));
    try {
      expect((await open().load(LIST)).updates).toEqual([updates[0]]);
      expect(link).toHaveBeenCalledTimes(1);
    } finally {
      link.mockRestore();
    }
    expect(await readdir(path.join(dir, 'quarantine'))).toEqual([`${LIST}.log.1234`]);
    expect(await readFile(path.join(dir, 'quarantine', `${LIST}.log.1234`))).toEqual(damaged);
    expect((await open().load(LIST)).updates).toEqual([updates[0]]);
  });

  const snapshotQuarantineSteps: QuarantineStep[] = ['after-copy-written', 'quarantined', 'directory-synced'];
  for (const step of snapshotQuarantineSteps) {
    it(`a damaged snapshot whose quarantine is cut short by a kill after "${step}": a restart serves the log, and sets the snapshot aside with its own copy`, async () => {
      const { source, updates } = makeUpdates(2);
      await storeAndStop(updates, Y.encodeStateAsUpdate(source));
      const edits = makeUpdates(3, source).updates;
      const [inLog, later] = [edits.slice(0, 2), edits.slice(2)];
      await storeAndStop(inLog);
      const snapshotPath = path.join(dir, `${LIST}.snapshot`);
      const damaged = await readFile(snapshotPath);
      damaged[damaged.length - 1] = (damaged[damaged.length - 1] as number) ^ 0x01;
      await writeFile(snapshotPath, damaged);
      const killed = openFailingOnceAfter(step, { killed: true });
      await killed.append(LIST, later);
      // Served all the same (a real kill answers nothing: what counts is what the restart finds).
      expect((await killed.load(LIST)).updates).toEqual([...inLog, ...later]);
      const restarted = open();
      expect((await restarted.load(LIST)).updates).toEqual([...inLog, ...later]);
      await restarted.close();
      expect((await open().load(LIST)).updates).toEqual([...inLog, ...later]);
      await expectQuarantined(damaged, [...inLog, ...later]);
    });
  }

  it('a finished compaction leaves one snapshot and an empty log', async () => {
    const { source, updates } = makeUpdates(4);
    const storage = open();
    await storage.append(LIST, updates);
    await storage.checkpoint();
    expect((await stat(path.join(dir, `${LIST}.log`))).size).toBeGreaterThan(0);
    await storage.compact(LIST, Y.encodeStateAsUpdate(source));
    expect((await stat(path.join(dir, `${LIST}.log`))).size).toBe(0);
    await storage.close();
    const stored = await open().load(LIST);
    expect(stored.updates).toHaveLength(1);
    expect(itemsOf(stored.updates)).toEqual(source.getMap('items').toJSON());
  });

  /**
   * Records, in order, the durable steps a compaction takes: each fsync of a file (FileHandle
   * `sync`/`datasync`), each truncation, each rename and each fsync of DATA_DIR. A crash (or a power
   * loss) between any two must leave the old snapshot with the full log, or the new snapshot.
   */
  const recordCompaction = async (
    run: (storage: DiskListStorage) => Promise<void>,
    atTruncate: (events: readonly string[]) => void = () => undefined,
  ): Promise<string[]> => {
    const events: string[] = [];
    const probe = await fsPromises.open(path.join(dir, 'probe'), 'w');
    const handlePrototype = Object.getPrototypeOf(probe) as FileHandle;
    await probe.close();
    await rm(path.join(dir, 'probe'));
    const { sync, datasync, truncate } = handlePrototype;
    const spies: Array<{ mockRestore(): void }> = [
      vi.spyOn(handlePrototype, 'sync').mockImplementation(function (this: FileHandle) {
        events.push('file-synced');
        return sync.call(this);
      }),
      vi.spyOn(handlePrototype, 'datasync').mockImplementation(function (this: FileHandle) {
        events.push('file-synced');
        return datasync.call(this);
      }),
      vi.spyOn(handlePrototype, 'truncate').mockImplementation(function (this: FileHandle, length?: number) {
        events.push('truncated');
        atTruncate(events);
        return truncate.call(this, length);
      }),
    ];
    const rename = fsPromises.rename;
    spies.push(
      vi.spyOn(fsPromises, 'rename').mockImplementation(async (from, to) => {
        events.push(`renamed ${path.basename(String(from))}`);
        return rename(from, to);
      }),
    );
    const storage = new DiskListStorage({
      dataDir: dir,
      wallClock: () => 1234,
      afterCompactionStep: (step) => events.push(step),
      syncDataDir: async (dataDir) => {
        events.push('data-dir-synced');
        await syncDirectory(dataDir);
      },
    });
    storages.push(storage);
    try {
      await run(storage);
    } finally {
      for (const spy of spies) spy.mockRestore();
    }
    return events;
  };

  it('[J21] a compaction fsyncs its temp snapshot before renaming it over the old one: renamed unsynced, a power loss could leave an empty snapshot and a truncated log', async () => {
    const { source, updates } = makeUpdates(4);
    const events = await recordCompaction(async (storage) => {
      await storage.append(LIST, updates);
      await storage.checkpoint();
      await storage.compact(LIST, Y.encodeStateAsUpdate(source));
    });
    const written = events.indexOf('temp-written');
    const renamed = events.indexOf(`renamed ${LIST}.snapshot.tmp`);
    expect(written).toBeGreaterThanOrEqual(0);
    expect(renamed).toBeGreaterThan(written);
    expect(events.slice(written, renamed)).toContain('file-synced');
  });

  it('[J22] a compaction truncates the log only once the new snapshot is renamed into place and DATA_DIR fsynced: earlier, a crash leaves neither', async () => {
    const { source, updates } = makeUpdates(4);
    const firstItems = itemsOf(updates);
    const snapshotPath = path.join(dir, `${LIST}.snapshot`);
    const snapshotAtTruncate: Array<Buffer | undefined> = [];
    const events = await recordCompaction(
      async (storage) => {
        await storage.append(LIST, updates);
        await storage.checkpoint();
        // Loaded, the log stays open and is truncated through its handle; then as a list no longer loaded.
        await storage.load(LIST);
        await storage.compact(LIST, Y.encodeStateAsUpdate(source));
        await storage.release(LIST);
        source.getMap('items').set('later', 'value');
        await storage.append(LIST, [updates.at(-1) as Uint8Array]);
        await storage.checkpoint();
        await storage.compact(LIST, Y.encodeStateAsUpdate(source));
      },
      () => snapshotAtTruncate.push(existsSync(snapshotPath) ? readFileSync(snapshotPath) : undefined),
    );
    const compactions = events.filter((event) => event === 'truncated');
    expect(compactions).toHaveLength(2);
    let from = 0;
    for (const [i, expected] of [firstItems, source.getMap('items').toJSON()].entries()) {
      const renamed = events.indexOf(`renamed ${LIST}.snapshot.tmp`, from);
      const truncated = events.indexOf('truncated', from);
      expect(renamed).toBeGreaterThanOrEqual(from);
      expect(truncated).toBeGreaterThan(renamed);
      // The rename is durable (an fsync of DATA_DIR started after it) before the log goes.
      expect(events.slice(renamed, truncated)).toContain('data-dir-synced');
      const onDisk = snapshotAtTruncate[i];
      expect(onDisk).toBeDefined();
      expect(itemsOf(scanRecords(onDisk as Buffer).records)).toEqual(expected);
      from = truncated + 1;
    }
  });

  it('[J23] a compaction whose log truncation fails (its fsync, after the truncate worked) loses nothing: the next append empties the log again before writing, not at the old offset after a hole', async () => {
    const { source, updates } = makeUpdates(6);
    const storage = open();
    await storage.load(LIST);
    await storage.append(LIST, updates.slice(0, 3));
    // Copies into the log and keeps it open (the list is loaded).
    await storage.checkpoint();
    const logPath = path.join(dir, `${LIST}.log`);
    const sizeBefore = (await stat(logPath)).size;
    expect(sizeBefore).toBeGreaterThan(0);

    // The FileHandle class is not exported: take its prototype from a handle.
    const probe = await fsPromises.open(logPath, 'r');
    const handlePrototype = Object.getPrototypeOf(probe) as FileHandle;
    await probe.close();
    const datasync = vi
      .spyOn(handlePrototype, 'datasync')
      .mockImplementationOnce(() => Promise.reject(Object.assign(new Error('EIO: i/o error, fdatasync'), { code: 'EIO' })));
    try {
      const snapshot = new Y.Doc();
      for (const update of updates.slice(0, 3)) Y.applyUpdate(snapshot, update);
      await expect(storage.compact(LIST, Y.encodeStateAsUpdate(snapshot))).rejects.toThrow('EIO');
    } finally {
      datasync.mockRestore();
    }

    // Later edits, acknowledged, then copied into the log by a checkpoint (the journal goes).
    await storage.append(LIST, updates.slice(3));
    await storage.checkpoint();
    await storage.release(LIST);

    // Appended at the open handle's old offset, they came after `sizeBefore` zero bytes: the log
    // read as damaged at byte 0, was quarantined, and item3..item5 were no longer served.
    const bytes = await readFile(logPath);
    expect(bytes.subarray(0, sizeBefore).every((b) => b === 0)).toBe(false);
    expect(scanRecords(bytes)).toMatchObject({ kind: 'complete', records: updates.slice(3) });
    expect(itemsOf((await open().load(LIST)).updates)).toEqual(source.getMap('items').toJSON());
    expect(await readdir(dir)).not.toContain('quarantine');
  });

  it('a load that fails for a passing reason (DATA_DIR unreadable for a moment) does not make later loads fail', async () => {
    const storage = open();
    await storage.append(LIST, [new Uint8Array([0, 0])]);
    await storage.close();
    const restarted = open();
    // Where DATA_DIR was, a file for a moment: listing it fails (ENOTDIR), as it would with EMFILE.
    const moved = `${dir}.away`;
    await rename(dir, moved);
    await writeFile(dir, '');
    await expect(restarted.load(LIST)).rejects.toThrow();
    await rm(dir);
    await rename(moved, dir);
    expect((await restarted.load(LIST)).updates).toEqual([new Uint8Array([0, 0])]);
  });

  it('refuses list ids that could escape DATA_DIR', async () => {
    const storage = open();
    for (const id of ['../../etc/passwd', '..', 'a/b/c/d/e/f/g/h/i/j', 'short', '']) {
      await expect(storage.append(id, [new Uint8Array([0, 0])])).rejects.toThrow('invalid list id');
    }
    expect(await readdir(dir).catch(() => [])).toEqual([]);
  });
});

describe('write-ahead journal', () => {
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
  /** An instance that is closed after the test (a clean stop). */
  const open = (
    options: {
      journalSegmentBytes?: number;
      writeLogBytes?: typeof writeAt;
      syncDataDir?: (dataDir: string) => Promise<void>;
      journalReplayRetryMs?: number;
      now?: () => number;
    } = {},
  ): DiskListStorage => {
    const storage = new DiskListStorage({ dataDir: dir, logger, wallClock: () => 1234, checkpointIntervalMs: 0, ...options });
    storages.push(storage);
    return storage;
  };
  /** An instance that is never closed nor checkpointed: what a SIGKILL leaves behind. */
  const openToCrash = (): DiskListStorage => new DiskListStorage({ dataDir: dir, checkpointIntervalMs: 0 });
  /**
   * Opens journal segments as the storage does, except the first `failing` ones: those are opened
   * read-only, so every write to them fails (EBADF), as on a full or broken disk. `handles` holds
   * each segment's file handle, in order.
   */
  const segmentsFailingFirst = (failing: number): { openSegment: (filePath: string) => Promise<FileHandle>; handles: FileHandle[] } => {
    const handles: FileHandle[] = [];
    const openSegment = async (filePath: string): Promise<FileHandle> => {
      const handle =
        handles.length < failing
          ? await fsPromises.open(filePath, fsConstants.O_RDONLY | fsConstants.O_CREAT | fsConstants.O_EXCL)
          : await openSegmentFile(filePath);
      handles.push(handle);
      return handle;
    };
    return { openSegment, handles };
  };
  const journalFiles = async (): Promise<string[]> => (await readdir(dir)).filter((name) => name.endsWith('.wal'));
  /** A segment in which no write succeeded is deleted in the background, just after the failure: wait for it (up to 1 s). */
  const journalSettles = async (expected: string[]): Promise<void> => {
    for (let attempt = 0; attempt < 100 && JSON.stringify((await journalFiles()).sort()) !== JSON.stringify(expected); attempt++) {
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    expect((await journalFiles()).sort()).toEqual(expected);
  };
  /** `count` updates acknowledged into one journal segment by a relay that then crashed; the segment's bytes. */
  const crashWithSegmentOf = async (
    count: number,
  ): Promise<{ updates: Uint8Array[]; segment: string; segmentPath: string; bytes: Buffer }> => {
    const { updates } = makeUpdates(count);
    const crashed = openToCrash();
    for (const update of updates) await crashed.append(LIST, [update]);
    const [segment] = await journalFiles();
    const segmentPath = path.join(dir, segment as string);
    return { updates, segment: segment as string, segmentPath, bytes: await readFile(segmentPath) };
  };

  beforeEach(async () => {
    ({ dir, remove } = await temporaryDirectory('basket-journal-'));
    logged.length = 0;
  });
  afterEach(async () => {
    await Promise.all(storages.splice(0).map((s) => s.close()));
    await remove();
  });

  it('[J1] an acknowledged append is in the journal, and after a crash it is replayed into the list log', async () => {
    const { source, updates } = makeUpdates(5);
    const crashed = openToCrash();
    for (const update of updates) await crashed.append(LIST, [update]);
    expect(await journalFiles()).toHaveLength(1);
    expect(await readdir(dir)).not.toContain(`${LIST}.log`);

    const restarted = open();
    const stored = await restarted.load(LIST);
    expect(stored.updates).toEqual(updates);
    expect(itemsOf(stored.updates)).toEqual(source.getMap('items').toJSON());
    expect(await journalFiles()).toEqual([]);
    expect(scanRecords(await readFile(path.join(dir, `${LIST}.log`))).records).toEqual(updates);
    expect(logged.map((l) => l.event)).toContain('storage.journal_replayed');
  });

  it('[J2] a checkpoint copies the journal into the list logs and deletes it; loads see the same updates before and after', async () => {
    const { updates } = makeUpdates(4);
    const other = 'recoveryListId0002';
    const storage = open();
    await storage.append(LIST, updates.slice(0, 2));
    await storage.append(other, updates.slice(2));
    expect((await storage.load(LIST)).updates).toEqual(updates.slice(0, 2));
    await storage.checkpoint();
    expect(await journalFiles()).toEqual([]);
    expect((await storage.load(LIST)).updates).toEqual(updates.slice(0, 2));
    expect((await storage.load(other)).updates).toEqual(updates.slice(2));
    // Appends after the checkpoint start a new segment and come after the copied ones.
    const more = makeUpdates(1).updates;
    await storage.append(LIST, more);
    expect((await storage.load(LIST)).updates).toEqual([...updates.slice(0, 2), ...more]);
    expect(await journalFiles()).toHaveLength(1);
  });

  it('[J3] a clean stop leaves no journal, so the next start replays nothing', async () => {
    const { updates } = makeUpdates(3);
    const storage = open();
    await storage.append(LIST, updates);
    await storage.close();
    expect(await journalFiles()).toEqual([]);
    expect((await open().load(LIST)).updates).toEqual(updates);
    expect(logged.map((l) => l.event)).not.toContain('storage.journal_replayed');
  });

  it('[J4] a torn journal tail (a write the crash cut short, never acknowledged) is cut; every complete record is kept', async () => {
    const { updates } = makeUpdates(3);
    const crashed = openToCrash();
    await crashed.append(LIST, updates);
    const [segment] = await journalFiles();
    const torn = encodeJournalRecord(LIST, new Uint8Array(40).fill(5)).subarray(0, 25);
    await appendFile(path.join(dir, segment as string), torn);
    expect((await open().load(LIST)).updates).toEqual(updates);
    expect(logged.map((l) => l.event)).toContain('storage.journal_torn_tail_cut');
    expect(await readdir(dir)).not.toContain('quarantine');
  });

  it('[J5] a journal damaged in the middle: the intact prefix is replayed and the segment is quarantined, not deleted', async () => {
    const { updates, segment, segmentPath, bytes } = await crashWithSegmentOf(3);
    const secondRecordPayload = encodeJournalRecord(LIST, updates[0] as Uint8Array).length + 8 + 3;
    bytes[secondRecordPayload] = (bytes[secondRecordPayload] as number) ^ 0xff;
    await writeFile(segmentPath, bytes);
    expect((await open().load(LIST)).updates).toEqual([updates[0]]);
    expect(await readdir(path.join(dir, 'quarantine'))).toEqual([`${segment}.1234`]);
    expect(await readFile(path.join(dir, 'quarantine', `${segment}.1234`))).toEqual(bytes);
    expect(logged.find((l) => l.event === 'storage.journal_damaged')?.fields).toMatchObject({ keptRecords: 1 });
  });

  it('[J6] a crash in the middle of a checkpoint (a torn copy in the list log) loses nothing', async () => {
    const { source, updates } = makeUpdates(4);
    const crashed = openToCrash();
    await crashed.append(LIST, updates.slice(0, 2));
    await crashed.checkpoint();
    await crashed.append(LIST, updates.slice(2));
    // The copy of the second segment into the log was cut short by the crash.
    await appendFile(path.join(dir, `${LIST}.log`), Buffer.concat(updates.slice(2).map(frameRecord)).subarray(0, 20));
    const stored = await open().load(LIST);
    expect(stored.updates).toEqual(updates);
    expect(itemsOf(stored.updates)).toEqual(source.getMap('items').toJSON());
    expect(await readdir(dir)).not.toContain('quarantine');
  });

  it('[J7] a crash after a compaction replays the older journal records after the snapshot, which changes nothing', async () => {
    const { source, updates } = makeUpdates(4);
    const crashed = openToCrash();
    await crashed.append(LIST, updates);
    await crashed.compact(LIST, Y.encodeStateAsUpdate(source));
    const stored = await open().load(LIST);
    expect(itemsOf(stored.updates)).toEqual(source.getMap('items').toJSON());
  });

  // Reason for the condition: open descriptors are counted through /proc (Linux).
  it.runIf(existsSync('/proc/self/fd'))('[J9] a checkpoint does not keep the logs of released (unloaded) lists open', async () => {
    const storage = open();
    const lists = Array.from({ length: 30 }, (_, i) => `releasedJournal${String(i).padStart(3, '0')}`);
    for (const listId of lists) {
      await storage.load(listId);
      await storage.append(listId, makeUpdates(1).updates);
      await storage.release(listId);
    }
    const openFiles = (): number => readdirSync('/proc/self/fd').length;
    const before = openFiles();
    await storage.checkpoint();
    expect(openFiles() - before).toBeLessThan(5);
    for (const listId of lists) expect((await storage.load(listId)).updates).toHaveLength(1);
  });

  // Reason for the condition: open descriptors are counted through /proc (Linux).
  it.runIf(existsSync('/proc/self/fd'))('[J20] a journal segment whose directory entry cannot be made durable is closed, not leaked at every retry', async () => {
    let failDataDirSync = true;
    const syncDataDir = async (dataDir: string): Promise<void> => {
      if (failDataDirSync) throw new Error('EIO (test)');
      await syncDirectory(dataDir);
    };
    const storage = open({ syncDataDir });
    const { updates } = makeUpdates(21);
    const openFiles = (): number => readdirSync('/proc/self/fd').length;
    const before = openFiles();
    for (const update of updates.slice(0, 20)) await expect(storage.append(LIST, [update])).rejects.toThrow('EIO (test)');
    expect(openFiles() - before).toBeLessThan(5);
    failDataDirSync = false;
    await storage.append(LIST, [updates[20] as Uint8Array]);
    expect((await storage.load(LIST)).updates).toEqual([updates[20]]);
  });

  it('[J8] a full segment is checkpointed at once, so the journal stays bounded', async () => {
    const { updates } = makeUpdates(200);
    const storage = open({ journalSegmentBytes: 4096 });
    let mostSegments = 0;
    for (const update of updates) {
      await storage.append(LIST, [update]);
      mostSegments = Math.max(mostSegments, (await journalFiles()).length);
    }
    // No timer (interval 0) and no explicit checkpoint: only the size bound copied these.
    const copied = scanRecords(await readFile(path.join(dir, `${LIST}.log`))).records;
    expect(copied.length).toBeGreaterThan(100);
    expect(copied).toEqual(updates.slice(0, copied.length));
    expect(mostSegments).toBeLessThanOrEqual(2);
    expect((await storage.load(LIST)).updates).toEqual(updates);
    expect(logged.filter((l) => l.event === 'storage.checkpoint_failed')).toEqual([]);
  });

  /**
   * List-log writes that behave like a disk that fills up: `fullAfter` bytes more are written,
   * the write that would pass that point writes what fits and the next one fails with ENOSPC.
   */
  const fillingDisk = (): { writeLogBytes: typeof writeAt; fill(room: number): void; free(): void } => {
    let room = Infinity;
    return {
      fill: (bytes) => {
        room = bytes;
      },
      free: () => {
        room = Infinity;
      },
      writeLogBytes: (fd, buffer, offset, position) => {
        if (room <= 0) return Promise.reject(Object.assign(new Error('ENOSPC: no space left on device, write'), { code: 'ENOSPC' }));
        const end = Math.min(buffer.length, offset + room);
        room -= end - offset;
        return writeAt(fd, buffer.subarray(0, end), offset, position);
      },
    };
  };

  it('[J11] a copy into a list log cut short by a full disk is cut off before the retry, not appended after', async () => {
    const { source, updates } = makeUpdates(6);
    const disk = fillingDisk();
    const storage = open({ writeLogBytes: disk.writeLogBytes });
    await storage.load(LIST);
    await storage.append(LIST, updates.slice(0, 2));
    await storage.checkpoint();
    await storage.append(LIST, updates.slice(2));
    disk.fill(12);
    await expect(storage.checkpoint()).rejects.toThrow('ENOSPC');
    // The list is unloaded while the disk is full: its log is closed with part of a record at the end.
    await storage.release(LIST);
    disk.free();
    await storage.checkpoint();

    expect(await journalFiles()).toEqual([]);
    const log = scanRecords(await readFile(path.join(dir, `${LIST}.log`)));
    expect(log.kind).toBe('complete');
    expect(log.records).toEqual(updates);
    const stored = await storage.load(LIST);
    expect(itemsOf(stored.updates)).toEqual(source.getMap('items').toJSON());
    expect(await readdir(dir)).not.toContain('quarantine');
  });

  it('[J12] a restart on a full disk serves every list from the journal, and copies it once there is room', async () => {
    const { source, updates } = makeUpdates(6);
    const crashed = openToCrash();
    await crashed.append(LIST, updates.slice(0, 3));
    const disk = fillingDisk();
    disk.fill(0);
    const restarted = open({ writeLogBytes: disk.writeLogBytes });
    expect((await restarted.load(LIST)).updates).toEqual(updates.slice(0, 3));
    expect(logged.find((l) => l.event === 'storage.journal_copy_deferred')?.fields).toMatchObject({ lists: 1 });
    expect(await journalFiles()).toEqual(['journal.1.wal']);
    // Still taking updates (the journal has room here), after the replayed ones.
    await restarted.append(LIST, updates.slice(3));
    expect((await restarted.load(LIST)).updates).toEqual(updates);
    await expect(restarted.checkpoint()).rejects.toThrow('ENOSPC');

    // A crash now would replay both segments.
    const afterCrash = new DiskListStorage({ dataDir: dir, checkpointIntervalMs: 0, writeLogBytes: disk.writeLogBytes });
    expect(itemsOf((await afterCrash.load(LIST)).updates)).toEqual(source.getMap('items').toJSON());

    disk.free();
    await restarted.checkpoint();
    expect(await journalFiles()).toEqual([]);
    expect(scanRecords(await readFile(path.join(dir, `${LIST}.log`))).records).toEqual(updates);
  });

  it('[J16] the logs a checkpoint creates share one fsync of DATA_DIR, made before the segment is deleted; if it fails, the segment stays', async () => {
    /** Each fsync of DATA_DIR, with how many journal segments existed when it was made. */
    const dataDirSyncs: number[] = [];
    let failDataDirSync = false;
    const syncDataDir = async (dataDir: string): Promise<void> => {
      dataDirSyncs.push((await journalFiles()).length);
      if (failDataDirSync) throw new Error('EIO (test)');
      await syncDirectory(dataDir);
    };
    const lists = Array.from({ length: 12 }, (_, i) => `recoveryListNew${String(i).padStart(3, '0')}`);
    const { updates } = makeUpdates(24);
    const storage = open({ syncDataDir });
    for (const [i, listId] of lists.entries()) await storage.append(listId, [updates[i] as Uint8Array]);
    dataDirSyncs.length = 0; // the segment's own creation synced DATA_DIR
    await storage.checkpoint();
    expect(dataDirSyncs).toEqual([1]);
    expect(await journalFiles()).toEqual([]);

    // New lists again, and the fsync of DATA_DIR fails: the copies are made, but the segment
    // holding their records stays, so a crash now loses nothing.
    const later = lists.map((listId) => listId.replace('New', 'Old'));
    const crashing = new DiskListStorage({ dataDir: dir, checkpointIntervalMs: 0, syncDataDir });
    for (const [i, listId] of later.entries()) await crashing.append(listId, [updates[12 + i] as Uint8Array]);
    failDataDirSync = true;
    await expect(crashing.checkpoint()).rejects.toThrow('EIO (test)');
    expect(await journalFiles()).toHaveLength(1);
    failDataDirSync = false;
    // Its copy reached the log before the failure, so the replay appends the record twice: Yjs
    // ignores the second.
    const restarted = open();
    for (const [i, listId] of later.entries()) {
      expect(itemsOf((await restarted.load(listId)).updates)).toEqual(itemsOf([updates[12 + i] as Uint8Array]));
    }
  });

  it('[J10] a journal write that fails is not acknowledged; later updates go to a new segment and survive a crash', async () => {
    const { updates } = makeUpdates(3);
    const { openSegment, handles } = segmentsFailingFirst(1);
    const crashed = new DiskListStorage({ dataDir: dir, checkpointIntervalMs: 0, openSegment });
    await expect(crashed.append(LIST, [updates[0] as Uint8Array])).rejects.toThrow();
    await crashed.append(LIST, [updates[1] as Uint8Array]);
    await crashed.append(LIST, [updates[2] as Uint8Array]);
    expect(handles).toHaveLength(2);
    // The failed segment held nothing acknowledged, so it is gone ([J15]).
    await journalSettles(['journal.2.wal']);

    // SIGKILL here: the acknowledged updates are in the second segment and nowhere else.
    const stored = await open().load(LIST);
    expect(stored.updates).toEqual([updates[1], updates[2]]);
    expect(await journalFiles()).toEqual([]);
  });

  // Reason for the condition: /dev/full (writes fail with ENOSPC) is Linux's.
  it.runIf(existsSync('/dev/full'))('[J14] a compaction that fails on a full disk deletes its temp file at once, and keeps every update', async () => {
    const { source, updates } = makeUpdates(4);
    const storage = open();
    await storage.append(LIST, updates);
    // The temp snapshot's writes land on /dev/full: ENOSPC, as on a disk with no room left.
    await symlink('/dev/full', path.join(dir, `${LIST}.snapshot.tmp`));
    await expect(storage.compact(LIST, Y.encodeStateAsUpdate(source))).rejects.toThrow(/ENOSPC/);
    expect(await readdir(dir)).not.toContain(`${LIST}.snapshot.tmp`);
    expect(itemsOf((await storage.load(LIST)).updates)).toEqual(source.getMap('items').toJSON());
  });

  it('[J30] a record too large to read back (over MAX_RECORD_BYTES) is refused before it is written: never acknowledged, and the list loads as it was', async () => {
    const { updates } = makeUpdates(2);
    const storage = open();
    await storage.append(LIST, [updates[0] as Uint8Array]);
    // In the journal, 1 + the id + the update: one byte over.
    const tooLarge = new Uint8Array(MAX_RECORD_BYTES - LIST.length);
    await expect(storage.append(LIST, [updates[1] as Uint8Array, tooLarge])).rejects.toThrow(/over the/);
    await expect(storage.compact(LIST, new Uint8Array(MAX_RECORD_BYTES + 1))).rejects.toThrow(/over the/);
    expect(await readdir(dir)).not.toContain(`${LIST}.snapshot.tmp`);
    await storage.checkpoint();
    expect((await open().load(LIST)).updates).toEqual([updates[0]]);
  });

  it('[J31] a compaction whose rename fails deletes its temp snapshot at once, and keeps every update', async () => {
    const { source, updates } = makeUpdates(3);
    const storage = open();
    await storage.append(LIST, updates);
    // A directory (not empty) where the snapshot goes: the rename over it fails.
    await mkdir(path.join(dir, `${LIST}.snapshot`, 'in-the-way'), { recursive: true });
    await expect(storage.compact(LIST, Y.encodeStateAsUpdate(source))).rejects.toThrow();
    expect(await readdir(dir)).not.toContain(`${LIST}.snapshot.tmp`);
    await rm(path.join(dir, `${LIST}.snapshot`), { recursive: true });
    expect(itemsOf((await storage.load(LIST)).updates)).toEqual(source.getMap('items').toJSON());
  });

  it('[J15] segments whose every write failed are deleted at once; one holding acknowledged records is kept', async () => {
    const { updates } = makeUpdates(2);
    // Segments 1–3 refuse every write (a full disk, and the room's retries); 4 works until its
    // descriptor is closed under it.
    const { openSegment, handles } = segmentsFailingFirst(3);
    const storage = new DiskListStorage({ dataDir: dir, checkpointIntervalMs: 0, openSegment });
    storages.push(storage);
    for (let retry = 0; retry < 3; retry++) await expect(storage.append(LIST, [updates[0] as Uint8Array])).rejects.toThrow();
    await storage.append(LIST, [updates[0] as Uint8Array]);
    await journalSettles(['journal.4.wal']);

    // Segment 4 fails after an acknowledged write: that record stays until a checkpoint copies it.
    await handles[3]?.close();
    await expect(storage.append(LIST, [updates[1] as Uint8Array])).rejects.toThrow();
    await storage.append(LIST, [updates[1] as Uint8Array]);
    expect(handles).toHaveLength(5);
    await journalSettles(['journal.4.wal', 'journal.5.wal']);
    // SIGKILL here: both acknowledged updates come back from the journal.
    expect((await open().load(LIST)).updates).toEqual(updates);
  });

  it('[J13] the updates of a failed journal write are not copied into the list log (never acknowledged; the room writes them again)', async () => {
    const { updates } = makeUpdates(3);
    const { openSegment } = segmentsFailingFirst(1);
    const storage = new DiskListStorage({ dataDir: dir, checkpointIntervalMs: 0, openSegment });
    storages.push(storage);
    await expect(storage.append(LIST, [updates[0] as Uint8Array])).rejects.toThrow();
    expect((await storage.load(LIST)).updates).toEqual([]);
    // The room's retry: the failed update again, with what arrived meanwhile.
    await storage.append(LIST, updates.slice(0, 2));
    await storage.checkpoint();
    expect(scanRecords(await readFile(path.join(dir, `${LIST}.log`))).records).toEqual(updates.slice(0, 2));
    await storage.append(LIST, [updates[2] as Uint8Array]);
    expect((await storage.load(LIST)).updates).toEqual(updates);
  });
  it('[J17] a damaged length in a journal record is damage, not a torn tail: the records before it are replayed, the segment is quarantined', async () => {
    const { updates, segment, segmentPath, bytes } = await crashWithSegmentOf(3);
    // Bit 16 of the second record's length: it now points past the end, as a torn write's would.
    const secondLength = encodeJournalRecord(LIST, updates[0] as Uint8Array).length + 2;
    bytes[secondLength] = (bytes[secondLength] as number) ^ 0x01;
    await writeFile(segmentPath, bytes);
    expect((await open().load(LIST)).updates).toEqual([updates[0]]);
    expect(await readdir(path.join(dir, 'quarantine'))).toEqual([`${segment}.1234`]);
    expect(await readFile(path.join(dir, 'quarantine', `${segment}.1234`))).toEqual(bytes);
    expect(logged.find((l) => l.event === 'storage.journal_damaged')?.fields).toMatchObject({ keptRecords: 1 });
    expect(logged.map((l) => l.event)).not.toContain('storage.journal_torn_tail_cut');
  });

  it('[J18] a quarantined log keeps a copy of the list\'s records in the journal: replayed after its intact prefix they cannot build on it', async () => {
    const { source, updates } = makeUpdates(5);
    const first = open();
    for (const update of updates.slice(0, 3)) await first.append(LIST, [update]);
    await first.close();
    const crashed = openToCrash();
    await crashed.append(LIST, updates.slice(3));
    const logPath = path.join(dir, `${LIST}.log`);
    const damaged = await readFile(logPath);
    const secondRecordPayload = 8 + (updates[0] as Uint8Array).length + 8;
    damaged[secondRecordPayload] = (damaged[secondRecordPayload] as number) ^ 0xff;
    await writeFile(logPath, damaged);

    // The replay quarantines the log, writes back its first record and appends the journal's.
    const restarted = open();
    const stored = await restarted.load(LIST);
    expect(stored.updates).toEqual([updates[0], ...updates.slice(3)]);
    expect(itemsOf(stored.updates)).toEqual({ item0: 'value 0' });
    await restarted.compact(LIST, Y.encodeStateAsUpdate(new Y.Doc()));
    await restarted.close();
    expect(await journalFiles()).toEqual([]);

    const quarantine = path.join(dir, 'quarantine');
    expect((await readdir(quarantine)).sort()).toEqual([`${LIST}.log.1234`, `${LIST}.log.1234.after`]);
    expect(await readFile(path.join(quarantine, `${LIST}.log.1234`))).toEqual(damaged);
    const after = scanRecords(await readFile(path.join(quarantine, `${LIST}.log.1234.after`)));
    expect(after).toMatchObject({ kind: 'complete', records: updates.slice(3) });
    expect(itemsOf([...updates.slice(0, 3), ...after.records])).toEqual(source.getMap('items').toJSON());
  });

  it('[J19] the segments after a damaged one are quarantined too: their records may build on those after the damage', async () => {
    const { updates } = makeUpdates(5);
    const disk = fillingDisk();
    disk.fill(0);
    const crashed = new DiskListStorage({ dataDir: dir, checkpointIntervalMs: 0, writeLogBytes: disk.writeLogBytes });
    for (const update of updates.slice(0, 3)) await crashed.append(LIST, [update]);
    // The copy fails (a full disk), so the first segment stays and later updates start a second.
    await expect(crashed.checkpoint()).rejects.toThrow('ENOSPC');
    await crashed.append(LIST, updates.slice(3));
    expect(await journalFiles()).toEqual(['journal.1.wal', 'journal.2.wal']);
    const firstPath = path.join(dir, 'journal.1.wal');
    const damaged = await readFile(firstPath);
    const secondRecordPayload = encodeJournalRecord(LIST, updates[0] as Uint8Array).length + 8 + 3;
    damaged[secondRecordPayload] = (damaged[secondRecordPayload] as number) ^ 0xff;
    await writeFile(firstPath, damaged);
    const second = await readFile(path.join(dir, 'journal.2.wal'));

    const restarted = open();
    expect((await restarted.load(LIST)).updates).toEqual([updates[0], ...updates.slice(3)]);
    await restarted.compact(LIST, Y.encodeStateAsUpdate(new Y.Doc()));
    await restarted.close();
    expect(await journalFiles()).toEqual([]);
    const quarantine = path.join(dir, 'quarantine');
    expect((await readdir(quarantine)).sort()).toEqual(['journal.1.wal.1234', 'journal.2.wal.1234']);
    expect(await readFile(path.join(quarantine, 'journal.1.wal.1234'))).toEqual(damaged);
    expect(await readFile(path.join(quarantine, 'journal.2.wal.1234'))).toEqual(second);
  });

  it('[J24] a list whose log cannot be written holds back only its own records: later segments are still copied for every other list, and deleted', async () => {
    const storage = open({ journalSegmentBytes: 1 << 20 });
    // The other list's log path is unusable (stands for a permission, EISDIR, or a repair that keeps failing).
    const otherLogPath = path.join(dir, `${OTHER}.log`);
    await mkdir(otherLogPath);
    const { updates: otherUpdates } = makeUpdates(1);
    await storage.append(OTHER, otherUpdates);
    await expect(storage.checkpoint()).rejects.toThrow('EISDIR');
    const { source, updates } = makeUpdates(20);
    for (let round = 0; round < 4; round++) {
      await storage.append(LIST, updates.slice(round * 5, round * 5 + 5));
      // Each checkpoint still fails (the other list's copy): its later segments are copied anyway.
      await expect(storage.checkpoint()).rejects.toThrow('EISDIR');
    }
    // Stopped at the first failure, a checkpoint left all 5 segments, and none of LIST in its log.
    expect(await journalFiles()).toEqual(['journal.1.wal']);
    expect(scanRecords(await readFile(path.join(dir, `${LIST}.log`))).records).toEqual(updates);
    expect(itemsOf((await storage.load(LIST)).updates)).toEqual(source.getMap('items').toJSON());
    expect(logged.find((l) => l.event === 'storage.segment_copy_failed')?.fields).toMatchObject({ segments: ['journal.1.wal'], listsLeft: 1 });

    // Once the other list's log can be written, its segment goes too.
    await rmdir(otherLogPath);
    await storage.checkpoint();
    expect(await journalFiles()).toEqual([]);
    expect(scanRecords(await readFile(otherLogPath)).records).toEqual(otherUpdates);
    expect((await storage.load(OTHER)).updates).toEqual(otherUpdates);
  });

  it('[J25] a journal replay that fails for a passing reason is tried again by the next call; until it succeeds, nothing is served nor acknowledged', async () => {
    // A segment left by a crash, which cannot be read at startup (stands for EIO / EMFILE / ENOMEM).
    const segmentPath = path.join(dir, 'journal.1.wal');
    await mkdir(segmentPath);
    const storage = open({ journalReplayRetryMs: 0 });
    const { updates } = makeUpdates(2);
    await expect(storage.load(LIST)).rejects.toThrow('EISDIR');
    await expect(storage.append(LIST, [updates[1] as Uint8Array])).rejects.toThrow('EISDIR');
    expect(storage.ready).toBe(false);
    expect(logged.map((l) => l.event)).toContain('storage.journal_replay_failed');
    // Kept, the first failure failed every call until a restart.
    await rmdir(segmentPath);
    await writeFile(segmentPath, encodeJournalRecord(LIST, updates[0] as Uint8Array));
    expect((await storage.load(LIST)).updates).toEqual([updates[0]]);
    expect(storage.ready).toBe(true);
    await storage.append(LIST, [updates[1] as Uint8Array]);
    expect((await storage.load(LIST)).updates).toEqual(updates);
  });

  it('[J28] after a failed journal replay, calls fail at once with its error for journalReplayRetryMs before one tries again (a replay reads every segment)', async () => {
    const segmentPath = path.join(dir, 'journal.1.wal');
    await mkdir(segmentPath);
    let now = 1000;
    const storage = open({ journalReplayRetryMs: 5000, now: () => now });
    const { updates } = makeUpdates(1);
    await expect(storage.load(LIST)).rejects.toThrow('EISDIR');
    const attempts = (): number => logged.filter((l) => l.event === 'storage.journal_replay_failed').length;
    const attemptsBefore = attempts();
    // Fixed meanwhile, but within the wait: failed with the last error, without reading again.
    await rmdir(segmentPath);
    await writeFile(segmentPath, encodeJournalRecord(LIST, updates[0] as Uint8Array));
    now += 4999;
    await expect(storage.load(LIST)).rejects.toThrow('EISDIR');
    expect(attempts()).toBe(attemptsBefore);
    expect(storage.ready).toBe(false);
    now += 1;
    expect((await storage.load(LIST)).updates).toEqual([updates[0]]);
    expect(storage.ready).toBe(true);
  });

  it('[J29] failed journal replays in a row wait twice as long each time, up to 32 times journalReplayRetryMs (a disk that stays broken is not read again every second)', async () => {
    const segmentPath = path.join(dir, 'journal.1.wal');
    await mkdir(segmentPath);
    let now = 1000;
    const storage = open({ journalReplayRetryMs: 100, now: () => now });
    const attempts = (): number => logged.filter((l) => l.event === 'storage.journal_replay_failed').length;
    await expect(storage.load(LIST)).rejects.toThrow('EISDIR');
    expect(attempts()).toBe(1);
    // The waits after failures 1, 2, …: 100, 200, 400, …, 3200, then 3200 again.
    for (const [failure, waitMs] of [100, 200, 400, 800, 1600, 3200, 3200].entries()) {
      now += waitMs - 1;
      await expect(storage.load(LIST)).rejects.toThrow('EISDIR');
      expect(attempts()).toBe(failure + 1);
      now += 1;
      await expect(storage.load(LIST)).rejects.toThrow('EISDIR');
      expect(attempts()).toBe(failure + 2);
    }
    expect(logged.filter((l) => l.event === 'storage.journal_replay_failed').at(-1)?.fields).toMatchObject({ retryInMs: 3200 });
    await rmdir(segmentPath);
    now += 3200;
    expect((await storage.load(LIST)).updates).toEqual([]);
    expect(storage.ready).toBe(true);
  });

  it('[J26] a journal record too short for its own fields (an empty payload, checksum-valid) is damage: the segment is quarantined, not a replay that throws for every list', async () => {
    const { updates } = makeUpdates(2);
    // A segment left by a crash: one good record, then 8 bytes that frame an empty payload.
    const bytes = Buffer.concat([
      encodeJournalRecord(LIST, updates[0] as Uint8Array),
      frameRecord(new Uint8Array(0)),
      encodeJournalRecord(LIST, updates[1] as Uint8Array),
    ]);
    await writeFile(path.join(dir, 'journal.1.wal'), bytes);
    const storage = open();
    expect((await storage.load(OTHER)).updates).toEqual([]);
    expect((await storage.load(LIST)).updates).toEqual([updates[0]]);
    expect(await readdir(path.join(dir, 'quarantine'))).toEqual(['journal.1.wal.1234']);
    expect(await readFile(path.join(dir, 'quarantine', 'journal.1.wal.1234'))).toEqual(bytes);
    expect(logged.find((l) => l.event === 'storage.journal_damaged')?.fields).toMatchObject({ keptRecords: 1 });
  });

  it('[J27] the records of a list whose copy failed wait for it: copied past it, a later segment\'s would reach the log before the older ones', async () => {
    const { updates } = makeUpdates(3);
    // The first two writes into any list log fail (stands for EIO); later ones work.
    let failing = 2;
    const writeLogBytes: typeof writeAt = (fd, buffer, offset, position) =>
      failing-- > 0 ? Promise.reject(Object.assign(new Error('EIO: i/o error, write'), { code: 'EIO' })) : writeAt(fd, buffer, offset, position);
    const storage = open({ writeLogBytes });
    await storage.append(OTHER, [updates[0] as Uint8Array]);
    await expect(storage.checkpoint()).rejects.toThrow('EIO');
    await storage.append(OTHER, [updates[1] as Uint8Array]);
    await storage.append(LIST, [updates[2] as Uint8Array]);
    // The first segment fails again; the second is copied for LIST only, and kept for OTHER.
    await expect(storage.checkpoint()).rejects.toThrow('EIO');
    expect(await journalFiles()).toEqual(['journal.1.wal', 'journal.2.wal']);
    expect(scanRecords(await readFile(path.join(dir, `${LIST}.log`))).records).toEqual([updates[2]]);
    await storage.checkpoint();
    expect(await journalFiles()).toEqual([]);
    expect(scanRecords(await readFile(path.join(dir, `${OTHER}.log`))).records).toEqual(updates.slice(0, 2));
  });
});

/**
 * A list whose stored files are damaged, on a full disk ([FD2], [FD3], [FD6]–[FD10]) or one that
 * fails the move into quarantine with EIO ([FD11]). Setting the
 * damage aside in quarantine/ needs room: for the copy of the records stored after the damaged
 * file, and for a damaged log's intact prefix. When that fails, the list is served from its intact
 * records anyway and the damaged file stays where it is; until it is set aside nothing may build
 * on it (an append after a damaged log) or destroy it (a compaction renaming a new snapshot over a
 * damaged one, or emptying a damaged log): those set it aside first, and fail while they cannot.
 * Until this was fixed the load failed: the room closed its phones with 1011, they reconnected at
 * once, and the load failed again, for as long as the disk stayed full.
 *
 * The storage tests run DiskListStorage on a temporary DATA_DIR whose disk is simulated: a write
 * of more than `free` bytes fails with ENOSPC, while renames, links, truncations, fsyncs and reads
 * need no room, as on a real full disk. [FD10] runs the relay's own process on a real full disk (a
 * tmpfs, as full-disk.test.ts does), with unmodified y-websocket phones.
 */
import { existsSync, promises as fsPromises } from 'node:fs';
import { readdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import * as Y from 'yjs';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { QuarantineStep } from '../src/storage/disk-storage.js';
import { DiskListStorage } from '../src/storage/disk-storage.js';
import { writeAt } from '../src/storage/journal.js';
import type { StorageFailureKind } from '../src/storage/list-storage.js';
import { scanRecords } from '../src/storage/record-framing.js';
import {
  canMountTmpfsOrWarn,
  cleanUpFullDiskTest,
  fillDisk,
  smallDisk,
  spawnRelay,
  stop,
  watchPhone,
  writeAcknowledged,
} from './full-disk-helpers.js';
import { newListId, temporaryDirectory } from './helpers.js';
import { itemsOf, makeUpdates } from './stored-items.js';

const LIST = 'damagedOnFullDisk01';
const MOUNTABLE = canMountTmpfsOrWarn('damaged-on-full-disk.test.ts');

const enospc = (): Error => Object.assign(new Error('ENOSPC: no space left on device, write'), { code: 'ENOSPC' });

/** `count` edits of one item of `source`: a log far larger than the document it makes. */
function editsOfOneItem(source: Y.Doc, count: number): Uint8Array[] {
  const edits: Uint8Array[] = [];
  const record = (update: Uint8Array): void => void edits.push(update);
  source.on('update', record);
  for (let i = 0; i < count; i++) source.getMap('items').set('note', `the note, as edited for the ${i}th time`);
  source.off('update', record);
  return edits;
}

/** Flips one bit of `bytes` at `offset` and writes them to `filePath`; returns them. */
async function damage(filePath: string, offsetFromRecords: (bytes: Buffer) => number): Promise<Buffer> {
  const bytes = await readFile(filePath);
  const offset = offsetFromRecords(bytes);
  bytes[offset] = (bytes[offset] as number) ^ 0x01;
  await writeFile(filePath, bytes);
  return bytes;
}

/** The offset of the first payload byte of record `index` in a log (records framed: 8 header bytes each). */
function payloadOffset(bytes: Buffer, index: number): number {
  const records = scanRecords(bytes).records;
  let offset = 0;
  for (let i = 0; i < index; i++) offset += 8 + (records[i] as Uint8Array).length;
  return offset + 8;
}

describe('a damaged list on a (simulated) full disk', () => {
  let dir: string;
  let remove: () => Promise<void>;
  const storages: DiskListStorage[] = [];
  const logged: Array<{ event: string; fields: Record<string, unknown> }> = [];
  const failures: StorageFailureKind[] = [];
  const logger = {
    debug: () => undefined,
    info: (event: string, fields: Record<string, unknown> = {}) => void logged.push({ event, fields }),
    warn: (event: string, fields: Record<string, unknown> = {}) => void logged.push({ event, fields }),
    error: (event: string, fields: Record<string, unknown> = {}) => void logged.push({ event, fields }),
  };
  const observer = { journalWritten: () => undefined, checkpointed: () => undefined, failed: (kind: StorageFailureKind) => void failures.push(kind) };
  /** Bytes left on the simulated disk: one write of more fails with ENOSPC. */
  const disk = { free: Infinity };
  const roomFor = (bytes: number): void => {
    if (bytes > disk.free) throw enospc();
  };
  const open = (options: Partial<ConstructorParameters<typeof DiskListStorage>[0]> = {}): DiskListStorage => {
    const storage = new DiskListStorage({
      dataDir: dir,
      logger,
      observer,
      wallClock: () => 1234,
      checkpointIntervalMs: 0,
      // A new journal segment's first write needs room: on a full disk it fails, and so the append.
      openSegment: async (filePath) => {
        roomFor(1);
        return fsPromises.open(filePath, 'wx');
      },
      writeLogBytes: async (fd, buffer, offset, position) => {
        roomFor(buffer.length - offset);
        return writeAt(fd, buffer, offset, position);
      },
      ...options,
    });
    storages.push(storage);
    return storage;
  };
  const snapshotPath = (): string => path.join(dir, `${LIST}.snapshot`);
  const logPath = (): string => path.join(dir, `${LIST}.log`);
  const quarantined = (): Promise<string[]> => readdir(path.join(dir, 'quarantine')).then((names) => names.sort(), () => []);
  const failureLogged = (): Record<string, unknown> | undefined => logged.find((l) => l.event === 'storage.quarantine_failed')?.fields;

  beforeEach(async () => {
    ({ dir, remove } = await temporaryDirectory('basket-damaged-full-'));
    logged.length = 0;
    failures.length = 0;
    disk.free = Infinity;
    // Files the storage writes whole through fs.promises (quarantine copies, a log's intact prefix,
    // compaction snapshots) are written with FileHandle.writeFile: each needs room.
    const realOpen = fsPromises.open.bind(fsPromises);
    vi.spyOn(fsPromises, 'open').mockImplementation(async (...args: Parameters<typeof fsPromises.open>) => {
      const handle = await realOpen(...args);
      const writeFile = handle.writeFile.bind(handle);
      (handle as { writeFile: (data: Uint8Array) => Promise<void> }).writeFile = async (data) => {
        roomFor(data.byteLength);
        return writeFile(data);
      };
      return handle;
    });
  });
  afterEach(async () => {
    disk.free = Infinity;
    await Promise.all(storages.splice(0).map((s) => s.close().catch(() => undefined)));
    vi.restoreAllMocks();
    await remove();
  });

  /** Appends, then stops cleanly (the journal copied into the list log), with a compaction to `compactTo` first if given. */
  const storeAndStop = async (updates: readonly Uint8Array[], compactTo?: Uint8Array): Promise<void> => {
    const storage = open();
    await storage.append(LIST, updates);
    if (compactTo !== undefined) await storage.compact(LIST, compactTo);
    await storage.close();
  };

  /**
   * A list stored as a snapshot of two items, then `makeEdits(source)` made by the same phone
   * (building on the snapshot: Yjs holds them back without it), all but the last `inJournal` of
   * them in its log (the rest are for the test's journal: openWithJournal); then its snapshot rots
   * (its last byte).
   */
  const storeDamagedSnapshot = async (
    makeEdits: (source: Y.Doc) => Uint8Array[],
    inJournal: number,
  ): Promise<{ source: Y.Doc; snapshot: Uint8Array; damaged: Buffer; edits: Uint8Array[] }> => {
    const { source, updates } = makeUpdates(2);
    const snapshot = Y.encodeStateAsUpdate(source);
    await storeAndStop(updates, snapshot);
    const edits = makeEdits(source);
    await storeAndStop(edits.slice(0, edits.length - inJournal));
    const damaged = await damage(snapshotPath(), (bytes) => bytes.length - 1);
    return { source, snapshot, damaged, edits };
  };
  /** A storage with the last `inJournal` of `edits` appended: acknowledged, in its journal. */
  const openWithJournal = async (edits: readonly Uint8Array[], inJournal: number, options: Parameters<typeof open>[0] = {}): Promise<DiskListStorage> => {
    const storage = open(options);
    if (inJournal > 0) await storage.append(LIST, edits.slice(edits.length - inJournal));
    return storage;
  };

  /** Every file set aside is `damaged` (one of `kind`), with a copy of `after` beside it; nothing else is in quarantine/. */
  const expectSetAside = async (kind: 'log' | 'snapshot', damaged: Buffer, after: readonly Uint8Array[]): Promise<void> => {
    const name = `${LIST}.${kind}.1234`;
    expect(await quarantined()).toEqual([name, `${name}.after`]);
    expect(await readFile(path.join(dir, 'quarantine', name))).toEqual(damaged);
    expect(scanRecords(await readFile(path.join(dir, 'quarantine', `${name}.after`)))).toMatchObject({ kind: 'complete', records: after });
  };

  /** The quarantine failure was logged with the list, the kind and the error, and counted. */
  const expectFailureReported = (kind: 'log' | 'snapshot', code: string): void => {
    const fields = failureLogged();
    expect(fields).toMatchObject({ listId: LIST, kind });
    expect((fields?.error as NodeJS.ErrnoException | undefined)?.code).toBe(code);
    expect(failures).toContain('quarantine_failed');
  };

  it('[FD2] a damaged snapshot that cannot be set aside for lack of room: the list is served from its log and journal records anyway, the snapshot left where it is, the failure logged and counted; once there is room the next load sets it aside', async () => {
    // Edits by the same phone, building on the snapshot: two in the log, one still in the journal.
    const { damaged, edits } = await storeDamagedSnapshot((source) => makeUpdates(3, source).updates, 1);
    const storage = await openWithJournal(edits, 1);

    disk.free = 0;
    // The copy of the records after the snapshot needs room: the load failed with ENOSPC, for as long as the disk was full.
    expect((await storage.load(LIST)).updates).toEqual(edits);
    expect(await readFile(snapshotPath())).toEqual(damaged);
    // Nothing half set aside: the copy cut short is gone.
    expect(await quarantined()).toEqual([]);
    expectFailureReported('snapshot', 'ENOSPC');
    // Unloaded and loaded again (its phones left and came back): served again, still in place.
    await storage.release(LIST);
    expect((await storage.load(LIST)).updates).toEqual(edits);
    expect(await readFile(snapshotPath())).toEqual(damaged);

    disk.free = Infinity;
    expect((await storage.load(LIST)).updates).toEqual(edits);
    expect(existsSync(snapshotPath())).toBe(false);
    await expectSetAside('snapshot', damaged, edits);
  });

  it('[FD3] a damaged log that cannot be repaired for lack of room: the list is served from its intact prefix and the journal, the log left as it is; nothing is copied after the damage, edits wait for room unacknowledged, and once there is room the next copy repairs it first', async () => {
    const { source, updates } = makeUpdates(3);
    await storeAndStop(updates);
    // The second of three records rots: the first is the intact prefix.
    const damaged = await damage(logPath(), (bytes) => payloadOffset(bytes, 1));
    const later = makeUpdates(2, source).updates;
    const storage = open();
    await storage.append(LIST, [later[0] as Uint8Array]);

    disk.free = 0;
    expect((await storage.load(LIST)).updates).toEqual([updates[0], later[0]]);
    expect(await readFile(logPath())).toEqual(damaged);
    expect(existsSync(`${logPath()}.tmp`)).toBe(false);
    expect(await quarantined()).toEqual([]);
    expectFailureReported('log', 'ENOSPC');
    // The checkpoint's copy into the log repairs it first, which needs room: appended after the
    // damage, the journal's record would be read by no load.
    await expect(storage.checkpoint()).rejects.toThrow('ENOSPC');
    expect(await readFile(logPath())).toEqual(damaged);
    // An edit now is not acknowledged: it waits for room (the room writes it again).
    await expect(storage.append(LIST, [later[1] as Uint8Array])).rejects.toThrow('ENOSPC');
    await storage.release(LIST);
    expect((await storage.load(LIST)).updates).toEqual([updates[0], later[0]]);
    expect(await readFile(logPath())).toEqual(damaged);

    disk.free = Infinity;
    await storage.append(LIST, [later[1] as Uint8Array]);
    await storage.checkpoint();
    await expectSetAside('log', damaged, later);
    expect(scanRecords(await readFile(logPath()))).toMatchObject({ kind: 'complete', records: [updates[0], ...later] });
    await storage.close();
    expect((await open().load(LIST)).updates).toEqual([updates[0], ...later]);
  });

  it('[FD6] a compaction of a list whose damaged snapshot could not be set aside sets it aside first, and fails while it cannot: renamed over, the snapshot would be lost, and with the log emptied, the edits building on it', async () => {
    // Many edits of one item by the phone that made the snapshot: every one builds on it, and the
    // log of them is far larger than the document (or a compaction's snapshot of it).
    const { source, snapshot, damaged, edits } = await storeDamagedSnapshot((doc) => editsOfOneItem(doc, 200), 10);
    const logBefore = await readFile(logPath());
    const storage = await openWithJournal(edits, 10);

    // Room for a compaction's snapshot, not for the copy of 200 edits.
    disk.free = 1024;
    const stored = await storage.load(LIST);
    expect(stored.updates).toEqual(edits);
    expectFailureReported('snapshot', 'ENOSPC');
    // Without the snapshot Yjs holds every edit back: the room's snapshot holds none of them.
    const served = new Y.Doc();
    for (const update of stored.updates) Y.applyUpdate(served, update);
    expect(served.store.pendingStructs).not.toBeNull();
    const roomSnapshot = Y.encodeStateAsUpdate(new Y.Doc());
    await expect(storage.compact(LIST, roomSnapshot)).rejects.toThrow('ENOSPC');
    expect(await readFile(snapshotPath())).toEqual(damaged);
    expect(await readFile(logPath())).toEqual(logBefore);
    expect(existsSync(`${snapshotPath()}.tmp`)).toBe(false);

    disk.free = Infinity;
    await storage.compact(LIST, roomSnapshot);
    await expectSetAside('snapshot', damaged, edits);
    expect((await readFile(logPath())).length).toBe(0);
    expect(scanRecords(await readFile(snapshotPath())).records).toEqual([roomSnapshot]);
    // A person who repairs the snapshot has the whole list back.
    const after = scanRecords(await readFile(path.join(dir, 'quarantine', `${LIST}.snapshot.1234.after`))).records;
    expect(itemsOf([snapshot, ...after])).toEqual(source.getMap('items').toJSON());
  });

  it('[FD7] a compaction of a list whose damaged log could not be repaired repairs it first, and fails while it cannot: emptied, the log would take its damaged records with it, never set aside', async () => {
    const source = new Y.Doc();
    const edits = editsOfOneItem(source, 200);
    await storeAndStop(edits);
    // The record before the last rots: the intact prefix is 198 records, far larger than the document.
    const damaged = await damage(logPath(), (bytes) => payloadOffset(bytes, 198));
    const later = editsOfOneItem(source, 1);
    const storage = open();
    await storage.append(LIST, later);

    disk.free = 1024;
    expect((await storage.load(LIST)).updates).toEqual([...edits.slice(0, 198), ...later]);
    expectFailureReported('log', 'ENOSPC');
    const roomSnapshot = Y.encodeStateAsUpdate(source);
    expect(roomSnapshot.length).toBeLessThan(disk.free);
    await expect(storage.compact(LIST, roomSnapshot)).rejects.toThrow('ENOSPC');
    expect(await readFile(logPath())).toEqual(damaged);
    expect(existsSync(snapshotPath())).toBe(false);
    expect(await quarantined()).toEqual([]);

    disk.free = Infinity;
    await storage.compact(LIST, roomSnapshot);
    await expectSetAside('log', damaged, later);
    expect((await readFile(logPath())).length).toBe(0);
    await storage.close();
    expect(itemsOf((await open().load(LIST)).updates)).toEqual(source.getMap('items').toJSON());
  });

  it('[FD8] a list whose damaged snapshot is not set aside, through a checkpoint, an unload and reload, and a clean stop on a nearly full disk: each keeps the snapshot and every record after it, and the next start sets it aside with all of them', async () => {
    const { source, snapshot, damaged, edits } = await storeDamagedSnapshot((doc) => editsOfOneItem(doc, 60), 10);
    const storage = await openWithJournal(edits, 10);

    // Room for the checkpoint's copy of the journal's ten edits, not for the copy of sixty.
    disk.free = 1024;
    expect((await storage.load(LIST)).updates).toEqual(edits);
    expectFailureReported('snapshot', 'ENOSPC');
    // The copy appends after the log, not after the snapshot: it builds on nothing damaged.
    await storage.checkpoint();
    expect(scanRecords(await readFile(logPath())).records).toEqual(edits);
    // The room's unload: a compaction (which fails), then a release; then its phones come back.
    await expect(storage.compact(LIST, Y.encodeStateAsUpdate(new Y.Doc()))).rejects.toThrow('ENOSPC');
    await storage.release(LIST);
    expect((await storage.load(LIST)).updates).toEqual(edits);
    // A clean stop: the relay compacts every list (which fails here too), then the last checkpoint.
    await expect(storage.compact(LIST, Y.encodeStateAsUpdate(new Y.Doc()))).rejects.toThrow('ENOSPC');
    await storage.close();
    expect(await readFile(snapshotPath())).toEqual(damaged);
    expect(scanRecords(await readFile(logPath())).records).toEqual(edits);

    disk.free = Infinity;
    expect((await open().load(LIST)).updates).toEqual(edits);
    await expectSetAside('snapshot', damaged, edits);
    const after = scanRecords(await readFile(path.join(dir, 'quarantine', `${LIST}.snapshot.1234.after`))).records;
    expect(itemsOf([snapshot, ...after])).toEqual(source.getMap('items').toJSON());
  });

  it('[FD9] a damaged snapshot moved into quarantine by a load whose directory fsync then failed: the list is served, and its compaction syncs the directories rather than failing for good on a snapshot no longer there', async () => {
    const { source, damaged, edits } = await storeDamagedSnapshot((doc) => editsOfOneItem(doc, 3), 0);
    let failuresLeft = 1;
    const afterQuarantineStep = (step: QuarantineStep): void => {
      // After the rename, at the fsync of quarantine/ (a passing EIO).
      if (step === 'quarantined' && failuresLeft-- > 0) throw Object.assign(new Error('EIO: i/o error, fsync'), { code: 'EIO' });
    };
    const storage = open({ afterQuarantineStep });
    expect((await storage.load(LIST)).updates).toEqual(edits);
    expectFailureReported('snapshot', 'EIO');
    expect(existsSync(snapshotPath())).toBe(false);

    const roomSnapshot = Y.encodeStateAsUpdate(source);
    await storage.compact(LIST, roomSnapshot);
    // Set aside once: no second copy of the records, no name taken for a file that never came.
    await expectSetAside('snapshot', damaged, edits);
    expect(scanRecords(await readFile(snapshotPath())).records).toEqual([roomSnapshot]);
  });

  it('[FD11] a damaged file whose move into quarantine fails (EIO from the rename of a snapshot, the link of a log) at load after load: no copy of the records after it is left behind with no file, and the load that succeeds sets it aside with one copy', async () => {
    const eio = (call: string): Error => Object.assign(new Error(`EIO: i/o error, ${call}`), { code: 'EIO' });
    const { damaged: damagedSnapshot, edits } = await storeDamagedSnapshot((source) => makeUpdates(3, source).updates, 1);
    const storage = await openWithJournal(edits, 1);
    const rename = vi.spyOn(fsPromises, 'rename').mockRejectedValue(eio('rename'));
    for (let load = 0; load < 2; load++) {
      expect((await storage.load(LIST)).updates).toEqual(edits);
      await storage.release(LIST);
      expect(await readFile(snapshotPath())).toEqual(damagedSnapshot);
      expect(await quarantined()).toEqual([]);
    }
    expect(rename).toHaveBeenCalledTimes(2);
    expectFailureReported('snapshot', 'EIO');
    rename.mockRestore();
    expect((await storage.load(LIST)).updates).toEqual(edits);
    await expectSetAside('snapshot', damagedSnapshot, edits);
    await storage.close();

    const logList = newListId();
    const { source, updates } = makeUpdates(3);
    const logStorage = open();
    await logStorage.append(logList, updates);
    await logStorage.close();
    const listLog = path.join(dir, `${logList}.log`);
    const damagedLog = await damage(listLog, (bytes) => payloadOffset(bytes, 1));
    const later = makeUpdates(1, source).updates;
    const reopened = open();
    await reopened.append(logList, later);
    const link = vi.spyOn(fsPromises, 'link').mockRejectedValue(eio('link'));
    const logSetAside = async (): Promise<string[]> => (await quarantined()).filter((name) => name.startsWith(`${logList}.`));
    for (let load = 0; load < 2; load++) {
      expect((await reopened.load(logList)).updates).toEqual([updates[0], ...later]);
      await reopened.release(logList);
      expect(await readFile(listLog)).toEqual(damagedLog);
      expect(await logSetAside()).toEqual([]);
    }
    expect(link).toHaveBeenCalledTimes(2);
    link.mockRestore();
    expect((await reopened.load(logList)).updates).toEqual([updates[0], ...later]);
    expect(await logSetAside()).toEqual([`${logList}.log.1234`, `${logList}.log.1234.after`]);
    expect(scanRecords(await readFile(path.join(dir, 'quarantine', `${logList}.log.1234.after`))).records).toEqual(later);
  });
});

describe.skipIf(!MOUNTABLE)('a damaged list on a real full disk (a tmpfs filled to the last byte)', () => {
  afterEach(cleanUpFullDiskTest);

  it('[FD10] lists with a damaged snapshot or a damaged log are served on a full disk, their phones never closed; a stop on the full disk keeps the damaged files, and once there is room they are set aside', async () => {
    const disk = await smallDisk(4 << 20);
    const dataDir = path.join(disk, 'data');
    const [snapshotList, logList] = [newListId(), newListId()];
    // A snapshot (the stop compacts the list), then a log after it (no compaction at that stop).
    const first = await spawnRelay(dataDir);
    await writeAcknowledged(first, snapshotList, { milk: 'Milk' });
    expect(await stop(first, 'SIGTERM')).toBe(0);
    const second = await spawnRelay(dataDir, { SHUTDOWN_COMPACT_MS: '0' });
    await writeAcknowledged(second, snapshotList, { bread: 'Bread' });
    for (const item of ['apples', 'butter', 'cheese']) await writeAcknowledged(second, logList, { [item]: item });
    expect(await stop(second, 'SIGTERM')).toBe(0);

    const snapshotPath = path.join(dataDir, `${snapshotList}.snapshot`);
    const logPath = path.join(dataDir, `${logList}.log`);
    expect(scanRecords(await readFile(logPath)).records.length).toBeGreaterThanOrEqual(3);
    const damagedSnapshot = await damage(snapshotPath, (bytes) => bytes.length - 1);
    const damagedLog = await damage(logPath, (bytes) => payloadOffset(bytes, 1));
    const filler = fillDisk(disk);

    const third = await spawnRelay(dataDir);
    // Each phone came from another device: their items build on nothing damaged, and are served.
    const served = await Promise.all([watchPhone(third, snapshotList, 2000), watchPhone(third, logList, 2000)]);
    expect(served).toEqual([
      { closes: 0, synced: true, items: ['bread'] },
      { closes: 0, synced: true, items: ['apples'] },
    ]);
    // The stop compacts every list: on the full disk both compactions fail, and nothing is lost.
    expect(await stop(third, 'SIGTERM')).toBe(0);
    expect(await readFile(snapshotPath)).toEqual(damagedSnapshot);
    expect(await readFile(logPath)).toEqual(damagedLog);

    await fsPromises.unlink(filler);
    const fourth = await spawnRelay(dataDir);
    expect(await Promise.all([watchPhone(fourth, snapshotList, 1000), watchPhone(fourth, logList, 1000)])).toEqual(served);
    expect(await stop(fourth, 'SIGTERM')).toBe(0);
    const quarantine = path.join(dataDir, 'quarantine');
    const names = (await readdir(quarantine)).sort();
    const setAside = (list: string, kind: string): string[] => names.filter((name) => name.startsWith(`${list}.${kind}.`));
    expect(setAside(snapshotList, 'snapshot')).toHaveLength(2);
    expect(setAside(logList, 'log')).toHaveLength(1);
    const [snapshotFile] = setAside(snapshotList, 'snapshot').filter((name) => !name.endsWith('.after'));
    expect(await readFile(path.join(quarantine, snapshotFile as string))).toEqual(damagedSnapshot);
    expect(await readFile(path.join(quarantine, setAside(logList, 'log')[0] as string))).toEqual(damagedLog);
  }, 60_000);
});

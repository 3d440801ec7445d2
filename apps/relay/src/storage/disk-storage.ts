import { constants as fsConstants, promises as fs, readFileSync, write as writeCallback } from 'node:fs';
import type { FileHandle } from 'node:fs/promises';
import path from 'node:path';
import { isValidListId } from '../list-id.js';
import type { Logger } from '../log.js';
import { silentLogger } from '../log.js';
import type { ListStorage, StoredList } from './list-storage.js';
import { frameRecord, scanRecords } from './record-framing.js';

/** Steps of a compaction, in order; tests interrupt after each one. */
export type CompactionStep = 'temp-written' | 'temp-synced' | 'renamed' | 'directory-synced' | 'log-truncated';

export interface DiskStorageOptions {
  readonly dataDir: string;
  readonly logger?: Logger;
  readonly now?: () => number;
  /** Test seam: called after each compaction step; throwing simulates a crash there. */
  readonly afterCompactionStep?: (step: CompactionStep, listId: string) => void;
}

interface OpenLog {
  handle: FileHandle;
  bytes: number;
}

const SNAPSHOT_SUFFIX = '.snapshot';
const LOG_SUFFIX = '.log';
const TEMP_SUFFIX = '.tmp';
const QUARANTINE_DIR = 'quarantine';

/**
 * Files in DATA_DIR, per list `<id>.snapshot` (one framed record: the whole document) and
 * `<id>.log` (framed updates appended since). Every path is built from a validated list id, so
 * nothing is ever written outside DATA_DIR.
 */
export class DiskListStorage implements ListStorage {
  private readonly dataDir: string;
  private readonly logger: Logger;
  private readonly now: () => number;
  private readonly afterCompactionStep: ((step: CompactionStep, listId: string) => void) | undefined;
  private readonly openLogs = new Map<string, OpenLog>();
  private readonly snapshotBytes = new Map<string, number>();
  /** Calls for one list run one after another; different lists run concurrently. */
  private readonly queues = new Map<string, Promise<unknown>>();
  private dataDirReady: Promise<void> | undefined;
  private tempFilesRemoved: Promise<void> | undefined;
  /** Lists created at the same time share one directory fsync. */
  private readonly dataDirSync: CoalescedSync;
  private closed = false;

  constructor(options: DiskStorageOptions) {
    this.dataDir = path.resolve(options.dataDir);
    this.logger = options.logger ?? silentLogger;
    this.now = options.now ?? Date.now;
    this.afterCompactionStep = options.afterCompactionStep;
    this.dataDirSync = new CoalescedSync(() => syncDirectory(this.dataDir));
  }

  load(listId: string): Promise<StoredList> {
    return this.serialize(listId, () => this.loadNow(listId));
  }

  append(listId: string, updates: readonly Uint8Array[]): Promise<void> {
    if (updates.length === 0) return this.serialize(listId, () => Promise.resolve());
    return this.serialize(listId, () => this.appendNow(listId, updates));
  }

  compact(listId: string, snapshot: Uint8Array): Promise<void> {
    return this.serialize(listId, () => this.compactNow(listId, snapshot));
  }

  release(listId: string): Promise<void> {
    return this.serialize(listId, async () => {
      const log = this.openLogs.get(listId);
      this.openLogs.delete(listId);
      this.snapshotBytes.delete(listId);
      if (log !== undefined) await log.handle.close();
    });
  }

  async close(): Promise<void> {
    this.closed = true;
    await Promise.allSettled([...this.queues.values()]);
    const logs = [...this.openLogs.values()];
    this.openLogs.clear();
    await Promise.allSettled(logs.map((log) => log.handle.close()));
  }

  private serialize<T>(listId: string, task: () => Promise<T>): Promise<T> {
    if (this.closed) return Promise.reject(new Error('storage is closed'));
    if (!isValidListId(listId)) return Promise.reject(new Error('invalid list id'));
    const previous = this.queues.get(listId) ?? Promise.resolve();
    const next = previous.then(task, task);
    const settled = next.then(
      () => undefined,
      () => undefined,
    );
    this.queues.set(listId, settled);
    void settled.then(() => {
      if (this.queues.get(listId) === settled) this.queues.delete(listId);
    });
    return next;
  }

  private filePath(listId: string, suffix: string): string {
    return path.join(this.dataDir, listId + suffix);
  }

  private async loadNow(listId: string): Promise<StoredList> {
    const snapshotPath = this.filePath(listId, SNAPSHOT_SUFFIX);
    const logPath = this.filePath(listId, LOG_SUFFIX);
    await this.removeStaleTempFiles();
    // Independent reads, so they run concurrently: a restart loads many lists at once.
    const [snapshotBytes, logBytes] = await Promise.all([readIfExists(snapshotPath), readIfExists(logPath)]);

    const updates: Uint8Array[] = [];
    let snapshotLength = 0;
    if (snapshotBytes !== undefined) {
      const scan = scanRecords(snapshotBytes);
      const snapshot = scan.records[0];
      if (scan.kind === 'complete' && scan.records.length === 1 && snapshot !== undefined) {
        updates.push(snapshot);
        snapshotLength = snapshotBytes.length;
      } else {
        // Snapshots are only ever renamed into place complete, so any damage is corruption.
        await this.quarantine(listId, snapshotPath, 'snapshot', `snapshot scan: ${scan.kind}`);
      }
    }

    let logLength = 0;
    if (logBytes !== undefined) {
      const scan = scanRecords(logBytes);
      updates.push(...scan.records);
      logLength = scan.validBytes;
      if (scan.kind === 'torn') {
        this.logger.warn('storage.log_torn_tail_cut', {
          listId,
          keptBytes: scan.validBytes,
          cutBytes: logBytes.length - scan.validBytes,
        });
        await truncateAndSync(logPath, scan.validBytes);
      } else if (scan.kind === 'corrupt') {
        await this.quarantine(listId, logPath, 'log', `damaged record at byte ${scan.offset}`);
        await this.writeFileAtomically(logPath, Buffer.concat(scan.records.map(frameRecord)));
      }
    }
    this.snapshotBytes.set(listId, snapshotLength);
    return { updates, storedBytes: snapshotLength + logLength, logBytes: logLength };
  }

  /**
   * A temp file is a compaction (or log rewrite) that did not reach its rename: the old files
   * are still complete, so it holds nothing that is not stored elsewhere. They can only be left
   * by a crash, so one directory scan before the first load removes them all, instead of one
   * unlink attempt per list load.
   */
  private removeStaleTempFiles(): Promise<void> {
    this.tempFilesRemoved ??= (async () => {
      let names: string[];
      try {
        names = await fs.readdir(this.dataDir);
      } catch (error) {
        if (isNotFound(error)) return;
        throw error;
      }
      const stale = names.filter((name) => name.endsWith(TEMP_SUFFIX) && isValidListId(name.split('.')[0] ?? ''));
      await Promise.all(stale.map((name) => removeIfExists(path.join(this.dataDir, name))));
      if (stale.length > 0) this.logger.info('storage.stale_temp_files_removed', { count: stale.length });
    })();
    return this.tempFilesRemoved;
  }

  private async appendNow(listId: string, updates: readonly Uint8Array[]): Promise<void> {
    const log = await this.openLog(listId);
    const batch = Buffer.concat(updates.map(frameRecord));
    // The log is opened with O_DSYNC: each write returns only once its data (and the file size)
    // is on disk, like write + fdatasync but in one threadpool round trip instead of two.
    let written = 0;
    while (written < batch.length) {
      written += await writeAt(log.handle.fd, batch, written, log.bytes + written);
    }
    log.bytes += batch.length;
  }

  private async openLog(listId: string): Promise<OpenLog> {
    const existing = this.openLogs.get(listId);
    if (existing !== undefined) return existing;
    await this.ensureDataDir();
    const logPath = this.filePath(listId, LOG_SUFFIX);
    let created = false;
    let handle: FileHandle;
    try {
      handle = await fs.open(logPath, fsConstants.O_RDWR | fsConstants.O_DSYNC);
    } catch (error) {
      if (!isNotFound(error)) throw error;
      handle = await fs.open(logPath, fsConstants.O_RDWR | fsConstants.O_DSYNC | fsConstants.O_CREAT, 0o644);
      created = true;
    }
    const { size } = await handle.stat();
    const log = { handle, bytes: size };
    if (created) {
      // The new directory entry must be durable too, or an fsynced log could vanish on a crash.
      await this.dataDirSync.sync();
    }
    this.openLogs.set(listId, log);
    return log;
  }

  private async compactNow(listId: string, snapshot: Uint8Array): Promise<void> {
    await this.ensureDataDir();
    const snapshotPath = this.filePath(listId, SNAPSHOT_SUFFIX);
    const tempPath = snapshotPath + TEMP_SUFFIX;
    const framed = frameRecord(snapshot);
    const temp = await fs.open(tempPath, 'w', 0o644);
    try {
      await temp.writeFile(framed);
      this.afterCompactionStep?.('temp-written', listId);
      await temp.sync();
      this.afterCompactionStep?.('temp-synced', listId);
    } finally {
      await temp.close();
    }
    await fs.rename(tempPath, snapshotPath);
    this.afterCompactionStep?.('renamed', listId);
    // Shared with other renames and creations in flight: a directory fsync started after the
    // rename makes it durable, whoever asked for it.
    await this.dataDirSync.sync();
    this.afterCompactionStep?.('directory-synced', listId);
    const log = this.openLogs.get(listId);
    if (log !== undefined) {
      await log.handle.truncate(0);
      await log.handle.datasync();
      log.bytes = 0;
    } else {
      await truncateAndSync(this.filePath(listId, LOG_SUFFIX), 0);
    }
    this.afterCompactionStep?.('log-truncated', listId);
    this.snapshotBytes.set(listId, framed.length);
  }

  private async writeFileAtomically(target: string, contents: Uint8Array): Promise<void> {
    const tempPath = target + TEMP_SUFFIX;
    const handle = await fs.open(tempPath, 'w', 0o644);
    try {
      await handle.writeFile(contents);
      await handle.sync();
    } finally {
      await handle.close();
    }
    await fs.rename(tempPath, target);
    await syncDirectory(this.dataDir);
  }

  private async quarantine(listId: string, filePath: string, kind: string, reason: string): Promise<void> {
    const quarantineDir = path.join(this.dataDir, QUARANTINE_DIR);
    await fs.mkdir(quarantineDir, { recursive: true });
    const target = path.join(quarantineDir, `${listId}.${kind}.${this.now()}`);
    await fs.rename(filePath, target);
    await syncDirectory(quarantineDir);
    await syncDirectory(this.dataDir);
    this.logger.error('storage.file_quarantined', { listId, kind, reason, movedTo: target });
  }

  private ensureDataDir(): Promise<void> {
    this.dataDirReady ??= fs.mkdir(this.dataDir, { recursive: true }).then(() => undefined);
    return this.dataDirReady;
  }
}

/**
 * Group commit for an fsync: a caller arriving while one is in flight waits for the next one,
 * which starts after the current one ends and so covers the caller's changes; every caller
 * arriving meanwhile shares that next one.
 */
class CoalescedSync {
  private inFlight: Promise<void> | undefined;
  private next: Promise<void> | undefined;

  constructor(private readonly run: () => Promise<void>) {}

  sync(): Promise<void> {
    if (this.inFlight === undefined) {
      this.inFlight = this.run().finally(() => {
        this.inFlight = undefined;
      });
      return this.inFlight;
    }
    this.next ??= this.inFlight
      .catch(() => undefined)
      .then(() => {
        this.next = undefined;
        return this.sync();
      });
    return this.next;
  }
}

/** The callback API: one request object per write instead of FileHandle's promise machinery. */
function writeAt(fd: number, buffer: Buffer, offset: number, position: number): Promise<number> {
  return new Promise((resolve, reject) => {
    writeCallback(fd, buffer, offset, buffer.length - offset, position, (error, bytesWritten) =>
      error ? reject(error) : resolve(bytesWritten),
    );
  });
}

/**
 * Reads one of a list's files, synchronously: it happens once per list load, never per message,
 * and loading is event-loop work anyway (applying the update). fs.readFile's four thread-pool
 * round trips (open, fstat, read, close) cost the event loop more than the read itself: 1,000
 * files of 3–9 kB took 88–92 ms of main-thread time with UV_THREADPOOL_SIZE=64 against 18–22 ms
 * read synchronously, and ~0.4 ms per list in the relay while the load benchmark ran.
 */
function readIfExists(filePath: string): Promise<Buffer | undefined> {
  try {
    return Promise.resolve(readFileSync(filePath));
  } catch (error) {
    return isNotFound(error) ? Promise.resolve(undefined) : Promise.reject(error);
  }
}

async function removeIfExists(filePath: string): Promise<void> {
  try {
    await fs.unlink(filePath);
  } catch (error) {
    if (!isNotFound(error)) throw error;
  }
}

async function truncateAndSync(filePath: string, length: number): Promise<void> {
  let handle: FileHandle;
  try {
    handle = await fs.open(filePath, fsConstants.O_RDWR);
  } catch (error) {
    if (isNotFound(error)) return;
    throw error;
  }
  try {
    await handle.truncate(length);
    await handle.datasync();
  } finally {
    await handle.close();
  }
}

async function syncDirectory(dir: string): Promise<void> {
  const handle = await fs.open(dir, fsConstants.O_RDONLY);
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

function isNotFound(error: unknown): boolean {
  return typeof error === 'object' && error !== null && (error as { code?: unknown }).code === 'ENOENT';
}

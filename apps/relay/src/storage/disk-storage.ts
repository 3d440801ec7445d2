import { constants as fsConstants, promises as fs, readFileSync } from 'node:fs';
import type { FileHandle } from 'node:fs/promises';
import path from 'node:path';
import { DEFAULT_STORAGE } from '../config.js';
import { listLogsWithinFileLimit, openFileLimit } from '../file-limit.js';
import { isValidListId } from '../list-id.js';
import type { LogFields, Logger } from '../log.js';
import { silentLogger } from '../log.js';
import type { CompactOptions, ListStorage, SnapshotSource, StorageFailureKind, StorageObserver, StoredList } from './list-storage.js';
import { decodeSegment, encodeJournalRecord, JournalSegment, openSegmentFile, segmentPath, segmentSequence, writeAt } from './journal.js';
import { PendingRecords } from './pending-records.js';
import { frameRecord, RECORD_HEADER_BYTES, scanRecords } from './record-framing.js';
import { CoalescedRun, forEachConcurrently, onceItSucceeds, Pacer, Slots } from './concurrency.js';
import type { OpenLog } from './open-logs.js';
import { OpenLogs } from './open-logs.js';
import { NewListReserve } from './new-list-reserve.js';
import { exists, isNotFound, linkOrCopy, readIfExists, removeIfExists, removingOnFailure, syncDirectory, truncateAndSync, unusedName, writeFileSynced } from './file-ops.js';
import { makeDirectoryDurable } from './durable-directory.js';
import { monotonicNow } from '../clock.js';

/** Steps of a compaction, in order; tests interrupt after each one. */
export type CompactionStep = 'temp-written' | 'temp-synced' | 'renamed' | 'directory-synced' | 'log-truncated';

/**
 * Steps of setting a damaged list file aside, in order; tests interrupt after each one. A damaged
 * log goes through all of them; a snapshot, with nothing to write back, skips the prefix steps;
 * `after-copy-written` only when records are stored after the file.
 */
export type QuarantineStep = 'prefix-written' | 'after-copy-written' | 'quarantined' | 'prefix-renamed' | 'directory-synced';

export interface DiskStorageOptions {
  readonly dataDir: string;
  readonly logger?: Logger;
  /** For back-offs and durations: a clock that never steps (see clock.ts). */
  readonly now?: () => number;
  /** For quarantined files' names, which a person reads: the wall clock. */
  readonly wallClock?: () => number;
  /** Test seam: called after each compaction step; throwing simulates a crash there. */
  readonly afterCompactionStep?: (step: CompactionStep, listId: string) => void;
  /** Test seam: called after each step of quarantining a damaged file; throwing simulates a failure or a crash there. */
  readonly afterQuarantineStep?: (step: QuarantineStep, listId: string) => void;
  /** Copy the journal into the list logs this often (ms); 0 = only when a segment is full or on close. */
  readonly checkpointIntervalMs?: number;
  /** Start a new journal segment (and checkpoint the full one) past this many bytes. */
  readonly journalSegmentBytes?: number;
  /** Told of each journal write and checkpoint, for metrics. */
  readonly observer?: StorageObserver;
  /** Test seam: opens a new segment file (default: exclusive create with O_DSYNC). */
  readonly openSegment?: (filePath: string) => Promise<FileHandle>;
  /** Test seam: one positional write into a list log (default: `writeAt`); resolves to the bytes written. */
  readonly writeLogBytes?: (fd: number, buffer: Buffer, offset: number, position: number) => Promise<number>;
  /** Test seam: fsyncs DATA_DIR itself, making its new entries durable (default: `syncDirectory`). */
  readonly syncDataDir?: (dataDir: string) => Promise<void>;
  /** List logs held open at once, whatever the number of loaded lists (default: what the open-file limit leaves them, file-limit.ts). */
  readonly maxOpenLogs?: number;
  /** Compactions run at once, each holding one file (default: `DEFAULT_STORAGE.maxConcurrentCompactions`). */
  readonly maxConcurrentCompactions?: number;
  /** Free bytes kept for lists already stored: below it a list with nothing stored is not written (default 0: off; see NewListReserve). */
  readonly newListReserveBytes?: number;
  /** Test seam: free bytes on the disk holding DATA_DIR (default: statfs). */
  readonly freeBytes?: (directory: string) => Promise<number>;
  /**
   * After a failed journal replay, calls fail at once with its error for this long before one
   * tries again (default 1000 ms); doubled after each further failure in a row, up to 32 times.
   */
  readonly journalReplayRetryMs?: number;
}

const DEFAULT_JOURNAL_REPLAY_RETRY_MS = 1000;
/** The longest wait between failed replays, in base waits: a disk fixed is picked up within half a minute. */
const MAX_JOURNAL_REPLAY_BACKOFF = 32;

/** Lists copied at once by a checkpoint in a hurry: enough to overlap fsyncs, few enough to leave the disk to the journal. */
const CHECKPOINT_CONCURRENCY = 2;
/**
 * A checkpoint on the timer spreads its copies over this share of the interval, one list at a
 * time, like a database's spread checkpoint: copied in one burst, every journal write (and so
 * every durable acknowledgement) queued behind about a second of list log writes.
 */
const CHECKPOINT_SPREAD = 0.5;

/**
 * The records of one journal segment not yet copied into their list logs, per list, in order.
 * A list's entry is removed once copied (or once a compaction's snapshot holds it).
 */
interface JournalGeneration {
  segment: JournalSegment | undefined;
  readonly pending: Map<string, PendingRecords>;
  /** Segment files of the previous run read into `pending`: deleted once copied, or quarantined (see replayJournal). */
  readonly replayedSegments?: ReplayedSegment[];
}

interface ReplayedSegment {
  readonly name: string;
  readonly quarantine: boolean;
  /** Where it was renamed to in quarantine/, by an attempt whose directory fsyncs then failed. */
  quarantinedAs?: string;
}

export const SNAPSHOT_SUFFIX = '.snapshot';
export const LOG_SUFFIX = '.log';
export const TEMP_SUFFIX = '.tmp';
export const QUARANTINE_DIR = 'quarantine';
/** Beside a quarantined file: the list's records stored after it (see quarantine). */
const AFTER_COPY_SUFFIX = '.after';

/**
 * Files in DATA_DIR, per list `<id>.snapshot` (one framed record: the whole document) and
 * `<id>.log` (framed updates appended since). Every path is built from a validated list id, so
 * nothing is ever written outside DATA_DIR.
 */
export class DiskListStorage implements ListStorage {
  private readonly dataDir: string;
  private readonly logger: Logger;
  private readonly now: () => number;
  private readonly wallClock: () => number;
  private readonly journalReplayRetryMs: number;
  private readonly afterCompactionStep: ((step: CompactionStep, listId: string) => void) | undefined;
  private readonly afterQuarantineStep: ((step: QuarantineStep, listId: string) => void) | undefined;
  /**
   * The list logs held open, at most `maxOpenLogs` (least recently used closed first). Each log
   * is used only by its list's queued tasks (and the startup replay, before any of them), so
   * these never race: a handle is in use by one task at a time, and not closed while it is.
   */
  private readonly logs: OpenLogs;
  /**
   * Compactions in progress, bounded: each holds its temp snapshot open (its log goes through
   * `logs`), and its snapshot in memory, asked for only once it holds a slot. Background ones (a
   * list being unloaded) wait behind those of loaded lists.
   */
  private readonly compactions: Slots;
  /** Lists loaded and not yet released: only their logs may stay open between checkpoints. */
  private readonly inUse = new Set<string>();
  /** Calls for one list run one after another; different lists run concurrently. */
  private readonly queues = new Map<string, Promise<unknown>>();
  /**
   * Creates DATA_DIR before the first file in it, synced into its parents before anything in it
   * is acknowledged: else a power loss could take it away, with every file it holds. One made by
   * a run killed before that sync is synced too ([PL5]).
   */
  private readonly ensureDataDir = onceItSucceeds(() => makeDirectoryDurable(this.dataDir));
  /** One scan removing stale temp files before the first load (see removeStaleTempFilesNow). */
  private readonly removeStaleTempFiles = onceItSucceeds(() => this.removeStaleTempFilesNow());
  /** Lists created at the same time share one directory fsync. */
  private readonly dataDirSync: CoalescedRun;
  private closed = false;
  private closing: Promise<void> | undefined;
  /**
   * Journal replay from the previous run; every call waits for it and fails with its error:
   * nothing is served from lists whose journal records could not be put back. A failed replay is
   * tried again by the next call (or the checkpoint timer) instead of being kept: a passing error
   * (EIO, EMFILE) would otherwise fail every call until a restart, with the relay still up.
   */
  private readonly replayOnce = onceItSucceeds(() => this.replayJournalLoggingFailure());
  /**
   * The last failed replay, while calls still fail with its error instead of trying again: a
   * replay reads every segment (synchronously), and a failure that does not pass would otherwise
   * be read again for every phone that connects. Failures in a row wait longer each time: one
   * that does not pass (a damaged disk) would otherwise be read again every second, for days.
   */
  private replayFailure: { readonly at: number; readonly error: unknown; readonly waitMs: number } | undefined;
  /** Set once the replay succeeded: the storage serves lists (see `ready`). */
  private journalRecovered = false;
  private nextSegmentSequence = 1;
  private current: JournalGeneration = { segment: undefined, pending: new Map() };
  /** Generations whose segment is being (or failed to be) copied into the list logs, oldest first. */
  private readonly checkpointing: JournalGeneration[] = [];
  /** Callers arriving while a checkpoint runs share the next one, which covers what they wrote. */
  private readonly checkpoints: CoalescedRun;
  private readonly checkpointTimer: NodeJS.Timeout | undefined;
  /** How long a checkpoint on the timer spreads its copies over (0: not spread). */
  private readonly checkpointSpreadMs: number;
  /** Set by a caller that waits for a checkpoint: the next one to start is not spread out. */
  private checkpointWanted = false;
  /** Paces the checkpoint in progress, if it is spread out. */
  private checkpointPacer: Pacer | undefined;
  private readonly journalSegmentBytes: number;
  private readonly openSegment: (filePath: string) => Promise<FileHandle>;
  private readonly writeLogBytes: (fd: number, buffer: Buffer, offset: number, position: number) => Promise<number>;
  private readonly observer: StorageObserver | undefined;
  /**
   * Lists whose log must be repaired before the next append, which would otherwise land after
   * what no load can read, and be unreadable itself: a log that may end in part of a record (a
   * copy cut short by a crash or by a failed write, a full disk), or one damaged in the middle
   * whose repair failed (it is still in place, damage included, and the list served from its
   * intact prefix). Repaired before the list's next compaction too: emptied, the damaged log would
   * be gone without ever reaching quarantine/ (setAsideDamageBeforeCompaction).
   */
  private readonly logsToRepair = new Set<string>();
  /**
   * Lists whose snapshot a load found damaged and could not set aside (no room for the copy of
   * the records after it, on a full disk), and why it is damaged: the list is served from its log
   * and journal records, the snapshot left where it is. A compaction would rename a new snapshot
   * over it, the damaged file lost without ever reaching quarantine/, and empty the log, whose
   * records may build on what the snapshot held: Yjs holds those back, so the new snapshot lacks
   * them, and they would be gone. So the next compaction sets the snapshot aside first, and fails
   * (the room backs off and tries again) for as long as it cannot.
   */
  private readonly snapshotsToQuarantine = new Map<string, string>();
  /**
   * Lists whose compaction renamed its snapshot in but could not empty the log, or not durably:
   * every record in the log is in the snapshot, and the next append empties it first
   * (emptyCompactedLog).
   */
  private readonly logsToEmpty = new Set<string>();
  /**
   * Lists whose last append to their log failed, and the log's length before it: the durable end.
   * What a failed O_DSYNC write put past it (an EIO once its bytes reached the page cache) can
   * read as whole records and still never reach the disk: built on, a crash would leave zeros
   * between the durable records and the retried ones, and the log quarantined with those ([WF1]).
   * The next append cuts the log back to it first; what is cut is still in the journal.
   */
  private readonly logsToCut = new Map<string, number>();
  /**
   * Changes to DATA_DIR's entries (a list log created, a repaired log renamed over a damaged one)
   * counted, and how many of them a finished fsync of DATA_DIR covers: until it covers them all, a
   * log's entry may not be durable, so no journal segment holding its records may be deleted
   * (syncDataDirChanges). It starts one ahead: a previous run killed before its fsync may have left
   * such changes, which this run finds in the page cache and takes for durable, and copied into
   * and deleted segments after them ([PL1], [PL3]).
   */
  private dataDirChanges = 1;
  private dataDirChangesSynced = 0;
  private readonly newListReserve: NewListReserve;
  /** Lists loaded with nothing stored and not written since: their first write must pass the reserve. */
  private readonly storedNothing = new Set<string>();

  constructor(options: DiskStorageOptions) {
    this.dataDir = path.resolve(options.dataDir);
    this.logger = options.logger ?? silentLogger;
    this.now = options.now ?? monotonicNow;
    this.wallClock = options.wallClock ?? Date.now;
    this.journalReplayRetryMs = options.journalReplayRetryMs ?? DEFAULT_JOURNAL_REPLAY_RETRY_MS;
    this.afterCompactionStep = options.afterCompactionStep;
    this.afterQuarantineStep = options.afterQuarantineStep;
    const syncDataDir = options.syncDataDir ?? syncDirectory;
    this.dataDirSync = new CoalescedRun(() => syncDataDir(this.dataDir));
    this.checkpoints = new CoalescedRun(() => this.recover().then(() => this.checkpointNow()));
    this.journalSegmentBytes = options.journalSegmentBytes ?? DEFAULT_STORAGE.journalSegmentBytes;
    this.openSegment = options.openSegment ?? openSegmentFile;
    this.writeLogBytes = options.writeLogBytes ?? writeAt;
    this.observer = options.observer;
    this.logs = new OpenLogs(
      options.maxOpenLogs ?? listLogsWithinFileLimit(openFileLimit()),
      (listId) => this.openLogFile(listId),
      (listId, error) => this.reportFailure('log_close_failed', 'warn', { listId, error }),
    );
    this.compactions = new Slots(options.maxConcurrentCompactions ?? DEFAULT_STORAGE.maxConcurrentCompactions);
    this.newListReserve = new NewListReserve({
      dataDir: this.dataDir,
      reserveBytes: options.newListReserveBytes ?? 0,
      logger: this.logger,
      freeBytes: options.freeBytes,
      now: this.now,
    });
    // Started now, not at the first call: the journal goes back into the list logs at startup.
    this.recover().catch(() => undefined);
    const interval = options.checkpointIntervalMs ?? DEFAULT_STORAGE.checkpointIntervalMs;
    this.checkpointSpreadMs = interval * CHECKPOINT_SPREAD;
    if (interval > 0) {
      this.checkpointTimer = setInterval(() => void this.checkpointLoggingFailure('spread'), interval);
      this.checkpointTimer.unref();
    }
  }

  load(listId: string): Promise<StoredList> {
    return this.serialize(listId, async () => {
      this.inUse.add(listId);
      const stored = await this.loadNow(listId);
      if (stored.updates.length === 0) this.storedNothing.add(listId);
      else this.storedNothing.delete(listId);
      return stored;
    });
  }

  /**
   * Durable once the journal write holding the updates returns. Not serialized per list: the
   * journal is one ordered stream, and a list's records reach its log in that order.
   */
  append(listId: string, updates: readonly Uint8Array[]): Promise<void> {
    if (this.closed) return Promise.reject(new Error('storage is closed'));
    if (!isValidListId(listId)) return Promise.reject(new Error('invalid list id'));
    if (updates.length === 0) return this.recover();
    if (this.storedNothing.has(listId)) {
      // A list's writes come one at a time (group commit), so waiting here keeps them in order.
      return this.recover()
        .then(() => this.newListReserve.admitNewList())
        .then(() => this.appendToJournal(listId, updates))
        .then(() => {
          this.storedNothing.delete(listId);
        });
    }
    return this.recover().then(() => this.appendToJournal(listId, updates));
  }

  private appendToJournal(listId: string, updates: readonly Uint8Array[]): Promise<void> {
    if (this.closed) throw new Error('storage is closed');
    // A failed write refuses everything after it in that segment; later updates get a new one.
    if (this.current.segment?.failed === true) this.retireFailedSegment();
    // Framed first: a record too large to read back throws here, before any of them is pending.
    const records = updates.map((update) => encodeJournalRecord(listId, update));
    const generation = this.current;
    const pending = pendingFor(generation, listId);
    const start = pending.push(updates);
    generation.segment ??= this.newSegment();
    const segment = generation.segment;
    const written = segment.append(records);
    // Never acknowledged, and the caller writes them again: copied into the log at the
    // checkpoint, they would only take room that a full disk has just freed. A failed write
    // fails every later one in its segment too, so they are all at the end.
    written.catch(() => forgetPendingFrom(generation, listId, pending, start));
    // A queued run the timer asked for would be spread out: a full segment hurries it too.
    if (segment.bytes >= this.journalSegmentBytes && !(this.checkpoints.hasQueuedRun && this.checkpointWanted)) {
      void this.checkpointLoggingFailure('now');
    }
    return written;
  }

  /**
   * Copies every journal record written so far into its list's log, then deletes the segments.
   * Runs on a timer (spread out), when a segment is full, and on close; a failed copy is retried
   * next time. A caller waiting for it, as here, hurries one that is spread out.
   */
  checkpoint(): Promise<void> {
    return this.runCheckpoint('now');
  }

  private runCheckpoint(pace: 'spread' | 'now'): Promise<void> {
    if (pace === 'now') {
      this.checkpointWanted = true;
      this.checkpointPacer?.hurry();
    }
    return this.checkpoints.run();
  }

  /**
   * A failed checkpoint loses nothing (the segment stays until a later one succeeds, or is
   * replayed at the next start), but says so.
   */
  private checkpointLoggingFailure(pace: 'spread' | 'now'): Promise<void> {
    return this.runCheckpoint(pace).catch((error: unknown) => this.reportFailure('checkpoint_failed', 'error', { error }));
  }

  /**
   * Takes a compaction slot, then the list's turn in its queue, and only then the snapshot: the
   * list's writes (stopped from the snapshot on) and its queue (its checkpoint copies) wait for
   * the compaction itself, not for every compaction queued ahead of it ([GC3]).
   */
  compact(listId: string, source: Uint8Array | SnapshotSource, options: CompactOptions = {}): Promise<void> {
    if (this.closed) return Promise.reject(new Error('storage is closed'));
    if (!isValidListId(listId)) return Promise.reject(new Error('invalid list id'));
    return this.compactions.run(
      () =>
        this.serialize(listId, async () => {
          const snapshot = typeof source === 'function' ? await source() : source;
          if (snapshot !== undefined) await this.compactWithinSlot(listId, snapshot);
        }),
      options.background === true,
    );
  }

  release(listId: string): Promise<void> {
    return this.serialize(listId, () => {
      this.inUse.delete(listId);
      this.storedNothing.delete(listId);
      return this.closeLog(listId);
    });
  }

  /** Copies the journal into the list logs (so the next start replays nothing) and closes every file. */
  close(): Promise<void> {
    this.closing ??= (async () => {
      this.closed = true;
      if (this.checkpointTimer !== undefined) clearInterval(this.checkpointTimer);
      await this.checkpointLoggingFailure('now');
      await Promise.allSettled([...this.queues.values()]);
      await this.logs.closeAll();
    })();
    return this.closing;
  }

  /**
   * False until the journal of the previous run is back (its replay running, or failed and to be
   * tried again): until then every call waits for it or fails, and no list is served.
   */
  get ready(): boolean {
    return this.journalRecovered;
  }

  /** List logs open now (test seam); never more than `maxOpenLogs`. */
  get openLogCount(): number {
    return this.logs.fileCount;
  }

  /** The cap on open list logs in effect. */
  get maxOpenLogs(): number {
    return this.logs.limit;
  }

  private closeLog(listId: string): Promise<void> {
    return this.logs.discard(listId);
  }

  private newSegment(): JournalSegment {
    const sequence = this.nextSegmentSequence++;
    return new JournalSegment(segmentPath(this.dataDir, sequence), async (filePath) => {
      await this.ensureDataDir();
      const handle = await this.openSegment(filePath);
      try {
        // The new directory entry must be durable before any write in it is acknowledged.
        await this.dataDirSync.run();
      } catch (error) {
        // The segment is given up (the next append makes another): its handle with it, or every
        // retry on a failing disk would keep one more open.
        await handle.close().catch(() => undefined);
        throw error;
      }
      return handle;
    }, this.observer?.journalWritten.bind(this.observer));
  }

  /** Generations whose records may not be in the list logs yet, oldest first. */
  private uncopiedGenerations(): JournalGeneration[] {
    return [...this.checkpointing, this.current];
  }

  /**
   * After a failed write, later appends go to a new segment. One in which no write succeeded
   * holds nothing acknowledged and is deleted at once: on a full disk every retry fails, and each
   * would otherwise leave a file (and a generation in memory) until a checkpoint succeeds.
   */
  private retireFailedSegment(): void {
    const { segment, pending } = this.current;
    if (segment === undefined || pending.size > 0) {
      this.rotate();
      return;
    }
    this.current = { segment: undefined, pending: new Map() };
    segment
      .deleteFile()
      .catch((error: unknown) => this.reportFailure('segment_remove_failed', 'warn', { segment: segment.filePath, error }));
  }

  /** Later appends go to a new segment; the current one waits for the next checkpoint to be copied. */
  private rotate(): void {
    const segment = this.current.segment;
    if (segment === undefined) return;
    this.checkpointing.push(this.current);
    this.current = { segment: undefined, pending: new Map() };
    // Nothing more is written to it (its records are in memory until copied): closed once its
    // writes in flight return, not when it is deleted, so checkpoints failing one after another
    // (a full disk) do not each leave a segment file open.
    void segment
      .drained()
      .then(() => segment.closeFile())
      .catch((error: unknown) => this.reportFailure('segment_close_failed', 'warn', { segment: segment.filePath, error }));
  }

  private async checkpointNow(): Promise<void> {
    const spread = !this.checkpointWanted && !this.closed && this.checkpointSpreadMs > 0;
    // A caller that arrived before this run got here waits for the queued one: it stays wanted.
    if (!this.checkpoints.hasQueuedRun) this.checkpointWanted = false;
    if (this.current.segment === undefined && this.checkpointing.length === 0) return;
    this.rotate();
    const generations = [...this.checkpointing];
    // One pacer for every generation (a failed checkpoint leaves its own): hurried, none waits.
    const steps = generations.reduce((total, generation) => total + generation.pending.size, 0);
    const pacer = spread ? new Pacer(this.checkpointSpreadMs, steps) : undefined;
    this.checkpointPacer = pacer;
    // A generation that fails (one list whose log cannot be written, maybe for good) does not
    // stop the later ones: order matters only within a list, and copyGeneration holds back the
    // lists it concerns. Stopping there left every later segment on disk and its records in
    // memory, those of healthy lists too. The checkpoint still fails with the first error, for
    // its caller (or the timer's log); each failed segment is logged, as it stays on disk.
    let failure: { error: unknown } | undefined;
    try {
      for (const generation of generations) {
        try {
          await this.copyGeneration(generation, (listId, task) => this.serialize(listId, task, true), pacer);
        } catch (error) {
          failure ??= { error };
          this.reportFailure('segment_copy_failed', 'warn', { segments: segmentNames(generation), listsLeft: generation.pending.size, error });
        }
      }
    } finally {
      this.checkpointPacer = undefined;
    }
    if (failure !== undefined) throw failure.error;
  }

  /**
   * Whether an older generation than `generation` still holds records of the list: their copy
   * failed or was held back, and a list's records must reach its log in the order they were
   * acknowledged, so this generation's records of the list wait for them.
   */
  private hasOlderUncopiedRecords(generation: JournalGeneration, listId: string): boolean {
    for (const older of this.checkpointing) {
      if (older === generation) return false;
      if (older.pending.has(listId)) return true;
    }
    return false;
  }

  /**
   * Copies one generation's records into their list logs, then deletes its segment files, once
   * every list's are copied: a list with records still in an older generation is held back (and
   * the segment kept) until those are. With a pacer, one list at a time, each when it is due
   * (waiting outside the list's queue, so its loads and compactions do not wait for the pacing),
   * until the pacer is hurried.
   */
  private async copyGeneration(
    generation: JournalGeneration,
    runForList: (listId: string, task: () => Promise<void>) => Promise<void>,
    pacer?: Pacer,
  ): Promise<void> {
    const started = performance.now();
    // No write of the segment is in flight before its records are copied or the file deleted.
    await generation.segment?.drained();
    const lists = [...generation.pending.keys()].filter((listId) => !this.hasOlderUncopiedRecords(generation, listId));
    const widenWhen = pacer?.whenHurried();
    await forEachConcurrently(lists, CHECKPOINT_CONCURRENCY, async (listId) => {
      await pacer?.nextStep();
      await runForList(listId, async () => {
        const records = generation.pending.get(listId);
        if (records === undefined) return;
        await this.appendNow(listId, records.framed());
        generation.pending.delete(listId);
        // An unloaded list's log is opened for the copy only: thousands of idle lists must
        // not hold a descriptor each.
        if (!this.inUse.has(listId)) await this.closeLog(listId);
      });
    }, widenWhen);
    // Lists held back keep the segment: a later checkpoint copies them after their older records.
    if (generation.pending.size > 0) return;
    // One directory fsync for every log this copy created instead of one each, which slowed the
    // copy of many new lists (README, Storage): only deleting the segment needs them durable.
    await this.syncDataDirChanges();
    await generation.segment?.deleteFile();
    const replayed = generation.replayedSegments ?? [];
    // One at a time and forgotten once done, so a retry after a failure does not redo any.
    for (let next = replayed[0]; next !== undefined; next = replayed[0]) {
      const filePath = path.join(this.dataDir, next.name);
      if (next.quarantine) {
        // Renamed again after a failed fsync, it would be missing: every checkpoint failed ([WF2]).
        next.quarantinedAs ??= await this.renameIntoQuarantine(filePath, `${next.name}.${this.wallClock()}`);
        await this.syncQuarantined(next.quarantinedAs);
      } else {
        await removeIfExists(filePath);
      }
      replayed.shift();
    }
    const index = this.checkpointing.indexOf(generation);
    if (index !== -1) this.checkpointing.splice(index, 1);
    const ms = performance.now() - started;
    this.observer?.checkpointed(ms / 1000);
    this.logger.debug('storage.checkpoint', { lists: lists.length, ms: Math.round(ms) });
  }

  /** Waits for the journal replay: the one running, or a new attempt once the last failure's wait is over. */
  private recover(): Promise<void> {
    const failure = this.replayFailure;
    if (failure !== undefined && this.now() - failure.at < failure.waitMs) return Promise.reject(failure.error);
    return this.replayOnce();
  }

  /** One attempt at the replay: logged when it fails, remembered (`ready`) once it succeeds. */
  private async replayJournalLoggingFailure(): Promise<void> {
    try {
      await this.replayJournal();
    } catch (error) {
      const waitMs =
        this.replayFailure === undefined
          ? this.journalReplayRetryMs
          : Math.min(this.replayFailure.waitMs * 2, this.journalReplayRetryMs * MAX_JOURNAL_REPLAY_BACKOFF);
      this.replayFailure = { at: this.now(), error, waitMs };
      this.reportFailure('journal_replay_failed', 'error', { error, retryInMs: waitMs, note: 'no list is served until a replay succeeds' });
      throw error;
    }
    this.replayFailure = undefined;
    this.journalRecovered = true;
  }

  /**
   * Startup: reads every segment left by the previous run back into memory, where loads find its
   * records as they would before a checkpoint, then copies them into the list logs and deletes
   * the segments. A record may already be in its log (the crash came after the copy): Yjs updates
   * are idempotent, so appending it twice changes nothing but a few bytes. When the copy fails
   * (a full disk), the relay still serves every list from the segments, and each checkpoint
   * retries the copy. Nothing outside it changes before every segment is read, so one that fails
   * reading them can be run again from the start.
   */
  private async replayJournal(): Promise<void> {
    const segments = (await this.dataDirNames())
      .map((name) => ({ name, sequence: segmentSequence(name) }))
      .filter((s): s is { name: string; sequence: number } => s.sequence !== undefined)
      .sort((a, b) => a.sequence - b.sequence);
    if (segments.length === 0) return;
    const started = this.now();
    const replayedSegments: ReplayedSegment[] = [];
    const generation: JournalGeneration = { segment: undefined, pending: new Map(), replayedSegments };
    let recordCount = 0;
    let damageSeen = false;
    for (const [index, { name }] of segments.entries()) {
      const scan = decodeSegment(readFileSync(path.join(this.dataDir, name)));
      for (const record of scan.records) pendingFor(generation, record.listId).push([record.update]);
      recordCount += scan.records.length;
      // The records after the damage are not replayed, and those of later segments may build on
      // them: Yjs would hold them back and the list's next compaction drop them, so later
      // segments are quarantined too rather than deleted once copied.
      damageSeen ||= scan.kind === 'corrupt';
      replayedSegments.push({ name, quarantine: damageSeen });
      if (scan.kind === 'corrupt') {
        const laterSegments = segments.length - index - 1;
        this.reportFailure('journal_damaged', 'error', { segment: name, offset: scan.offset, keptRecords: scan.records.length, laterSegments });
      } else if (scan.kind === 'torn') {
        // A write cut short by the crash: it never returned, so nothing in it was acknowledged.
        this.logger.warn('storage.journal_torn_tail_cut', { segment: name, cutBytes: scan.cutBytes });
      }
    }
    this.nextSegmentSequence = (segments.at(-1)?.sequence ?? 0) + 1;
    // The crash may have cut a copy into any of these logs short.
    for (const listId of generation.pending.keys()) this.logsToRepair.add(listId);
    this.checkpointing.push(generation);
    const lists = generation.pending.size;
    try {
      // Not through the per-list queues: every caller's task waits for this replay, so a copy
      // queued behind one of them would wait for itself.
      await this.copyGeneration(generation, (_listId, task) => task());
    } catch (error) {
      this.reportFailure('journal_copy_deferred', 'error', { segments: segments.length, lists, error });
      return;
    }
    this.logger.info('storage.journal_replayed', { segments: segments.length, records: recordCount, lists, ms: this.now() - started });
  }

  private serialize<T>(listId: string, task: () => Promise<T>, internal = false): Promise<T> {
    if (this.closed && !internal) return Promise.reject(new Error('storage is closed'));
    if (!isValidListId(listId)) return Promise.reject(new Error('invalid list id'));
    const previous = this.queues.get(listId) ?? Promise.resolve();
    // Callers never see the lists before the journal of the previous run is back in their logs.
    const run = internal ? task : (): Promise<T> => this.recover().then(task);
    const next = previous.then(run, run);
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
    await this.removeStaleTempFiles();
    // Independent reads, so they run concurrently: a restart loads many lists at once.
    const [snapshotBytes, logBytes] = await Promise.all([readIfExists(snapshotPath), readIfExists(this.filePath(listId, LOG_SUFFIX))]);

    const log = await this.repairLog(listId, logBytes, 'serve');
    const snapshot = snapshotBytes === undefined ? undefined : await this.readSnapshot(listId, snapshotBytes, log.records);
    const journal = this.journalRecords(listId);
    const logLength = journal.reduce((bytes, update) => bytes + RECORD_HEADER_BYTES + update.length, log.validBytes);
    const snapshotLength = snapshot === undefined ? 0 : RECORD_HEADER_BYTES + snapshot.length;
    const updates = [...(snapshot === undefined ? [] : [snapshot]), ...log.records, ...journal];
    return { updates, storedBytes: snapshotLength + logLength, logBytes: logLength };
  }

  /**
   * The document a snapshot file holds; undefined for a damaged one, quarantined with a copy of
   * the records after it (`logRecords`, then the journal's), or, where that fails, left in place
   * for the list's next load or compaction to set aside (snapshotsToQuarantine).
   */
  private async readSnapshot(listId: string, bytes: Buffer, logRecords: readonly Uint8Array[]): Promise<Uint8Array | undefined> {
    const scan = scanRecords(bytes);
    const snapshot = scan.records[0];
    if (scan.kind === 'complete' && scan.records.length === 1 && snapshot !== undefined) {
      // Put back whole by hand: served, so a compaction no longer loses what it holds.
      this.snapshotsToQuarantine.delete(listId);
      return snapshot;
    }
    // Snapshots are only ever renamed into place complete, so any damage is corruption.
    const reason = `snapshot scan: ${scan.kind}`;
    const after = [...logRecords, ...this.journalRecords(listId)];
    const snapshotPath = this.filePath(listId, SNAPSHOT_SUFFIX);
    if (await this.setAsideOrServe(listId, 'snapshot', reason, () => this.quarantine(listId, snapshotPath, 'snapshot', reason, after))) {
      this.snapshotsToQuarantine.delete(listId);
    } else {
      this.snapshotsToQuarantine.set(listId, reason);
    }
    return undefined;
  }

  /** A list's acknowledged updates still only in the journal: oldest generation first, as written. */
  private journalRecords(listId: string): Uint8Array[] {
    return this.uncopiedGenerations().flatMap((generation) => generation.pending.get(listId)?.updates() ?? []);
  }

  /**
   * The readable records of a list log (`bytes`, its contents), leaving the file ending after the
   * last of them: a torn tail is cut; a damaged record moves the file to quarantine and the
   * records before it are written back. If that fails (no room for them, on a full disk), a load
   * (`'serve'`) still returns them, the damaged log left in place for the next append or
   * compaction to repair first (logsToRepair); an append (`'fail'`) fails, as it must not land
   * after the damage.
   */
  private async repairLog(
    listId: string,
    bytes: Buffer | undefined,
    ifNotSetAside: 'serve' | 'fail',
  ): Promise<{ records: Uint8Array[]; validBytes: number }> {
    const logPath = this.filePath(listId, LOG_SUFFIX);
    const scan = bytes === undefined ? undefined : scanRecords(bytes);
    if (bytes !== undefined && scan?.kind === 'torn') {
      this.logger.warn('storage.log_torn_tail_cut', { listId, keptBytes: scan.validBytes, cutBytes: bytes.length - scan.validBytes });
      // An open handle would go on appending where the file ended before the cut.
      await this.closeLog(listId);
      try {
        await truncateAndSync(logPath, scan.validBytes);
      } catch (error) {
        if (ifNotSetAside === 'fail') throw error;
        // The records before the tail are whole: served all the same, and the next copy into
        // the log cuts the tail first (readyLogForAppend), failing while it cannot, so nothing
        // lands after it. Thrown, the list failed to load and its phones were closed with 1011.
        this.logsToCut.set(listId, Math.min(this.logsToCut.get(listId) ?? scan.validBytes, scan.validBytes));
        this.reportFailure('torn_tail_cut_failed', 'error', { listId, keptBytes: scan.validBytes, error });
      }
    } else if (scan?.kind === 'corrupt') {
      // A handle open on the old file would go on writing into the quarantined one.
      await this.closeLog(listId);
      // Should the repair fail, the damaged log stays in place: an append repairs it first rather
      // than land after the damage, where no load would read it.
      this.logsToRepair.add(listId);
      const reason = `damaged record at byte ${scan.offset}`;
      const repair = (): Promise<void> => this.replaceDamagedLog(listId, scan.records, reason);
      if (ifNotSetAside === 'fail') await repair();
      else if (!(await this.setAsideOrServe(listId, 'log', reason, repair))) return { records: scan.records, validBytes: scan.validBytes };
    }
    this.logsToRepair.delete(listId);
    return { records: scan?.records ?? [], validBytes: scan?.validBytes ?? 0 };
  }

  /**
   * A temp file is a compaction (or log rewrite) that did not reach its rename: the old files
   * are still complete, so it holds nothing that is not stored elsewhere. They are left only by a
   * crash or a failed rename, so one directory scan before the first load removes them all, instead of one
   * unlink attempt per list load.
   */
  private async removeStaleTempFilesNow(): Promise<void> {
    const stale = (await this.dataDirNames()).filter((name) => name.endsWith(TEMP_SUFFIX) && isValidListId(name.split('.')[0] ?? ''));
    await Promise.all(stale.map((name) => removeIfExists(path.join(this.dataDir, name))));
    if (stale.length > 0) this.logger.info('storage.stale_temp_files_removed', { count: stale.length });
  }

  /** Appends `batch`, records framed as the log stores them. */
  private async appendNow(listId: string, batch: Buffer): Promise<void> {
    await this.readyLogForAppend(listId);
    // The handle is held for this task until the last write returns: never closed under it.
    await this.logs.use(listId, async (log) => {
      // The log is opened with O_DSYNC: each write returns only once its data (and the file size)
      // is on disk, like write + fdatasync but in one threadpool round trip instead of two.
      let written = 0;
      try {
        while (written < batch.length) {
          written += await this.writeLogBytes(log.handle.fd, batch, written, log.bytes + written);
        }
      } catch (error) {
        // Part of the batch may be in the file now, past `log.bytes`. A reopened log would start
        // at the file's end, after it: drop the handle (closed once this task is done with it),
        // and the next append cuts that tail first.
        this.logsToRepair.add(listId);
        const durableEnd = Math.min(this.logsToCut.get(listId) ?? log.bytes, log.bytes);
        this.logsToCut.set(listId, durableEnd);
        // Cut at once too, not only at the next append: a relay stopped before that (killed, or
        // restarted by an operator because the disk failed) would read the tail from the page
        // cache as whole records, append after it and delete the segment holding them, and once
        // those pages were gone the log would be damaged before the appended records ([PL2]).
        // Best effort: on a disk failing for good the next append tries again.
        await log.handle
          .truncate(durableEnd)
          .then(() => log.handle.datasync())
          .catch(() => undefined);
        await this.closeLog(listId);
        throw error;
      }
      log.bytes += batch.length;
    });
  }

  /**
   * Before an append, puts right a log that a failed step left in a state no append may build on:
   * one a compaction could not empty (durably), emptied now (see emptyCompactedLog); one that may
   * end in part of a record (a copy cut short), or still hold damage (a failed repair), repaired.
   * No handle is open then (the failed step dropped it; a replay comes before any open).
   */
  private async readyLogForAppend(listId: string): Promise<void> {
    if (!this.logsToEmpty.has(listId) && !this.logsToRepair.has(listId) && !this.logsToCut.has(listId)) return;
    await this.closeLog(listId);
    const logPath = this.filePath(listId, LOG_SUFFIX);
    if (this.logsToEmpty.has(listId)) {
      await truncateAndSync(logPath, 0);
      this.logsToEmpty.delete(listId);
      // Nothing is left to repair or cut in an empty file.
      this.logsToRepair.delete(listId);
      this.logsToCut.delete(listId);
    }
    const durableEnd = this.logsToCut.get(listId);
    if (durableEnd !== undefined) {
      // Never lengthened: a compaction or a repair since may have left it shorter.
      const length = await fs.stat(logPath).then(
        (stat) => stat.size,
        (error: unknown) => {
          if (isNotFound(error)) return 0;
          throw error;
        },
      );
      if (length > durableEnd) await truncateAndSync(logPath, durableEnd);
      this.logsToCut.delete(listId);
    }
    if (this.logsToRepair.has(listId)) await this.repairLog(listId, await readIfExists(logPath), 'fail');
  }

  /** Opens (creating if needed) a list log for `logs`, which bounds how many are open. */
  private async openLogFile(listId: string): Promise<OpenLog> {
    await this.ensureDataDir();
    const logPath = this.filePath(listId, LOG_SUFFIX);
    let handle: FileHandle;
    try {
      handle = await fs.open(logPath, fsConstants.O_RDWR | fsConstants.O_DSYNC);
    } catch (error) {
      if (!isNotFound(error)) throw error;
      handle = await fs.open(logPath, fsConstants.O_RDWR | fsConstants.O_DSYNC | fsConstants.O_CREAT, 0o644);
      // Until DATA_DIR is fsynced a crash could lose the new entry, and the log with it: the copy
      // syncs it once for all its new logs before the journal segment goes (copyGeneration).
      this.dataDirChanges += 1;
    }
    try {
      const { size } = await handle.stat();
      return { handle, bytes: size };
    } catch (error) {
      await handle.close().catch(() => undefined);
      throw error;
    }
  }

  private async compactWithinSlot(listId: string, snapshot: Uint8Array): Promise<void> {
    await this.ensureDataDir();
    await this.setAsideDamageBeforeCompaction(listId);
    const snapshotPath = this.filePath(listId, SNAPSHOT_SUFFIX);
    const tempPath = snapshotPath + TEMP_SUFFIX;
    const framed = frameRecord(snapshot);
    const temp = await fs.open(tempPath, 'w', 0o644);
    try {
      await removingOnFailure(tempPath, () => temp.writeFile(framed));
      this.afterCompactionStep?.('temp-written', listId);
      await removingOnFailure(tempPath, () => temp.sync());
      this.afterCompactionStep?.('temp-synced', listId);
    } finally {
      await temp.close();
    }
    // A full snapshot left behind would hold, until this list's next compaction, the room a full
    // disk needs for the journal ([J14]).
    await removingOnFailure(tempPath, () => fs.rename(tempPath, snapshotPath));
    this.afterCompactionStep?.('renamed', listId);
    // Shared with other renames and creations in flight: a directory fsync started after the
    // rename makes it durable, whoever asked for it.
    await this.dataDirSync.run();
    this.afterCompactionStep?.('directory-synced', listId);
    await this.emptyCompactedLog(listId);
    this.afterCompactionStep?.('log-truncated', listId);
    // The snapshot holds every update appended before it (the caller compacts between writes),
    // so the journal's copies need not reach the log. After a crash they would be replayed after
    // the snapshot, which is harmless: Yjs ignores updates it already has.
    for (const generation of this.uncopiedGenerations()) generation.pending.delete(listId);
  }

  /**
   * The last step of a compaction: empties the log, whose records the snapshot now in place holds.
   * When it fails, the file may be truncated or not, and a truncation may not be durable: an
   * append at offset 0 of a file whose old length comes back would leave its old records' tail
   * after the new ones (read as damage, and quarantined), and one at the old length of a file
   * that was emptied would leave a hole of zeros (the same). So the handle, whose length is
   * unknown now, is dropped, and the next append empties the log again, durably, before writing
   * (readyLogForAppend). Until then a load may still read the old records after the snapshot,
   * which changes nothing: Yjs ignores updates it already has.
   */
  private async emptyCompactedLog(listId: string): Promise<void> {
    try {
      if (this.logs.has(listId)) {
        // The open handle, held for the truncation (never closed under it): its next append starts at 0.
        await this.logs.use(listId, async (log) => {
          try {
            await log.handle.truncate(0);
            await log.handle.datasync();
          } catch (error) {
            // Closed once this task is done with it: reopened, its length is read from the file.
            await this.closeLog(listId);
            throw error;
          }
          log.bytes = 0;
        });
        if (!this.inUse.has(listId)) await this.closeLog(listId);
      } else {
        // Opened for the truncation only, inside this compaction's slot (its temp file is closed by
        // now), and nothing else of this list runs meanwhile (per-list queue).
        await truncateAndSync(this.filePath(listId, LOG_SUFFIX), 0);
      }
    } catch (error) {
      this.logsToEmpty.add(listId);
      throw error;
    }
    this.logsToEmpty.delete(listId);
  }

  /** Makes every change to DATA_DIR's entries counted so far durable, if one may not be. */
  private async syncDataDirChanges(): Promise<void> {
    const changes = this.dataDirChanges;
    if (this.dataDirChangesSynced >= changes) return;
    // A shared fsync starts after this call, so it covers every change counted before it.
    await this.dataDirSync.run();
    this.dataDirChangesSynced = Math.max(this.dataDirChangesSynced, changes);
  }

  /**
   * Writes the intact records of a damaged log (`prefix`) back in its place, the damaged file kept
   * in quarantine. The damaged log stays where it is until the prefix is renamed over it: a
   * failure or a crash at any step before leaves it there, to be repaired again by the next load
   * or the next start. Moved first, a failed write (a full disk) or a crash would leave no log, and
   * the next load would serve the list without the prefix's acknowledged records. A prefix written
   * but not renamed is a stale temp file like any other.
   */
  private async replaceDamagedLog(listId: string, prefix: readonly Uint8Array[], reason: string): Promise<void> {
    const logPath = this.filePath(listId, LOG_SUFFIX);
    const tempPath = logPath + TEMP_SUFFIX;
    await writeFileSynced(tempPath, Buffer.concat(prefix.map(frameRecord)), 'w');
    this.afterQuarantineStep?.('prefix-written', listId);
    // On a full disk the prefix would hold the room the journal needs until the next start.
    await removingOnFailure(tempPath, async () => {
      await this.quarantine(listId, logPath, 'log', reason, this.journalRecords(listId));
      // Should the fsync below fail, appends would build on a rename a power loss can undo ([PL4]).
      this.dataDirChanges += 1;
      await fs.rename(tempPath, logPath);
    });
    this.afterQuarantineStep?.('prefix-renamed', listId);
    await this.dataDirSync.run();
    this.afterQuarantineStep?.('directory-synced', listId);
  }

  /**
   * Runs `setAside`, the quarantine of a damaged file a load found; resolves whether it worked.
   * If it fails, the list is served from its intact records anyway and the file stays where it
   * was: setting the damage aside needs room (for the intact records' copy), and nothing needs
   * writing to serve them. Until this was fixed the load failed with it: the list's phones were
   * closed with 1011, reconnected at once and failed again, for as long as the disk stayed full
   * ([FD2], [FD3]). Nothing builds on the damage or destroys it meanwhile: an append or a
   * compaction of the list sets it aside first (logsToRepair, snapshotsToQuarantine), and fails
   * while it cannot.
   */
  private async setAsideOrServe(listId: string, kind: 'log' | 'snapshot', reason: string, setAside: () => Promise<void>): Promise<boolean> {
    try {
      await setAside();
      return true;
    } catch (error) {
      this.reportFailure('quarantine_failed', 'error', {
        listId,
        kind,
        reason,
        error,
        note: 'served from its intact records; the damaged file stays in place until its next load, append or compaction sets it aside',
      });
      return false;
    }
  }

  /**
   * Before a compaction, which empties the log and renames a new snapshot over the old one: sets
   * aside the damage a load found but could not set aside, or fails, and the compaction with it.
   * A damaged log is repaired as before an append. A damaged snapshot is quarantined with a copy
   * of the records stored after it, read again now (a checkpoint may have added to the log since).
   */
  private async setAsideDamageBeforeCompaction(listId: string): Promise<void> {
    if (this.logsToRepair.has(listId)) await this.readyLogForAppend(listId);
    const reason = this.snapshotsToQuarantine.get(listId);
    if (reason === undefined) return;
    const snapshotPath = this.filePath(listId, SNAPSHOT_SUFFIX);
    if (await exists(snapshotPath)) {
      const logBytes = await readIfExists(this.filePath(listId, LOG_SUFFIX));
      const logRecords = logBytes === undefined ? [] : scanRecords(logBytes).records;
      await this.quarantine(listId, snapshotPath, 'snapshot', reason, [...logRecords, ...this.journalRecords(listId)]);
    } else {
      await this.syncQuarantineDirectory();
    }
    this.snapshotsToQuarantine.delete(listId);
  }

  /**
   * Makes durable a rename into quarantine/ whose directory fsyncs failed (the quarantine of a
   * snapshot is one rename; see moveToQuarantine): else a compaction could make the snapshot's
   * removal from DATA_DIR durable, and a power loss then leave it in neither directory. With no
   * quarantine/, nothing was moved there (the snapshot was removed by hand).
   */
  private async syncQuarantineDirectory(): Promise<void> {
    try {
      await syncDirectory(path.join(this.dataDir, QUARANTINE_DIR));
    } catch (error) {
      if (isNotFound(error)) return;
      throw error;
    }
    await this.dataDirSync.run();
  }

  /** Logged as `storage.<kind>` and counted in the metrics' errors: these lose nothing at once, but each one climbing needs an operator. */
  private reportFailure(kind: StorageFailureKind, level: 'warn' | 'error', fields: LogFields): void {
    this.logger[level](`storage.${kind}`, fields);
    this.observer?.failed(kind);
  }

  /**
   * Sets a damaged file of a list aside. `after` are the list's records stored after it (a
   * snapshot's log, a log's records still in the journal): they may build on what the file held,
   * and then Yjs holds them back, so the list's next compaction writes a snapshot without them and
   * truncates the log. A copy of them, framed like a log, stays beside the file (`<name>.after`),
   * so the damage of one file never takes intact records of another with it. A snapshot is moved
   * (nothing of it is written back); a log stays in place, for its intact prefix to replace
   * (replaceDamagedLog).
   */
  private async quarantine(listId: string, filePath: string, kind: 'log' | 'snapshot', reason: string, after: readonly Uint8Array[]): Promise<void> {
    const copy = after.length > 0 ? Buffer.concat(after.map(frameRecord)) : undefined;
    const name = `${listId}.${kind}.${this.wallClock()}`;
    const reached = (step: QuarantineStep): void => this.afterQuarantineStep?.(step, listId);
    const target =
      kind === 'log' ? await this.copyToQuarantine(filePath, name, copy, reached) : await this.moveToQuarantine(filePath, name, copy, reached);
    this.reportFailure('file_quarantined', 'error', { listId, kind, reason, movedTo: target, recordsAfter: after.length });
  }

  /**
   * Puts the file in quarantine/ and leaves it in place too (a hard link: no room needed on a full
   * disk). Linked, the two names share the file: nothing writes into the damaged log before its
   * prefix replaces it (its handle is closed, and an append repairs it first).
   */
  private async copyToQuarantine(filePath: string, name: string, afterCopy: Buffer | undefined, reached: (step: QuarantineStep) => void): Promise<string> {
    const target = await this.placeInQuarantine(name, afterCopy, reached, (to) => linkOrCopy(filePath, to));
    await syncDirectory(path.dirname(target));
    reached('quarantined');
    return target;
  }

  /** Moves the file into quarantine/: one rename, so it is in one place or the other, never in neither. */
  private async moveToQuarantine(
    filePath: string,
    name: string,
    afterCopy?: Buffer,
    reached: (step: QuarantineStep) => void = () => undefined,
  ): Promise<string> {
    const target = await this.renameIntoQuarantine(filePath, name, afterCopy, reached);
    await this.syncQuarantined(target, reached);
    return target;
  }

  /** The rename of moveToQuarantine: where the file is now. */
  private async renameIntoQuarantine(
    filePath: string,
    name: string,
    afterCopy?: Buffer,
    reached: (step: QuarantineStep) => void = () => undefined,
  ): Promise<string> {
    return this.placeInQuarantine(name, afterCopy, reached, (to) => fs.rename(filePath, to));
  }

  /** Makes a rename into quarantine/ (to `target`) durable: both directories synced. */
  private async syncQuarantined(target: string, reached: (step: QuarantineStep) => void = () => undefined): Promise<void> {
    await syncDirectory(path.dirname(target));
    reached('quarantined');
    await this.dataDirSync.run();
    reached('directory-synced');
  }

  /**
   * Puts a file in quarantine/ under a free name derived from `name` (`place`: the link or rename
   * to that path), its `afterCopy` beside it. If `place` fails and no file arrived, the copy is
   * removed: the records it holds are still where they were, and each failed retry (a disk
   * failing with EIO at load after load) would otherwise leave one more copy with no file.
   */
  private async placeInQuarantine(
    name: string,
    afterCopy: Buffer | undefined,
    reached: (step: QuarantineStep) => void,
    place: (target: string) => Promise<void>,
  ): Promise<string> {
    const target = await this.prepareQuarantine(name, afterCopy, reached);
    try {
      await place(target);
    } catch (error) {
      if (afterCopy !== undefined && !(await exists(target).catch(() => true))) {
        await removeIfExists(target + AFTER_COPY_SUFFIX).catch(() => undefined);
      }
      throw error;
    }
    return target;
  }

  /**
   * A free path in quarantine/ for a file, with its `afterCopy` written and synced beside it
   * first: a crash before the file arrives leaves it where it was, to be quarantined again, with
   * a new copy, at the next load. No name is used whose `.after` is taken (such a copy, left with
   * no file by an attempt cut short, would pass for the new file's).
   */
  private async prepareQuarantine(name: string, afterCopy: Buffer | undefined, reached: (step: QuarantineStep) => void): Promise<string> {
    const quarantineDir = path.join(this.dataDir, QUARANTINE_DIR);
    const created = await fs.mkdir(quarantineDir, { recursive: true });
    // Its entry in DATA_DIR must be durable before a file set aside in it counts on it.
    if (created !== undefined) await this.dataDirSync.run();
    const target = path.join(quarantineDir, await unusedName(quarantineDir, name, [AFTER_COPY_SUFFIX]));
    if (afterCopy !== undefined) {
      await writeFileSynced(target + AFTER_COPY_SUFFIX, afterCopy, 'wx');
      await syncDirectory(quarantineDir);
      reached('after-copy-written');
    }
    return target;
  }

  /** The names in DATA_DIR; none when it does not exist yet (nothing was ever written). */
  private async dataDirNames(): Promise<string[]> {
    try {
      return await fs.readdir(this.dataDir);
    } catch (error) {
      if (isNotFound(error)) return [];
      throw error;
    }
  }
}

function pendingFor(generation: JournalGeneration, listId: string): PendingRecords {
  let pending = generation.pending.get(listId);
  if (pending === undefined) {
    pending = new PendingRecords();
    generation.pending.set(listId, pending);
  }
  return pending;
}

/** The segment files a generation's records are in: its own, or those of the previous run it replayed. */
function segmentNames(generation: JournalGeneration): string[] {
  const replayed = (generation.replayedSegments ?? []).map((segment) => segment.name);
  return generation.segment === undefined ? replayed : [path.basename(generation.segment.filePath), ...replayed];
}

/** Takes a failed append's updates, and those after it, out of what the checkpoint copies into the list's log. */
function forgetPendingFrom(generation: JournalGeneration, listId: string, pending: PendingRecords, offset: number): void {
  pending.truncate(offset);
  // A compaction or a copy may have dropped this list's records, and a later append started anew.
  if (pending.byteLength === 0 && generation.pending.get(listId) === pending) generation.pending.delete(listId);
}

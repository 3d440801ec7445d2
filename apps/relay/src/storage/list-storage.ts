/**
 * Where lists live between restarts. A list is stored as Yjs updates: a snapshot (one update
 * holding the whole document at the last compaction) followed by the updates appended since.
 *
 * Rules every implementation follows (checked by test/storage-contract.ts):
 * - `append` resolves only once the updates are durable; calls for one list are applied in order.
 * - `load` of a list never written returns no updates and creates nothing.
 * - `compact` replaces everything stored for the list by one snapshot, atomically: after a
 *   crash at any moment, `load` returns either the old or the new state (replaying both is fine,
 *   Yjs updates are idempotent). Given a SnapshotSource, it asks for the snapshot only once the
 *   compaction may start (its turn among the compactions, see CompactOptions), and stores
 *   nothing when the source gives none.
 */
export interface StoredList {
  /** Snapshot first (if any), then the appended updates in order. */
  readonly updates: Uint8Array[];
  /** Bytes currently stored for the list (snapshot + log), for the list size limit. */
  readonly storedBytes: number;
  /** Bytes in the append-only part, to decide when to compact. */
  readonly logBytes: number;
}

export interface ListStorage {
  /**
   * False while the storage can serve no list (the disk storage's journal of the previous run is
   * not back yet: its replay is running, or failed and is tried again). Absent: always ready.
   */
  readonly ready?: boolean;
  load(listId: string): Promise<StoredList>;
  append(listId: string, updates: readonly Uint8Array[]): Promise<void>;
  compact(listId: string, snapshot: Uint8Array | SnapshotSource, options?: CompactOptions): Promise<void>;
  /** Forget per-list resources (open files); the data stays stored. */
  release(listId: string): Promise<void>;
  close(): Promise<void>;
}

/**
 * The snapshot of a compaction, asked for once the compaction may start, and written at once;
 * undefined: nothing to compact any more. A list room stops its writes from the moment it takes
 * the snapshot until the compaction ends (the snapshot must hold every update stored before it):
 * taken earlier, the list's acknowledgements waited for every compaction queued ahead of it,
 * seconds after the idle sweep had unloaded many lists ([GC3]), and every snapshot waiting for
 * its turn was in memory.
 */
export type SnapshotSource = () => Promise<Uint8Array | undefined>;

export interface CompactOptions {
  /**
   * Nobody waits for it (a list being unloaded): it waits behind the compactions of loaded lists,
   * whose writes it would otherwise hold up.
   */
  readonly background?: boolean;
}

export const EMPTY_STORED_LIST: StoredList = { updates: [], storedBytes: 0, logBytes: 0 };

/**
 * Storage failures that lose nothing at once (the data stays where it was, and a later run
 * retries) but that an operator must see climbing: each is logged as `storage.<kind>` too.
 */
export type StorageFailureKind =
  | 'checkpoint_failed'
  | 'segment_copy_failed'
  | 'segment_close_failed'
  | 'segment_remove_failed'
  | 'log_close_failed'
  | 'journal_replay_failed'
  | 'journal_damaged'
  | 'journal_copy_deferred'
  | 'file_quarantined'
  | 'quarantine_failed'
  | 'torn_tail_cut_failed';

/** Timings and failures a storage reports for the metrics endpoint. */
export interface StorageObserver {
  /** One journal write finished: how many records it carried and how long it took. */
  journalWritten(records: number, seconds: number): void;
  /** One journal segment was copied into the list logs. */
  checkpointed(seconds: number): void;
  /** One failure of a background task, or damage found on disk. */
  failed(kind: StorageFailureKind): void;
}

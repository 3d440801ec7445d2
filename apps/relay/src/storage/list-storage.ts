/**
 * Where lists live between restarts. A list is stored as Yjs updates: a snapshot (one update
 * holding the whole document at the last compaction) followed by the updates appended since.
 *
 * Rules every implementation follows (checked by test/storage-contract.ts):
 * - `append` resolves only once the updates are durable; calls for one list are applied in order.
 * - `load` of a list never written returns no updates and creates nothing.
 * - `compact` replaces everything stored for the list by one snapshot, atomically: after a
 *   crash at any moment, `load` returns either the old or the new state (replaying both is fine,
 *   Yjs updates are idempotent).
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
  compact(listId: string, snapshot: Uint8Array): Promise<void>;
  /** Forget per-list resources (open files); the data stays stored. */
  release(listId: string): Promise<void>;
  close(): Promise<void>;
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

import type { FileHandle } from 'node:fs/promises';

/** A list log open for appending: `bytes` is where the next record goes (the end of its last complete record). */
export interface OpenLog {
  readonly handle: FileHandle;
  bytes: number;
}

interface Entry {
  /** Settles once the file is open; rejects if opening it failed (the entry is gone by then). */
  readonly ready: Promise<OpenLog>;
  log: OpenLog | undefined;
  /** Tasks using the handle now: it is never closed under them. */
  users: number;
  /** Taken out of the cache while in use: closed when its last user is done. */
  discarded: boolean;
}

/**
 * The list logs held open, at most `limit` at once, whatever the number of loaded lists: each is
 * a file descriptor, and a relay keeping one per loaded list ran out of them (EMFILE) with a few
 * hundred idle lists, failing accepts, loads and checkpoints (README, "The open-file limit").
 *
 * Least recently used first: opening one more log past the limit closes the least recently used
 * log no task is using, or waits until a task is done with one. A handle is never closed while a
 * task uses it (`use`), so a write (O_DSYNC, durable when it returns) always completes on the
 * file it started on before the file is closed, and its descriptor number cannot be reused
 * under it by another file. Waiting is deadlock-free as long as a task uses one log at a time
 * and finishes without waiting for another log: the disk storage's tasks do.
 *
 * Callers run at most one task per list at a time (the storage's per-list queues); `use` copes
 * with more, sharing the handle.
 */
export class OpenLogs {
  /** Least recently used first (Map keeps insertion order; a use re-inserts). */
  private readonly entries = new Map<string, Entry>();
  /** Descriptors held or being opened: entries, plus discarded or evicted ones not closed yet. */
  private files = 0;
  private waiters: Array<() => void> = [];

  constructor(
    readonly limit: number,
    private readonly open: (listId: string) => Promise<OpenLog>,
    private readonly onCloseError: (listId: string, error: unknown) => void = () => undefined,
  ) {
    if (!Number.isSafeInteger(limit) || limit < 1) throw new Error(`open log limit must be an integer ≥ 1, got ${limit}`);
  }

  /** Descriptors held now (open logs, and those being opened or closed); never more than the limit. */
  get fileCount(): number {
    return this.files;
  }

  has(listId: string): boolean {
    return this.entries.has(listId);
  }

  /** Runs `task` with the list's log, opening it (within the limit) if it is not open. */
  async use<T>(listId: string, task: (log: OpenLog) => Promise<T>): Promise<T> {
    const entry = await this.pin(listId);
    return this.runPinned(listId, entry, task);
  }

  /**
   * Closes the list's log, if open. One in use (its own task discarding it after a failed write)
   * is taken out at once and closed when that task is done.
   */
  async discard(listId: string): Promise<void> {
    const entry = this.entries.get(listId);
    if (entry === undefined) return;
    this.entries.delete(listId);
    if (entry.users > 0) {
      entry.discarded = true;
      return;
    }
    await this.closeEntry(entry);
  }

  /** Closes every log; no task may be using one (the storage's queues have settled). */
  async closeAll(): Promise<void> {
    const entries = [...this.entries.values()];
    this.entries.clear();
    await Promise.allSettled(entries.map((entry) => this.closeEntry(entry)));
  }

  private async runPinned<T>(listId: string, entry: Entry, task: (log: OpenLog) => Promise<T>): Promise<T> {
    try {
      return await task(await entry.ready);
    } finally {
      entry.users -= 1;
      if (entry.users === 0 && entry.discarded) {
        await this.closeEntry(entry).catch((error: unknown) => this.onCloseError(listId, error));
      }
      this.wake();
    }
  }

  /**
   * The list's entry with one more user, made most recently used. When it is not open, a slot is
   * found (closing the least recently used idle log, or waiting for one) and the opening starts.
   */
  private async pin(listId: string): Promise<Entry> {
    for (;;) {
      const existing = this.entries.get(listId);
      if (existing !== undefined) {
        existing.users += 1;
        this.entries.delete(listId);
        this.entries.set(listId, existing);
        return existing;
      }
      if (this.files < this.limit) return this.startOpening(listId);
      const idle = this.leastRecentlyUsedIdle();
      if (idle !== undefined) {
        this.entries.delete(idle.listId);
        await this.closeEntry(idle.entry).catch((error: unknown) => this.onCloseError(idle.listId, error));
      } else {
        // Every open log is in use: one will be done soon (a write or a truncation).
        await new Promise<void>((resolve) => this.waiters.push(resolve));
      }
    }
  }

  private startOpening(listId: string): Entry {
    this.files += 1;
    const entry: Entry = {
      ready: this.open(listId).then(
        (log) => {
          entry.log = log;
          return log;
        },
        (error: unknown) => {
          if (this.entries.get(listId) === entry) this.entries.delete(listId);
          this.files -= 1;
          this.wake();
          throw error;
        },
      ),
      log: undefined,
      users: 1,
      discarded: false,
    };
    this.entries.set(listId, entry);
    return entry;
  }

  private leastRecentlyUsedIdle(): { listId: string; entry: Entry } | undefined {
    for (const [listId, entry] of this.entries) {
      if (entry.users === 0 && entry.log !== undefined) return { listId, entry };
    }
    return undefined;
  }

  /** Closes an entry already taken out of `entries`; its descriptor counts until the close returns. */
  private async closeEntry(entry: Entry): Promise<void> {
    try {
      const log = await entry.ready.catch(() => undefined);
      // A failed open already gave its slot back.
      if (log === undefined) return;
      try {
        await log.handle.close();
      } finally {
        this.files -= 1;
      }
    } finally {
      this.wake();
    }
  }

  private wake(): void {
    const waiters = this.waiters;
    this.waiters = [];
    for (const resolve of waiters) resolve();
  }
}

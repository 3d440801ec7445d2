/**
 * Group commit for one list: updates that arrive while a write+fsync is in flight wait in the
 * open batch and share the next fsync.
 *
 * The state vector of a batch is read when the batch is cut, synchronously, while nothing else
 * runs: at that instant the document holds exactly the updates of this batch plus everything
 * written before, so the vector describes only what will be durable once the write resolves.
 * Waiters registered after the cut belong to the next batch and are acknowledged only after it.
 *
 * A failed write (a full or broken disk) acknowledges nobody. Its updates and waiters go back
 * into the open batch, in front of what arrived meanwhile, and are written again after a delay
 * that doubles up to `maxRetryDelayMs`: the list stays served, only its acknowledgements wait.
 */
import { inThisTurn } from './turn-batch.js';

export interface GroupCommitOptions<Waiter> {
  readonly write: (updates: readonly Uint8Array[]) => Promise<void>;
  readonly readStateVector: () => Uint8Array;
  readonly onDurable: (storedStateVector: Uint8Array, waiters: ReadonlyMap<Waiter, number>, updateCount: number) => void;
  /**
   * Told of each failed write: when it is tried again (undefined: never, after `close`) and how
   * many bytes of accepted updates are then not durable.
   */
  readonly onWriteFailed: (error: unknown, retryInMs: number | undefined, unwrittenBytes: number) => void;
  /**
   * Defers the cut so updates from the same I/O turn share a batch (default: `inThisTurn`, shared
   * with every list so their batches reach the journal together).
   */
  readonly schedule?: (task: () => void) => void;
  /** First delay before writing again after a failure (default 500 ms); doubles per failure. */
  readonly firstRetryDelayMs?: number;
  readonly maxRetryDelayMs?: number;
}

const DEFAULT_FIRST_RETRY_DELAY_MS = 500;
const DEFAULT_MAX_RETRY_DELAY_MS = 15_000;

interface Batch<Waiter> {
  updates: Uint8Array[];
  bytes: number;
  /** Waiter → time its oldest unacknowledged message arrived. */
  waiters: Map<Waiter, number>;
}

export class GroupCommit<Waiter> {
  private open: Batch<Waiter> = emptyBatch();
  /** The batch being written, until its write settles. */
  private writing: Batch<Waiter> | undefined;
  private busy = false;
  private cutScheduled = false;
  /** Failed writes in a row; the next attempt waits for `retryTimer`. */
  private failures = 0;
  private retryTimer: NodeJS.Timeout | undefined;
  /** After `close`: a failed write is not tried again, its waiters are never acknowledged. */
  private closed = false;
  /**
   * A write failed after `close` and was given up: the document now holds updates that are not
   * stored, and every later state vector covers them, so nothing may be acknowledged any more.
   */
  private abandonedWrite = false;
  private idleResolvers: Array<() => void> = [];
  /** Exclusive tasks, each wrapped to settle its caller's promise; the wrapper never rejects. */
  private readonly exclusive: Array<() => Promise<void>> = [];
  private readonly schedule: (task: () => void) => void;

  constructor(private readonly options: GroupCommitOptions<Waiter>) {
    this.schedule = options.schedule ?? inThisTurn;
  }

  /**
   * Bytes accepted but not yet durable: the open batch and the one being written. The list's
   * stored bytes grow only once a write returns, and without the batch in flight a slow disk let
   * a list past its size limit by a whole batch at each write.
   */
  get pendingBytes(): number {
    return this.open.bytes + (this.writing?.bytes ?? 0);
  }

  /** True from a failed write until a write succeeds again (while its retries are waited for or run). */
  get isFailing(): boolean {
    return this.failures > 0;
  }

  get isIdle(): boolean {
    return (
      !this.busy &&
      !this.cutScheduled &&
      this.retryTimer === undefined &&
      this.exclusive.length === 0 &&
      this.open.updates.length === 0 &&
      this.open.waiters.size === 0
    );
  }

  add(update: Uint8Array): void {
    this.open.updates.push(update);
    this.open.bytes += update.length;
    this.requestCut();
  }

  /** `waiter` gets an acknowledgement once everything accepted so far is durable. */
  addWaiter(waiter: Waiter, receivedAt: number): void {
    if (!this.open.waiters.has(waiter)) this.open.waiters.set(waiter, receivedAt);
    this.requestCut();
  }

  /**
   * `waiter` is gone (its phone left). Also from the batch being written: if that write fails,
   * its waiters go back into the open batch, and a list whose writes kept failing (a full disk)
   * held on to every phone that had left during one, for as long as the disk stayed full ([LK1]).
   */
  removeWaiter(waiter: Waiter): void {
    this.open.waiters.delete(waiter);
    this.writing?.waiters.delete(waiter);
  }

  /**
   * Runs `task` between two writes (after the one in flight, before the next cut), holding
   * further writes until it finishes. Used for compaction, which must not interleave with appends.
   */
  runExclusive<T>(task: () => Promise<T>): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      this.exclusive.push(() => task().then(resolve, reject));
      if (!this.busy) this.drain();
    });
  }

  /** Resolves once every accepted update is durable (after `close`: or its last write failed). */
  whenIdle(): Promise<void> {
    if (this.isIdle) return Promise.resolve();
    return new Promise((resolve) => this.idleResolvers.push(resolve));
  }

  /**
   * For shutdown: writes what is open now without waiting out a retry delay, and resolves once
   * that is durable or has failed once more. Updates then still unwritten were never
   * acknowledged; their senders keep them and send them again on reconnect.
   */
  close(): Promise<void> {
    this.closed = true;
    if (this.retryTimer !== undefined) {
      clearTimeout(this.retryTimer);
      this.retryTimer = undefined;
      this.drain();
    }
    return this.whenIdle();
  }

  private requestCut(): void {
    if (this.cutScheduled || this.busy || this.retryTimer !== undefined) return;
    this.cutScheduled = true;
    this.schedule(() => {
      this.cutScheduled = false;
      this.cut();
    });
  }

  private cut(): void {
    if (this.busy || this.retryTimer !== undefined) return;
    const batch = this.open;
    if (batch.updates.length === 0 && batch.waiters.size === 0) {
      this.notifyIdle();
      return;
    }
    this.open = emptyBatch();
    const storedStateVector = this.options.readStateVector();
    if (batch.updates.length === 0) {
      this.acknowledgeThenDrain(storedStateVector, batch.waiters, 0);
      return;
    }
    this.busy = true;
    this.writing = batch;
    this.options.write(batch.updates).then(
      () => {
        this.busy = false;
        this.writing = undefined;
        this.failures = 0;
        this.acknowledgeThenDrain(storedStateVector, batch.waiters, batch.updates.length);
      },
      (error: unknown) => {
        this.busy = false;
        this.writing = undefined;
        if (this.closed) {
          this.abandonedWrite = true;
          this.options.onWriteFailed(error, undefined, batch.bytes + this.open.bytes);
          this.drain();
          return;
        }
        this.reopen(batch);
        const delay = Math.min(
          (this.options.firstRetryDelayMs ?? DEFAULT_FIRST_RETRY_DELAY_MS) * 2 ** this.failures,
          this.options.maxRetryDelayMs ?? DEFAULT_MAX_RETRY_DELAY_MS,
        );
        this.failures += 1;
        this.options.onWriteFailed(error, delay, this.open.bytes);
        this.retryTimer = setTimeout(() => {
          this.retryTimer = undefined;
          this.drain();
        }, delay);
        // Shutdown goes through close(), which writes at once: the timer must not hold the process.
        this.retryTimer.unref();
      },
    );
  }

  /**
   * Whatever the acknowledgement throws, the next batch is still cut: skipped, the updates that
   * arrived during the write would wait for a later message, and `whenIdle` (a flush, an unload,
   * the shutdown) for ever. The error is thrown on to whoever runs this turn.
   */
  private acknowledgeThenDrain(storedStateVector: Uint8Array, waiters: ReadonlyMap<Waiter, number>, updateCount: number): void {
    try {
      if (!this.abandonedWrite) this.options.onDurable(storedStateVector, waiters, updateCount);
    } finally {
      this.drain();
    }
  }

  /** Puts a failed batch back in front of the open one: its updates are older. */
  private reopen(failed: Batch<Waiter>): void {
    const later = this.open;
    const waiters = new Map(failed.waiters);
    for (const [waiter, receivedAt] of later.waiters) if (!waiters.has(waiter)) waiters.set(waiter, receivedAt);
    this.open = { updates: [...failed.updates, ...later.updates], bytes: failed.bytes + later.bytes, waiters };
  }

  /** Called whenever nothing is in flight: exclusive tasks first, then the next batch. */
  private drain(): void {
    if (this.busy) return;
    const next = this.exclusive.shift();
    if (next !== undefined) {
      this.busy = true;
      void next()
        .finally(() => {
          this.busy = false;
          this.drain();
        });
      return;
    }
    if (this.open.updates.length > 0 || this.open.waiters.size > 0) this.requestCut();
    else this.notifyIdle();
  }

  private notifyIdle(): void {
    if (!this.isIdle) return;
    const resolvers = this.idleResolvers;
    this.idleResolvers = [];
    for (const resolve of resolvers) resolve();
  }
}

function emptyBatch<Waiter>(): Batch<Waiter> {
  return { updates: [], bytes: 0, waiters: new Map() };
}

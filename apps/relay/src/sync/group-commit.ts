/**
 * Group commit for one list: updates that arrive while a write+fsync is in flight wait in the
 * open batch and share the next fsync.
 *
 * The state vector of a batch is read when the batch is cut, synchronously, while nothing else
 * runs: at that instant the document holds exactly the updates of this batch plus everything
 * written before, so the vector describes only what will be durable once the write resolves.
 * Waiters registered after the cut belong to the next batch and are acknowledged only after it.
 */
export interface GroupCommitOptions<Waiter> {
  readonly write: (updates: readonly Uint8Array[]) => Promise<void>;
  readonly readStateVector: () => Uint8Array;
  readonly onDurable: (storedStateVector: Uint8Array, waiters: ReadonlyMap<Waiter, number>, updateCount: number) => void;
  readonly onWriteFailed: (error: unknown) => void;
  /** Defers the cut so updates from the same I/O turn share a batch. */
  readonly schedule?: (task: () => void) => void;
}

interface Batch<Waiter> {
  updates: Uint8Array[];
  bytes: number;
  /** Waiter → time its oldest unacknowledged message arrived. */
  waiters: Map<Waiter, number>;
}

export class GroupCommit<Waiter> {
  private open: Batch<Waiter> = emptyBatch();
  private busy = false;
  private cutScheduled = false;
  private failed = false;
  private idleResolvers: Array<() => void> = [];
  /** Exclusive tasks, each wrapped to settle its caller's promise; the wrapper never rejects. */
  private readonly exclusive: Array<() => Promise<void>> = [];
  private readonly schedule: (task: () => void) => void;

  constructor(private readonly options: GroupCommitOptions<Waiter>) {
    this.schedule = options.schedule ?? ((task) => setImmediate(task));
  }

  /** Bytes accepted but not yet durable. */
  get pendingBytes(): number {
    return this.open.bytes;
  }

  get isIdle(): boolean {
    return (
      !this.busy &&
      !this.cutScheduled &&
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

  removeWaiter(waiter: Waiter): void {
    this.open.waiters.delete(waiter);
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

  /** Resolves once every accepted update is durable (or the committer failed). */
  whenIdle(): Promise<void> {
    if (this.isIdle || this.failed) return Promise.resolve();
    return new Promise((resolve) => this.idleResolvers.push(resolve));
  }

  private requestCut(): void {
    if (this.cutScheduled || this.busy || this.failed) return;
    this.cutScheduled = true;
    this.schedule(() => {
      this.cutScheduled = false;
      this.cut();
    });
  }

  private cut(): void {
    if (this.busy || this.failed) return;
    const batch = this.open;
    if (batch.updates.length === 0 && batch.waiters.size === 0) {
      this.notifyIdle();
      return;
    }
    this.open = emptyBatch();
    const storedStateVector = this.options.readStateVector();
    if (batch.updates.length === 0) {
      this.options.onDurable(storedStateVector, batch.waiters, 0);
      this.drain();
      return;
    }
    this.busy = true;
    this.options.write(batch.updates).then(
      () => {
        this.busy = false;
        this.options.onDurable(storedStateVector, batch.waiters, batch.updates.length);
        this.drain();
      },
      (error: unknown) => {
        this.busy = false;
        this.failed = true;
        this.options.onWriteFailed(error);
        this.notifyIdle();
      },
    );
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
    if (!this.isIdle && !this.failed) return;
    const resolvers = this.idleResolvers;
    this.idleResolvers = [];
    for (const resolve of resolvers) resolve();
  }
}

function emptyBatch<Waiter>(): Batch<Waiter> {
  return { updates: [], bytes: 0, waiters: new Map() };
}

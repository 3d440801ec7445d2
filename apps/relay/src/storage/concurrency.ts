/** Concurrency helpers of the disk storage: shared runs (fsyncs, checkpoints), one-time setup, bounded parallel loops. */

/**
 * `task` run once, its promise shared by every caller, until it fails: a failure is not kept,
 * so a passing one (out of file descriptors) does not fail every later caller until a restart.
 */
export function onceItSucceeds(task: () => Promise<void>): () => Promise<void> {
  let result: Promise<void> | undefined;
  return () => {
    result ??= task().catch((error: unknown) => {
      result = undefined;
      throw error;
    });
    return result;
  };
}

/**
 * Group commit for an fsync (or a checkpoint): a caller arriving while one is in flight waits
 * for the next one, which starts after the current one ends and so covers the caller's changes;
 * every caller arriving meanwhile shares that next one.
 */
export class CoalescedRun {
  private inFlight: Promise<void> | undefined;
  private next: Promise<void> | undefined;

  constructor(private readonly task: () => Promise<void>) {}

  get hasQueuedRun(): boolean {
    return this.next !== undefined;
  }

  run(): Promise<void> {
    if (this.inFlight === undefined) {
      this.inFlight = this.task().finally(() => {
        this.inFlight = undefined;
      });
      return this.inFlight;
    }
    this.next ??= this.inFlight
      .catch(() => undefined)
      .then(() => {
        this.next = undefined;
        return this.run();
      });
    return this.next;
  }
}

/**
 * Runs `task` over `items` with at most `limit` in flight; rejects with the first failure after
 * all settle. With `widenWhen`, one runs at a time until that promise resolves, then up to `limit`.
 */
export async function forEachConcurrently<T>(items: readonly T[], limit: number, task: (item: T) => Promise<void>, widenWhen?: Promise<void>): Promise<void> {
  let next = 0;
  let failure: { error: unknown } | undefined;
  const worker = async (): Promise<void> => {
    while (next < items.length) {
      const item = items[next++] as T;
      try {
        await task(item);
      } catch (error) {
        failure ??= { error };
      }
    }
  };
  const first = worker();
  const others = Array.from({ length: Math.min(limit, items.length) - 1 }, async () => {
    // The first worker never rejects: once it is done, there is nothing left to take.
    if (widenWhen !== undefined) await Promise.race([widenWhen, first]);
    await worker();
  });
  await Promise.all([first, ...others]);
  if (failure !== undefined) throw failure.error;
}

/**
 * At most `limit` tasks run at once; the others wait their turn, first come first served, except
 * that `background` tasks (nobody waits for them) wait behind every other. Bounds what the tasks
 * hold together, such as open files (see file-limit.ts).
 */
export class Slots {
  private running = 0;
  private readonly waiting: Array<() => void> = [];
  private readonly waitingInBackground: Array<() => void> = [];

  constructor(private readonly limit: number) {
    if (!Number.isSafeInteger(limit) || limit < 1) throw new Error(`slot limit must be an integer ≥ 1, got ${limit}`);
  }

  async run<T>(task: () => Promise<T>, background = false): Promise<T> {
    if (this.running >= this.limit) await new Promise<void>((resolve) => (background ? this.waitingInBackground : this.waiting).push(resolve));
    // A slot freed by a finished task is handed over directly (see finally): `running` stays counted.
    else this.running += 1;
    try {
      return await task();
    } finally {
      const next = this.waiting.shift() ?? this.waitingInBackground.shift();
      if (next !== undefined) next();
      else this.running -= 1;
    }
  }
}

/**
 * Spreads the steps of a background task (a checkpoint's list copies) evenly over `spreadMs`, so
 * its disk writes come between the journal's rather than in one burst that every durable
 * acknowledgement queues behind. `hurry()` drops the pacing: shutdown, or a caller waiting on it.
 */
export class Pacer {
  private readonly startedAt = performance.now();
  private step = 0;
  private hurried = false;
  private resolveHurried!: () => void;
  private readonly hurriedSignal = new Promise<void>((resolve) => (this.resolveHurried = resolve));

  constructor(
    private readonly spreadMs: number,
    private readonly steps: number,
  ) {}

  /** Resolves when the next step is due (at once if it is late, or once hurried). */
  nextStep(): Promise<void> {
    const dueAt = this.startedAt + (this.step++ * this.spreadMs) / Math.max(1, this.steps);
    const delay = dueAt - performance.now();
    if (this.hurried || delay <= 0) return Promise.resolve();
    return new Promise((resolve) => {
      const timer = setTimeout(resolve, delay);
      void this.hurriedSignal.then(() => {
        clearTimeout(timer);
        resolve();
      });
    });
  }

  /** Resolves once hurried: the paced task may then do several steps at once. */
  whenHurried(): Promise<void> {
    return this.hurriedSignal;
  }

  hurry(): void {
    this.hurried = true;
    this.resolveHurried();
  }
}

/**
 * Loads one address may have replaying at once. A load is charged to its address only as it
 * runs, so without a cap an address could start any number at once, all before the first was
 * charged. Loads past it wait their turn instead of being refused: after a restart every phone
 * reconnects at once, and many of them can share one address (a carrier NAT, a proxy). Their
 * reads from disk do not wait (see ListRoom's LoadPayer).
 */
export const MAX_LOADS_IN_FLIGHT_PER_ADDRESS = 4;

/** A waiting load looks at the budget again at least this often: the clock it reads may be stepped. */
const CREDIT_RECHECK_MS = 1000;

export interface LoadTurnsOptions {
  /** Whether the address has event-loop time left, and if not, how long until it has. */
  readonly hasCredit: () => boolean;
  readonly msUntilCredit: () => number;
  /** A load has to wait for the budget (counted once per wait, not per recheck). */
  readonly onWaitForCredit: () => void;
}

/**
 * The lists one address's connections asked the relay to load: at most
 * MAX_LOADS_IN_FLIGHT_PER_ADDRESS at a time, each started only while the address has event-loop
 * credit, in the order asked. Its phones are connected meanwhile, and their messages wait in the
 * list as they do during any load.
 */
export class LoadTurns {
  private running = 0;
  private readonly waiting: Array<() => void> = [];
  private creditTimer: NodeJS.Timeout | undefined;
  private waitingForCredit = false;

  constructor(private readonly options: LoadTurnsOptions) {}

  /** Loads running or waiting. */
  get busy(): boolean {
    return this.running > 0 || this.waiting.length > 0;
  }

  /** Resolves when the address may start this load; `finished` must follow it. */
  turn(): Promise<void> {
    return new Promise((resolve) => {
      this.waiting.push(resolve);
      this.startWhatMay();
    });
  }

  finished(): void {
    this.running -= 1;
    this.startWhatMay();
  }

  private startWhatMay(): void {
    while (this.waiting.length > 0 && this.running < MAX_LOADS_IN_FLIGHT_PER_ADDRESS) {
      if (!this.options.hasCredit()) {
        this.recheckCreditLater();
        return;
      }
      this.waitingForCredit = false;
      this.running += 1;
      (this.waiting.shift() as () => void)();
    }
  }

  private recheckCreditLater(): void {
    if (!this.waitingForCredit) this.options.onWaitForCredit();
    this.waitingForCredit = true;
    if (this.creditTimer !== undefined) return;
    const waitMs = Math.min(CREDIT_RECHECK_MS, Math.max(1, this.options.msUntilCredit()));
    this.creditTimer = setTimeout(() => {
      this.creditTimer = undefined;
      this.startWhatMay();
    }, waitMs);
    this.creditTimer.unref();
  }
}

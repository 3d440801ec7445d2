/**
 * Allows `ratePerSecond` on average with bursts up to `capacity`; time comes from `now`. Costs
 * charged after the fact may leave it up to `maxDebt` below zero (by default the capacity).
 */
export class TokenBucket {
  private tokens: number;
  private lastRefill: number;

  constructor(
    private readonly ratePerSecond: number,
    readonly capacity: number,
    private readonly now: () => number,
    private readonly maxDebt = capacity,
  ) {
    this.tokens = capacity;
    this.lastRefill = now();
  }

  tryTake(amount: number): boolean {
    this.refill();
    if (this.tokens < amount) return false;
    this.tokens -= amount;
    return true;
  }

  /** Gives back `amount` taken for something that turned out to cost nothing. */
  refund(amount: number): void {
    this.refill();
    this.tokens = Math.min(this.capacity, this.tokens + amount);
  }

  /**
   * Takes `amount` after the fact, for costs known only once paid (time spent): the balance may
   * go negative, down to minus `maxDebt`, and `hasCredit` is false until it refills past zero.
   */
  charge(amount: number): void {
    this.refill();
    this.tokens = Math.max(-this.maxDebt, this.tokens - amount);
  }

  hasCredit(): boolean {
    this.refill();
    return this.tokens > 0;
  }

  /** Milliseconds until `amount` can be taken (0: now). */
  msUntil(amount: number): number {
    this.refill();
    return Math.max(0, Math.ceil(((amount - this.tokens) / this.ratePerSecond) * 1000));
  }

  isFull(): boolean {
    this.refill();
    return this.tokens >= this.capacity;
  }

  private refill(): void {
    const current = this.now();
    const elapsedSeconds = Math.max(0, current - this.lastRefill) / 1000;
    this.lastRefill = current;
    this.tokens = Math.min(this.capacity, this.tokens + elapsedSeconds * this.ratePerSecond);
  }
}

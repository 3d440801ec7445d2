/** Allows `ratePerSecond` on average with bursts up to `capacity`; time comes from `now`. */
export class TokenBucket {
  private tokens: number;
  private lastRefill: number;

  constructor(
    private readonly ratePerSecond: number,
    private readonly capacity: number,
    private readonly now: () => number,
  ) {
    this.tokens = capacity;
    this.lastRefill = now();
  }

  tryTake(amount: number): boolean {
    const current = this.now();
    const elapsedSeconds = Math.max(0, current - this.lastRefill) / 1000;
    this.lastRefill = current;
    this.tokens = Math.min(this.capacity, this.tokens + elapsedSeconds * this.ratePerSecond);
    if (this.tokens < amount) return false;
    this.tokens -= amount;
    return true;
  }
}

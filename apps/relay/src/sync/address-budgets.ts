import { TokenBucket } from '../token-bucket.js';

/**
 * What one address (IP) may make the relay do per second, counted in deliveries: each message
 * it sends is one, plus one per phone the relay forwards it to. The per-connection limits do not
 * bound this: up to `MAX_CONNECTIONS_PER_IP` connections on one list, each within its own rate,
 * would have every message sent on to all the others, hundreds of socket writes per message
 * received, enough to fill the relay's CPU from one address.
 *
 * A family behind one router, or many users behind a carrier NAT, send a few messages a second
 * each and stay far below the default; the budget is per address, not per list, so a busy
 * shared list is only limited when one address drives it hard.
 */
export class AddressBudgets {
  private readonly budgets = new Map<string, TokenBucket>();

  constructor(
    private readonly deliveriesPerSecond: number,
    private readonly now: () => number,
  ) {}

  /** The budget every connection from `address` draws on. */
  forAddress(address: string): TokenBucket {
    let budget = this.budgets.get(address);
    if (budget === undefined) {
      budget = new TokenBucket(this.deliveriesPerSecond, this.deliveriesPerSecond * 2, this.now);
      this.budgets.set(address, budget);
    }
    return budget;
  }

  /**
   * Forgets addresses with no connection whose budget has refilled: kept until then, so closing
   * every connection and opening new ones does not start an address over with a full budget.
   */
  sweep(hasConnections: (address: string) => boolean): void {
    for (const [address, budget] of this.budgets) {
      if (!hasConnections(address) && budget.isFull()) this.budgets.delete(address);
    }
  }

  get size(): number {
    return this.budgets.size;
  }
}

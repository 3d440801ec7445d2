import { TokenBucket } from '../token-bucket.js';
import { HeldLists } from './held-lists.js';
import { LoadTurns } from './load-turns.js';
import type { PresenceShare } from './presence-bytes.js';
import { PresenceBytesPool } from './presence-bytes.js';
import type { ListRoom } from './list-room.js';
import type { ListRequester } from './room-registry.js';

/**
 * What one address (IP) may make the relay do, shared by all its connections. The
 * per-connection limits do not bound this: up to `MAX_CONNECTIONS_PER_IP` connections, each
 * within its own rate, multiply it.
 *
 * A family behind one router, or many users behind a carrier NAT, send a few messages a second
 * each and stay far below the defaults; the budgets are per address, not per list, so a busy
 * shared list is only limited when one address drives it hard.
 */
export interface AddressBudget {
  /**
   * Messages, each counting one plus one per phone the relay sends it on to: many connections
   * on one list would otherwise have every message written to hundreds of sockets.
   */
  readonly deliveries: TokenBucket;
  /**
   * Milliseconds of the relay's event loop its messages took, charged after each. Catches what
   * counting cannot: updates valid in every way that are slow for Yjs to apply (a conflict built
   * up one small update at a time costs each next one more, see README).
   */
  readonly loopMs: TokenBucket;
  /**
   * Bytes its updates added to the lists on disk, charged once accepted: each list has its own
   * size limit, so without this one address could fill the disk by creating list after list,
   * and a full disk stops acknowledgements for everyone.
   */
  readonly storedBytes: TokenBucket;
  /**
   * Its frames being checked on the decode worker now (at most one): each is charged only once
   * checked, so without waiting its turn an address could queue a frame per connection there,
   * all checked before the first was charged, and hold the worker from every other address.
   */
  decodesInFlight: number;
  /** The lists its connections asked the relay to load: a few at a time, while it has credit. */
  readonly loads: LoadTurns;
  /** The loaded lists its connections are on (Connection holds and releases them). */
  readonly lists: HeldLists<ListRoom>;
  /** The presence states its connections carry, on every list (see PresenceBytesPool). */
  readonly presenceBytes: PresenceShare;
}

/** `budget`'s address as RoomRegistry sees it: paying for the lists it loads, holding lists of its own. */
export function requesterOf(budget: AddressBudget): ListRequester {
  return {
    turn: () => budget.loads.turn(),
    charge: (ms) => budget.loopMs.charge(ms),
    finished: () => budget.loads.finished(),
    heldListBytes: (except) => budget.lists.bytes(except),
  };
}

/**
 * How many seconds of its event-loop budget an address may owe. A message is handled whatever it
 * costs, so with debt capped at the burst one that took seconds (a valid update of millions of
 * tiny structs takes Yjs 13 s for 16 MiB) was charged half a second, and an address sending such
 * messages one after another held the event loop most of the time. Owing up to a minute, it pays
 * for all but the most extreme ones, and its share over time stays near its budget; an honest
 * phone after uploading a large list the relay lacks (1–2 s to apply) waits a few seconds.
 */
const LOOP_DEBT_SECONDS = 60;

export interface AddressLimits {
  readonly deliveriesPerSecond: number;
  readonly loopMsPerSecond: number;
  /** Also the burst: what an address may store in any one hour. */
  readonly storedBytesPerHour: number;
}

export class AddressBudgets {
  private readonly budgets = new Map<string, AddressBudget>();

  constructor(
    private readonly limits: AddressLimits,
    private readonly now: () => number,
    /** An address's load waits for its event-loop budget (see LoadTurns). */
    private readonly onLoadWaiting: () => void = () => undefined,
    readonly presence: PresenceBytesPool = new PresenceBytesPool(),
  ) {}

  /** The budget every connection from `address` draws on. */
  forAddress(address: string): AddressBudget {
    let budget = this.budgets.get(address);
    if (budget === undefined) {
      const { deliveriesPerSecond, loopMsPerSecond, storedBytesPerHour } = this.limits;
      const loopMs = new TokenBucket(loopMsPerSecond, loopMsPerSecond * 2, this.now, loopMsPerSecond * LOOP_DEBT_SECONDS);
      budget = {
        deliveries: new TokenBucket(deliveriesPerSecond, deliveriesPerSecond * 2, this.now),
        loopMs,
        storedBytes: new TokenBucket(storedBytesPerHour / 3600, storedBytesPerHour, this.now),
        decodesInFlight: 0,
        loads: new LoadTurns({
          hasCredit: () => loopMs.hasCredit(),
          msUntilCredit: () => loopMs.msUntil(1),
          onWaitForCredit: this.onLoadWaiting,
        }),
        lists: new HeldLists(),
        presenceBytes: this.presence.share(),
      };
      this.budgets.set(address, budget);
    }
    return budget;
  }

  /**
   * Forgets addresses with no connection whose budget has refilled and that have nothing in
   * flight: kept until then, so closing every connection and opening new ones does not start an
   * address over with a full budget, nor with its frame on the worker and its loads forgotten.
   */
  sweep(hasConnections: (address: string) => boolean): void {
    for (const [address, budget] of this.budgets) {
      const refilled = budget.deliveries.isFull() && budget.loopMs.isFull() && budget.storedBytes.isFull();
      // Presence it carries on lists still loaded is still charged to it.
      const idle = budget.decodesInFlight === 0 && !budget.loads.busy && budget.presenceBytes.held === 0;
      if (!hasConnections(address) && refilled && idle) this.budgets.delete(address);
    }
  }

  /** The budget of `address` if it has one: an address without one has nothing held or owed. */
  existing(address: string): AddressBudget | undefined {
    return this.budgets.get(address);
  }


  get size(): number {
    return this.budgets.size;
  }
}

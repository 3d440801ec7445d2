/**
 * Presence bytes held across lists: one address's share, and the relay's total. Each list bounds
 * its own presence (PresenceLimits), but an address's connections can each be on another list:
 * 200 connections on 200 lists could hold 50 MB of presence, and a few such addresses fill the
 * heap, which no list size or loaded-list bound counts ([A17]).
 */
export interface PresenceBytesLimits {
  /** Far above a household or a carrier NAT: 200 phones' states of ~300 bytes are 60 kB. */
  readonly perAddress: number;
  /** 20,000 connections' honest states are about 6 MB of it. */
  readonly total: number;
}

export const DEFAULT_PRESENCE_BYTES_LIMITS: PresenceBytesLimits = {
  perAddress: 1024 * 1024,
  total: 64 * 1024 * 1024,
};

export class PresenceBytesPool {
  held = 0;

  constructor(readonly limits: PresenceBytesLimits = DEFAULT_PRESENCE_BYTES_LIMITS) {}

  /** One address's share of the pool. */
  share(): PresenceShare {
    return new PresenceShare(this);
  }
}

/** What one address's connections' presence states cost (AwarenessEntry.stateBytes), on every list. */
export class PresenceShare {
  held = 0;

  constructor(private readonly pool: PresenceBytesPool) {}

  /**
   * Whether `added` more bytes fit, once `freedHere` of this share's and `freedAnywhere` of the
   * pool's (this share's included) are given back.
   */
  fits(added: number, freedHere: number, freedAnywhere: number): boolean {
    const { perAddress, total } = this.pool.limits;
    return this.held - freedHere + added <= perAddress && this.pool.held - freedAnywhere + added <= total;
  }

  change(delta: number): void {
    this.held += delta;
    this.pool.held += delta;
  }
}

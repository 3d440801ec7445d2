/**
 * Bytes the relay holds for its connections, per address and in all, in one direction: unsent
 * bytes waiting for peers that have not read them (the send backlog, `ws`'s `bufferedAmount`),
 * or bytes read from peers and not yet handled (a frame still arriving, frames waiting for their
 * address's budgets). `ws` bounds only each socket's own, and that alone lets the
 * `MAX_CONNECTIONS_PER_IP` sockets of one address hold that much each: 200 × 16 MiB unsent, or
 * 200 × 9 MiB of frames sent but never finished (at the defaults).
 *
 * Kept cheap, as it runs on every send or read: each connection is counted for the bytes it held
 * when last looked at. What it holds grows only by a send or a read, and it is looked at after
 * each, so the sums are never below the truth; only when one would pass its bound are the connections of
 * that address (or of the relay) asked for what they hold now, and the sums corrected.
 *
 * When a connection would pass a shared bound, the connections holding the most under it are
 * dropped first, this one only if its own is the largest. Dropping the connection that passed it,
 * whoever it was, let a few sockets that never read fill the relay's bound and then cost every
 * honest phone its connection at its next message, again after every reconnect, while they
 * stayed.
 */
export interface SharedBacklogLimits {
  readonly perAddressBytes: number;
  readonly totalBytes: number;
}

/** Which shared bound a connection would pass. */
export type BacklogBound = 'address' | 'relay';

interface AddressBacklog {
  readonly address: string;
  bytes: number;
  readonly shares: Set<BacklogShare>;
}

/** Drops a connection to free what it holds; it must release its share before returning. */
export type Evict = (bound: BacklogBound) => void;

export class SharedBacklogs {
  private totalBytes = 0;
  private readonly addresses = new Map<string, AddressBacklog>();

  constructor(private readonly limits: SharedBacklogLimits) {}

  /** A connection's share of its address's and the relay's backlog; `readBacklog` reads what it holds now. */
  open(address: string, readBacklog: () => number): BacklogShare {
    let backlog = this.addresses.get(address);
    if (backlog === undefined) {
      backlog = { address, bytes: 0, shares: new Set() };
      this.addresses.set(address, backlog);
    }
    const share = new BacklogShare(this, backlog, readBacklog);
    backlog.shares.add(share);
    return share;
  }

  /** Bytes counted across all connections (an upper bound, see above). */
  get countedBytes(): number {
    return this.totalBytes;
  }

  /** @internal */ addBytes(address: AddressBacklog, delta: number): void {
    address.bytes += delta;
    this.totalBytes += delta;
  }

  /**
   * Makes room for `sender` to hold `messageBytes` more under both shared bounds, evicting larger
   * backlogs than the sender's would be; returns the bound it could not make room under.
   */
  /** @internal */ makeRoom(sender: BacklogShare, address: AddressBacklog, messageBytes: number): BacklogBound | undefined {
    const over = (bound: BacklogBound): boolean =>
      bound === 'address'
        ? address.bytes + messageBytes > this.limits.perAddressBytes
        : this.totalBytes + messageBytes > this.limits.totalBytes;
    if (over('address')) {
      this.recount(address);
      if (!this.evictLargerUntil(sender, messageBytes, address.shares, () => over('address'), 'address')) return 'address';
    }
    if (over('relay')) {
      for (const other of this.addresses.values()) this.recount(other);
      const all = [...this.addresses.values()].flatMap((other) => [...other.shares]);
      if (!this.evictLargerUntil(sender, messageBytes, all, () => over('relay'), 'relay')) return 'relay';
    }
    return undefined;
  }

  /** @internal */ forget(address: AddressBacklog, share: BacklogShare): void {
    address.shares.delete(share);
    if (address.shares.size === 0) this.addresses.delete(address.address);
  }

  private recount(address: AddressBacklog): void {
    for (const share of address.shares) share.update();
  }

  /** Evicts the largest of `candidates` while `stillOver`; false once the sender's would be the largest left. */
  private evictLargerUntil(
    sender: BacklogShare,
    messageBytes: number,
    candidates: Iterable<BacklogShare>,
    stillOver: () => boolean,
    bound: BacklogBound,
  ): boolean {
    // Largest first, once: each eviction only lowers the sums, and a candidate's backlog cannot
    // grow meanwhile (nothing is sent while this runs).
    const larger = [...candidates]
      .filter((share) => share !== sender && share.bytes > sender.bytes + messageBytes)
      .sort((a, b) => b.bytes - a.bytes);
    for (const share of larger) {
      if (!stillOver()) return true;
      share.evict(bound);
    }
    return !stillOver();
  }
}

/** One connection's part of the shared backlog. */
export class BacklogShare {
  /** What this connection is counted for in its address's and the relay's sums. */
  private countedBytes = 0;
  private released = false;
  /** Bytes the connection holds for its peer beyond what `readBacklog` reads (see hold). */
  private heldBytes = 0;

  private evictor: Evict | undefined;

  constructor(
    private readonly backlogs: SharedBacklogs,
    private readonly address: AddressBacklog,
    private readonly readBacklog: () => number,
  ) {}

  /** The bytes this connection is counted for. */
  get bytes(): number {
    return this.countedBytes;
  }

  /** How to drop this connection when another needs the room it holds. */
  evictWith(evict: Evict): void {
    this.evictor = evict;
  }

  /**
   * Makes room under the shared bounds to hold `messageBytes` more, dropping connections that
   * hold more than this one would; returns the bound it could not make room under, if any.
   * Counts this socket's backlog as it is now first: most of what it was counted for may have
   * been read since.
   */
  makeRoomFor(messageBytes: number): BacklogBound | undefined {
    this.update();
    return this.backlogs.makeRoom(this, this.address, messageBytes);
  }

  /** @internal */ evict(bound: BacklogBound): void {
    // Not yet a connection that can be dropped (it is being opened): kept, and not counted as freed.
    if (this.evictor === undefined) return;
    this.evictor(bound);
    // Whatever the evictor did, what this socket holds is no longer counted against the others.
    this.release();
  }

  /**
   * Counts `delta` more (or, negative, fewer) bytes held for this connection's peer outside its
   * socket: a sync answer being cut into parts and what waits behind it (ListRoom). Room for it
   * is made first, as for a send (makeRoomFor).
   */
  hold(delta: number): void {
    this.heldBytes += delta;
    this.update();
  }

  /** Counts what this connection holds now (after a send or read, or when the sums are recounted). */
  update(): void {
    if (this.released) return;
    const bytes = this.readBacklog() + this.heldBytes;
    this.backlogs.addBytes(this.address, bytes - this.countedBytes);
    this.countedBytes = bytes;
  }

  /** The connection has closed: whatever it held is freed with its socket. */
  release(): void {
    if (this.released) return;
    this.backlogs.addBytes(this.address, -this.countedBytes);
    this.countedBytes = 0;
    this.released = true;
    this.backlogs.forget(this.address, this);
  }
}

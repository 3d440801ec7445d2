/**
 * Bytes the relay holds for peers that have not read them yet, per address and in all. `ws`
 * knows only each socket's own backlog (`bufferedAmount`), and the per-connection bound
 * (`MAX_BUFFERED_BYTES`) alone lets `MAX_CONNECTIONS_PER_IP` sockets that never read hold that
 * much each: 200 × 40 MiB from one address.
 *
 * Kept cheap, as it runs on every send: each connection is counted for the backlog it had after
 * its last send. A backlog only grows by sending and shrinks as the peer reads, so the sums are
 * never below the truth; only when one would pass its bound are the sockets of that address (or
 * of the relay) asked for their real backlog, and the sums corrected.
 */
export interface SendBacklogLimits {
  readonly maxBufferedBytesPerIp: number;
  readonly maxBufferedBytesTotal: number;
}

/** Which shared bound a send would pass. */
export type BacklogBound = 'address' | 'relay';

interface AddressBacklog {
  readonly address: string;
  bytes: number;
  readonly shares: Set<BacklogShare>;
}

export class SendBacklogs {
  private totalBytes = 0;
  private readonly addresses = new Map<string, AddressBacklog>();

  constructor(private readonly limits: SendBacklogLimits) {}

  /** A connection's share of its address's and the relay's backlog; `readBacklog` is its socket's `bufferedAmount`. */
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

  /** Bytes counted as unsent across all connections (an upper bound, see above). */
  get bufferedBytes(): number {
    return this.totalBytes;
  }

  /** @internal */ addBytes(address: AddressBacklog, delta: number): void {
    address.bytes += delta;
    this.totalBytes += delta;
  }

  /** @internal */ boundPassed(address: AddressBacklog, messageBytes: number): BacklogBound | undefined {
    if (address.bytes + messageBytes > this.limits.maxBufferedBytesPerIp) {
      this.recount(address);
      if (address.bytes + messageBytes > this.limits.maxBufferedBytesPerIp) return 'address';
    }
    if (this.totalBytes + messageBytes > this.limits.maxBufferedBytesTotal) {
      for (const other of this.addresses.values()) this.recount(other);
      if (this.totalBytes + messageBytes > this.limits.maxBufferedBytesTotal) return 'relay';
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
}

/** One connection's part of the shared backlog. */
export class BacklogShare {
  /** What this connection is counted for in its address's and the relay's sums. */
  private countedBytes = 0;
  private released = false;

  constructor(
    private readonly backlogs: SendBacklogs,
    private readonly address: AddressBacklog,
    private readonly readBacklog: () => number,
  ) {}

  /**
   * Which shared bound sending `messageBytes` more would pass, if any. Counts this socket's
   * backlog as it is now first: most of what it was counted for may have been read since.
   */
  boundPassedBy(messageBytes: number): BacklogBound | undefined {
    this.update();
    return this.backlogs.boundPassed(this.address, messageBytes);
  }

  /** Counts this socket's backlog as it is now (after a send, or when the sums are recounted). */
  update(): void {
    if (this.released) return;
    const bytes = this.readBacklog();
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

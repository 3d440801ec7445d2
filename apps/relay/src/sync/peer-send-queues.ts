/** How PeerSendQueues sends, and counts what it holds in each peer's unsent backlog. */
export interface PeerSends<Peer> {
  /** Must not throw (ListRoom.sendTo closes a peer whose send fails). */
  sendNow(peer: Peer, message: Uint8Array): void;
  /** Counts `bytes` held for `peer`; false when that passes a bound of its backlog (the peer is dropped). */
  hold(peer: Peer, bytes: number): boolean;
  release(peer: Peer, bytes: number): void;
}

/** What waits for one peer: messages, or messages still being made, and the bytes held for each. */
interface Waiting {
  readonly messages: Uint8Array | Promise<readonly Uint8Array[]>;
  readonly heldBytes: number;
}

/**
 * What a list sends its peers, each peer's in the order the list sent it, where some of it is
 * still being made: a large sync answer is cut into parts on the decode worker, and whatever the
 * list sends that peer meanwhile (forwards, acks, presence) waits behind it, as it would have
 * behind an answer sent at once. A y-websocket phone counts itself synced at the answer's last
 * part; an ack ahead of the answer would name what it does not hold yet. What waits is counted
 * in the peer's unsent backlog, under its bounds: a socket that sends sync requests and never
 * reads must not have answers pile up here instead of in its socket.
 */
export class PeerSendQueues<Peer> {
  /** Per peer with something still being made: what waits, in order. */
  private readonly queues = new Map<Peer, Waiting[]>();
  /** Called once nothing waits for any peer (whenDrained). */
  private readonly drainedWaiters: Array<() => void> = [];

  constructor(private readonly sends: PeerSends<Peer>) {}

  send(peer: Peer, message: Uint8Array): void {
    const queue = this.queues.get(peer);
    if (queue === undefined) this.sends.sendNow(peer, message);
    else if (this.sends.hold(peer, message.length)) queue.push({ messages: message, heldBytes: message.length });
  }

  /** Counts `bytes` in `peer`'s unsent backlog, to be passed to sendWhenMade; false if the peer is dropped for it. */
  hold(peer: Peer, bytes: number): boolean {
    return this.sends.hold(peer, bytes);
  }

  /**
   * Sends `messages` once made (the promise must not reject), and what is sent to `peer`
   * meanwhile after them; `heldBytes`, which the caller held for them, is released as they go.
   */
  sendWhenMade(peer: Peer, heldBytes: number, messages: Promise<readonly Uint8Array[]>): void {
    const queue = this.queues.get(peer);
    if (queue !== undefined) {
      queue.push({ messages, heldBytes });
      return;
    }
    const started: Waiting[] = [{ messages, heldBytes }];
    this.queues.set(peer, started);
    void this.drain(peer, started);
  }

  /** Whether something for `peer` is still being made (its sync answer is being cut). */
  isMaking(peer: Peer): boolean {
    return this.queues.has(peer);
  }

  /** Resolves once nothing waits for any peer: everything made and sent, or forgotten. */
  whenDrained(): Promise<void> {
    if (this.queues.size === 0) return Promise.resolve();
    return new Promise((resolve) => this.drainedWaiters.push(resolve));
  }

  /** The peer left: what waits for it is dropped, and what is being made for it is dropped once made. */
  forget(peer: Peer): void {
    const queue = this.queues.get(peer);
    if (queue === undefined) return;
    this.removeQueue(peer);
    this.sends.release(peer, queue.reduce((bytes, waiting) => bytes + waiting.heldBytes, 0));
  }

  forgetAll(): void {
    for (const peer of [...this.queues.keys()]) this.forget(peer);
  }

  private async drain(peer: Peer, queue: Waiting[]): Promise<void> {
    while (queue.length > 0) {
      const next = queue[0] as Waiting;
      const messages = next.messages instanceof Uint8Array ? [next.messages] : await next.messages;
      if (this.queues.get(peer) !== queue) return;
      queue.shift();
      // Released first: each message is counted again as it is sent.
      this.sends.release(peer, next.heldBytes);
      for (const message of messages) this.sends.sendNow(peer, message);
    }
    this.removeQueue(peer);
  }

  private removeQueue(peer: Peer): void {
    this.queues.delete(peer);
    if (this.queues.size > 0) return;
    for (const resolve of this.drainedWaiters.splice(0)) resolve();
  }
}

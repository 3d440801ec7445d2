/**
 * What a list sends its peers, each peer's in the order the list sent it, where some of it is
 * still being made: a large sync answer is cut into parts on the decode worker, and whatever the
 * list sends that peer meanwhile (forwards, acks, presence) waits behind it, as it would have
 * behind an answer sent at once. A y-websocket phone counts itself synced at the answer's last
 * part; an ack or a forward ahead of the answer would name or build on what it does not hold yet.
 */
export class PeerSendQueues<Peer> {
  /** Per peer with something still being made: what waits, in order. */
  private readonly queues = new Map<Peer, Array<Uint8Array | Promise<readonly Uint8Array[]>>>();

  /** `sendNow` must not throw (ListRoom.sendTo closes a peer whose send fails). */
  constructor(private readonly sendNow: (peer: Peer, message: Uint8Array) => void) {}

  send(peer: Peer, message: Uint8Array): void {
    const queue = this.queues.get(peer);
    if (queue === undefined) this.sendNow(peer, message);
    else queue.push(message);
  }

  /** Sends `messages` once made (the promise must not reject), and what is sent to `peer` meanwhile after them. */
  sendWhenMade(peer: Peer, messages: Promise<readonly Uint8Array[]>): void {
    const queue = this.queues.get(peer);
    if (queue !== undefined) {
      queue.push(messages);
      return;
    }
    const started: Array<Uint8Array | Promise<readonly Uint8Array[]>> = [messages];
    this.queues.set(peer, started);
    void this.drain(peer, started);
  }

  /** Whether something for `peer` is still being made (its sync answer is being cut). */
  isMaking(peer: Peer): boolean {
    return this.queues.has(peer);
  }

  /** The peer left: what waits for it is dropped, and what is being made for it is dropped once made. */
  forget(peer: Peer): void {
    this.queues.delete(peer);
  }

  forgetAll(): void {
    this.queues.clear();
  }

  private async drain(peer: Peer, queue: Array<Uint8Array | Promise<readonly Uint8Array[]>>): Promise<void> {
    while (queue.length > 0) {
      const next = queue[0] as Uint8Array | Promise<readonly Uint8Array[]>;
      const messages = next instanceof Uint8Array ? [next] : await next;
      if (this.queues.get(peer) !== queue) return;
      queue.shift();
      for (const message of messages) this.sendNow(peer, message);
    }
    this.queues.delete(peer);
  }
}

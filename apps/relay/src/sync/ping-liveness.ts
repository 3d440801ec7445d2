/**
 * Whether a phone's socket is alive, from the pings the heartbeat sends: one that has not
 * answered the last ping by the next heartbeat is dead. But a ping is queued behind what the
 * relay sent before it, and on a slow link that takes longer than a ping interval: a phone
 * downloading a large list at 20 kB/s (600 kB in 30 s) was cut off as dead mid-download, again
 * and again. So a ping that went out behind unsent bytes is excused while those bytes move: the
 * phone is reading them. A phone gone silent reads nothing, and once the kernel's buffers are
 * full nothing moves, so it is still found dead a heartbeat later.
 */
export class PingLiveness {
  private answered = true;
  /** What had left the relay (bytes sent less those unsent) when the last ping queued behind unsent bytes. */
  private leftAtPing: number | undefined;

  /** The phone answered (a pong), sent bytes, or is held unread by the relay itself (its pongs wait unread). */
  alive(): void {
    this.answered = true;
    this.leftAtPing = undefined;
  }

  /**
   * At a heartbeat, with the bytes sent on the socket so far and those still unsent: 'dead', or
   * 'ping' (a new ping is due, and its answer awaited).
   */
  beat(sentBytes: number, unsentBytes: number): 'dead' | 'ping' {
    const left = sentBytes - unsentBytes;
    const movingBehindPing = this.leftAtPing !== undefined && left > this.leftAtPing;
    if (!this.answered && !movingBehindPing) return 'dead';
    this.answered = false;
    this.leftAtPing = unsentBytes > 0 ? left : undefined;
    return 'ping';
  }
}

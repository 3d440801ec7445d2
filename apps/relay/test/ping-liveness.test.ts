import { describe, expect, it } from 'vitest';
import { PingLiveness } from '../src/sync/ping-liveness.js';

describe('PingLiveness: a ping answered, or queued behind bytes that move', () => {
  it('a phone that answers each ping lives; one that misses a ping with nothing queued before it is dead', () => {
    const liveness = new PingLiveness();
    expect(liveness.beat(0, 0)).toBe('ping');
    liveness.alive();
    expect(liveness.beat(100, 0)).toBe('ping');
    expect(liveness.beat(100, 0)).toBe('dead');
  });

  it('[SL1] a ping queued behind a large answer is excused while the answer moves, not once it stops', () => {
    const liveness = new PingLiveness();
    // 6 MB of answer handed to the socket, 5.9 MB of it still in the relay when the ping goes.
    expect(liveness.beat(6_000_000, 5_900_000)).toBe('ping');
    // A ping interval later at 20 kB/s: 600 kB more has left, no pong yet (it is behind the rest).
    expect(liveness.beat(6_000_000, 5_300_000)).toBe('ping');
    expect(liveness.beat(6_000_000, 4_700_000)).toBe('ping');
    // The phone went silent: nothing more leaves.
    expect(liveness.beat(6_000_000, 4_700_000)).toBe('dead');
  });

  it('[SL1] bytes sent after the ping are not taken for the phone reading', () => {
    const liveness = new PingLiveness();
    expect(liveness.beat(1_000, 500)).toBe('ping');
    // More queued since, none of it read: what has left is the same.
    expect(liveness.beat(2_000, 1_500)).toBe('dead');
  });
});

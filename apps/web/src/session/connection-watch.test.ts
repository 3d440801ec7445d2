import { describe, expect, it } from 'vitest';
import { followNetwork, startHeartbeat, type Timers, type WatchedProvider } from './connection-watch.js';

function fakeTimers() {
  let now = 0;
  const intervals = new Map<number, { callback: () => void; ms: number; next: number }>();
  let nextId = 1;
  const timers: Timers = {
    now: () => now,
    setInterval(callback, ms) {
      const id = nextId++;
      intervals.set(id, { callback, ms, next: now + ms });
      return id;
    },
    clearInterval(handle) {
      intervals.delete(handle as number);
    },
  };
  const advance = (ms: number) => {
    const end = now + ms;
    for (;;) {
      const due = [...intervals.values()].filter((t) => t.next <= end).sort((a, b) => a.next - b.next)[0];
      if (!due) break;
      now = due.next;
      due.next += due.ms;
      due.callback();
    }
    now = end;
  };
  return { timers, advance, active: () => intervals.size, now: () => now };
}

function fakeProvider(clock: () => number) {
  const sent: Uint8Array[] = [];
  const provider: WatchedProvider & { reconnects: number } = {
    wsconnected: true,
    wsconnecting: false,
    wsLastMessageReceived: clock(),
    shouldConnect: true,
    ws: { send: (data) => void sent.push(data) },
    reconnects: 0,
    connect() {
      this.shouldConnect = true;
      this.reconnects++;
      this.wsconnected = false;
      this.wsconnecting = true;
    },
    disconnect() {
      this.shouldConnect = false;
      this.wsconnected = false;
      this.wsconnecting = false;
    },
  };
  return { provider, sent };
}

describe('heartbeat', () => {
  it('probes a live socket with query-awareness every interval', () => {
    const time = fakeTimers();
    const { provider, sent } = fakeProvider(time.now);
    const stop = startHeartbeat(provider, { timers: time.timers, intervalMs: 3000, silentAfterMs: 8000 });
    time.advance(3000);
    provider.wsLastMessageReceived = time.now();
    time.advance(3000);
    expect(sent).toHaveLength(2);
    expect([...(sent[0] ?? [])]).toEqual([3]);
    expect(provider.reconnects).toBe(0);
    stop();
    expect(time.active()).toBe(0);
  });

  it('reconnects a socket that has been silent for too long, within seconds', () => {
    const time = fakeTimers();
    const { provider } = fakeProvider(time.now);
    let dead = 0;
    startHeartbeat(provider, { timers: time.timers, intervalMs: 3000, silentAfterMs: 8000, onDeadSocket: () => dead++ });
    time.advance(6000);
    expect(provider.reconnects).toBe(0);
    time.advance(3000);
    expect(provider.reconnects).toBe(1);
    expect(dead).toBe(1);
    expect(provider.shouldConnect).toBe(true);
  });

  it('restarts a connection attempt that hangs, but leaves a deliberately disconnected provider alone', () => {
    const time = fakeTimers();
    const { provider } = fakeProvider(time.now);
    provider.wsconnected = false;
    provider.wsconnecting = true;
    startHeartbeat(provider, { timers: time.timers, intervalMs: 2000, connectTimeoutMs: 10000 });
    // First seen connecting at the first tick (2 s); restarted once it hung for more than 10 s after that.
    time.advance(12000);
    expect(provider.reconnects).toBe(0);
    time.advance(2000);
    expect(provider.reconnects).toBe(1);
    provider.disconnect();
    time.advance(60000);
    expect(provider.reconnects).toBe(1);
  });
});

describe('followNetwork', () => {
  it('disconnects on offline and reconnects on online, and detaches', () => {
    const target = new EventTarget();
    const calls: string[] = [];
    const stop = followNetwork(
      { connect: () => calls.push('connect'), disconnect: () => calls.push('disconnect') },
      target,
      () => calls.push('changed'),
    );
    target.dispatchEvent(new Event('offline'));
    target.dispatchEvent(new Event('online'));
    stop();
    target.dispatchEvent(new Event('offline'));
    expect(calls).toEqual(['disconnect', 'changed', 'connect', 'changed']);
  });
});

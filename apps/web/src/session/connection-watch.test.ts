import { describe, expect, it } from 'vitest';
import { followNetwork, startHeartbeat, type PageLifecycle, type Timers, type WatchedProvider } from './connection-watch.js';

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
  /**
   * The page is frozen for `ms` (screen off, tab frozen): the clock moves on, no timer runs; on
   * resume each overdue interval runs once, as browsers do, and keeps its period from then on.
   */
  const freeze = (ms: number) => {
    now += ms;
    for (const interval of intervals.values()) if (interval.next < now) interval.next = now;
    advance(0);
  };
  return { timers, advance, freeze, active: () => intervals.size, now: () => now };
}

/** A page whose resume (visibilitychange to visible, pageshow, resume) the test fires. */
function fakePage() {
  const listeners = new Set<() => void>();
  const page: PageLifecycle = {
    onResume(callback) {
      listeners.add(callback);
      return () => void listeners.delete(callback);
    },
  };
  return { page, resume: () => [...listeners].forEach((listener) => listener()), listening: () => listeners.size };
}

function fakeProvider(clock: () => number) {
  const sent: Uint8Array[] = [];
  /** Bytes sent but not yet out of the page (WebSocket.bufferedAmount), set by the test. */
  const socket = { send: (data: Uint8Array) => void sent.push(data), bufferedAmount: 0 };
  const provider: WatchedProvider & { reconnects: number } = {
    wsconnected: true,
    wsconnecting: false,
    wsLastMessageReceived: clock(),
    shouldConnect: true,
    ws: socket,
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
  return { provider, sent, socket };
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

describe("heartbeat while this phone's own upload is leaving", () => {
  const options = { intervalMs: 3000, silentAfterMs: 8000 };

  it('[HB-UPLOAD] keeps a socket whose large frame is still going out: the relay can answer only once it is through', () => {
    const time = fakeTimers();
    const { provider, socket } = fakeProvider(time.now);
    startHeartbeat(provider, { ...options, timers: time.timers });
    // The sync step 2 after many offline edits, 42 kB on a 3 kB/s uplink: 14 s to leave.
    socket.bufferedAmount = 42_000;
    for (let second = 1; second <= 14; second++) {
      time.advance(1000);
      socket.bufferedAmount = Math.max(0, socket.bufferedAmount - 3000);
    }
    expect(provider.reconnects).toBe(0);
    // Through: the relay's answers (to the probes queued behind it) come a round trip later.
    for (let tick = 0; tick < 5; tick++) {
      time.advance(500);
      provider.wsLastMessageReceived = time.now();
      time.advance(2500);
    }
    expect(provider.reconnects).toBe(0);
  });

  it('restarts a socket whose upload does not move, as soon as a silent one', () => {
    const time = fakeTimers();
    const { provider, socket } = fakeProvider(time.now);
    startHeartbeat(provider, { ...options, timers: time.timers });
    // Nothing leaves (the network died under it): bytes waiting are no sign of life.
    socket.bufferedAmount = 42_000;
    time.advance(6000);
    expect(provider.reconnects).toBe(0);
    time.advance(3000);
    expect(provider.reconnects).toBe(1);
  });

  it('restarts a socket whose upload stopped moving once it is silent for as long after that', () => {
    const time = fakeTimers();
    const { provider, socket } = fakeProvider(time.now);
    startHeartbeat(provider, { ...options, timers: time.timers });
    socket.bufferedAmount = 42_000;
    time.advance(3000);
    socket.bufferedAmount = 33_000;
    // Seen moving at the 6 s tick, never again: restarted at the first tick past 14 s.
    time.advance(11_000);
    expect(provider.reconnects).toBe(0);
    time.advance(3000);
    expect(provider.reconnects).toBe(1);
  });
});

describe('heartbeat after the page was frozen in the background', () => {
  const options = { intervalMs: 3000, silentAfterMs: 8000 };

  it('does not restart a working socket on resume: the frozen minutes are not the relay\'s silence', () => {
    const time = fakeTimers();
    const { page } = fakePage();
    const { provider, sent } = fakeProvider(time.now);
    let dead = 0;
    startHeartbeat(provider, { ...options, timers: time.timers, page, onDeadSocket: () => dead++ });
    time.advance(3000);
    provider.wsLastMessageReceived = time.now();
    // Screen off for a minute: nothing ran, nothing was read from the socket.
    time.freeze(60_000);
    expect(provider.reconnects).toBe(0);
    // The socket is asked at once whether it still works ...
    expect(sent).toHaveLength(2);
    // ... and it answers, as a live relay does within a round trip.
    provider.wsLastMessageReceived = time.now();
    for (let i = 0; i < 10; i++) {
      time.advance(3000);
      provider.wsLastMessageReceived = time.now();
    }
    expect(provider.reconnects).toBe(0);
    expect(dead).toBe(0);
  });

  it('restarts a socket that died while the page was frozen once it stays silent after the resume', () => {
    const time = fakeTimers();
    const { page } = fakePage();
    const { provider, sent } = fakeProvider(time.now);
    startHeartbeat(provider, { ...options, timers: time.timers, page });
    time.advance(3000);
    provider.wsLastMessageReceived = time.now();
    time.freeze(60_000);
    const probesAtResume = sent.length;
    // Probed again on the next ticks, silent since the resume: 3 s, 6 s ...
    time.advance(6000);
    expect(sent.length).toBe(probesAtResume + 2);
    expect(provider.reconnects).toBe(0);
    // ... and restarted at the first tick past 8 s, as any silent socket is.
    time.advance(3000);
    expect(provider.reconnects).toBe(1);
  });

  it('counts silence afresh from the page being shown again, and probes at once', () => {
    const time = fakeTimers();
    const { page, resume, listening } = fakePage();
    const { provider, sent } = fakeProvider(time.now);
    const stop = startHeartbeat(provider, { ...options, timers: time.timers, page });
    // Ticks ran (hidden, not frozen) but the socket's messages were not read meanwhile.
    time.advance(6000);
    expect(sent).toHaveLength(2);
    resume();
    expect(sent).toHaveLength(3);
    // 9 s after the last message, but only 3 s after the page came back: not yet dead.
    time.advance(3000);
    expect(provider.reconnects).toBe(0);
    time.advance(6000);
    expect(provider.reconnects).toBe(1);
    stop();
    expect(listening()).toBe(0);
    expect(time.active()).toBe(0);
  });

  it('gives a connection attempt that was underway when the page froze its full time again', () => {
    const time = fakeTimers();
    const { page } = fakePage();
    const { provider } = fakeProvider(time.now);
    provider.wsconnected = false;
    provider.wsconnecting = true;
    startHeartbeat(provider, { ...options, connectTimeoutMs: 7000, timers: time.timers, page });
    time.advance(3000);
    time.freeze(60_000);
    expect(provider.reconnects).toBe(0);
    // Hanging for 6 s since the resume: still within its 7 s ...
    time.advance(6000);
    expect(provider.reconnects).toBe(0);
    // ... restarted at the first tick past them.
    time.advance(3000);
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

/**
 * A phone's screen goes off with the list open: the page is frozen, no timer runs, no socket
 * message is read. These tests play that freeze on fake intervals and a fake clock.
 *
 * The clock is faked before the session's modules load, because lib0 (the clock y-websocket
 * reads, `time.getUnixTime`) keeps the `Date.now` it found at import; so both watchdogs, the
 * heartbeat's and y-websocket's own, see the same jump.
 */
import { afterAll, afterEach, expect, it, vi } from 'vitest';
import type { ListSession } from './types.js';

vi.useFakeTimers({ toFake: ['setInterval', 'clearInterval', 'Date'] });
const { openListSession } = await import('./list-session.js');
const { FakeRelay } = await import('./testing/fake-relay.js');
const { createMemoryStore } = await import('./device-storage.js');

const open: ListSession[] = [];
afterEach(() => {
  for (const session of open.splice(0)) session.destroy();
});
afterAll(() => {
  vi.useRealTimers();
});

/** Real time for the fake relay's deliveries (setTimeout is not faked). */
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

function start(relay: InstanceType<typeof FakeRelay>, listId: string): ListSession {
  const network = Object.assign(new EventTarget(), { isOnline: () => true });
  const session = openListSession(listId, 'Mum', {
    serverUrl: 'ws://relay.test/sync',
    WebSocketPolyfill: relay.WebSocket,
    storage: createMemoryStore(),
    network,
    crossTab: false,
    maxBackoffMs: 20,
  });
  open.push(session);
  return session;
}

/** Heartbeat ticks 3 s apart, with time between them for the relay to answer. */
async function ticks(count: number): Promise<void> {
  for (let tick = 0; tick < count; tick++) {
    vi.advanceTimersByTime(3000);
    await sleep(5);
  }
}

it('a working connection is kept after the page was frozen for a minute: no reconnect, no "Syncing…"', async () => {
  const relay = new FakeRelay();
  const session = start(relay, 'frozenpagetest000001');
  await vi.waitFor(() => expect(session.status().state).toBe('synced'));
  const attempts = relay.attempts;
  const states: string[] = [];
  session.onStatus((status) => states.push(status.state));

  // Screen off for a minute: the clock moves on, no interval runs; then they run again.
  vi.setSystemTime(Date.now() + 60_000);
  await ticks(5);

  expect(relay.attempts).toBe(attempts);
  expect(states).toEqual([]);
  expect(session.status().state).toBe('synced');
});

it('a connection that died while the page was frozen is replaced within seconds of the resume', async () => {
  const relay = new FakeRelay();
  const session = start(relay, 'frozenpagetest000002');
  await vi.waitFor(() => expect(session.status().state).toBe('synced'));
  const attempts = relay.attempts;

  // The path died while the screen was off: nothing reaches the phone, and no close arrives.
  for (const socket of relay.sockets) socket.deliver = () => {};
  vi.setSystemTime(Date.now() + 60_000);
  await ticks(3);
  expect(relay.attempts).toBe(attempts);
  await ticks(1);
  expect(relay.attempts).toBe(attempts + 1);
  session.list.addItem({ name: 'Tea' });
  await vi.waitFor(() => expect(session.status()).toMatchObject({ state: 'synced', pendingChanges: 0 }));
  expect(relay.doc.getMap('items').size).toBe(1);
});

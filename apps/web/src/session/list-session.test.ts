import { afterEach, describe, expect, it, vi } from 'vitest';
import * as Y from 'yjs';
import { openListSession, REFUSED_RETRY_MS, relayUrl, type ListSessionOptions } from './list-session.js';
import { createMemoryStore, type KeyValueStore } from './device-storage.js';
import { FakeRelay } from './testing/fake-relay.js';
import type { ListSession, ReconnectSummary } from './types.js';
import type { Timers } from './connection-watch.js';
import { FakeNetwork } from './testing/fake-network.js';

let counter = 0;
const newId = () => `sessiontest${String(++counter).padStart(6, '0')}x`;

const open: ListSession[] = [];
afterEach(() => {
  for (const session of open.splice(0)) session.destroy();
});

function start(
  relay: FakeRelay,
  options: { listId?: string; storage?: KeyValueStore; network?: FakeNetwork; actor?: string } & ListSessionOptions = {},
) {
  const network = options.network ?? new FakeNetwork();
  const session = openListSession(options.listId ?? newId(), options.actor ?? 'Mum', {
    serverUrl: 'ws://relay.test/sync',
    WebSocketPolyfill: relay.WebSocket,
    storage: options.storage ?? createMemoryStore(),
    network,
    crossTab: false,
    maxBackoffMs: 20,
    ...options,
  });
  open.push(session);
  return { session, network };
}

const state = (session: ListSession) => session.status().state;

/**
 * Another device (a family member's phone, Mum's laptop) edits a copy of the relay's list, and
 * the relay gets the change; returns the update that carried it.
 */
function editOnAnotherDevice(relay: FakeRelay, change: (items: Y.Map<Y.Map<unknown>>) => void): Uint8Array {
  const device = new Y.Doc();
  Y.applyUpdate(device, Y.encodeStateAsUpdate(relay.doc));
  const before = Y.encodeStateVector(device);
  device.transact(() => change(device.getMap<Y.Map<unknown>>('items')));
  const update = Y.encodeStateAsUpdate(device, before);
  Y.applyUpdate(relay.doc, update);
  return update;
}

/** An item as the list model stores one `by` added. */
function addItemAs(items: Y.Map<Y.Map<unknown>>, id: string, name: string, by: string): void {
  const item = new Y.Map<unknown>();
  item.set('name', name);
  item.set('addedBy', by);
  item.set('addedAt', 5);
  items.set(id, item);
}

/** An item removed as the list model marks it, by `by`. */
function removeItemAs(items: Y.Map<Y.Map<unknown>>, id: string, by: string): void {
  items.get(id)?.set('deletedAt', 10);
  items.get(id)?.set('deletedBy', by);
}
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** One phone that stays offline (the relay unreachable), opening the same list again and again. */
/** A phone that added Milk, had it acknowledged by the relay, and closed the list. */
async function phoneWithMilkSynced(): Promise<{ phone: ReturnType<typeof offlinePhone>; milk: string }> {
  const phone = offlinePhone();
  phone.relay.reachable = true;
  phone.network.online = true;
  const first = phone.open();
  const milk = first.list.addItem({ name: 'Milk' });
  await vi.waitFor(() => expect(first.status()).toMatchObject({ state: 'synced', pendingChanges: 0 }), { timeout: 3000 });
  await vi.waitFor(() => expect(phone.storage.getItem(`basket:early-edits:${phone.listId}`)).toBeNull());
  await sleep(50);
  first.destroy();
  return { phone, milk };
}

function offlinePhone() {
  const relay = new FakeRelay();
  relay.reachable = false;
  const storage = createMemoryStore();
  const listId = newId();
  const network = new FakeNetwork();
  network.online = false;
  const open = (options: Pick<ListSessionOptions, 'pauseBeforeLoad'> = {}) =>
    start(relay, { listId, storage, network, ...options }).session;
  return { relay, network, open, storage, listId };
}

describe('openListSession against a relay', () => {
  it('uses the page origin for the relay url', () => {
    expect(relayUrl({ protocol: 'https:', host: 'basket.example' })).toBe('wss://basket.example/sync');
    expect(relayUrl({ protocol: 'http:', host: 'localhost:8080' })).toBe('ws://localhost:8080/sync');
  });

  it('says Synced only after the relay acknowledged every local change', async () => {
    const relay = new FakeRelay();
    relay.autoAck = false;
    const { session } = start(relay);
    expect(state(session)).toBe('syncing');
    await session.whenLoaded;
    await vi.waitFor(() => expect(relay.sockets.size).toBe(1));
    await new Promise((resolve) => setTimeout(resolve, 30));
    expect(state(session)).toBe('syncing');
    relay.ack();
    await vi.waitFor(() => expect(state(session)).toBe('synced'));

    session.list.addItem({ name: 'Milk' });
    expect(session.status()).toMatchObject({ state: 'syncing', pendingChanges: 1 });
    await vi.waitFor(() => expect(relay.doc.getMap('items').size).toBe(1));
    await new Promise((resolve) => setTimeout(resolve, 30));
    expect(session.status()).toMatchObject({ state: 'syncing', pendingChanges: 1 });
    relay.ack();
    await vi.waitFor(() => expect(session.status()).toMatchObject({ state: 'synced', pendingChanges: 0 }));
    expect(session.status().lastSyncedAt).toEqual(expect.any(Number));
  });

  it('goes offline with the browser, counts edits, and catches up when back online', async () => {
    const relay = new FakeRelay();
    const { session, network } = start(relay);
    await vi.waitFor(() => expect(state(session)).toBe('synced'));
    const statuses: string[] = [];
    session.onStatus((status) => statuses.push(status.state));

    network.set(false);
    expect(session.status()).toMatchObject({ state: 'offline', pendingChanges: 0 });
    session.list.addItem({ name: 'Eggs' });
    session.list.addItem({ name: 'Bread' });
    expect(session.status()).toMatchObject({ state: 'offline', pendingChanges: 2 });
    await new Promise((resolve) => setTimeout(resolve, 30));
    expect(relay.doc.getMap('items').size).toBe(0);

    network.set(true);
    await vi.waitFor(() => expect(session.status()).toMatchObject({ state: 'synced', pendingChanges: 0 }));
    expect(relay.doc.getMap('items').size).toBe(2);
    expect(statuses).toContain('syncing');
  });

  it('reconnects by itself after the relay drops the connection', async () => {
    const relay = new FakeRelay();
    const { session } = start(relay);
    await vi.waitFor(() => expect(state(session)).toBe('synced'));
    relay.reachable = false;
    relay.dropAll();
    await vi.waitFor(() => expect(state(session)).toBe('offline'));
    session.list.addItem({ name: 'Tea' });
    relay.reachable = true;
    await vi.waitFor(() => expect(session.status()).toMatchObject({ state: 'synced', pendingChanges: 0 }), { timeout: 3000 });
    expect(relay.doc.getMap('items').size).toBe(1);
  });

  it('after a reconnect says Synced only once an ack arrived on the new connection, not on an ack of the old one', async () => {
    // The relay may have lost what it held (restored from a backup): what this phone sends in the
    // new connection's sync step 2 is on the relay only once the relay acknowledges it.
    const relay = new FakeRelay();
    const { session } = start(relay);
    session.list.addItem({ name: 'Tea' });
    await vi.waitFor(() => expect(session.status()).toMatchObject({ state: 'synced', pendingChanges: 0 }));
    relay.autoAck = false;
    relay.dropAll();
    await vi.waitFor(() => expect(state(session)).not.toBe('synced'));
    await vi.waitFor(() => expect(relay.sockets.size).toBe(1), { timeout: 3000 });
    await sleep(50);
    expect(state(session)).toBe('syncing');
    relay.ack();
    await vi.waitFor(() => expect(state(session)).toBe('synced'));
  });

  it('replaces a socket that went silent (dead, though the browser keeps it open) within seconds, not y-websocket\'s 30 s', async () => {
    const relay = new FakeRelay();
    // The heartbeat's clock and interval, driven by hand; the socket's own times are real.
    let skew = 0;
    const ticks = new Set<() => void>();
    const timers: Timers = {
      now: () => Date.now() + skew,
      setInterval: (callback) => (ticks.add(callback), callback),
      clearInterval: (handle) => void ticks.delete(handle as () => void),
    };
    const { session } = start(relay, { timers });
    await vi.waitFor(() => expect(state(session)).toBe('synced'));
    const attempts = relay.attempts;
    // Store Wi-Fi dropped the path: nothing reaches the phone any more, and no close arrives.
    for (const socket of relay.sockets) socket.deliver = () => {};
    // Ticks 3 s apart, as the page runs them (a longer gap would read as the page frozen).
    for (let tick = 0; tick < 2; tick++) {
      skew += 3000;
      for (const run of [...ticks]) run();
    }
    expect(relay.attempts).toBe(attempts);
    skew += 3000;
    for (const run of [...ticks]) run();
    await vi.waitFor(() => expect(relay.attempts).toBe(attempts + 1));
    session.list.addItem({ name: 'Tea' });
    await vi.waitFor(() => expect(session.status()).toMatchObject({ state: 'synced', pendingChanges: 0 }));
    expect(relay.doc.getMap('items').size).toBe(1);
  });

  it('stops trying when the relay refuses the list for good, and says why', async () => {
    const relay = new FakeRelay();
    relay.refuseWith = 4403;
    const { session } = start(relay);
    await vi.waitFor(() => expect(session.status().reason).toBeDefined());
    expect(state(session)).toBe('offline');
    const attempts = relay.attempts;
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(relay.attempts).toBe(attempts);
  });

  it('summarizes what others did while this device was offline', async () => {
    const relay = new FakeRelay();
    const { session, network } = start(relay);
    const butter = session.list.addItem({ name: 'Butter' });
    session.list.addItem({ name: 'Jam' });
    await vi.waitFor(() => expect(state(session)).toBe('synced'));
    const summaries: ReconnectSummary[] = [];
    session.onReconnectSummary((summary) => summaries.push(summary));

    network.set(false);
    editOnAnotherDevice(relay, (items) => {
      removeItemAs(items, butter, 'Dad');
      addItemAs(items, 'cheese-id', 'Cheese', 'Dad');
    });
    expect(summaries).toEqual([]);

    network.set(true);
    await vi.waitFor(() => expect(summaries).toHaveLength(1));
    expect(summaries[0]).toEqual({ added: ['Cheese'], checked: [], removed: ['Butter'], by: expect.arrayContaining(['Dad']) });
  });

  it('[E7] a phone that opened the list\'s link with no signal and added items is not told at its first sync that the family added what was on the list; later catch-ups are summarized', async () => {
    const relay = new FakeRelay();
    editOnAnotherDevice(relay, (items) => {
      addItemAs(items, 'bread-id', 'Bread', 'Dad');
      addItemAs(items, 'apples-id', 'Apples', 'Dad');
    });
    const network = new FakeNetwork();
    network.set(false);
    const { session } = start(relay, { network });
    const summaries: ReconnectSummary[] = [];
    session.onReconnectSummary((summary) => summaries.push(summary));
    session.list.addItem({ name: 'Milk' });
    session.list.addItem({ name: 'Eggs' });
    expect(state(session)).toBe('offline');

    network.set(true);
    await vi.waitFor(() => expect(state(session)).toBe('synced'));
    expect(session.list.items().map((item) => item.name).sort()).toEqual(['Apples', 'Bread', 'Eggs', 'Milk']);
    expect(summaries).toEqual([]);

    network.set(false);
    await vi.waitFor(() => expect(state(session)).toBe('offline'));
    editOnAnotherDevice(relay, (items) => addItemAs(items, 'cheese-id', 'Cheese', 'Dad'));
    network.set(true);
    await vi.waitFor(() => expect(summaries).toHaveLength(1));
    expect(summaries[0]).toEqual({ added: ['Cheese'], checked: [], removed: [], by: ['Dad'] });
  });

  it('[E6] the summary keeps what came before a socket cut mid-answer: the relay\'s answer comes in parts', async () => {
    const relay = new FakeRelay();
    const { session, network } = start(relay, { actor: 'Mum' });
    const butter = session.list.addItem({ name: 'Butter' });
    await vi.waitFor(() => expect(state(session)).toBe('synced'));
    const summaries: ReconnectSummary[] = [];
    session.onReconnectSummary((summary) => summaries.push(summary));

    network.set(false);
    const firstPart = editOnAnotherDevice(relay, (items) => removeItemAs(items, butter, 'Dad'));
    editOnAnotherDevice(relay, (items) => addItemAs(items, 'cheese-id', 'Cheese', 'Dad'));
    // The first socket back gets the answer's first part (Butter's removal), then is cut.
    relay.answerSyncStep1 = (socket) => {
      relay.answerSyncStep1 = null;
      socket.deliver(relay.updateMessage(firstPart));
      setTimeout(() => socket.serverClose(1006, ''), 20);
      return true;
    };

    network.set(true);
    await vi.waitFor(() => expect(summaries).toHaveLength(1));
    expect(summaries[0]).toEqual({ added: ['Cheese'], checked: [], removed: ['Butter'], by: ['Dad'] });
  });

  it('[E3] a phone refused for good tries again when the person comes back to the app, and every few minutes while it stays open', async () => {
    const relay = new FakeRelay();
    relay.refuseWith = 4422;
    let resume: () => void = () => {};
    const page = { onResume: (callback: () => void) => ((resume = callback), () => {}) };
    let tick: () => void = () => {};
    const timers: Timers = {
      now: () => Date.now(),
      setInterval: (callback, ms) => {
        if (ms === REFUSED_RETRY_MS) tick = callback;
        return 0;
      },
      clearInterval: () => {},
    };
    const { session } = start(relay, { page, timers });
    session.list.addItem({ name: 'Milk' });
    await vi.waitFor(() => expect(session.status().reason).toBeDefined());
    const refusedAfter = relay.attempts;
    await sleep(100);
    expect(relay.attempts).toBe(refusedAfter);

    // Coming back to the app tries again (refused again, still).
    resume();
    await vi.waitFor(() => expect(relay.attempts).toBe(refusedAfter + 1));
    await vi.waitFor(() => expect(session.status().reason).toBeDefined());

    // The relay has room now (an operator raised its limit): the next periodic try syncs.
    relay.refuseWith = null;
    tick();
    await vi.waitFor(() => expect(state(session)).toBe('synced'));
    expect([...relay.doc.getMap('items').values()].map((item) => (item as Y.Map<unknown>).get('name'))).toEqual(['Milk']);
  });

  it("does not tell Mum what she did herself on her other device while this phone was offline", async () => {
    const relay = new FakeRelay();
    const { session, network } = start(relay, { actor: 'Mum' });
    session.list.addItem({ name: 'Jam' });
    await vi.waitFor(() => expect(state(session)).toBe('synced'));
    const summaries: ReconnectSummary[] = [];
    session.onReconnectSummary((summary) => summaries.push(summary));

    network.set(false);
    // Mum, on her laptop, adds Tea and ticks Jam; Dad adds Cheese.
    editOnAnotherDevice(relay, (items) => {
      addItemAs(items, 'tea-id', 'Tea', 'Mum');
      addItemAs(items, 'cheese-id', 'Cheese', 'Dad');
      for (const item of items.values()) {
        if (item.get('name') !== 'Jam') continue;
        item.set('checked', true);
        item.set('checkedBy', 'Mum');
      }
    });

    network.set(true);
    await vi.waitFor(() => expect(summaries).toHaveLength(1));
    expect(summaries[0]).toEqual({ added: ['Cheese'], checked: [], removed: [], by: ['Dad'] });
  });

  it('shows who else has the list open', async () => {
    const relay = new FakeRelay();
    const listId = newId();
    const mum = start(relay, { listId, actor: 'Mum', color: '#112233' }).session;
    const dad = start(relay, { listId, actor: 'Dad', color: '#445566' }).session;
    await vi.waitFor(() => expect(mum.peers().map((peer) => peer.name)).toEqual(['Mum', 'Dad']), { timeout: 5000 });
    expect(mum.peers()[0]).toMatchObject({ isSelf: true, color: '#112233' });
    await vi.waitFor(() => expect(dad.peers()).toHaveLength(2), { timeout: 5000 });
    expect(dad.peers().map((peer) => [peer.name, peer.isSelf])).toEqual([
      ['Dad', true],
      ['Mum', false],
    ]);
    dad.destroy();
    await vi.waitFor(() => expect(mum.peers().map((peer) => peer.name)).toEqual(['Mum']), { timeout: 5000 });
  });

  it('a name change reaches the family in place: presence and later edits, on the same connection', async () => {
    const relay = new FakeRelay();
    const listId = newId();
    const guest = start(relay, { listId, actor: 'Guest 1A2B' }).session;
    const mum = start(relay, { listId, actor: 'Mum' }).session;
    await vi.waitFor(() => expect(mum.peers().map((peer) => peer.name)).toEqual(['Mum', 'Guest 1A2B']), { timeout: 5000 });
    const milk = guest.list.addItem({ name: 'Milk' });
    guest.list.removeItem(milk);

    guest.setActor('Dad');
    guest.list.restoreItem(milk);

    await vi.waitFor(() => expect(mum.peers().map((peer) => peer.name)).toEqual(['Mum', 'Dad']), { timeout: 5000 });
    expect(guest.peers().find((peer) => peer.isSelf)?.name).toBe('Dad');
    await vi.waitFor(() => expect(mum.list.items().map((item) => item.name)).toEqual(['Milk']), { timeout: 5000 });
    expect(mum.list.activity(1)[0]).toMatchObject({ kind: 'restored', actor: 'Dad' });
    await vi.waitFor(() => expect(state(guest)).toBe('synced'), { timeout: 5000 });
  });

  it('after a reload while offline the list and the pending count are still there', async () => {
    const { relay, network: offline, open } = offlinePhone();
    const first = open();
    await first.whenLoaded;
    first.list.addItem({ name: 'Apples' });
    first.list.addItem({ name: 'Pears' });
    expect(first.status()).toMatchObject({ state: 'offline', pendingChanges: 2 });
    // Give y-indexeddb a moment to write, as a real page would have before the reload.
    await new Promise((resolve) => setTimeout(resolve, 50));
    first.destroy();

    const second = open();
    await second.whenLoaded;
    expect(second.list.items().map((item) => item.name).sort()).toEqual(['Apples', 'Pears']);
    expect(second.status()).toMatchObject({ state: 'offline', pendingChanges: 2 });

    relay.reachable = true;
    offline.set(true);
    await vi.waitFor(() => expect(second.status()).toMatchObject({ state: 'synced', pendingChanges: 0 }), { timeout: 3000 });
    expect(relay.doc.getMap('items').size).toBe(2);
  });

  it('a reopened list offers its cached view; an edit before the stored copy loads loads it at once and is stored', async () => {
    const { open } = offlinePhone();
    const first = open();
    await first.whenLoaded;
    first.list.setTitle('Market');
    first.list.addItem({ name: 'Apples' });
    await new Promise((resolve) => setTimeout(resolve, 50));
    first.destroy();

    // The pause before loading never comes: only the edit can trigger the load.
    const never = () => new Promise<void>(() => {});
    const second = open({ pauseBeforeLoad: never });
    expect(second.cachedView?.title).toBe('Market');
    expect(second.cachedView?.items.map((item) => item.name)).toEqual(['Apples']);
    // Apples was never acknowledged (the relay is unreachable): kept in localStorage as well, it
    // is back before the stored copy is.
    expect(second.list.items().map((item) => item.name)).toEqual(['Apples']);
    second.list.addItem({ name: 'Pears' });
    await second.whenLoaded;
    expect(second.list.items().map((item) => item.name).sort()).toEqual(['Apples', 'Pears']);
    await new Promise((resolve) => setTimeout(resolve, 50));
    second.destroy();

    const third = open({ pauseBeforeLoad: never });
    third.loadNow();
    await third.whenLoaded;
    expect(third.list.items().map((item) => item.name).sort()).toEqual(['Apples', 'Pears']);
    expect(third.cachedView?.items.map((item) => item.name).sort()).toEqual(['Apples', 'Pears']);
  });

  it('an add on the cached rows before the stored copy loads writes no second creation stamp and counts on in the history (no blind writes the relay would pile up)', async () => {
    const { open, relay, network } = offlinePhone();
    relay.reachable = true;
    network.set(true);
    const first = open();
    await first.whenLoaded;
    first.list.setTitle('Market');
    first.list.addItem({ name: 'Milk' });
    // Acknowledged, so only the stored copy holds it: no kept edit brings it back early.
    await vi.waitFor(() => expect(first.status()).toMatchObject({ state: 'synced', pendingChanges: 0 }), { timeout: 3000 });
    await sleep(50);
    first.destroy();

    network.set(false);
    const never = () => new Promise<void>(() => {});
    const second = open({ pauseBeforeLoad: never });
    expect(second.cachedView?.title).toBe('Market');
    second.list.addItem({ name: 'Milk' });
    await second.whenTapsApplied;
    network.set(true);
    await vi.waitFor(() => expect(second.status()).toMatchObject({ state: 'synced', pendingChanges: 0 }), { timeout: 3000 });
    const meta = relay.doc.getMap('meta');
    // Each blind write is one more value of the key with no earlier one to follow.
    const valuesOf = (key: string): number =>
      [...relay.doc.store.clients.values()].flat().filter((struct) => struct instanceof Y.Item && struct.parent === meta && struct.parentSub === key).length;
    expect([valuesOf('schemaVersion'), valuesOf('createdAt')]).toEqual([1, 1]);
    const history = [...relay.doc.getMap('history').values()] as Array<{ name: string; count: number }>;
    expect(history.map(({ name, count }) => [name, count])).toEqual([['Milk', 2]]);
    second.destroy();
  });

  it('connects only once the stored copy is loaded, also when the network comes back before that', async () => {
    // Sync step 1 must carry the stored state vector (and the catch-up summary must start from the stored list).
    const { open, relay, network } = offlinePhone();
    relay.reachable = true;
    network.online = true;
    const first = open();
    first.list.addItem({ name: 'Milk' });
    await vi.waitFor(() => expect(state(first)).toBe('synced'), { timeout: 3000 });
    await sleep(50);
    first.destroy();
    const attemptsBefore = relay.attempts;

    const second = open({ pauseBeforeLoad: () => new Promise<void>(() => {}) });
    expect(second.cachedView).not.toBeNull();
    await sleep(100);
    network.set(false);
    network.set(true);
    await sleep(100);
    expect(relay.attempts).toBe(attemptsBefore);
    second.loadNow();
    await second.whenLoaded;
    await vi.waitFor(() => expect(state(second)).toBe('synced'), { timeout: 3000 });
    expect(relay.attempts).toBe(attemptsBefore + 1);
  });

  it('an item added in the first moment of a cold start survives the page closing before IndexedDB opens', async () => {
    const { open, relay, network } = offlinePhone();
    const first = open();
    await first.whenLoaded;
    first.list.addItem({ name: 'Bread' });
    await new Promise((resolve) => setTimeout(resolve, 50));
    first.destroy();

    const never = () => new Promise<void>(() => {});
    const second = open({ pauseBeforeLoad: never });
    expect(second.cachedView).not.toBeNull();
    second.list.addItem({ name: 'Eggs' });
    second.destroy(); // at once: the IndexedDB copy has not opened

    const third = open({ pauseBeforeLoad: never });
    // Both kept, as neither has reached the relay.
    expect(third.list.items().map((item) => item.name).sort()).toEqual(['Bread', 'Eggs']);
    third.loadNow();
    await third.whenLoaded;
    expect(third.list.items().map((item) => item.name).sort()).toEqual(['Bread', 'Eggs']);
    // Once the relay has acknowledged them, the kept copies are dropped (and the list still has them).
    relay.reachable = true;
    network.set(true);
    await vi.waitFor(() => expect(state(third)).toBe('synced'), { timeout: 4000 });
    third.destroy();
    relay.reachable = false;
    network.set(false);
    const fourth = open({ pauseBeforeLoad: never });
    expect(fourth.list.items()).toEqual([]);
    fourth.loadNow();
    await fourth.whenLoaded;
    expect(fourth.list.items().map((item) => item.name).sort()).toEqual(['Bread', 'Eggs']);
  });

  it('a tap on a cached row survives the page closing before the stored list has loaded', async () => {
    const { open, storage, listId } = offlinePhone();
    const first = open();
    await first.whenLoaded;
    const milk = first.list.addItem({ name: 'Milk' });
    const soap = first.list.addItem({ name: 'Soap' });
    await new Promise((resolve) => setTimeout(resolve, 50));
    first.destroy();

    const never = () => new Promise<void>(() => {});
    const second = open({ pauseBeforeLoad: never });
    expect(second.cachedView?.items.map((item) => item.id).sort()).toEqual([milk, soap].sort());
    second.applyWhenLoaded({ kind: 'check', id: milk, checked: true });
    second.applyWhenLoaded({ kind: 'remove', id: soap });
    second.destroy(); // at once: the load those taps started has not finished

    const third = open({ pauseBeforeLoad: never });
    third.loadNow();
    await third.whenLoaded;
    expect(third.list.items().map((item) => [item.name, item.checked])).toEqual([['Milk', true]]);
    // Applied, but not yet known to be in IndexedDB (its write runs after the next paint): still kept.
    expect(storage.getItem(`basket:pending-taps:${listId}`)).not.toBeNull();
    // Once IndexedDB holds them, the kept taps are dropped (and the list keeps them).
    await new Promise((resolve) => setTimeout(resolve, 1200));
    expect(storage.getItem(`basket:pending-taps:${listId}`)).toBeNull();
    third.destroy();
    const fourth = open({ pauseBeforeLoad: never });
    fourth.loadNow();
    await fourth.whenLoaded;
    expect(fourth.list.items().map((item) => [item.name, item.checked])).toEqual([['Milk', true]]);
  });

  it('a tap on a cached row whose item only the stored copy holds waits for it, and is applied once loaded', async () => {
    // Milk reached the relay, so it is no longer kept aside: until the stored copy is applied the
    // document does not have it, and a tap applied at once would do nothing.
    const { open, relay, network, storage, listId } = offlinePhone();
    relay.reachable = true;
    network.online = true;
    const first = open();
    const milk = first.list.addItem({ name: 'Milk' });
    await vi.waitFor(() => expect(first.status()).toMatchObject({ state: 'synced', pendingChanges: 0 }), { timeout: 3000 });
    await vi.waitFor(() => expect(storage.getItem(`basket:early-edits:${listId}`)).toBeNull());
    await sleep(50);
    first.destroy();
    relay.reachable = false;
    network.online = false;

    const second = open({ pauseBeforeLoad: () => new Promise<void>(() => {}) });
    expect(second.cachedView?.items.map((item) => item.name)).toEqual(['Milk']);
    expect(second.list.items()).toEqual([]);
    second.applyWhenLoaded({ kind: 'check', id: milk, checked: true });
    await second.whenLoaded;
    await vi.waitFor(() => expect(second.list.items().map((item) => [item.name, item.checked])).toEqual([['Milk', true]]));
  });

  it('an edit from a tab that closes before its socket opens reaches the relay through another tab, which says Synced only then', async () => {
    const relay = new FakeRelay();
    relay.autoAck = false;
    // Tab B's socket never opens (a slow mobile handshake); both tabs share the channel name.
    const stalled = new FakeRelay();
    stalled.reachable = false;
    const listId = newId();
    const storage = createMemoryStore();
    const tabA = start(relay, { listId, storage, crossTab: true }).session;
    await tabA.whenLoaded;
    await vi.waitFor(() => expect(relay.sockets.size).toBe(1));
    await new Promise((resolve) => setTimeout(resolve, 30));
    relay.ack();
    await vi.waitFor(() => expect(tabA.status()).toMatchObject({ state: 'synced', pendingChanges: 0 }));

    const tabB = start(stalled, { listId, storage, crossTab: true, serverUrl: 'ws://relay.test/sync' }).session;
    await tabB.whenLoaded;
    tabB.list.addItem({ name: 'Coffee' });
    await vi.waitFor(() => expect(tabA.list.items().map((item) => item.name)).toEqual(['Coffee']));
    expect(tabA.status()).toMatchObject({ state: 'syncing', pendingChanges: 1 });
    tabB.destroy();

    await vi.waitFor(() => expect(relay.doc.getMap('items').size).toBe(1));
    // Acks of what the relay stored before Coffee reached it cover nothing.
    expect(tabA.status()).toMatchObject({ state: 'syncing', pendingChanges: 1 });
    relay.ack();
    await vi.waitFor(() => expect(tabA.status()).toMatchObject({ state: 'synced', pendingChanges: 0 }));
  });

  it('two tabs offline show the same count of changes on this phone', async () => {
    const relay = new FakeRelay();
    relay.reachable = false;
    const network = new FakeNetwork();
    network.online = false;
    const listId = newId();
    const storage = createMemoryStore();
    const tabA = start(relay, { listId, storage, network, crossTab: true }).session;
    const tabB = start(relay, { listId, storage, network, crossTab: true }).session;
    await Promise.all([tabA.whenLoaded, tabB.whenLoaded]);
    await new Promise((resolve) => setTimeout(resolve, 30));
    tabA.list.addItem({ name: 'Eggs' });
    tabB.list.addItem({ name: 'Bread' });
    tabB.list.addItem({ name: 'Milk' });
    await vi.waitFor(() => expect(tabA.list.items()).toHaveLength(3));
    await vi.waitFor(() => expect(tabB.list.items()).toHaveLength(3));
    expect(tabA.status()).toMatchObject({ state: 'offline', pendingChanges: 3 });
    expect(tabB.status()).toMatchObject({ state: 'offline', pendingChanges: 3 });

    relay.reachable = true;
    network.set(true);
    await vi.waitFor(() => expect(tabA.status()).toMatchObject({ state: 'synced', pendingChanges: 0 }), { timeout: 3000 });
    await vi.waitFor(() => expect(tabB.status()).toMatchObject({ state: 'synced', pendingChanges: 0 }), { timeout: 3000 });
    expect(relay.doc.getMap('items').size).toBe(3);
  });

  it('destroy closes the connection and stops reporting', async () => {
    const relay = new FakeRelay();
    const { session } = start(relay);
    await vi.waitFor(() => expect(state(session)).toBe('synced'));
    let calls = 0;
    session.onStatus(() => calls++);
    session.destroy();
    await new Promise((resolve) => setTimeout(resolve, 30));
    expect(relay.sockets.size).toBe(0);
    expect(calls).toBe(0);
  });
});

/**
 * IndexedDB that answers `open` only `ms` later (a phone just restarted, a long list, a slow
 * disk): past the 1.5 s after which the list is shown without its stored copy.
 */
function answerIndexedDbOpenLate(ms: number): () => void {
  const factory = globalThis.indexedDB;
  const realOpen = factory.open.bind(factory);
  factory.open = ((name: string, version?: number) => {
    const request = realOpen(name, version);
    Object.defineProperty(request, 'onsuccess', {
      configurable: true,
      get: () => null,
      set: (handler: ((event: Event) => void) | null) => {
        request.addEventListener('success', (event) => setTimeout(() => handler?.(event), ms), { once: true });
      },
    });
    return request;
  }) as typeof factory.open;
  return () => void (factory.open = realOpen as typeof factory.open);
}

describe('a stored copy that loads after the list is shown', () => {

  it('keeps counting an edit it has not applied yet, and sends it to the relay once it has', async () => {
    const phone = offlinePhone();
    const first = phone.open();
    await first.whenLoaded;
    first.list.addItem({ name: 'Apples' });
    await sleep(60);
    first.destroy();

    const answerOnTime = answerIndexedDbOpenLate(2000);
    let second: ListSession;
    try {
      second = phone.open();
      await second.whenLoaded;
      // Shown by the timeout; Apples is still only on the device's disk.
      expect(second.status()).toMatchObject({ state: 'offline', pendingChanges: 1 });
    } finally {
      answerOnTime();
    }
    phone.relay.reachable = true;
    phone.network.set(true);
    await vi.waitFor(() => expect(second.list.items().map((item) => item.name)).toEqual(['Apples']), { timeout: 4000 });
    await vi.waitFor(() => expect(state(second)).toBe('synced'), { timeout: 4000 });
    expect(phone.relay.doc.getMap('items').size).toBe(1);
  }, 15000);

  it('applies a tap on a cached row once the stored copy brings its item', async () => {
    const phone = offlinePhone();
    const neverPause = () => new Promise<void>(() => {});
    const first = phone.open({ pauseBeforeLoad: neverPause });
    first.loadNow();
    await first.whenLoaded;
    const milk = first.list.addItem({ name: 'Milk' });
    await sleep(60);
    first.destroy();

    const answerOnTime = answerIndexedDbOpenLate(2000);
    try {
      const second = phone.open({ pauseBeforeLoad: neverPause });
      expect(second.cachedView?.items.map((item) => item.name)).toEqual(['Milk']);
      second.applyWhenLoaded({ kind: 'check', id: milk, checked: true });
      await second.whenLoaded;
      await vi.waitFor(() => expect(second.list.items().map((item) => [item.name, item.checked])).toEqual([['Milk', true]]), { timeout: 4000 });
    } finally {
      answerOnTime();
    }
  }, 15000);
  it('a tap on a cached row made after the timeout waits for the stored copy when only it holds the item', async () => {
    const { phone, milk } = await phoneWithMilkSynced();
    phone.relay.reachable = false;
    phone.network.online = false;

    const answerOnTime = answerIndexedDbOpenLate(2000);
    try {
      const second = phone.open();
      await second.whenLoaded;
      // Shown by the timeout: the rows are the cached view's, Milk is not in the document yet.
      expect(second.list.items()).toEqual([]);
      second.applyWhenLoaded({ kind: 'check', id: milk, checked: true });
      await vi.waitFor(() => expect(second.list.items().map((item) => [item.name, item.checked])).toEqual([['Milk', true]]), { timeout: 4000 });
    } finally {
      answerOnTime();
    }
  }, 15000);
});

describe('a tap waiting for a stored copy later than the load', () => {
  it('[TAP-SYNCED] counts as a change on this phone: not Synced while the relay has only the list without it', async () => {
    const { phone, milk } = await phoneWithMilkSynced();

    const answerOnTime = answerIndexedDbOpenLate(2000);
    try {
      const second = phone.open();
      const counts: number[] = [];
      second.onStatus((status) => counts.push(status.pendingChanges));
      expect(second.cachedView?.items.map((item) => item.name)).toEqual(['Milk']);
      second.applyWhenLoaded({ kind: 'check', id: milk, checked: true });
      expect(second.status().pendingChanges).toBe(1);
      await second.whenLoaded;
      // Shown by the timeout; the relay's answer brings Milk unticked and is acknowledged, but the
      // tick is still only in localStorage, waiting for the stored copy.
      await vi.waitFor(() => expect(second.list.item(milk)?.checked).toBe(false));
      await sleep(50);
      expect(second.status()).toMatchObject({ state: 'syncing', pendingChanges: 1 });

      await vi.waitFor(() => expect(second.status()).toMatchObject({ state: 'synced', pendingChanges: 0 }), { timeout: 4000 });
      expect(phone.relay.doc.getMap<Y.Map<unknown>>('items').get(milk)?.get('checked')).toBe(true);
      // Applied, the tap is counted as the edit it became, not twice.
      expect(Math.max(...counts)).toBe(1);
    } finally {
      answerOnTime();
    }
  }, 15000);
});

describe("this device's edits kept until the relay has them", () => {

  it('an edit IndexedDB could not store (the phone is full) is still there after a reload', async () => {
    const phone = offlinePhone();
    const first = phone.open();
    await first.whenLoaded;
    await sleep(50);
    // Every IndexedDB write now fails, as when the origin's quota is used up.
    const realAdd = IDBObjectStore.prototype.add;
    IDBObjectStore.prototype.add = function () {
      throw new DOMException('The quota has been exceeded.', 'QuotaExceededError');
    };
    const warn = vi.spyOn(console, 'warn').mockImplementation(() => {});
    const error = vi.spyOn(console, 'error').mockImplementation(() => {});
    try {
      first.list.addItem({ name: 'Eggs' });
      await sleep(50);
      expect(first.status()).toMatchObject({ state: 'offline', pendingChanges: 1 });
      first.destroy();
    } finally {
      IDBObjectStore.prototype.add = realAdd;
      warn.mockRestore();
      error.mockRestore();
    }
    const second = phone.open();
    await second.whenLoaded;
    expect(second.list.items().map((item) => item.name)).toEqual(['Eggs']);
    expect(second.status().deviceCopyFailed).toBeUndefined();
    expect(second.status()).toMatchObject({ pendingChanges: 1 });
    phone.relay.reachable = true;
    phone.network.set(true);
    await vi.waitFor(() => expect(state(second)).toBe('synced'), { timeout: 4000 });
    expect(phone.relay.doc.getMap('items').size).toBe(1);
  });

  it('an edit IndexedDB could not store is still on the phone after the relay acknowledged it', async () => {
    // The phone's storage is full: IndexedDB aborts the write (QuotaExceededError), y-indexeddb
    // only logs it. The relay stores and acknowledges the edit; the next offline start must
    // still show it, since "on this phone" is what the status said while it was pending.
    const phone = offlinePhone();
    phone.relay.reachable = true;
    phone.network.online = true;
    const first = phone.open();
    await vi.waitFor(() => expect(state(first)).toBe('synced'), { timeout: 3000 });
    await sleep(50);
    const realAdd = IDBObjectStore.prototype.add;
    IDBObjectStore.prototype.add = function (this: IDBObjectStore, ...args: Parameters<IDBObjectStore['add']>) {
      const request = realAdd.apply(this, args);
      // As a quota failure does: the write's transaction aborts, asynchronously.
      this.transaction.abort();
      return request;
    };
    const onUnhandled = (): void => {};
    process.on('unhandledRejection', onUnhandled);
    try {
      expect(first.status().deviceCopyFailed).toBeUndefined();
      first.list.addItem({ name: 'Eggs' });
      await vi.waitFor(() => expect(first.status()).toMatchObject({ state: 'synced', pendingChanges: 0 }), { timeout: 3000 });
      // The person is told (StatusLine's alert), not only the console.
      await vi.waitFor(() => expect(first.status().deviceCopyFailed).toBe(true));
      await sleep(50);
      first.destroy();
    } finally {
      IDBObjectStore.prototype.add = realAdd;
    }
    await sleep(20);
    process.off('unhandledRejection', onUnhandled);

    phone.relay.reachable = false;
    phone.network.online = false;
    const second = phone.open();
    await second.whenLoaded;
    expect(second.list.items().map((item) => item.name)).toEqual(['Eggs']);
    expect(second.status().deviceCopyFailed).toBeUndefined();

    // Stored by this healthy copy at its load: once the relay has everything, no longer kept twice.
    phone.relay.reachable = true;
    phone.network.set(true);
    await vi.waitFor(() => expect(state(second)).toBe('synced'), { timeout: 3000 });
    await vi.waitFor(() => expect(phone.storage.getItem(`basket:early-edits:${phone.listId}`)).toBeNull());
  });

  it("two tabs' edits IndexedDB could not store are both kept: one tab's does not overwrite the other's", async () => {
    const phone = offlinePhone();
    const tabA = start(phone.relay, { listId: phone.listId, storage: phone.storage, network: phone.network, crossTab: true }).session;
    const tabB = start(phone.relay, { listId: phone.listId, storage: phone.storage, network: phone.network, crossTab: true }).session;
    await Promise.all([tabA.whenLoaded, tabB.whenLoaded]);
    await sleep(50);
    const realAdd = IDBObjectStore.prototype.add;
    IDBObjectStore.prototype.add = function () {
      throw new DOMException('The quota has been exceeded.', 'QuotaExceededError');
    };
    const error = vi.spyOn(console, 'error').mockImplementation(() => {});
    try {
      tabA.list.addItem({ name: 'Eggs' });
      await vi.waitFor(() => expect(tabB.list.items()).toHaveLength(1));
      tabB.list.addItem({ name: 'Milk' });
      await vi.waitFor(() => expect(tabA.list.items()).toHaveLength(2));
      await sleep(50);
      tabA.destroy();
      tabB.destroy();
    } finally {
      IDBObjectStore.prototype.add = realAdd;
      error.mockRestore();
    }
    const reopened = phone.open();
    await reopened.whenLoaded;
    expect(reopened.list.items().map((item) => item.name).sort()).toEqual(['Eggs', 'Milk']);
  });

  it('many edits made offline are kept merged, and all come back', async () => {
    const phone = offlinePhone();
    const first = phone.open();
    await first.whenLoaded;
    for (let n = 0; n < 150; n++) first.list.addItem({ name: `Item ${n}` });
    await sleep(50);
    first.destroy();
    const kept = JSON.parse(phone.storage.getItem(`basket:early-edits:${phone.listId}`) ?? '[]') as unknown[];
    expect(kept.length).toBeLessThanOrEqual(64);
    const second = phone.open({ pauseBeforeLoad: () => new Promise<void>(() => {}) });
    // Back from the kept copies alone, before the stored copy is read.
    expect(second.list.items()).toHaveLength(150);
  });
});

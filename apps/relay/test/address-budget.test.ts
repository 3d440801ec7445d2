import * as encoding from 'lib0/encoding';
import WebSocket from 'ws';
import * as Y from 'yjs';
import { afterEach, describe, expect, it } from 'vitest';
import type { RelayLimits } from '../src/http/relay-server.js';
import { MemoryListStorage } from '../src/storage/memory-storage.js';
import { AddressBudgets } from '../src/sync/address-budgets.js';
import { LoadTurns } from '../src/sync/load-turns.js';
import { encodeAwarenessMessage, encodeSyncUpdate } from '../src/sync/protocol.js';
import type { Phone, RunningRelay } from './helpers.js';
import { closeCodeOf, connectPhone, costlyMalformedUpdate, newListId, openRawSocket, startRelay, waitFor } from './helpers.js';

/** A y-websocket polyfill whose sockets come from another loopback address than the test's others. */
class FromOtherAddress extends WebSocket {
  constructor(url: string, protocols?: string | string[]) {
    super(url, protocols, { localAddress: '127.0.0.2' });
  }
}

/** A Yjs update adding `count` items to the list at once: far longer than a few ms for Yjs to apply. */
function manyItems(count: number): Uint8Array {
  const doc = new Y.Doc();
  doc.transact(() => {
    for (let i = 0; i < count; i++) doc.getMap('items').set(`heavy-${i}`, { name: `Item ${i}`, quantity: i });
  });
  return Y.encodeStateAsUpdate(doc);
}

function update(key: string): Uint8Array {
  const doc = new Y.Doc();
  doc.getMap('items').set(key, key);
  return encodeSyncUpdate(Y.encodeStateAsUpdate(doc));
}

describe('per-address delivery budget', () => {
  const cleanups: Array<() => unknown> = [];
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  });

  /** A relay with `limits`, and two phones on a list from 127.0.0.2: an address other than the one misbehaving. */
  async function relayWithHonestPhones(
    limits: Partial<RelayLimits>,
    now?: () => number,
  ): Promise<{ running: RunningRelay; listId: string; honest: [Phone, Phone] }> {
    const running = await startRelay({ limits, now });
    cleanups.push(() => running.close());
    const listId = newListId();
    const honest: [Phone, Phone] = [
      connectPhone(running.syncUrl, listId, new Y.Doc(), undefined, FromOtherAddress),
      connectPhone(running.syncUrl, listId, new Y.Doc(), undefined, FromOtherAddress),
    ];
    for (const phone of honest) cleanups.push(() => phone.destroy());
    await waitFor(() => honest.every((phone) => phone.provider.synced), 5000, 'honest phones synced');
    return { running, listId, honest };
  }

  /**
   * A relay storing 3,600 bytes an hour per address, and this test's address in debt after one
   * list-sized upload (passed on credit, whatever its size) through `first`. `refill` moves the
   * relay's clock on until the budget is full again.
   */
  async function addressInStorageDebt(): Promise<{
    running: RunningRelay;
    honest: [Phone, Phone];
    storedIn: (listId: string, key: string) => unknown;
    first: WebSocket;
    refill: () => void;
  }> {
    let clockOffsetMs = 0;
    const { running, honest } = await relayWithHonestPhones({ maxStoredBytesPerIpPerHour: 3600 }, () => Date.now() + clockOffsetMs);
    const storedIn = (listId: string, key: string): unknown => running.relay.registry.get(listId)?.doc.getMap('items').get(key);
    const firstList = newListId();
    const first = await openRawSocket(running.syncUrl, firstList);
    cleanups.push(() => first.terminate());
    first.send(update('x'.repeat(6000)));
    await waitFor(() => storedIn(firstList, 'x'.repeat(6000)) !== undefined, 5000, 'the first upload stored');
    return {
      running,
      honest,
      storedIn,
      first,
      refill: () => {
        clockOffsetMs += 3 * 3600 * 1000;
      },
    };
  }

  async function expectStillSyncing([alice, bob]: [Phone, Phone]): Promise<void> {
    const key = `honest-${Math.random()}`;
    alice.doc.getMap('items').set(key, 'still syncing');
    await waitFor(() => bob.doc.getMap('items').get(key) === 'still syncing', 5000, 'honest fan-out');
    await waitFor(() => alice.isFullyStored(), 5000, 'honest ack');
  }

  it('[B1] one address flooding a list through many connections is slowed to its budget, not cut; other addresses keep syncing', async () => {
    const { running, listId, honest } = await relayWithHonestPhones({ maxDeliveriesPerIpPerSecond: 1000 });
    const [, bob] = honest;
    const flooded = (): number => [...bob.doc.getMap('items').keys()].filter((key) => key.startsWith('flood-')).length;

    const flooders = await Promise.all(Array.from({ length: 20 }, () => openRawSocket(running.syncUrl, listId)));
    for (const socket of flooders) cleanups.push(() => socket.terminate());
    const started = performance.now();
    // Each message goes to the 21 other connections: 22 deliveries. The 200 messages need 4,400;
    // the burst of 2,000 lets about 90 through at once, the rest follow at 1,000 a second.
    for (let round = 0; round < 10; round++) {
      for (const [index, socket] of flooders.entries()) socket.send(update(`flood-${index}-${round}`));
    }
    await new Promise((resolve) => setTimeout(resolve, 300));
    const allowedSoFar = (2000 + 1000 * ((performance.now() - started) / 1000)) / 22;
    expect(flooded()).toBeLessThanOrEqual(Math.ceil(allowedSoFar));
    expect(flooded()).toBeLessThan(200);
    // Meanwhile phones at another address sync as usual.
    await expectStillSyncing(honest);

    // Slowed, not dropped: every update arrives, and no connection was closed.
    await waitFor(() => flooded() === 200, 8000, 'the whole flood, at the budget pace');
    expect(performance.now() - started).toBeGreaterThan(((4400 - 2000) / 1000) * 1000 * 0.9);
    expect(flooders.every((socket) => socket.readyState === WebSocket.OPEN)).toBe(true);
    expect(running.relay.metrics.errors.get({ kind: 'address_rate_limited' })).toBeGreaterThan(0);
  });

  it('[B2] an address is forgotten only once it has no connection, its budgets have refilled and nothing of its is in flight', () => {
    let now = 0;
    const budgets = new AddressBudgets({ deliveriesPerSecond: 100, loopMsPerSecond: 50, storedBytesPerHour: 3600 }, () => now);
    const spent = budgets.forAddress('198.51.100.7');
    expect(spent.deliveries.tryTake(200)).toBe(true);
    expect(budgets.forAddress('198.51.100.7')).toBe(spent);
    budgets.sweep(() => false);
    // Reconnecting right away does not bring a full budget back.
    expect(budgets.forAddress('198.51.100.7').deliveries.tryTake(1)).toBe(false);
    now += 2_500;
    budgets.sweep(() => true);
    expect(budgets.size).toBe(1);
    // Time spent counts too: 150 ms charged against a 100 ms burst leaves it 50 ms in debt.
    spent.loopMs.charge(150);
    expect(spent.loopMs.hasCredit()).toBe(false);
    budgets.sweep(() => false);
    expect(budgets.size).toBe(1);
    now += 1_100;
    expect(spent.loopMs.hasCredit()).toBe(true);
    // A message that took far longer is owed up to a minute of the budget (50 ms a second here),
    // not just the burst: 10 s charged keeps the address waiting 60 s, not 2.
    spent.loopMs.charge(10_000);
    now += 59_000;
    expect(spent.loopMs.hasCredit()).toBe(false);
    now += 1_100;
    expect(spent.loopMs.hasCredit()).toBe(true);
    now += 2_000;
    // Stored bytes too: 1,800 bytes charged against 3,600 an hour take half an hour to refill.
    spent.storedBytes.charge(1800);
    budgets.sweep(() => false);
    expect(budgets.size).toBe(1);
    now += 30 * 60 * 1000;
    // Nor while it has a frame on the decode worker or a load running: a fresh budget would
    // let it start more at once.
    spent.decodesInFlight += 1;
    budgets.sweep(() => false);
    expect(budgets.size).toBe(1);
    spent.decodesInFlight -= 1;
    void spent.loads.turn();
    budgets.sweep(() => false);
    expect(budgets.size).toBe(1);
    spent.loads.finished();
    budgets.sweep(() => false);
    expect(budgets.size).toBe(0);
  });

  it('[B3] an address whose messages keep the event loop busy waits before its next one is handled, for as long as they cost; other addresses do not', async () => {
    // 2 ms a second, 4 ms burst: one update of 5,000 items takes Yjs far longer than 14 ms to
    // apply, so the address owes more than 10 ms and its next message waits over 5 s. With its
    // debt capped at the burst (until the eighteenth session) it waited 2.5 s whatever the cost.
    let clockOffsetMs = 0;
    const { running, listId, honest } = await relayWithHonestPhones({ maxLoopMsPerIpPerSecond: 2 }, () => Date.now() + clockOffsetMs);
    const [, bob] = honest;

    const socket = await openRawSocket(running.syncUrl, listId);
    cleanups.push(() => socket.terminate());
    socket.send(encodeSyncUpdate(manyItems(5000)));
    socket.send(update('after-the-heavy-one'));
    await waitFor(() => bob.doc.getMap('items').size >= 5000, 5000, 'the heavy update reaches the list');
    const heavyArrived = performance.now();
    await expectStillSyncing(honest);
    await new Promise((resolve) => setTimeout(resolve, Math.max(0, heavyArrived + 5000 - performance.now())));
    expect(bob.doc.getMap('items').get('after-the-heavy-one')).toBeUndefined();
    // Owed at most a minute of its budget: once that has passed, the next message is handled.
    clockOffsetMs += 61_000;
    await waitFor(() => bob.doc.getMap('items').get('after-the-heavy-one') === 'after-the-heavy-one', 3000, 'the next one, once paid for');
    expect(socket.readyState).toBe(WebSocket.OPEN);
    expect(running.relay.metrics.errors.get({ kind: 'address_busy' })).toBe(1);
  });

  it('[B6] decoding a frame is charged to its address too, even one refused as malformed: fresh connections do not escape the budget', async () => {
    // 20 ms a second, 40 ms burst; each frame takes Yjs far longer than that to find malformed.
    let clockOffsetMs = 0;
    const { running, listId, honest } = await relayWithHonestPhones({ maxLoopMsPerIpPerSecond: 20 }, () => Date.now() + clockOffsetMs);
    const frame = costlyMalformedUpdate(512 * 1024);
    // A refused sender just reconnects: three fresh connections stand for that.
    const sockets = await Promise.all(Array.from({ length: 3 }, () => openRawSocket(running.syncUrl, listId)));
    for (const socket of sockets) cleanups.push(() => socket.terminate());
    let refused = 0;
    for (const socket of sockets) {
      socket.once('close', (code) => {
        if (code === 4400) refused += 1;
      });
    }
    for (const socket of sockets) socket.send(frame);
    // Each decode leaves the address in debt, so the next frame waits before Yjs sees it.
    // Uncharged, the three were decoded back to back, as fast as Yjs could.
    for (let decoded = 1; decoded <= 3; decoded++) {
      await waitFor(() => refused === decoded, 10_000, `frame ${decoded} refused`);
      if (decoded === 3) break;
      await new Promise((resolve) => setTimeout(resolve, 1500));
      expect(refused).toBe(decoded);
      // A minute of budget paid off (the most the address can owe) lets the next one in.
      clockOffsetMs += 61_000;
    }
    expect(running.relay.metrics.errors.get({ kind: 'address_busy' })).toBeGreaterThan(0);
    await expectStillSyncing(honest);
  }, 40_000);

  it('[B7] an address that stored its hourly budget has its next update wait, not refused, until the budget refills; other addresses keep storing', async () => {
    const { running, honest, storedIn, first, refill } = await addressInStorageDebt();

    // A new list from the same address through a fresh connection: its content waits.
    const secondList = newListId();
    const second = await openRawSocket(running.syncUrl, secondList);
    cleanups.push(() => second.terminate());
    second.send(update('second-list'));
    await new Promise((resolve) => setTimeout(resolve, 1500));
    expect(storedIn(secondList, 'second-list')).toBeUndefined();
    expect(running.relay.metrics.errors.get({ kind: 'address_storage_limited' })).toBeGreaterThan(0);
    await expectStillSyncing(honest);

    // Once the budget has refilled, the waiting update is stored: slowed, not lost.
    refill();
    await waitFor(() => storedIn(secondList, 'second-list') === 'second-list', 3000, 'the held update, once the budget refilled');
    expect(second.readyState).toBe(WebSocket.OPEN);
    expect(first.readyState).toBe(WebSocket.OPEN);
  });

  it('[B11] a phone whose update waits for its address\'s storage budget is sent the list\'s presence every few seconds, so the app does not reconnect', async () => {
    const { running, storedIn, refill } = await addressInStorageDebt();
    const secondList = newListId();
    const second = await openRawSocket(running.syncUrl, secondList);
    cleanups.push(() => second.terminate());
    await new Promise((resolve) => setTimeout(resolve, 200));
    const presenceAt: number[] = [];
    second.on('message', (data: Buffer) => {
      if (data[0] === 1) presenceAt.push(Date.now());
    });
    const sentAt = Date.now();
    second.send(update('waits'));
    await new Promise((resolve) => setTimeout(resolve, 7500));
    expect(storedIn(secondList, 'waits')).toBeUndefined();
    // The web app reconnects after 8 s with nothing received: never that long between two.
    const gaps = [sentAt, ...presenceAt, Date.now()].slice(1).map((at, i) => at - ([sentAt, ...presenceAt][i] as number));
    expect(presenceAt.length).toBeGreaterThanOrEqual(2);
    expect(Math.max(...gaps)).toBeLessThan(5000);

    refill();
    await waitFor(() => storedIn(secondList, 'waits') === 'waits', 3000, 'the held update, once the budget refilled');
    expect(second.readyState).toBe(WebSocket.OPEN);
  }, 15_000);

  it('[B8] loading a list is charged to the address whose connection made it load: in debt, that address\'s next load waits (its phone connected) until it has paid; loaded lists and other addresses are served', async () => {
    // 2 ms a second, 4 ms burst; loading 5,000 stored items takes Yjs far longer than 14 ms.
    let clockOffsetMs = 0;
    const storage = new MemoryListStorage();
    const [storedList, otherStoredList, thirdStoredList] = [newListId(), newListId(), newListId()];
    for (const listId of [storedList, otherStoredList, thirdStoredList]) await storage.append(listId, [manyItems(5000)]);
    const running = await startRelay({ storage, limits: { maxLoopMsPerIpPerSecond: 2 }, now: () => Date.now() + clockOffsetMs });
    cleanups.push(() => running.close());
    const isReady = (listId: string): boolean => running.relay.registry.get(listId)?.isReady === true;

    const loader = await openRawSocket(running.syncUrl, storedList);
    cleanups.push(() => loader.terminate());
    await waitFor(() => isReady(storedList), 5000, 'the stored list loaded');
    // Connected, but its list waits to be loaded. Uncharged, the address had its whole budget
    // left and loaded lists one after another.
    const waiting = await openRawSocket(running.syncUrl, otherStoredList);
    cleanups.push(() => waiting.terminate());
    await new Promise((resolve) => setTimeout(resolve, 1500));
    expect(isReady(otherStoredList)).toBe(false);
    expect(running.relay.metrics.errors.get({ kind: 'address_busy_load_waiting' })).toBe(1);

    // A list already loaded costs no load: the same address still joins it.
    const joiner = await openRawSocket(running.syncUrl, storedList);
    cleanups.push(() => joiner.terminate());
    await waitFor(() => running.relay.registry.get(storedList)?.peerCount === 2, 2000, 'joined the loaded list');
    // Another address loads a list as usual (at its own cost: with 2 ms a second, its phone's
    // first sync request then waits for its budget too).
    const elsewhere = new WebSocket(`${running.syncUrl}/${thirdStoredList}`, { localAddress: '127.0.0.2' });
    cleanups.push(() => elsewhere.terminate());
    await waitFor(() => isReady(thirdStoredList), 5000, 'another address loads its list');
    expect(isReady(otherStoredList)).toBe(false);

    // Owed at most a minute of its budget: once that has passed, the waiting list loads.
    clockOffsetMs += 61_000;
    await waitFor(() => isReady(otherStoredList), 3000, 'the waiting list loaded, once paid for');
    expect(waiting.readyState).toBe(WebSocket.OPEN);
  });

  it('[B9] an address\'s loads take turns: four at a time, in the order asked, each only while it has credit', async () => {
    let credit = true;
    let waits = 0;
    const turns = new LoadTurns({ hasCredit: () => credit, msUntilCredit: () => 5, onWaitForCredit: () => (waits += 1) });
    const started: number[] = [];
    const ask = (id: number): void => void turns.turn().then(() => started.push(id));
    const settle = (): Promise<void> => new Promise((resolve) => setTimeout(resolve, 20));
    for (let id = 1; id <= 6; id++) ask(id);
    await settle();
    // Each load is charged only once it runs: uncapped, an address could start any number at once.
    expect(started).toEqual([1, 2, 3, 4]);
    expect(turns.busy).toBe(true);
    turns.finished();
    await settle();
    expect(started).toEqual([1, 2, 3, 4, 5]);
    // In debt: the next waits, counted once, and starts once the address has credit again.
    credit = false;
    turns.finished();
    await settle();
    expect(started).toEqual([1, 2, 3, 4, 5]);
    expect(waits).toBe(1);
    credit = true;
    await settle();
    expect(started).toEqual([1, 2, 3, 4, 5, 6]);
    for (let done = 0; done < 4; done++) turns.finished();
    expect(turns.busy).toBe(false);
  });

  it('[B10] a load waiting for its address\'s budget does not hold the shutdown', async () => {
    const storage = new MemoryListStorage();
    const [storedList, otherStoredList] = [newListId(), newListId()];
    for (const listId of [storedList, otherStoredList]) await storage.append(listId, [manyItems(5000)]);
    const running = await startRelay({ storage, limits: { maxLoopMsPerIpPerSecond: 2 } });
    const loader = await openRawSocket(running.syncUrl, storedList);
    cleanups.push(() => loader.terminate());
    await waitFor(() => running.relay.registry.get(storedList)?.isReady === true, 5000, 'the stored list loaded');
    const waiting = await openRawSocket(running.syncUrl, otherStoredList);
    cleanups.push(() => waiting.terminate());
    await waitFor(() => running.relay.metrics.errors.get({ kind: 'address_busy_load_waiting' }) === 1, 2000, 'the second load waiting');
    const closed = closeCodeOf(waiting);
    const started = performance.now();
    await running.close();
    // Waiting for the budget, it took about 10 s (20 ms owed at 2 ms a second).
    expect(performance.now() - started).toBeLessThan(3000);
    expect(await closed).toBe(1012);
  });

  it('[B4] a connection its address budget holds unread longer than the ping interval is not dropped as dead', async () => {
    const running = await startRelay({ limits: { maxDeliveriesPerIpPerSecond: 1, pingIntervalMs: 1000 } });
    cleanups.push(() => running.close());
    // A ws client answers every ping at once; its pongs wait unread while the relay holds it.
    const socket = await openRawSocket(running.syncUrl, newListId());
    cleanups.push(() => socket.terminate());
    for (let clock = 1; clock <= 8; clock++) socket.send(update(`slowed-${clock}`));
    await new Promise((resolve) => setTimeout(resolve, 4000));
    expect(running.relay.metrics.errors.get({ kind: 'address_rate_limited' })).toBeGreaterThan(0);
    expect(running.relay.metrics.errors.get({ kind: 'dead_socket' })).toBe(0);
    expect(socket.readyState).toBe(WebSocket.OPEN);
  });

  it('[B12] a connection held by its address budget is not dropped as dead when its hold ends while the list applies another phone\'s update in slices', async () => {
    // Made before the relay starts: the relay runs on this test's event loop, and a second of
    // Yjs here would leave every pong unread, held or not.
    const first = encodeSyncUpdate(manyItems(20_000));
    const large = new Y.Doc();
    large.transact(() => {
      for (let i = 0; i < 300_000; i++) large.getMap('items').set(`other-${i}`, i % 8);
    });
    const applyInSlices = encodeSyncUpdate(Y.encodeStateAsUpdate(large));
    const running = await startRelay({ limits: { maxLoopMsPerIpPerSecond: 20, pingIntervalMs: 300 } });
    cleanups.push(() => running.close());
    const listId = newListId();
    const items = (): Y.Map<unknown> | undefined => running.relay.registry.get(listId)?.doc.getMap('items');
    // Its pongs come at once; they are read only while the relay reads the socket.
    const held = await openRawSocket(running.syncUrl, listId);
    cleanups.push(() => held.terminate());
    const other = new WebSocket(`${running.syncUrl}/${listId}`, { localAddress: '127.0.0.2' });
    cleanups.push(() => other.terminate());
    await new Promise((resolve, reject) => other.once('open', resolve).once('error', reject));
    // Far more event loop than 20 ms a second: the address owes seconds once it is applied.
    held.send(first);
    await waitFor(() => items()?.has('heavy-19999') === true, 20_000, 'the first upload applied');
    // Held for the budget, its socket unread. The other address's update keeps the list busy
    // for seconds, past the hold's recheck (1 s) and two ping intervals after it.
    held.send(update('after-the-upload'));
    other.send(applyInSlices);
    await waitFor(() => items()?.has('other-299999') === true, 30_000, 'the other upload applied');
    await new Promise((resolve) => setTimeout(resolve, 900));
    expect(running.relay.metrics.slicedUpdates.get()).toBeGreaterThan(0);
    expect(running.relay.metrics.errors.get({ kind: 'address_busy' })).toBeGreaterThan(0);
    expect(running.relay.metrics.errors.get({ kind: 'dead_socket' })).toBe(0);
    expect(held.readyState).toBe(WebSocket.OPEN);
  }, 60_000);

  it('[B5] presence echoes, which change nothing and go to nobody, cost their address one delivery each, not one per phone', async () => {
    const running = await startRelay({ limits: { maxDeliveriesPerIpPerSecond: 10 } });
    cleanups.push(() => running.close());
    const listId = newListId();
    for (let watcher = 0; watcher < 10; watcher++) {
      const socket = new WebSocket(`${running.syncUrl}/${listId}`, { localAddress: '127.0.0.2' });
      await new Promise((resolve, reject) => socket.once('open', resolve).once('error', reject));
      cleanups.push(() => socket.terminate());
    }
    const phone = await openRawSocket(running.syncUrl, listId);
    cleanups.push(() => phone.terminate());
    const entries = encoding.createEncoder();
    encoding.writeVarUint(entries, 1);
    encoding.writeVarUint(entries, 4242);
    encoding.writeVarUint(entries, 1);
    encoding.writeVarString(entries, JSON.stringify({ name: 'Mum' }));
    const presence = encodeAwarenessMessage(encoding.toUint8Array(entries));
    phone.send(presence);
    await waitFor(() => running.relay.registry.get(listId)?.presence.hasState(4242) === true, 2000, 'presence applied');
    // What y-websocket sends when told of its own state again: the same clock.
    for (let echo = 0; echo < 5; echo++) phone.send(presence);
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(running.relay.metrics.errors.get({ kind: 'address_rate_limited' })).toBe(0);
  });
});

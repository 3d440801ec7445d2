import WebSocket from 'ws';
import * as Y from 'yjs';
import { afterEach, describe, expect, it } from 'vitest';
import { AddressBudgets } from '../src/sync/address-budgets.js';
import { encodeSyncUpdate } from '../src/sync/protocol.js';
import type { Phone, RunningRelay } from './helpers.js';
import { closeCodeOf, connectPhone, newListId, openRawSocket, startRelay, waitFor } from './helpers.js';

/** A y-websocket polyfill whose sockets come from another loopback address than the test's others. */
class FromOtherAddress extends WebSocket {
  constructor(url: string, protocols?: string | string[]) {
    super(url, protocols, { localAddress: '127.0.0.2' });
  }
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

  /** Two phones on `listId` from 127.0.0.2: an address other than the one misbehaving. */
  async function honestPhonesAtOtherAddress(running: RunningRelay, listId: string): Promise<[Phone, Phone]> {
    const phones: [Phone, Phone] = [
      connectPhone(running.syncUrl, listId, new Y.Doc(), undefined, FromOtherAddress),
      connectPhone(running.syncUrl, listId, new Y.Doc(), undefined, FromOtherAddress),
    ];
    for (const phone of phones) cleanups.push(() => phone.destroy());
    await waitFor(() => phones.every((phone) => phone.provider.synced), 5000, 'honest phones synced');
    return phones;
  }

  async function expectStillSyncing([alice, bob]: [Phone, Phone]): Promise<void> {
    const key = `honest-${Math.random()}`;
    alice.doc.getMap('items').set(key, 'still syncing');
    await waitFor(() => bob.doc.getMap('items').get(key) === 'still syncing', 5000, 'honest fan-out');
    await waitFor(() => alice.isFullyStored(), 5000, 'honest ack');
  }

  it('[B1] one address flooding a list through many connections is cut with 1013; phones at other addresses keep syncing', async () => {
    const running: RunningRelay = await startRelay({ limits: { maxDeliveriesPerIpPerSecond: 200 } });
    cleanups.push(() => running.close());
    const listId = newListId();
    const honest = await honestPhonesAtOtherAddress(running, listId);

    const flooders = await Promise.all(Array.from({ length: 20 }, () => openRawSocket(running.syncUrl, listId)));
    for (const socket of flooders) cleanups.push(() => socket.terminate());
    const closes = flooders.map((socket) => closeCodeOf(socket, 1500).catch(() => 'open' as const));
    // Each message would be delivered to 21 other connections: 22 deliveries, so the burst of
    // 400 lets about 18 through, far below the 20 × 10 the connections' own limits allow.
    for (let round = 0; round < 10; round++) {
      for (const [index, socket] of flooders.entries()) {
        if (socket.readyState === WebSocket.OPEN) socket.send(update(`flood-${index}-${round}`));
      }
    }
    const codes = await Promise.all(closes);
    expect(codes.filter((code) => code === 1013).length).toBeGreaterThan(0);
    expect(codes.every((code) => code === 1013 || code === 'open')).toBe(true);
    expect(running.relay.metrics.errors.get({ kind: 'address_rate_limited' })).toBeGreaterThan(0);
    // Nothing past the budget reached the list.
    const flooded = [...honest[0].doc.getMap('items').keys()].filter((key) => key.startsWith('flood-')).length;
    expect(flooded).toBeLessThanOrEqual(400 / 22 + 1);

    await expectStillSyncing(honest);
  });

  it('[B2] an address is forgotten only once it has no connection and its budgets have refilled', () => {
    let now = 0;
    const budgets = new AddressBudgets({ deliveriesPerSecond: 100, loopMsPerSecond: 50 }, () => now);
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
    now += 2_000;
    budgets.sweep(() => false);
    expect(budgets.size).toBe(0);
  });

  it('[B3] an address whose messages keep the event loop busy is cut with 1013; phones at other addresses keep syncing', async () => {
    // 2 ms a second, 4 ms burst: one update of 5,000 items takes longer than that to apply.
    const running: RunningRelay = await startRelay({ limits: { maxLoopMsPerIpPerSecond: 2 } });
    cleanups.push(() => running.close());
    const listId = newListId();
    const honest = await honestPhonesAtOtherAddress(running, listId);

    const heavy = new Y.Doc();
    heavy.transact(() => {
      for (let i = 0; i < 5000; i++) heavy.getMap('items').set(`heavy-${i}`, { name: `Item ${i}`, quantity: i });
    });
    const socket = await openRawSocket(running.syncUrl, listId);
    cleanups.push(() => socket.terminate());
    const closed = closeCodeOf(socket, 3000);
    socket.send(encodeSyncUpdate(Y.encodeStateAsUpdate(heavy)));
    socket.send(update('after-the-heavy-one'));
    expect(await closed).toBe(1013);
    expect(running.relay.metrics.errors.get({ kind: 'address_busy' })).toBe(1);
    // The first, paid for after the fact, was applied; the one that found the budget spent was not.
    const [, bob] = honest;
    await waitFor(() => bob.doc.getMap('items').size >= 5000, 5000, 'the heavy update reaches the list');
    expect(bob.doc.getMap('items').has('after-the-heavy-one')).toBe(false);
    await expectStillSyncing(honest);
  });
});

/**
 * Review: can an honest client (an unmodified y-websocket WebsocketProvider) be refused wrongly?
 * Each test is a family's phones doing ordinary things, and fails on the current code because
 * the relay closes one of them with a permanent code (y-websocket then never reconnects).
 */
import { afterEach, describe, expect, it } from 'vitest';
import * as Y from 'yjs';
import { MemoryListStorage } from '../src/storage/memory-storage.js';
import type { Phone } from './helpers.js';
import { connectPhone, newListId, startRelay, waitFor } from './helpers.js';

const KiB = 1024;

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  while (cleanups.length > 0) await cleanups.pop()?.();
});

/** The close codes a phone's provider saw. */
function closesOf(phone: Phone): number[] {
  const closes: number[] = [];
  phone.provider.on('connection-close', (event: { code: number } | null) => {
    if (event !== null) closes.push(event.code);
  });
  return closes;
}

function phone(syncUrl: string, listId: string, doc = new Y.Doc()): Phone {
  const connected = connectPhone(syncUrl, listId, doc);
  cleanups.push(() => connected.destroy());
  return connected;
}

/** Adds an item (a nested map, as Basket's list model does) with a note of `noteChars` characters. */
function addItem(doc: Y.Doc, id: string, noteChars: number): void {
  doc.transact(() => {
    const item = new Y.Map<unknown>();
    item.set('name', id);
    item.set('note', 'n'.repeat(noteChars));
    doc.getMap('items').set(id, item);
  });
}

/** Waits until the relay has acknowledged everything the phone wrote. */
function stored(p: Phone, what: string): Promise<void> {
  return waitFor(() => p.isFullyStored(), 10_000, what);
}

describe('honest phones are not refused', () => {
  it('[HP1] a list that filled up and was then cleaned up takes new items again (its size measured before the cleanup is not kept)', async () => {
    // Scaled down from the defaults (8 MiB list, 1 MiB compaction threshold): 64 KiB and 8 KiB.
    const limit = 64 * KiB;
    const running = await startRelay({ storage: new MemoryListStorage(), limits: { maxListBytes: limit, maxMessageBytes: limit, compactLogBytes: 8 * KiB } });
    cleanups.push(() => running.close());
    const listId = newListId();

    // Home fills the list over time: 29 items of about 2 KiB (about 59 KiB).
    const home = phone(running.syncUrl, listId);
    await waitFor(() => home.provider.synced, 5000, 'home synced');
    for (let i = 0; i < 29; i++) {
      addItem(home.doc, `item-${i}`, 2000);
      await stored(home, `item ${i} stored`);
    }

    // The shop phone adds a large item the list has no room for: refused with 4422, rightly.
    const shop = phone(running.syncUrl, listId);
    const shopCloses = closesOf(shop);
    await waitFor(() => shop.provider.synced && shop.doc.getMap('items').size === 29, 5000, 'shop synced');
    addItem(shop.doc, 'too-big', 8000);
    await waitFor(() => shopCloses.length > 0, 5000, 'shop refused');
    expect(shopCloses[0]).toBe(4422);

    // The family cleans up: home removes all but two of the items. The document is now a few KiB.
    home.doc.transact(() => {
      for (let i = 2; i < 29; i++) home.doc.getMap('items').delete(`item-${i}`);
    });
    await waitFor(() => running.relay.registry.get(listId)?.doc.getMap('items').size === 2, 5000, 'cleanup applied');
    await stored(home, 'cleanup stored');
    const documentBytes = Y.encodeStateAsUpdate(running.relay.registry.get(listId)!.doc).length;
    expect(documentBytes).toBeLessThan(10 * KiB);

    // Home then adds an ordinary item: the list would hold about 11 KiB of a 64 KiB limit.
    const homeCloses = closesOf(home);
    addItem(home.doc, 'after-cleanup', 6000);
    await waitFor(() => home.isFullyStored() || homeCloses.length > 0, 5000, 'home acknowledged or closed');
    // Fails today: closed with 4422 ("list too large"), because the document size measured at
    // the shop's refusal (59 KiB) is kept and only grows until a compaction.
    expect(homeCloses).toEqual([]);
    expect(home.isFullyStored()).toBe(true);
  }, 60_000);

  it('[HP2] a phone reconnecting with one offline edit is not refused for the delete set its sync step 2 carries', async () => {
    // A list with a long history of removals: 6,000 entries, every other one later removed.
    const history = new Y.Doc();
    const entries = history.getArray<string>('entries');
    entries.insert(0, Array.from({ length: 6000 }, (_, i) => `entry ${i}: ${'two pints of milk, semi-skimmed'}`));
    for (let i = 5998; i >= 0; i -= 2) entries.delete(i, 1);
    const documentBytes = Y.encodeStateAsUpdate(history).length;
    const deleteSetBytes = Y.encodeStateAsUpdate(history, Y.encodeStateVector(history)).length;
    // Room for a few more KiB of content, but less than the delete set takes on the wire.
    const limit = documentBytes + 4 * KiB;
    expect(deleteSetBytes).toBeGreaterThan(4 * KiB);
    const running = await startRelay({ storage: new MemoryListStorage(), limits: { maxListBytes: limit, maxMessageBytes: limit, compactLogBytes: Math.ceil(limit / 8) } });
    cleanups.push(() => running.close());
    const listId = newListId();

    // The list reaches the relay, and a second phone syncs it.
    const first = phone(running.syncUrl, listId, history);
    await stored(first, 'history stored');
    const second = phone(running.syncUrl, listId);
    const secondCloses = closesOf(second);
    await waitFor(() => second.provider.synced && second.doc.getArray('entries').length === 3000, 5000, 'second synced');

    // The second phone goes offline (the shop's basement), adds one entry, and comes back.
    second.provider.disconnect();
    await waitFor(() => !second.provider.wsconnected, 5000, 'second offline');
    second.doc.getArray<string>('entries').push(['milk, two pints']);
    second.provider.connect();
    await waitFor(() => second.isFullyStored() || secondCloses.some((code) => code >= 4000), 5000, 'second acknowledged or refused');
    // Fails today: closed with 4422. Its sync step 2 holds a few dozen bytes of new content and the whole
    // delete set (which the list already has), and the delete set is counted as growth.
    expect(secondCloses.filter((code) => code >= 4000)).toEqual([]);
    expect(second.isFullyStored()).toBe(true);
    await waitFor(() => first.doc.getArray('entries').toArray().includes('milk, two pints'), 5000, 'first phone sees the edit');
  }, 60_000);

  it('[HP3] a phone whose list was built offline (an imported list, rows inserted among it) syncs it: its first sync step 2 is not refused as "array run split"', async () => {
    const running = await startRelay({ storage: new MemoryListStorage() });
    cleanups.push(() => running.close());
    const listId = newListId();

    // Offline, a phone imports 5,000 rows at once, then inserts 450 rows among them, one at a time.
    const doc = new Y.Doc();
    const rows = doc.getArray<string>('rows');
    rows.insert(0, Array.from({ length: 5000 }, (_, i) => `row ${i}`));
    for (let j = 0; j < 450; j++) rows.insert(Math.floor(((j + 1) * (5000 + j)) / 451), [`added ${j}`]);
    // Yjs applies this 70 kB document in a few milliseconds: the pieces of the imported run are
    // not neighbours (the inserted rows sit between them), so Yjs never joins them.
    const started = performance.now();
    Y.applyUpdate(new Y.Doc(), Y.encodeStateAsUpdate(doc));
    expect(performance.now() - started).toBeLessThan(500);

    // It then connects for the first time.
    const offline = phone(running.syncUrl, listId, doc);
    const closes = closesOf(offline);
    await waitFor(() => offline.isFullyStored() || closes.length > 0, 10_000, 'acknowledged or refused');
    // Fails today: closed with 4400 ("update splits an array run into too many pieces"): the
    // check counts the run's pieces as if Yjs would join them, which it only does for neighbours.
    expect(closes).toEqual([]);
    expect(offline.isFullyStored()).toBe(true);
    const other = phone(running.syncUrl, listId);
    await waitFor(() => other.doc.getArray('rows').length === 5450, 10_000, 'another phone gets the list');
  }, 60_000);
  it('[HP4] a Basket list used week after week (items ticked and re-quantified by two phones) is not refused while its stored size is well under the limit', async () => {
    // Scaled down from 8 MiB; the same ratio of the list's history to its limit.
    const limit = 64 * KiB;
    const running = await startRelay({ storage: new MemoryListStorage(), limits: { maxListBytes: limit, maxMessageBytes: limit, compactLogBytes: 8 * KiB } });
    cleanups.push(() => running.close());
    const listId = newListId();
    const home = phone(running.syncUrl, listId);
    const shop = phone(running.syncUrl, listId);
    const closes = [...[home, shop].map(closesOf)];
    await waitFor(() => home.provider.synced && shop.provider.synced, 5000, 'both synced');

    // A family's staples: 150 items, added in a few sittings.
    for (let batch = 0; batch < 5; batch++) {
      home.doc.transact(() => {
        for (let i = batch * 30; i < (batch + 1) * 30; i++) {
          const item = new Y.Map<unknown>();
          item.set('name', `staple ${i}`);
          item.set('quantity', 1);
          item.set('checked', false);
          item.set('addedBy', 'Sam');
          item.set('addedAt', 1_760_000_000_000 + i);
          home.doc.getMap('items').set(`item-${String(i).padStart(4, '0')}-${'x'.repeat(16)}`, item);
        }
      });
      await stored(home, 'items stored');
    }
    await waitFor(() => shop.doc.getMap('items').size === 150, 5000, 'shop has the items');

    // Each week the shop phone ticks everything off and home unticks it and sets quantities.
    const relayDocBytes = (): number => Y.encodeStateAsUpdate(running.relay.registry.get(listId)!.doc).length;
    let weeks = 0;
    while (relayDocBytes() < 0.9 * limit && closes.every((c) => c.length === 0)) {
      weeks += 1;
      shop.doc.transact(() => {
        for (const item of shop.doc.getMap('items').values()) (item as Y.Map<unknown>).set('checked', true);
      });
      await stored(shop, `week ${weeks}: ticks stored`);
      await waitFor(() => [...home.doc.getMap('items').values()].every((item) => (item as Y.Map<unknown>).get('checked') === true), 5000, 'home sees the ticks');
      home.doc.transact(() => {
        for (const item of home.doc.getMap('items').values()) {
          (item as Y.Map<unknown>).set('checked', false);
          (item as Y.Map<unknown>).set('quantity', 1 + (weeks % 3));
        }
      });
      await waitFor(() => home.isFullyStored() || closes.some((c) => c.length > 0), 5000, `week ${weeks}: unticks stored or refused`);
    }
    // Fails today: home is refused with 4422 while the list's document is at about 81% of the limit: each
    // overwritten value is a deleted item Yjs stores in about 10 bytes, and the heap estimate
    // counts 480 bytes for it (heap-estimate.ts, ITEM_BYTES), so the estimate over 34 passes the
    // limit long before the stored bytes do; measured here, Yjs holds such a list in about 24
    // times its stored bytes, under the 34 the limit assumes.
    expect({ closes, documentBytes: relayDocBytes() < limit }).toEqual({ closes: [[], []], documentBytes: true });
  }, 120_000);

  it('[HP5] a phone pasting 250 items (a transaction, so a message, each) at the default rate limit is slowed, not closed', async () => {
    const running = await startRelay({ storage: new MemoryListStorage() });
    cleanups.push(() => running.close());
    const listId = newListId();
    const pasting = phone(running.syncUrl, listId);
    const other = phone(running.syncUrl, listId);
    const closes = [pasting, other].map(closesOf);
    await waitFor(() => pasting.provider.synced && other.provider.synced, 5000, 'both synced');
    // 250 messages at once: past the burst of 200 (MAX_MESSAGES_PER_SECOND 100, twice that at once).
    for (let i = 0; i < 250; i++) addItem(pasting.doc, `pasted-${i}`, 0);
    await waitFor(() => other.doc.getMap('items').size === 250, 10_000, 'the other phone has every item');
    await stored(pasting, 'every item stored');
    expect(closes).toEqual([[], []]);
    expect(running.relay.metrics.errors.get({ kind: 'rate_limited' })).toBeGreaterThan(0);
  });

  it('[S2] a phone whose list one phone filled in one push and another wrote rows among syncs it to a relay that lacks the list: its sync step 2 is not refused as "array run split"', async () => {
    // A relay restored from an older backup, or the list moved to a new relay.
    const running = await startRelay({ storage: new MemoryListStorage() });
    cleanups.push(() => running.close());
    const listId = newListId();

    // One phone pushes 2,000 rows at once; this one, synced with it, adds a row between each pair.
    const pusher = new Y.Doc();
    pusher.getArray<string>('rows').push(Array.from({ length: 2000 }, (_, i) => `row ${i}`));
    const doc = new Y.Doc();
    Y.applyUpdate(doc, Y.encodeStateAsUpdate(pusher));
    const rows = doc.getArray<string>('rows');
    doc.transact(() => {
      for (let i = 1999; i >= 1; i--) rows.insert(i, [`added ${i}`]);
    });

    const restored = phone(running.syncUrl, listId, doc);
    const closes = closesOf(restored);
    await waitFor(() => restored.isFullyStored() || closes.length > 0, 10_000, 'acknowledged or refused');
    // Failed before [S2]: closed with 4400 ("update splits an array run into too many pieces"):
    // the pusher's run is in 2,000 pieces, each pair with the other phone's row between them,
    // which Yjs never joins, and the check counted only rows of the run's own phone as between.
    expect(closes).toEqual([]);
    expect(restored.isFullyStored()).toBe(true);
    const other = phone(running.syncUrl, listId);
    await waitFor(() => other.doc.getArray('rows').length === 3999, 10_000, 'another phone gets the list');
  }, 60_000);
});

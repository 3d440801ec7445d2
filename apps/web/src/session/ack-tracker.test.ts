import { describe, expect, it } from 'vitest';
import * as Y from 'yjs';
import { AckTracker, DELETION_MARK_MAP, ackStorageKey } from './ack-tracker.js';
import { createMemoryStore } from './device-storage.js';
import { FROM_OTHER_TABS } from './other-tabs.js';

const LIST = 'listlistlistlistlist';
const fullVector = (doc: Y.Doc) => Y.decodeStateVector(Y.encodeStateVector(doc));

/** Two tabs of one browser on the same list: their own documents, one device storage. */
function twoTabs() {
  const storage = createMemoryStore();
  const tabA = new Y.Doc();
  const tabB = new Y.Doc();
  return {
    storage,
    tabA,
    tabB,
    trackerA: new AckTracker(tabA, { storage, listId: LIST }),
    trackerB: new AckTracker(tabB, { storage, listId: LIST }),
  };
}

describe('ack tracker', () => {
  it('counts each local transaction until an ack covers it', () => {
    const doc = new Y.Doc();
    const tracker = new AckTracker(doc, { storage: createMemoryStore(), listId: LIST, now: () => 42 });
    const items = doc.getMap('items');
    items.set('a', 1);
    doc.transact(() => {
      items.set('b', 2);
      items.set('c', 3);
    });
    expect(tracker.state().pendingChanges).toBe(2);

    const afterFirst = fullVector(doc);
    items.set('d', 4);
    tracker.acknowledge(afterFirst);
    expect(tracker.state().pendingChanges).toBe(1);
    expect(tracker.state().lastSyncedAt).toBeNull();

    tracker.acknowledge(fullVector(doc));
    expect(tracker.state()).toEqual({ pendingChanges: 0, lastSyncedAt: 42, ackedThisConnection: true });
  });

  it('does not count changes that came from elsewhere', () => {
    const remote = new Y.Doc();
    remote.getMap('items').set('x', 1);
    const doc = new Y.Doc();
    const tracker = new AckTracker(doc, { storage: createMemoryStore(), listId: LIST });
    Y.applyUpdate(doc, Y.encodeStateAsUpdate(remote), 'relay');
    expect(tracker.state().pendingChanges).toBe(0);
  });

  it('an ack for another client or an older clock covers nothing', () => {
    const doc = new Y.Doc();
    const tracker = new AckTracker(doc, { storage: createMemoryStore(), listId: LIST });
    doc.getMap('items').set('a', 1);
    doc.getMap('items').set('a', 2);
    tracker.acknowledge(new Map([[doc.clientID + 1, 100]]));
    expect(tracker.state().pendingChanges).toBe(2);
    tracker.acknowledge(new Map([[doc.clientID, 1]]));
    expect(tracker.state().pendingChanges).toBe(1);
  });

  it('a delete-only transaction stays pending until an ack covers it', () => {
    const doc = new Y.Doc();
    const items = doc.getMap('items');
    items.set('a', 1);
    const tracker = new AckTracker(doc, { storage: createMemoryStore(), listId: LIST });
    items.delete('a');
    expect(tracker.state().pendingChanges).toBe(1);
    tracker.acknowledge(fullVector(doc));
    expect(tracker.state().pendingChanges).toBe(0);
  });

  it('an ack of a batch the relay cut before a deletion reached it does not cover the deletion', () => {
    // The relay reads a batch's vector when it cuts the batch and sends the ack after the fsync:
    // that ack can arrive after a later deletion was sent (measured: 9 ms after).
    const doc = new Y.Doc();
    const items = doc.getMap('items');
    items.set('a', 1);
    const relay = new Y.Doc();
    Y.applyUpdate(relay, Y.encodeStateAsUpdate(doc));
    const inFlight: Uint8Array[] = [];
    doc.on('update', (update: Uint8Array) => inFlight.push(update));
    const tracker = new AckTracker(doc, { storage: createMemoryStore(), listId: LIST });

    items.set('b', 2);
    for (const update of inFlight.splice(0)) Y.applyUpdate(relay, update);
    const earlierBatch = fullVector(relay);
    items.delete('a');
    expect(tracker.state().pendingChanges).toBe(2);

    tracker.acknowledge(earlierBatch);
    expect(tracker.state().pendingChanges).toBe(1);

    for (const update of inFlight.splice(0)) Y.applyUpdate(relay, update);
    tracker.acknowledge(fullVector(relay));
    expect(tracker.state().pendingChanges).toBe(0);
    expect(relay.getMap('items').has('a')).toBe(false);
  });

  it('the marker after a deletion is one entry outside the list and not a change of its own', () => {
    const doc = new Y.Doc();
    const items = doc.getMap('items');
    items.set('a', 1);
    items.set('b', 1);
    const tracker = new AckTracker(doc, { storage: createMemoryStore(), listId: LIST });
    items.delete('a');
    items.delete('b');
    expect(tracker.state().pendingChanges).toBe(2);
    expect(doc.getMap(DELETION_MARK_MAP).size).toBe(1);
    expect(items.toJSON()).toEqual({});
  });

  it('deletions counted by an older version are marked once the document is loaded', () => {
    const storage = createMemoryStore();
    storage.setItem(ackStorageKey(LIST), JSON.stringify({ acked: {}, pending: {}, pendingDeletes: 2, lastSyncedAt: null }));
    const doc = new Y.Doc();
    const tracker = new AckTracker(doc, { storage, listId: LIST });
    expect(tracker.state().pendingChanges).toBe(2);
    tracker.documentLoaded();
    tracker.acknowledge(new Map());
    expect(tracker.state().pendingChanges).toBe(2);
    tracker.acknowledge(fullVector(doc));
    expect(tracker.state().pendingChanges).toBe(0);
  });

  it('after a reload (new client id) the earlier pending changes are still counted, then acked', () => {
    const storage = createMemoryStore();
    const before = new Y.Doc();
    const first = new AckTracker(before, { storage, listId: LIST });
    before.getMap('items').set('a', 1);
    before.getMap('items').set('b', 1);
    first.destroy();

    const stored = Y.encodeStateAsUpdate(before);
    const after = new Y.Doc();
    const second = new AckTracker(after, { storage, listId: LIST });
    expect(second.state().pendingChanges).toBe(2);
    Y.applyUpdate(after, stored, 'indexeddb');
    second.documentLoaded();
    expect(second.state().pendingChanges).toBe(2);
    after.getMap('items').set('c', 1);
    expect(second.state().pendingChanges).toBe(3);
    second.acknowledge(fullVector(after));
    expect(second.state().pendingChanges).toBe(0);
  });

  it('drops pending entries whose updates never reached the stored document', () => {
    const storage = createMemoryStore();
    const lost = new Y.Doc();
    const first = new AckTracker(lost, { storage, listId: LIST });
    lost.getMap('items').set('a', 1);
    first.destroy();

    const second = new AckTracker(new Y.Doc(), { storage, listId: LIST });
    expect(second.state().pendingChanges).toBe(1);
    second.documentLoaded();
    expect(second.state().pendingChanges).toBe(0);
    // Another tab saving before this one saves the pruned state does not bring them back.
    second.storedChanged();
    expect(second.state().pendingChanges).toBe(0);
    // Saved as dropped, not merged back from what was stored: else "Syncing…" for ever.
    second.flush();
    expect(second.state().pendingChanges).toBe(0);
    second.destroy();
    expect(new AckTracker(new Y.Doc(), { storage, listId: LIST }).state().pendingChanges).toBe(0);
  });

  it('a new connection needs a new ack; clear() forgets the stored state', () => {
    const storage = createMemoryStore();
    const doc = new Y.Doc();
    const tracker = new AckTracker(doc, { storage, listId: LIST });
    tracker.acknowledge(new Map());
    expect(tracker.state().ackedThisConnection).toBe(true);
    tracker.connectionOpened();
    expect(tracker.state().ackedThisConnection).toBe(false);
    tracker.flush();
    expect(storage.getItem(ackStorageKey(LIST))).not.toBeNull();
    tracker.destroy();
    tracker.clear();
    expect(storage.getItem(ackStorageKey(LIST))).toBeNull();
  });

  it('[FIRST-ACK] a connection counts as acknowledged only once an ack covers all the document held as it opened, not an earlier edit\'s ack', () => {
    // The list as the last page stored it, all acknowledged; the relay was restored since from a
    // backup older than the list.
    const lastPage = new Y.Doc();
    lastPage.getMap('items').set('bread', 1);
    lastPage.getMap('items').set('milk', 1);
    const doc = new Y.Doc();
    const tracker = new AckTracker(doc, { storage: createMemoryStore(), listId: LIST });
    Y.applyUpdate(doc, Y.encodeStateAsUpdate(lastPage), 'indexeddb');
    tracker.acknowledge(fullVector(doc));
    const items = doc.getMap('items');
    const restored = new Y.Doc();
    const sent: Uint8Array[] = [];
    doc.on('update', (update: Uint8Array) => sent.push(update));

    tracker.connectionOpened();
    // Eggs goes out before our sync step 2 (the relay's sync step 1 had not arrived yet).
    items.set('eggs', 1);
    for (const update of sent.splice(0)) Y.applyUpdate(restored, update);
    tracker.acknowledge(fullVector(restored));
    expect(tracker.state()).toMatchObject({ pendingChanges: 0, ackedThisConnection: false });

    // Our sync step 2 brings the rest.
    Y.applyUpdate(restored, Y.encodeStateAsUpdate(doc, Y.encodeStateVector(restored)));
    tracker.acknowledge(fullVector(restored));
    expect(tracker.state()).toMatchObject({ pendingChanges: 0, ackedThisConnection: true });
  });

  it('ignores corrupted stored state', () => {
    const storage = createMemoryStore();
    storage.setItem(ackStorageKey(LIST), '{"pending":{"1":["x",-1,3]},"acked":[],"pendingDeletes":"no"}');
    const tracker = new AckTracker(new Y.Doc(), { storage, listId: LIST });
    expect(tracker.state().pendingChanges).toBe(1);
  });

  it('two tabs on the same list keep the union of their pending changes', () => {
    const { storage, tabA, tabB, trackerA, trackerB } = twoTabs();
    tabA.getMap('items').set('a', 1);
    trackerA.flush();
    tabB.getMap('items').set('b', 1);
    trackerB.flush();
    expect(trackerB.state().pendingChanges).toBe(2);
    trackerA.destroy();
    trackerB.destroy();
    const reloaded = new AckTracker(new Y.Doc(), { storage, listId: LIST });
    expect(reloaded.state().pendingChanges).toBe(2);
  });

  it('a deletion pending in one tab is kept when another tab saves', () => {
    const storage = createMemoryStore();
    const tabA = new Y.Doc();
    tabA.getMap('items').set('a', 1);
    const tabB = new Y.Doc();
    const trackerA = new AckTracker(tabA, { storage, listId: LIST });
    const trackerB = new AckTracker(tabB, { storage, listId: LIST });
    tabA.getMap('items').delete('a');
    trackerA.flush();
    tabB.getMap('items').set('b', 1);
    trackerB.flush();
    trackerA.destroy();
    trackerB.destroy();
    const reloaded = new AckTracker(new Y.Doc(), { storage, listId: LIST });
    expect(reloaded.state().pendingChanges).toBe(2);
  });

  it('an edit received from another tab counts until an ack covers its clock, not just any ack', () => {
    // The tab that made it may close before its socket opens: this tab shows it, and sends it.
    const storage = createMemoryStore();
    const tabA = new Y.Doc();
    const tabB = new Y.Doc();
    const trackerA = new AckTracker(tabA, { storage, listId: LIST });
    trackerA.acknowledge(fullVector(tabA));
    expect(trackerA.state()).toMatchObject({ pendingChanges: 0, ackedThisConnection: true });

    const relayBefore = fullVector(tabA);
    tabB.getMap('items').set('coffee', 1);
    Y.applyUpdate(tabA, Y.encodeStateAsUpdate(tabB), FROM_OTHER_TABS);
    expect(trackerA.state().pendingChanges).toBe(1);
    trackerA.acknowledge(relayBefore);
    expect(trackerA.state().pendingChanges).toBe(1);
    trackerA.acknowledge(fullVector(tabB));
    expect(trackerA.state().pendingChanges).toBe(0);
  });

  it("another phone's edit that a tab brings, which the relay already acknowledged, is not counted as on this phone", () => {
    const doc = new Y.Doc();
    const tracker = new AckTracker(doc, { storage: createMemoryStore(), listId: LIST });
    const dad = new Y.Doc();
    dad.getMap('items').set('bread', 1);
    // The relay stored Dad's edit (its ack names his clock); this tab gets the edit from another tab.
    tracker.acknowledge(fullVector(dad));
    Y.applyUpdate(doc, Y.encodeStateAsUpdate(dad), FROM_OTHER_TABS);
    expect(tracker.state().pendingChanges).toBe(0);
  });

  it('every tab shows the same count for the phone: its own edits, the other tabs\' and those they saved', () => {
    const { tabA, tabB, trackerA, trackerB } = twoTabs();
    // Each tab's updates reach the other as they would over BroadcastChannel.
    tabA.on('update', (update: Uint8Array, origin: unknown) => {
      if (origin !== FROM_OTHER_TABS) Y.applyUpdate(tabB, update, FROM_OTHER_TABS);
    });
    tabB.on('update', (update: Uint8Array, origin: unknown) => {
      if (origin !== FROM_OTHER_TABS) Y.applyUpdate(tabA, update, FROM_OTHER_TABS);
    });

    tabA.getMap('items').set('eggs', 1);
    tabB.getMap('items').set('bread', 1);
    tabB.getMap('items').set('milk', 2);
    expect([trackerA.state().pendingChanges, trackerB.state().pendingChanges]).toEqual([3, 3]);
    // Saved and read by the other tab (a storage event): the same entries, counted once.
    trackerA.flush();
    trackerB.storedChanged();
    trackerB.flush();
    trackerA.storedChanged();
    expect([trackerA.state().pendingChanges, trackerB.state().pendingChanges]).toEqual([3, 3]);

    // B acknowledged: A learns it from B's save.
    trackerB.acknowledge(fullVector(tabB));
    trackerB.flush();
    trackerA.storedChanged();
    expect([trackerA.state().pendingChanges, trackerB.state().pendingChanges]).toEqual([0, 0]);
  });

  it('a tab learns the pending changes another tab saved without saving anything itself', () => {
    const storage = createMemoryStore();
    const tabA = new Y.Doc();
    const trackerA = new AckTracker(tabA, { storage, listId: LIST });
    const trackerB = new AckTracker(new Y.Doc(), { storage, listId: LIST });
    tabA.getMap('items').set('eggs', 1);
    trackerA.flush();
    expect(trackerB.state().pendingChanges).toBe(0);
    trackerB.storedChanged();
    expect(trackerB.state().pendingChanges).toBe(1);
  });

  it('a deletion from another tab is covered only by an ack of a marker written after it', () => {
    const storage = createMemoryStore();
    const tabA = new Y.Doc();
    const tabB = new Y.Doc();
    tabB.getMap('items').set('a', 1);
    Y.applyUpdate(tabA, Y.encodeStateAsUpdate(tabB));
    const trackerA = new AckTracker(tabA, { storage, listId: LIST });
    const earlierBatch = fullVector(tabA);
    const deletion: Uint8Array[] = [];
    tabB.on('update', (update: Uint8Array) => deletion.push(update));
    tabB.getMap('items').delete('a');
    for (const update of deletion) Y.applyUpdate(tabA, update, FROM_OTHER_TABS);
    expect(tabA.getMap('items').has('a')).toBe(false);
    expect(trackerA.state().pendingChanges).toBe(1);
    // The same deletion again (tabs echo what they receive) deletes nothing and marks nothing.
    const markerClock = Y.getState(tabA.store, tabA.clientID);
    for (const update of deletion) Y.applyUpdate(tabA, update, FROM_OTHER_TABS);
    expect(Y.getState(tabA.store, tabA.clientID)).toBe(markerClock);
    expect(trackerA.state().pendingChanges).toBe(1);
    trackerA.acknowledge(earlierBatch);
    expect(trackerA.state().pendingChanges).toBe(1);
    trackerA.acknowledge(fullVector(tabA));
    expect(trackerA.state().pendingChanges).toBe(0);
  });
});

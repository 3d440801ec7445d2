import * as Y from 'yjs';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { ListStorage } from '../src/storage/list-storage.js';

export interface StorageFixture {
  storage: ListStorage;
  /** A new instance over the same stored data, as after a restart. */
  reopen(): Promise<ListStorage>;
  cleanup(): Promise<void>;
}

function docFrom(updates: readonly Uint8Array[]): Y.Doc {
  const doc = new Y.Doc();
  for (const update of updates) Y.applyUpdate(doc, update);
  return doc;
}

function updateSettingItem(doc: Y.Doc, key: string, value: string): Uint8Array {
  let captured: Uint8Array | undefined;
  const listener = (update: Uint8Array): void => {
    captured = update;
  };
  doc.on('update', listener);
  doc.getMap('items').set(key, value);
  doc.off('update', listener);
  if (captured === undefined) throw new Error('no update emitted');
  return captured;
}

/** The storage contract: every ListStorage implementation must pass this suite. */
export function runListStorageContract(name: string, setup: () => Promise<StorageFixture>): void {
  describe(`ListStorage contract: ${name}`, () => {
    let fixture: StorageFixture;
    beforeEach(async () => {
      fixture = await setup();
    });
    afterEach(async () => {
      await fixture.cleanup();
    });

    it('[S1] a list never written loads empty', async () => {
      const stored = await fixture.storage.load('neverWrittenList01');
      expect(stored.updates).toEqual([]);
      expect(stored.storedBytes).toBe(0);
    });

    it('[S2] appended updates load back in order, also after a restart', async () => {
      const source = new Y.Doc();
      const first = updateSettingItem(source, 'a', 'Milk');
      const second = updateSettingItem(source, 'b', 'Eggs');
      await fixture.storage.append('orderedListId0001', [first]);
      await fixture.storage.append('orderedListId0001', [second]);
      const stored = await fixture.storage.load('orderedListId0001');
      expect(stored.updates).toEqual([first, second]);
      const reopened = await fixture.reopen();
      expect((await reopened.load('orderedListId0001')).updates).toEqual([first, second]);
    });

    it('[S3] concurrent appends to one list are all stored, in call order', async () => {
      const source = new Y.Doc();
      const updates = Array.from({ length: 20 }, (_, i) => updateSettingItem(source, `k${i}`, `v${i}`));
      await Promise.all(updates.map((u) => fixture.storage.append('concurrentList001', [u])));
      const stored = await fixture.storage.load('concurrentList001');
      expect(stored.updates).toEqual(updates);
    });

    it('[S4] compact replaces the stored updates by one snapshot with the same content', async () => {
      const source = new Y.Doc();
      const updates = Array.from({ length: 5 }, (_, i) => updateSettingItem(source, `k${i}`, `v${i}`));
      await fixture.storage.append('compactedList0001', updates);
      await fixture.storage.compact('compactedList0001', Y.encodeStateAsUpdate(source));
      const later = updateSettingItem(source, 'after', 'compaction');
      await fixture.storage.append('compactedList0001', [later]);
      const reopened = await fixture.reopen();
      const stored = await reopened.load('compactedList0001');
      expect(stored.updates).toHaveLength(2);
      expect(docFrom(stored.updates).getMap('items').toJSON()).toEqual(source.getMap('items').toJSON());
      expect(stored.logBytes).toBeLessThan(stored.storedBytes);
    });

    it('[S8] compact asks a snapshot source for the snapshot once, when it runs, and stores nothing when the source gives none', async () => {
      const source = new Y.Doc();
      const updates = Array.from({ length: 3 }, (_, i) => updateSettingItem(source, `k${i}`, `v${i}`));
      await fixture.storage.append('sourcedSnapshot001', updates);
      let asked = 0;
      // Nothing to compact any more when the turn comes (the list was dropped, or already compacted).
      await fixture.storage.compact('sourcedSnapshot001', () => {
        asked += 1;
        return Promise.resolve(undefined);
      });
      expect({ asked, updates: (await fixture.storage.load('sourcedSnapshot001')).updates }).toEqual({ asked: 1, updates });
      const later = updateSettingItem(source, 'during', 'the wait');
      await fixture.storage.append('sourcedSnapshot001', [later]);
      await fixture.storage.compact(
        'sourcedSnapshot001',
        () => {
          asked += 1;
          // Taken now: it holds what was appended while the compaction waited.
          return Promise.resolve(Y.encodeStateAsUpdate(source));
        },
        { background: true },
      );
      const reopened = await fixture.reopen();
      const stored = await reopened.load('sourcedSnapshot001');
      expect({ asked, records: stored.updates.length, logBytes: stored.logBytes }).toEqual({ asked: 2, records: 1, logBytes: 0 });
      expect(docFrom(stored.updates).getMap('items').toJSON()).toEqual(source.getMap('items').toJSON());
    });

    it('[S5] lists are independent', async () => {
      const source = new Y.Doc();
      const update = updateSettingItem(source, 'a', 'Milk');
      await fixture.storage.append('independentList01', [update]);
      expect((await fixture.storage.load('independentList02')).updates).toEqual([]);
    });

    it('[S6] release keeps the data and later appends still work', async () => {
      const source = new Y.Doc();
      const first = updateSettingItem(source, 'a', 'Milk');
      const second = updateSettingItem(source, 'b', 'Eggs');
      await fixture.storage.append('releasedList00001', [first]);
      await fixture.storage.release('releasedList00001');
      await fixture.storage.append('releasedList00001', [second]);
      expect((await fixture.storage.load('releasedList00001')).updates).toEqual([first, second]);
    });

    it('[S7] a closed storage refuses further calls', async () => {
      await fixture.storage.close();
      await expect(async () => fixture.storage.append('closedStorageList', [new Uint8Array([0, 0])])).rejects.toThrow();
    });
  });
}

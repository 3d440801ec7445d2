import { describe, expect, it } from 'vitest';
import * as Y from 'yjs';
import { COMPACT_AT_RECORDS, deleteLocalCopy, openLocalCopy, requestPersistentStorage } from './local-copy.js';
import { createMemoryStore } from './device-storage.js';

const settle = () => new Promise((resolve) => setTimeout(resolve, 20));

async function recordCount(listId: string): Promise<number> {
  const copy = openLocalCopy(listId, new Y.Doc());
  await copy.whenLoaded;
  const count = await copy.recordCount();
  copy.destroy();
  return count;
}

describe('local copy', () => {
  it('keeps the list across sessions and merges a long update log into one record', async () => {
    const listId = 'localcopytest00000001';
    const first = new Y.Doc();
    const firstCopy = openLocalCopy(listId, first);
    await firstCopy.whenLoaded;
    for (let i = 0; i < COMPACT_AT_RECORDS + 10; i++) first.getMap('items').set(`k${i}`, i);
    await settle();
    firstCopy.destroy();
    expect(await recordCount(listId)).toBeGreaterThan(COMPACT_AT_RECORDS);

    const second = new Y.Doc();
    const secondCopy = openLocalCopy(listId, second);
    await secondCopy.whenLoaded;
    expect(second.getMap('items').size).toBe(COMPACT_AT_RECORDS + 10);
    expect(await secondCopy.compact()).toBe(true);
    await settle();
    secondCopy.destroy();
    expect(await recordCount(listId)).toBeLessThanOrEqual(2);

    const third = new Y.Doc();
    const thirdCopy = openLocalCopy(listId, third);
    await thirdCopy.whenLoaded;
    expect(third.getMap('items').size).toBe(COMPACT_AT_RECORDS + 10);
    expect(await thirdCopy.compact()).toBe(false);
    thirdCopy.destroy();
  });

  it('applies the stored copy without re-encoding it for update listeners, and keeps later updates', async () => {
    const listId = 'localcopytest00000003';
    const first = new Y.Doc();
    const firstCopy = openLocalCopy(listId, first);
    await firstCopy.whenLoaded;
    first.getMap('items').set('stored', 1);
    await settle();
    firstCopy.destroy();

    const second = new Y.Doc();
    const updates: unknown[] = [];
    second.on('update', (_update: Uint8Array, origin: unknown) => updates.push(origin));
    const secondCopy = openLocalCopy(listId, second);
    await secondCopy.whenLoaded;
    expect(second.getMap('items').get('stored')).toBe(1);
    expect(updates).toEqual([]);
    second.getMap('items').set('later', 2);
    expect(updates).toEqual([null]);
    await settle();
    secondCopy.destroy();

    const third = new Y.Doc();
    const thirdCopy = openLocalCopy(listId, third);
    await thirdCopy.whenLoaded;
    expect(third.getMap('items').toJSON()).toEqual({ stored: 1, later: 2 });
    thirdCopy.destroy();
  });

  it('leaving deletes the copy', async () => {
    const listId = 'localcopytest00000002';
    const doc = new Y.Doc();
    const copy = openLocalCopy(listId, doc);
    await copy.whenLoaded;
    doc.getMap('items').set('a', 1);
    await settle();
    copy.destroy();
    await settle();
    await deleteLocalCopy(listId);
    const again = new Y.Doc();
    const reopened = openLocalCopy(listId, again);
    await reopened.whenLoaded;
    expect(again.getMap('items').size).toBe(0);
    reopened.destroy();
  });

  it('asks for persistent storage once per device', async () => {
    const storage = createMemoryStore();
    let asked = 0;
    const manager = {
      persist: async () => {
        asked++;
        return true;
      },
      persisted: async () => true,
    };
    expect(await requestPersistentStorage(storage, manager)).toBe(true);
    expect(await requestPersistentStorage(storage, manager)).toBe(true);
    expect(asked).toBe(1);
  });
});

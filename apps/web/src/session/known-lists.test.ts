import { describe, expect, it } from 'vitest';
import { createMemoryStore } from './device-storage.js';
import { createKnownListsStore } from './known-lists.js';

const A = 'aaaaaaaaaaaaaaaaaaaaaa';
const B = 'bbbbbbbbbbbbbbbbbbbbbb';

describe('known lists', () => {
  it('registers lists, most recently opened first, and survives a reload', () => {
    const storage = createMemoryStore();
    let time = 1000;
    const store = createKnownListsStore(storage, () => time);
    expect(store.lastOpened()).toBeNull();
    store.touch(A);
    time = 2000;
    store.touch(B);
    expect(store.lists().map((list) => list.id)).toEqual([B, A]);
    time = 3000;
    store.touch(A);
    expect(store.lastOpened()).toBe(A);
    expect(createKnownListsStore(storage).lists().map((list) => list.id)).toEqual([A, B]);
  });

  it('keeps a list another window registered: each change starts from what is stored', () => {
    const storage = createMemoryStore();
    const installedApp = createKnownListsStore(storage, () => 1000);
    installedApp.touch(A);
    // A browser tab opened from a share link, with its own copy of the registry.
    const tab = createKnownListsStore(storage, () => 2000);
    tab.touch(B);
    installedApp.setTitle(A, 'Groceries');
    expect(createKnownListsStore(storage).lists().map((list) => [list.id, list.title])).toEqual([
      [B, ''],
      [A, 'Groceries'],
    ]);
    let heard = 0;
    installedApp.subscribe(() => heard++);
    tab.forget(B);
    installedApp.refresh();
    expect(heard).toBe(1);
    expect(installedApp.lists().map((list) => list.id)).toEqual([A]);
  });

  it('orders lists opened within the same millisecond by opening order', () => {
    const store = createKnownListsStore(createMemoryStore(), () => 5);
    store.touch(A);
    store.touch(B);
    expect(store.lastOpened()).toBe(B);
  });

  it('keeps titles, forgets lists, ignores invalid ids', () => {
    const store = createKnownListsStore(createMemoryStore(), () => 1);
    store.touch(A);
    store.touch('bad id');
    store.setTitle(A, 'Groceries');
    let calls = 0;
    store.subscribe(() => calls++);
    store.setTitle(A, 'Groceries');
    expect(calls).toBe(0);
    store.touch(A);
    expect(store.lists()).toEqual([{ id: A, title: 'Groceries', lastOpenedAt: expect.any(Number) }]);
    store.forget(A);
    expect(store.lists()).toEqual([]);
    expect(calls).toBe(2);
  });

  it('skips malformed stored entries', () => {
    const storage = createMemoryStore();
    storage.setItem('basket:lists', JSON.stringify([{ id: A, title: 'ok', lastOpenedAt: 1 }, { id: 'x' }, 7, null]));
    expect(createKnownListsStore(storage).lists().map((list) => list.id)).toEqual([A]);
  });
});

import { describe, expect, it } from 'vitest';
import * as Y from 'yjs';
import { createMemoryStore, type KeyValueStore } from './device-storage.js';
import { createShoppingList } from './list-model.js';
import {
  forgetCachedView,
  keepViewCached,
  MAX_CACHED_VIEWS,
  readCachedView,
  writeCachedView,
  type ViewCacheTimers,
} from './view-cache.js';

const A = 'aaaaaaaaaaaaaaaaaaaaaa';
const B = 'bbbbbbbbbbbbbbbbbbbbbb';

function listWithItems(names: string[]) {
  const list = createShoppingList(new Y.Doc(), 'Ana');
  for (const name of names) list.addItem({ name });
  return list;
}

/** A store that refuses values past `capacity` characters in total, like a full localStorage. */
function limitedStore(capacity: number): KeyValueStore {
  const values = new Map<string, string>();
  const used = (): number => [...values.values()].reduce((total, v) => total + v.length, 0);
  return {
    getItem: (key) => values.get(key) ?? null,
    setItem: (key, value) => {
      const previous = values.get(key)?.length ?? 0;
      if (used() - previous + value.length > capacity) return; // swallowed, as deviceStorage does
      values.set(key, value);
    },
    removeItem: (key) => void values.delete(key),
  };
}

function manualTimers(): ViewCacheTimers & { fire(): void; pending(): number } {
  let next: (() => void) | null = null;
  return {
    setTimeout: (callback) => {
      next = callback;
      return callback;
    },
    clearTimeout: (handle) => {
      if (next === handle) next = null;
    },
    now: () => 42,
    fire: () => {
      const callback = next;
      next = null;
      callback?.();
    },
    pending: () => (next === null ? 0 : 1),
  };
}

describe('view cache', () => {
  it('round-trips the rows and title of a list', () => {
    const store = createMemoryStore();
    const list = listWithItems(['Milk', '2 l juice']);
    list.setTitle('Weekend');
    // A row ticked off is painted ticked off at the next cold start.
    list.setChecked(list.items()[0]!.id, true);
    expect(writeCachedView(store, A, { title: list.title(), items: list.items(), savedAt: 7 })).toBe(true);
    const view = readCachedView(store, A);
    expect(view?.title).toBe('Weekend');
    expect(view?.savedAt).toBe(7);
    expect(view?.items).toEqual(list.items());
    expect(view?.items.filter((item) => item.checked)).toHaveLength(1);
    expect(readCachedView(store, B)).toBeNull();
  });

  it('drops a damaged or foreign-version cache instead of showing it', () => {
    const store = createMemoryStore();
    store.setItem('basket:view:' + A, '{not json');
    expect(readCachedView(store, A)).toBeNull();
    expect(store.getItem('basket:view:' + A)).toBeNull();
    store.setItem('basket:view:' + A, JSON.stringify({ v: 1, title: 'x', savedAt: 1, items: [{ id: 1 }] }));
    expect(readCachedView(store, A)).toBeNull();
    expect(store.getItem('basket:view:' + A)).toBeNull();
    store.setItem('basket:view:' + A, JSON.stringify({ v: 99, title: 'x', savedAt: 1, items: [] }));
    expect(readCachedView(store, A)).toBeNull();
  });

  it(`keeps at most ${MAX_CACHED_VIEWS} lists, evicting the least recently saved`, () => {
    const store = createMemoryStore();
    const ids = ['c', 'd', 'e', 'f'].map((letter) => letter.repeat(22));
    for (const id of ids) writeCachedView(store, id, { title: id, items: [], savedAt: 1 });
    expect(readCachedView(store, ids[0]!)).toBeNull();
    for (const id of ids.slice(1)) expect(readCachedView(store, id)?.title).toBe(id);
  });

  it('makes room by evicting other lists when the store is full, and leaves nothing half-written', () => {
    const big = listWithItems(Array.from({ length: 40 }, (_, i) => `Item number ${i}`));
    const size = JSON.stringify(big.items()).length;
    const store = limitedStore(Math.round(size * 1.6));
    expect(writeCachedView(store, B, { title: 'other', items: big.items(), savedAt: 1 })).toBe(true);
    expect(writeCachedView(store, A, { title: 'mine', items: big.items(), savedAt: 2 })).toBe(true);
    expect(readCachedView(store, B)).toBeNull();
    expect(readCachedView(store, A)?.title).toBe('mine');

    const tiny = limitedStore(10);
    expect(writeCachedView(tiny, A, { title: 'mine', items: big.items(), savedAt: 3 })).toBe(false);
    expect(readCachedView(tiny, A)).toBeNull();
  });

  it('is forgotten with the list', () => {
    const store = createMemoryStore();
    writeCachedView(store, A, { title: 'x', items: [], savedAt: 1 });
    forgetCachedView(store, A);
    expect(readCachedView(store, A)).toBeNull();
  });

  it('follows the list: saved after load, after changes (debounced), and at once when the page hides', () => {
    const store = createMemoryStore();
    const timers = manualTimers();
    const events = new EventTarget();
    const list = listWithItems(['Milk']);
    const stop = keepViewCached(store, A, list, { timers, events });
    expect(readCachedView(store, A)).toBeNull();
    timers.fire();
    expect(readCachedView(store, A)?.items.map((item) => item.name)).toEqual(['Milk']);

    list.addItem({ name: 'Bread' });
    list.addItem({ name: 'Eggs' });
    expect(timers.pending()).toBe(1);
    expect(readCachedView(store, A)?.items).toHaveLength(1);
    events.dispatchEvent(new Event('pagehide'));
    expect(readCachedView(store, A)?.items.map((item) => item.name).sort()).toEqual(['Bread', 'Eggs', 'Milk']);

    list.setTitle('Renamed');
    list.addItem({ name: 'Tea' });
    stop();
    const saved = readCachedView(store, A);
    expect(saved?.title).toBe('Renamed');
    expect(saved?.items).toHaveLength(4);
    list.addItem({ name: 'Jam' });
    expect(timers.pending()).toBe(0);
  });
});

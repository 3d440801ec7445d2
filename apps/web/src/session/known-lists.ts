/**
 * The device's registry of lists it knows (its "list of lists"), in
 * localStorage. Titles are copies of each list's meta.name, refreshed
 * whenever the list is open.
 */
import type { KnownList } from './types.js';
import { deviceStorage, isRecord, readJson, writeJson, type KeyValueStore } from './device-storage.js';
import { isListId } from './routing.js';

const KNOWN_LISTS_KEY = 'basket:lists';

export interface KnownListsStore {
  lists(): readonly KnownList[];
  /** The list opened most recently, or null on a fresh device. */
  lastOpened(): string | null;
  /** Registers the list (if new) and marks it as opened now. */
  touch(id: string): void;
  setTitle(id: string, title: string): void;
  forget(id: string): void;
  subscribe(onChange: () => void): () => void;
  /** Reads the registry again (another window of the app changed it) and tells subscribers. */
  refresh(): void;
}

function parseKnownLists(value: unknown): KnownList[] {
  if (!Array.isArray(value)) return [];
  const lists: KnownList[] = [];
  for (const entry of value) {
    if (!isRecord(entry)) continue;
    const { id, title, lastOpenedAt } = entry;
    if (typeof id !== 'string' || !isListId(id)) continue;
    lists.push({
      id,
      title: typeof title === 'string' ? title : '',
      lastOpenedAt: typeof lastOpenedAt === 'number' && Number.isFinite(lastOpenedAt) ? lastOpenedAt : 0,
    });
  }
  return lists;
}

export function createKnownListsStore(storage: KeyValueStore, now: () => number = Date.now): KnownListsStore {
  const listeners = new Set<() => void>();
  const stored = (): KnownList[] => sorted(parseKnownLists(readJson(storage, KNOWN_LISTS_KEY)));
  let lists: readonly KnownList[] = stored();

  function sorted(entries: KnownList[]): KnownList[] {
    return entries.sort((a, b) => b.lastOpenedAt - a.lastOpenedAt || a.id.localeCompare(b.id));
  }
  function notify(): void {
    for (const listener of [...listeners]) listener();
  }
  function commit(next: KnownList[]): void {
    lists = sorted(next);
    writeJson(storage, KNOWN_LISTS_KEY, lists);
    notify();
  }
  /**
   * Every change starts from what is stored, not from this window's copy: another window of the
   * app (the installed app and a browser tab opened from a share link) may have added a list
   * since, and writing this window's copy back would drop it.
   */
  function reread(): void {
    lists = stored();
  }

  return {
    lists: () => lists,
    lastOpened: () => lists[0]?.id ?? null,
    touch(id) {
      if (!isListId(id)) return;
      reread();
      const existing = lists.find((list) => list.id === id);
      const others = lists.filter((list) => list.id !== id);
      commit([...others, { id, title: existing?.title ?? '', lastOpenedAt: Math.max(now(), (lists[0]?.lastOpenedAt ?? 0) + 1) }]);
    },
    setTitle(id, title) {
      reread();
      const existing = lists.find((list) => list.id === id);
      if (!existing || existing.title === title) return;
      commit(lists.map((list) => (list.id === id ? { ...list, title } : list)));
    },
    forget(id) {
      reread();
      if (!lists.some((list) => list.id === id)) return;
      commit(lists.filter((list) => list.id !== id));
    },
    subscribe(onChange) {
      listeners.add(onChange);
      return () => void listeners.delete(onChange);
    },
    refresh() {
      reread();
      notify();
    },
  };
}

let deviceLists: KnownListsStore | null = null;

export function deviceKnownLists(): KnownListsStore {
  if (deviceLists === null) {
    const store = createKnownListsStore(deviceStorage());
    // Another window of the app registered, renamed or left a list: the lists menu shows it.
    globalThis.addEventListener?.('storage', (event: StorageEvent) => {
      if (event.key === KNOWN_LISTS_KEY || event.key === null) store.refresh();
    });
    deviceLists = store;
  }
  return deviceLists;
}

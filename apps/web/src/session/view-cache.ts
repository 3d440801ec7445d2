/**
 * The last view of a list, kept in localStorage so a cold start can paint the list at once.
 *
 * The document is the truth, but decoding a list with a long history (5,000 items, 100k edits:
 * ~0.6 s of Yjs work) is too slow to wait for before showing anything. So the session saves the
 * plain rows it last showed, and the next start paints those while the document loads; actions on
 * those rows wait for the document (see ListScreen). The cache is derived data: it is rewritten
 * after every load and change, dropped when invalid, and never read back into the document.
 */
import type { Item } from '@basket/list-core';
import type { KeyValueStore } from './device-storage.js';
import { isRecord, readJson, writeJson } from './device-storage.js';

export interface CachedView {
  readonly title: string;
  readonly items: readonly Item[];
  readonly savedAt: number;
}

const VERSION = 1;
const KEY_PREFIX = 'basket:view:';
/** Ids of the cached lists, most recently saved first. */
const INDEX_KEY = 'basket:views';
/** localStorage holds ~5 MB per origin and a 5,000-item view is ~1 MB: keep the few lists in use. */
export const MAX_CACHED_VIEWS = 3;

function viewKey(listId: string): string {
  return KEY_PREFIX + listId;
}

const isString = (value: unknown): value is string => typeof value === 'string';
const isNumber = (value: unknown): value is number => typeof value === 'number' && Number.isFinite(value);

function readIndex(store: KeyValueStore): string[] {
  const parsed = readJson(store, INDEX_KEY);
  return Array.isArray(parsed) ? parsed.filter(isString) : [];
}

function isItem(value: unknown): value is Item {
  return (
    isRecord(value) &&
    isString(value['id']) &&
    isString(value['name']) &&
    isNumber(value['quantity']) &&
    isString(value['unit']) &&
    isString(value['note']) &&
    isString(value['category']) &&
    typeof value['checked'] === 'boolean' &&
    isString(value['addedBy']) &&
    isNumber(value['addedAt']) &&
    Array.isArray(value['contributors']) &&
    value['contributors'].every(isString)
  );
}

/** The cached view of `listId`, or null when there is none or it is damaged or from another version. */
export function readCachedView(store: KeyValueStore, listId: string): CachedView | null {
  const parsed = readJson(store, viewKey(listId));
  if (
    !isRecord(parsed) ||
    parsed['v'] !== VERSION ||
    !isString(parsed['title']) ||
    !isNumber(parsed['savedAt']) ||
    !Array.isArray(parsed['items']) ||
    !parsed['items'].every(isItem)
  ) {
    store.removeItem(viewKey(listId));
    return null;
  }
  return { title: parsed['title'], items: parsed['items'], savedAt: parsed['savedAt'] };
}

/**
 * Saves the view; the least recently saved other lists make room. Returns false when the store
 * would not take it (quota), in which case nothing stale is left behind for this list.
 */
export function writeCachedView(store: KeyValueStore, listId: string, view: CachedView): boolean {
  const text = JSON.stringify({ v: VERSION, title: view.title, savedAt: view.savedAt, items: view.items });
  const others = readIndex(store).filter((id) => id !== listId);
  const keep = others.slice(0, MAX_CACHED_VIEWS - 1);
  for (const evicted of others.slice(MAX_CACHED_VIEWS - 1)) store.removeItem(viewKey(evicted));
  const stored = (): boolean => {
    store.setItem(viewKey(listId), text);
    // The device store swallows quota errors; reading the length back tells whether it took.
    return store.getItem(viewKey(listId))?.length === text.length;
  };
  let ok = stored();
  while (!ok && keep.length > 0) {
    store.removeItem(viewKey(keep.pop() as string));
    ok = stored();
  }
  if (!ok) store.removeItem(viewKey(listId));
  writeJson(store, INDEX_KEY, ok ? [listId, ...keep] : keep);
  return ok;
}

export function forgetCachedView(store: KeyValueStore, listId: string): void {
  store.removeItem(viewKey(listId));
  writeJson(store, INDEX_KEY, readIndex(store).filter((id) => id !== listId));
}

export interface ViewSource {
  title(): string;
  items(): readonly Item[];
  observe(callback: () => void): () => void;
}

export interface ViewCacheTimers {
  setTimeout(callback: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
  now(): number;
  /** Runs `callback` when the page is idle (saving 5,000 rows takes ~15 ms). Default: at once. */
  whenIdle?(callback: () => void): void;
}

const realTimers: ViewCacheTimers = {
  setTimeout: (callback, ms) => setTimeout(callback, ms),
  clearTimeout: (handle) => clearTimeout(handle as ReturnType<typeof setTimeout>),
  now: () => Date.now(),
  whenIdle: (callback) => {
    if (typeof requestIdleCallback === 'function') requestIdleCallback(callback, { timeout: 2000 });
    else callback();
  },
};

/**
 * Keeps the cached view of a loaded list up to date: once soon after the load, then `delayMs`
 * after the last change (serialising 5,000 rows takes a few ms, so not on every keystroke), and at
 * once when the page is hidden or closed. Returns the stop function, which saves what is pending.
 */
export function keepViewCached(
  store: KeyValueStore,
  listId: string,
  source: ViewSource,
  options: {
    delayMs?: number;
    /** The first save, soon after the load (by then the rows have painted). */
    firstDelayMs?: number;
    timers?: ViewCacheTimers;
    events?: Pick<EventTarget, 'addEventListener' | 'removeEventListener'>;
  } = {},
): () => void {
  const timers = options.timers ?? realTimers;
  const delayMs = options.delayMs ?? 1000;
  const firstDelayMs = options.firstDelayMs ?? 300;
  const events = options.events ?? globalThis;
  let timer: unknown = null;
  let stopped = false;
  let saved = false;
  const save = (): void => {
    if (timer !== null) timers.clearTimeout(timer);
    timer = null;
    if (stopped) return;
    writeCachedView(store, listId, { title: source.title(), items: source.items(), savedAt: timers.now() });
    saved = true;
  };
  const saveLater = (ms = delayMs): void => {
    if (timer !== null) timers.clearTimeout(timer);
    timer = timers.setTimeout(() => {
      // The first save does not wait for idle time, which a long list rendering its rows leaves
      // little of: without it the next start has no rows to paint.
      if (timers.whenIdle === undefined || !saved) save();
      // Still pending meanwhile (timer stays set): pagehide or stop saves at once.
      else timers.whenIdle(() => timer !== null && save());
    }, ms);
  };
  const saveIfPending = (): void => {
    if (timer !== null) save();
  };
  // Leaving: the title may have changed without an item change, so save regardless.
  const onVisibility = (): void => {
    if (typeof document !== 'undefined' && document.visibilityState === 'hidden') save();
  };
  const stopObserving = source.observe(() => saveLater());
  events.addEventListener?.('pagehide', save);
  events.addEventListener?.('visibilitychange', onVisibility);
  saveLater(firstDelayMs);
  return () => {
    saveIfPending();
    stopped = true;
    stopObserving();
    events.removeEventListener?.('pagehide', save);
    events.removeEventListener?.('visibilitychange', onVisibility);
  };
}

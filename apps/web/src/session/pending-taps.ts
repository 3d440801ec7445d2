/**
 * Taps on cached rows (check, remove, undo, clear checked, rename) made before the stored document is loaded,
 * kept in localStorage until the document holds them.
 *
 * A cold start shows the cached rows at once, but those items are not in the document yet, so a
 * tap on one can only be applied once it has loaded (~1 s for the longest lists). Held in memory
 * only, a tap was lost if the page was closed or discarded in that second — ticking off milk
 * and locking the phone at once. Each tap is written synchronously, applied at the load (this
 * page's, or the next page's if this one dies first), and forgotten once IndexedDB has it.
 */
import type { ShoppingListApi } from '@basket/list-core';
import { readJson, writeJson, type KeyValueStore } from './device-storage.js';

export type PendingTap =
  | { readonly kind: 'check'; readonly id: string; readonly checked: boolean }
  | { readonly kind: 'remove'; readonly id: string }
  | { readonly kind: 'restore'; readonly ids: readonly string[] }
  /** `ids`: the rows shown checked when it was tapped (rule 6); absent in taps kept by older versions. */
  | { readonly kind: 'clear-checked'; readonly ids?: readonly string[] }
  | { readonly kind: 'rename'; readonly title: string };

const KEY_PREFIX = 'basket:pending-taps:';

function isTap(value: unknown): value is PendingTap {
  if (typeof value !== 'object' || value === null) return false;
  const tap = value as Record<string, unknown>;
  switch (tap['kind']) {
    case 'check':
      return typeof tap['id'] === 'string' && typeof tap['checked'] === 'boolean';
    case 'remove':
      return typeof tap['id'] === 'string';
    case 'restore':
      return Array.isArray(tap['ids']) && tap['ids'].every((id) => typeof id === 'string');
    case 'clear-checked':
      return tap['ids'] === undefined || (Array.isArray(tap['ids']) && tap['ids'].every((id) => typeof id === 'string'));
    case 'rename':
      return typeof tap['title'] === 'string';
    default:
      return false;
  }
}

export function applyTap(list: ShoppingListApi, tap: PendingTap): void {
  switch (tap.kind) {
    case 'check':
      list.setChecked(tap.id, tap.checked);
      break;
    case 'remove':
      list.removeItem(tap.id);
      break;
    case 'restore':
      list.restoreItems(tap.ids);
      break;
    case 'clear-checked':
      list.clearChecked(tap.ids);
      break;
    case 'rename':
      list.setTitle(tap.title);
      break;
  }
}

/** Whether every item `tap` names is in the document, so applying it now does what it says. */
export function tapTargetsPresent(list: ShoppingListApi, tap: PendingTap): boolean {
  switch (tap.kind) {
    case 'check':
    case 'remove':
      return list.item(tap.id) !== undefined;
    case 'restore':
      return tap.ids.every((id) => list.item(id) !== undefined);
    case 'clear-checked':
      return tap.ids === undefined || tap.ids.every((id) => list.item(id) !== undefined);
    case 'rename':
      return true;
  }
}

export interface PendingTaps {
  /** Keeps `tap` (synchronously) until `applyAll`. */
  add(tap: PendingTap): void;
  /**
   * Applies every kept tap, this page's and any an earlier page left, in the order made. Each
   * stops waiting as it is applied, so a tap is counted once while it becomes an edit.
   */
  applyAll(list: ShoppingListApi): void;
  /**
   * How many kept taps are not in the document yet. They are changes on this phone like any
   * edit: until applied, no acknowledgement can cover them.
   */
  waiting(): number;
  /** Forgets the kept taps: call once IndexedDB holds the document they were applied to. */
  clear(): void;
}

export function keepPendingTaps(store: KeyValueStore, listId: string): PendingTaps {
  const key = KEY_PREFIX + listId;
  const read = (): PendingTap[] => {
    const parsed = readJson(store, key);
    return Array.isArray(parsed) ? parsed.filter(isTap) : [];
  };
  // Counted in memory: the status is recomputed at every edit, and that must not parse localStorage.
  let waiting = read().length;
  return {
    add(tap) {
      writeJson(store, key, [...read(), tap]);
      waiting += 1;
    },
    applyAll(list) {
      const taps = read();
      waiting = taps.length;
      for (const tap of taps) {
        waiting -= 1;
        try {
          applyTap(list, tap);
        } catch (error) {
          console.warn('[basket] skipped a tap that could not be applied', error);
        }
      }
    },
    waiting: () => waiting,
    clear() {
      store.removeItem(key);
      waiting = 0;
    },
  };
}

export function forgetPendingTaps(store: KeyValueStore, listId: string): void {
  store.removeItem(KEY_PREFIX + listId);
}

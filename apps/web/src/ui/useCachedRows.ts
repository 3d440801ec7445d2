import { useCallback, useMemo, useState } from 'react';
import type { Item } from '@basket/list-core';
import type { ListSession } from '../session/types';
import { useSettled } from './useSettled';

type Override = { readonly checked: boolean } | 'removed';

export interface CachedRows {
  /**
   * What to show while taps on rows wait for the stored document: the cached view until it is
   * loaded, then the list's rows with the waiting taps on them; null once they are applied (or
   * with nothing cached).
   */
  readonly items: readonly Item[] | null;
  readonly title: string | null;
  /** Shows a tap on a cached row at once; the caller applies it to the list once loaded. */
  markChecked(id: string, checked: boolean): void;
  markRemoved(id: string): void;
  unmark(ids: readonly string[]): void;
}

function withOverrides(items: readonly Item[], overrides: ReadonlyMap<string, Override>): Item[] {
  const shown: Item[] = [];
  for (const item of items) {
    const override = overrides.get(item.id);
    if (override === 'removed') continue;
    shown.push(override === undefined ? item : { ...item, checked: override.checked });
  }
  return shown;
}

/**
 * The cold-start rows: the session's cached view, with the person's taps shown on top, plus the
 * items they added meanwhile (those are in the live list already: adding needs no stored state).
 *
 * A stored copy slower than the load's timeout: the list's own rows are shown then (what the
 * relay brought), but the taps still wait for the stored copy. They stay shown on those rows,
 * or a tick would undo itself on screen for seconds and come back when the copy loads.
 */
export function useCachedRows(session: ListSession, loaded: boolean, liveItems: readonly Item[]): CachedRows {
  const [overrides, setOverrides] = useState<ReadonlyMap<string, Override>>(new Map());
  // False until the taps kept by `applyWhenLoaded` are in the list.
  const tapsApplied = useSettled(session.whenTapsApplied);
  const view = loaded ? null : session.cachedView;
  const tapsOnLiveRows = loaded && !tapsApplied && overrides.size > 0;
  const items = useMemo(() => {
    if (view === null) return tapsOnLiveRows ? withOverrides(liveItems, overrides) : null;
    const ids = new Set(view.items.map((item) => item.id));
    return [...withOverrides(view.items, overrides), ...liveItems.filter((item) => !ids.has(item.id))];
  }, [view, tapsOnLiveRows, overrides, liveItems]);
  const update = useCallback((change: (next: Map<string, Override>) => void) => {
    setOverrides((current) => {
      const next = new Map(current);
      change(next);
      return next;
    });
  }, []);
  return {
    items,
    title: view === null ? null : view.title,
    markChecked: useCallback((id, checked) => update((next) => next.set(id, { checked })), [update]),
    markRemoved: useCallback((id) => update((next) => next.set(id, 'removed')), [update]),
    unmark: useCallback((ids) => update((next) => ids.forEach((id) => next.delete(id))), [update]),
  };
}

import { useCallback, useMemo, useState } from 'react';
import type { Item } from '@basket/list-core';
import type { ListSession } from '../session/types';

type Override = { readonly checked: boolean } | 'removed';

export interface CachedRows {
  /** What to show until the document is loaded; null once it is (or with nothing cached). */
  readonly items: readonly Item[] | null;
  readonly title: string | null;
  /** Shows a tap on a cached row at once; the caller applies it to the list once loaded. */
  markChecked(id: string, checked: boolean): void;
  markRemoved(id: string): void;
  unmark(ids: readonly string[]): void;
}

/**
 * The cold-start rows: the session's cached view, with the person's taps shown on top, plus the
 * items they added meanwhile (those are in the live list already: adding needs no stored state).
 */
export function useCachedRows(session: ListSession, loaded: boolean, liveItems: readonly Item[]): CachedRows {
  const [overrides, setOverrides] = useState<ReadonlyMap<string, Override>>(new Map());
  const view = loaded ? null : session.cachedView;
  const items = useMemo(() => {
    if (view === null) return null;
    const shown: Item[] = [];
    const ids = new Set<string>();
    for (const item of view.items) {
      ids.add(item.id);
      const override = overrides.get(item.id);
      if (override === 'removed') continue;
      shown.push(override === undefined ? item : { ...item, checked: override.checked });
    }
    for (const item of liveItems) if (!ids.has(item.id)) shown.push(item);
    return shown;
  }, [view, overrides, liveItems]);
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

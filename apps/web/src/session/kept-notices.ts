/**
 * Merge notices ("Dad removed Butter that you changed — Restore") kept per list in localStorage
 * until the person dismisses them.
 *
 * The model produces a notice once, in the remote transaction that brings the news, and holds
 * it in memory only. A phone often gets that news in the background (the app open in a pocket
 * as it reconnects) and the system discards the page before anyone looks: the notice, and the
 * one-tap Restore with it, was then gone at the next start, and nothing ever told the person.
 */
import { useCallback, useEffect, useState } from 'react';
import type { Notice, NoticeKind, ShoppingListApi } from '@basket/list-core';
import type { ListSession } from './types.js';
import { deviceStorage, isRecord, readJson, writeJson, type KeyValueStore } from './device-storage.js';

const KEY_PREFIX = 'basket:notices:';
/** More than the tray shows (3); older ones are of no use once this many newer ones came. */
const MAX_KEPT = 20;
const KINDS: readonly NoticeKind[] = ['removed-your-change', 'merged-duplicate', 'edited-purged', 'overwritten'];

function isNotice(value: unknown): value is Notice {
  if (!isRecord(value)) return false;
  return (
    typeof value['id'] === 'string' &&
    KINDS.includes(value['kind'] as NoticeKind) &&
    typeof value['message'] === 'string' &&
    typeof value['itemId'] === 'string' &&
    typeof value['itemName'] === 'string' &&
    typeof value['by'] === 'string' &&
    typeof value['at'] === 'number' &&
    typeof value['canRestore'] === 'boolean'
  );
}

/** The same news told twice (the page closed before IndexedDB stored it, so the relay sent it again). */
function sameNews(a: Notice, b: Notice): boolean {
  return a.kind === b.kind && a.itemId === b.itemId && a.message === b.message;
}

/** `incoming` (newest first) added in front of `kept`, without repeating a notice or its news. */
function withNotices(kept: readonly Notice[], incoming: readonly Notice[]): readonly Notice[] {
  const added = incoming.filter(
    (notice, index) =>
      !kept.some((old) => old.id === notice.id || sameNews(old, notice)) &&
      !incoming.slice(0, index).some((earlier) => sameNews(earlier, notice)),
  );
  return added.length === 0 ? kept : [...added, ...kept].slice(0, MAX_KEPT);
}

/**
 * Without the removal notices whose item is back on the list (restored from Recently deleted,
 * or by someone else): kept across reloads, their Restore would do nothing. Before the stored
 * list has loaded no item is known, and nothing is dropped.
 */
function withoutAnswered(list: ShoppingListApi, notices: readonly Notice[]): readonly Notice[] {
  const answered = (notice: Notice): boolean => {
    if (notice.kind !== 'removed-your-change') return false;
    const item = list.item(notice.itemId);
    return item !== undefined && item.deletedAt === undefined;
  };
  return notices.some(answered) ? notices.filter((notice) => !answered(notice)) : notices;
}

export function readKeptNotices(storage: KeyValueStore, listId: string): readonly Notice[] {
  const stored = readJson(storage, KEY_PREFIX + listId);
  return Array.isArray(stored) ? stored.filter(isNotice).slice(0, MAX_KEPT) : [];
}

export function forgetKeptNotices(storage: KeyValueStore, listId: string): void {
  storage.removeItem(KEY_PREFIX + listId);
}

/**
 * The list's notices for this person, newest first: those kept from earlier pages and those the
 * model produces now. `dismiss` forgets one here and in the model.
 */
export function useKeptNotices(
  session: ListSession,
  storage: KeyValueStore = deviceStorage(),
): [readonly Notice[], (notice: Notice) => void] {
  const { list, listId } = session;
  const [notices, setNotices] = useState<readonly Notice[]>(() =>
    withNotices(readKeptNotices(storage, listId), list.notices()),
  );
  useEffect(() => {
    // Notices produced between the first render and this subscription are in list.notices().
    setNotices((current) => withNotices(current, list.notices()));
    const stopNotices = list.onNotice((notice) => setNotices((current) => withNotices(current, [notice])));
    const stopObserving = list.observe(() => setNotices((current) => withoutAnswered(list, current)));
    return () => {
      stopNotices();
      stopObserving();
    };
  }, [list]);
  useEffect(() => {
    if (notices.length > 0) writeJson(storage, KEY_PREFIX + listId, notices);
    else forgetKeptNotices(storage, listId);
  }, [notices, storage, listId]);
  const dismiss = useCallback(
    (notice: Notice) => {
      list.dismissNotice(notice.id);
      setNotices((current) => current.filter((kept) => kept.id !== notice.id));
    },
    [list],
  );
  return [notices, dismiss];
}

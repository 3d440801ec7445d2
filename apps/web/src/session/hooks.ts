/** React bindings of the session layer. */
import { createContext, useContext, useEffect, useMemo, useRef, useState, useSyncExternalStore } from 'react';
import type { Item, ShoppingListApi } from '@basket/list-core';
import type { ListSession, Peer, SyncStatus } from './types.js';
import { openListSession } from './list-session.js';
import { useProfile } from './profile.js';
import { deviceKnownLists } from './known-lists.js';
import { documentOf } from './open-sessions.js';

export type SessionOpener = (listId: string, actor: string) => ListSession;

/** Lets tests and demos swap the real session for createMemorySession. */
export const SessionOpenerContext = createContext<SessionOpener>(openListSession);

/**
 * Opens the list (and closes it when listId changes or on unmount); registers it on the device.
 * A name change reaches the open session in place (ListSession.setActor) and never reopens it:
 * the screen keeps the session in callbacks that outlive a render (the undo toast, actions
 * waiting for the load), and reopening would also reload the stored copy and reconnect.
 */
export function useListSession(listId: string | null): ListSession | null {
  const open = useContext(SessionOpenerContext);
  const [profile] = useProfile();
  const actor = profile.displayName;
  const [session, setSession] = useState<ListSession | null>(null);
  // The name at the time of opening; not a reason to open again.
  const actorWhenOpened = useRef(actor);
  actorWhenOpened.current = actor;

  useEffect(() => {
    if (listId === null) {
      setSession(null);
      return;
    }
    const opened = open(listId, actorWhenOpened.current);
    const known = deviceKnownLists();
    known.touch(listId);
    const mirrorTitle = (): void => {
      const title = opened.list.title();
      if (title !== '') known.setTitle(listId, title);
    };
    const meta = documentOf(opened)?.getMap('meta');
    meta?.observe(mirrorTitle);
    void opened.whenLoaded.then(mirrorTitle);
    setSession(opened);
    return () => {
      meta?.unobserve(mirrorTitle);
      opened.destroy();
    };
  }, [listId, open]);

  useEffect(() => {
    session?.setActor(actor);
  }, [session, actor]);

  return session !== null && session.listId === listId ? session : null;
}

const OFFLINE: SyncStatus = { state: 'offline', pendingChanges: 0, lastSyncedAt: null };
const noSubscription = (): (() => void) => () => {};

export function useSyncStatus(session: ListSession | null): SyncStatus {
  return useSyncExternalStore(
    session ? session.onStatus : noSubscription,
    session ? session.status : () => OFFLINE,
  );
}

const NO_PEERS: readonly Peer[] = [];

export function usePeers(session: ListSession | null): readonly Peer[] {
  return useSyncExternalStore(session ? session.onPeers : noSubscription, session ? session.peers : () => NO_PEERS);
}

const NO_ITEMS: readonly Item[] = [];

/**
 * A snapshot of the list that is re-read only after the list reports a
 * change, so React sees the same array (and the same item objects) until then.
 */
function useListSnapshot(
  list: ShoppingListApi | null | undefined,
  read: (list: ShoppingListApi) => readonly Item[],
): readonly Item[] {
  const store = useMemo(() => {
    if (!list) return { subscribe: noSubscription, get: () => NO_ITEMS };
    let cached = read(list);
    let stale = false;
    return {
      subscribe(onChange: () => void) {
        // A change may have happened between the first read and subscribing.
        stale = true;
        return list.observe(() => {
          stale = true;
          onChange();
        });
      },
      get() {
        if (stale) {
          cached = read(list);
          stale = false;
        }
        return cached;
      },
    };
    // read is one of the two module-level functions below
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [list]);
  return useSyncExternalStore(store.subscribe, store.get);
}

const readItems = (list: ShoppingListApi): readonly Item[] => list.items();
const readDeletedItems = (list: ShoppingListApi): readonly Item[] => list.deletedItems();

export function useItems(list: ShoppingListApi | null | undefined): readonly Item[] {
  return useListSnapshot(list, readItems);
}

export function useDeletedItems(list: ShoppingListApi | null | undefined): readonly Item[] {
  return useListSnapshot(list, readDeletedItems);
}

/**
 * The device's lists as the UI sees them: create, rename, switch (the UI
 * navigates), leave (forget here and delete the local copy; the list itself
 * stays with the family). A leave is told to the app's other windows, which
 * close the list if they have it open (left-lists.ts).
 */
import { useCallback, useEffect, useMemo, useRef, useState, useSyncExternalStore } from 'react';
import * as Y from 'yjs';
import type { KnownList } from './types.js';
import { deviceKnownLists, type KnownListsStore } from './known-lists.js';
import { openSessionsOf } from './open-sessions.js';
import { deleteLocalCopy, openLocalCopy } from './local-copy.js';
import { forgetCachedView } from './view-cache.js';
import { forgetKeptEdits } from './kept-edits.js';
import { forgetPendingTaps } from './pending-taps.js';
import { forgetKeptNotices } from './kept-notices.js';
import { ackStorageKey } from './ack-tracker.js';
import { deviceStorage, type KeyValueStore } from './device-storage.js';
import { createShoppingList } from './list-model.js';
import { deviceProfileStore } from './profile.js';
import { newListId } from './routing.js';
import { deviceLeftLists, type LeftListsChannel } from './left-lists.js';

export interface DeviceLists {
  readonly lists: readonly KnownList[];
  /** A new list id, registered on this device; navigate to listPath(id) to open it. */
  create(): string;
  /** Sets the list's title (meta.name), for everyone once it syncs. */
  rename(id: string, title: string): Promise<void>;
  /** Leaves the list on this device: closes it and deletes its local copy. */
  forget(id: string): Promise<void>;
}

export async function renameList(id: string, title: string, known: KnownListsStore = deviceKnownLists()): Promise<void> {
  const trimmed = title.trim();
  if (trimmed === '') return;
  known.setTitle(id, trimmed);
  const open = openSessionsOf(id);
  if (open.length > 0) {
    open[0]?.list.setTitle(trimmed);
    return;
  }
  // Not open here: write the title into the stored copy; it syncs the next time the list opens.
  const doc = new Y.Doc();
  const localCopy = openLocalCopy(id, doc);
  try {
    await localCopy.whenLoaded;
    const list = createShoppingList(doc, deviceProfileStore().get().displayName);
    list.setTitle(trimmed);
    list.destroy();
  } finally {
    localCopy.destroy();
    doc.destroy();
  }
}

export async function forgetList(
  id: string,
  known: KnownListsStore = deviceKnownLists(),
  storage: KeyValueStore = deviceStorage(),
  leftLists: LeftListsChannel = deviceLeftLists(),
): Promise<void> {
  for (const session of openSessionsOf(id)) session.destroy();
  known.forget(id);
  // Before the copy goes: a window that has the list open closes it rather than edit on with
  // its database deleted under it.
  leftLists.announce(id);
  await deleteDeviceCopy(id, storage);
}

/** Everything this device keeps of a list besides its entry in the registry. */
async function deleteDeviceCopy(id: string, storage: KeyValueStore): Promise<void> {
  storage.removeItem(ackStorageKey(id));
  forgetCachedView(storage, id);
  forgetKeptEdits(storage, id);
  forgetPendingTaps(storage, id);
  forgetKeptNotices(storage, id);
  await deleteLocalCopy(id);
}

/** A list that another window of the app left while this one had it open. */
export interface ListLeftElsewhere {
  readonly listId: string;
  /** Its title as this window last showed it ('' when it had none). */
  readonly title: string;
}

/**
 * Follows leaves made in the app's other windows: a list left there is closed here, and what
 * closing wrote (the pending count, the cached view: both saved on the way out) is deleted again,
 * or the device would keep part of a list it left. `onLeft` is told of every list left
 * elsewhere, open here or not. Returns stop.
 */
export function followListsLeftElsewhere(
  onLeft: (left: ListLeftElsewhere) => void,
  storage: KeyValueStore = deviceStorage(),
  leftLists: LeftListsChannel = deviceLeftLists(),
): () => void {
  return leftLists.onLeftElsewhere((listId) => {
    const sessions = openSessionsOf(listId);
    const title = sessions[0]?.list.title() ?? '';
    for (const session of sessions) session.destroy();
    if (sessions.length > 0) {
      deleteDeviceCopy(listId, storage).catch((error: unknown) => {
        console.warn('[basket] could not delete what was left of a list left in another window', error);
      });
    }
    onLeft({ listId, title });
  });
}

/**
 * Whether the list this window shows (`listId`) was left in another window of the app: then
 * `left` says so until the person opens it again (`reopen`). The screen shows that instead of
 * the list (whose session followListsLeftElsewhere has closed).
 */
export function useListLeftElsewhere(listId: string | null): {
  left: ListLeftElsewhere | null;
  reopen: () => void;
} {
  const [left, setLeft] = useState<ListLeftElsewhere | null>(null);
  const shown = useRef(listId);
  shown.current = listId;
  // Only the list on screen: news of another one must not replace the note that this one was left.
  useEffect(() => followListsLeftElsewhere((news) => news.listId === shown.current && setLeft(news)), []);
  const reopen = useCallback(() => setLeft(null), []);
  return { left: left !== null && left.listId === listId ? left : null, reopen };
}

export function createList(known: KnownListsStore = deviceKnownLists()): string {
  const id = newListId();
  known.touch(id);
  return id;
}

export function useKnownLists(): DeviceLists {
  const known = deviceKnownLists();
  const lists = useSyncExternalStore(known.subscribe, known.lists);
  const actions = useMemo(
    () => ({
      create: () => createList(known),
      rename: (id: string, title: string) => renameList(id, title, known),
      forget: (id: string) => forgetList(id, known),
    }),
    [known],
  );
  return useMemo(() => ({ lists, ...actions }), [lists, actions]);
}

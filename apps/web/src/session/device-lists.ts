/**
 * The device's lists as the UI sees them: create, rename, switch (the UI
 * navigates), leave (forget here and delete the local copy; the list itself
 * stays with the family).
 */
import { useMemo, useSyncExternalStore } from 'react';
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
): Promise<void> {
  for (const session of openSessionsOf(id)) session.destroy();
  known.forget(id);
  storage.removeItem(ackStorageKey(id));
  forgetCachedView(storage, id);
  forgetKeptEdits(storage, id);
  forgetPendingTaps(storage, id);
  forgetKeptNotices(storage, id);
  await deleteLocalCopy(id);
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

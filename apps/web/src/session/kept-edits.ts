/**
 * This device's own edits to a list, kept in localStorage until the relay acknowledges them.
 *
 * IndexedDB holds the list, but two moments leave an edit with no other durable copy:
 * - before the list's IndexedDB copy is open. y-indexeddb writes nothing until then, and a cold
 *   start defers the opening until the cached rows are painted: an item added in the first
 *   moments, and the page closed right after, would be lost;
 * - when IndexedDB fails to store it (the phone's storage is full). y-indexeddb only logs that,
 *   and the edit would be gone at the next reload while the person was told it is on the phone.
 * localStorage writes are synchronous, so each edit is kept there the moment it is made, put back
 * into the document at the next open, and dropped once the relay has it.
 */
import * as Y from 'yjs';
import { fromBase64, toBase64 } from 'lib0/buffer';
import { readJson, writeJson, type KeyValueStore } from './device-storage.js';

// Named for what it first kept: edits made before IndexedDB opened. Kept so that edits an older
// version kept are still put back.
const KEY_PREFIX = 'basket:early-edits:';

export interface KeptEdits {
  /** Stops keeping edits (the list is closed). */
  stop(): void;
  /** Forgets the kept edits: call once the relay has acknowledged every edit of this device. */
  clear(): void;
  /** Whether any edit is kept. */
  readonly isEmpty: boolean;
}

/**
 * Past this many kept edits they are merged into one: a long offline spell makes hundreds, and
 * each is put back one by one when the list opens, before its first paint.
 */
const MERGE_AT_KEPT_EDITS = 64;

function readKept(store: KeyValueStore, key: string): string[] {
  const parsed = readJson(store, key);
  return Array.isArray(parsed) ? parsed.filter((entry): entry is string => typeof entry === 'string') : [];
}

/**
 * Applies the edits kept by an earlier page to `doc`, then keeps this page's own until `clear`.
 *
 * Tabs of a list share the one key, and each may add to it: every write starts from what is
 * stored, never from this page's copy, or a tab's edit overwrites the other tab's (which may be
 * the only copy of it when IndexedDB is failing).
 */
export function keepLocalEdits(store: KeyValueStore, listId: string, doc: Y.Doc): KeptEdits {
  const key = KEY_PREFIX + listId;
  const restoring = Symbol('kept edits');
  for (const encoded of readKept(store, key)) {
    try {
      Y.applyUpdate(doc, fromBase64(encoded), restoring);
    } catch (error) {
      console.warn('[basket] skipped an unreadable kept edit', error);
    }
  }
  const write = (kept: string[]): void => {
    if (kept.length === 0) store.removeItem(key);
    else writeJson(store, key, kept.length > MERGE_AT_KEPT_EDITS ? mergeKept(kept) : kept);
  };
  write(readKept(store, key));
  let stopped = false;
  // Only this device's edits: what the relay or the stored copy brought is safe where it came from.
  const onUpdate = (update: Uint8Array, origin: unknown, _doc: Y.Doc, transaction: Y.Transaction): void => {
    if (stopped || origin === restoring || !transaction.local) return;
    write([...readKept(store, key), toBase64(update)]);
  };
  doc.on('update', onUpdate);
  return {
    stop() {
      stopped = true;
      doc.off('update', onUpdate);
    },
    clear() {
      const kept = readKept(store, key);
      if (kept.length === 0) return;
      // Only what this document holds is known to be on the relay; another tab's edit that has
      // not reached this one stays kept.
      const held = Y.decodeStateVector(Y.encodeStateVector(doc));
      write(kept.filter((encoded) => !heldBy(held, encoded)));
    },
    get isEmpty() {
      // write() removes the key rather than store an empty list.
      return store.getItem(key) === null;
    },
  };
}

/** Whether everything `encoded` inserts is in a document whose state vector is `held`. */
function heldBy(held: Map<number, number>, encoded: string): boolean {
  try {
    const needed = Y.encodeStateVectorFromUpdate(fromBase64(encoded));
    for (const [client, clock] of Y.decodeStateVector(needed)) if ((held.get(client) ?? 0) < clock) return false;
    return true;
  } catch {
    // Unreadable: it can never be put back, so it is not worth keeping.
    return true;
  }
}

/** The kept edits as one; as they are if one of them cannot be read. */
function mergeKept(kept: readonly string[]): string[] {
  try {
    return [toBase64(Y.mergeUpdates(kept.map((encoded) => fromBase64(encoded))))];
  } catch {
    return [...kept];
  }
}

export function forgetKeptEdits(store: KeyValueStore, listId: string): void {
  store.removeItem(KEY_PREFIX + listId);
}

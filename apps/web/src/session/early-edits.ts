/**
 * Edits made before the list's IndexedDB copy is open, kept in localStorage until it is.
 *
 * y-indexeddb writes nothing until its database is open (then it stores the whole document
 * once). A cold start paints the cached rows at once and defers that opening, so an item added
 * in the first moments — and a page closed right after — would be lost. localStorage writes are
 * synchronous, so each such edit is kept there the moment it is made, put back into the document
 * at the next open, and dropped once the IndexedDB copy holds it.
 */
import * as Y from 'yjs';
import { fromBase64, toBase64 } from 'lib0/buffer';
import { readJson, writeJson, type KeyValueStore } from './device-storage.js';

const KEY_PREFIX = 'basket:early-edits:';

export interface EarlyEdits {
  /** Stops keeping edits (the IndexedDB copy is open and stores them itself). */
  stop(): void;
  /** Forgets the kept edits: call once the IndexedDB copy has stored the document. */
  clear(): void;
}

function readKept(store: KeyValueStore, key: string): string[] {
  const parsed = readJson(store, key);
  return Array.isArray(parsed) ? parsed.filter((entry): entry is string => typeof entry === 'string') : [];
}

/** Applies the edits kept by an earlier page to `doc`, then keeps this page's until `stop`. */
export function keepEarlyEdits(store: KeyValueStore, listId: string, doc: Y.Doc): EarlyEdits {
  const key = KEY_PREFIX + listId;
  const kept = readKept(store, key);
  const restoring = Symbol('early edits');
  for (const encoded of kept) {
    try {
      Y.applyUpdate(doc, fromBase64(encoded), restoring);
    } catch (error) {
      console.warn('[basket] skipped an unreadable early edit', error);
    }
  }
  let stopped = false;
  const onUpdate = (update: Uint8Array, origin: unknown): void => {
    if (stopped || origin === restoring) return;
    kept.push(toBase64(update));
    writeJson(store, key, kept);
  };
  doc.on('update', onUpdate);
  return {
    stop() {
      stopped = true;
      doc.off('update', onUpdate);
    },
    clear() {
      store.removeItem(key);
    },
  };
}

export function forgetEarlyEdits(store: KeyValueStore, listId: string): void {
  store.removeItem(KEY_PREFIX + listId);
}

/**
 * The list's copy on this device: IndexedDB (y-indexeddb) plus its small
 * housekeeping (compaction of the update log, persistent-storage request).
 */
import type * as Y from 'yjs';
import { IndexeddbPersistence, clearDocument, storeState } from 'y-indexeddb';
import * as idb from 'lib0/indexeddb';
import { deviceStorage, type KeyValueStore } from './device-storage.js';
import { Emitter } from './emitter.js';

export function localDatabaseName(listId: string): string {
  return `basket-list-${listId}`;
}

export function indexedDbAvailable(): boolean {
  try {
    return typeof indexedDB !== 'undefined' && indexedDB !== null;
  } catch {
    return false;
  }
}

/**
 * y-indexeddb appends one record per update and merges them only after 500
 * records within one session (PREFERRED_TRIM_SIZE). A family list is opened
 * often and edited a little each time, so the log would grow across sessions;
 * we also merge it at load once it has this many records.
 */
export const COMPACT_AT_RECORDS = 50;

export interface LocalCopy {
  readonly persistence: IndexeddbPersistence | null;
  /**
   * Resolves when the stored document is applied, or after timeoutMs when IndexedDB has not
   * answered by then: enough to show the list and let the person edit it, not to rely on what the
   * stored copy holds (see whenApplied).
   */
  readonly whenLoaded: Promise<void>;
  /**
   * Resolves once the stored document is in the Y.Doc, however long IndexedDB takes, or once
   * IndexedDB turns out unusable (nothing stored to apply). Never before: until then, what the
   * device stored is neither in the document nor known to be anywhere else.
   */
  readonly whenApplied: Promise<void>;
  /** Merges the update log into one record when it has grown; true when it did. */
  compact(force?: boolean): Promise<boolean>;
  /** How many records the update log holds (0 without IndexedDB). */
  recordCount(): Promise<number>;
  /**
   * True once a write to the IndexedDB copy failed while this copy was open (the phone's storage
   * is full, another tab deleted the database): what this page edited may be missing from it.
   */
  readonly writeFailed: boolean;
  /** Calls `callback` once, when `writeFailed` turns true. */
  onWriteFailed(callback: () => void): () => void;
  destroy(): void;
}

/**
 * `skipLoadUpdate` says whether the load's one big update may be kept from the document's
 * 'update' listeners (see skipUpdateEventOfLoad): not when a late load finds the relay connection
 * open, which would otherwise never be sent what the device stored.
 */
export function openLocalCopy(listId: string, doc: Y.Doc, timeoutMs = 1500, skipLoadUpdate: () => boolean = () => true): LocalCopy {
  if (!indexedDbAvailable()) {
    return {
      persistence: null,
      whenLoaded: Promise.resolve(),
      whenApplied: Promise.resolve(),
      compact: () => Promise.resolve(false),
      recordCount: () => Promise.resolve(0),
      writeFailed: false,
      onWriteFailed: () => () => {},
      destroy: () => {},
    };
  }
  const persistence = new IndexeddbPersistence(localDatabaseName(listId), doc);
  const writes = watchWriteFailures(persistence, doc);
  const stopSkipping = skipUpdateEventOfLoad(doc, persistence, skipLoadUpdate);
  void persistence.whenSynced.then(stopSkipping);
  // y-indexeddb's whenSynced never settles when the database cannot be opened (private mode in
  // some browsers, a broken profile): then there is nothing stored to wait for.
  const whenApplied = Promise.race([
    persistence.whenSynced.then(() => undefined),
    persistence._db.then(
      () => new Promise<void>(() => {}),
      () => undefined,
    ),
  ]);
  let timer: ReturnType<typeof setTimeout> | undefined;
  const whenLoaded = Promise.race([
    whenApplied,
    new Promise<void>((resolve) => {
      timer = setTimeout(resolve, timeoutMs);
    }),
  ]).finally(() => clearTimeout(timer));
  return {
    persistence,
    whenLoaded,
    whenApplied,
    get writeFailed() {
      return writes.failed;
    },
    onWriteFailed: (callback) => writes.failures.on(callback),
    async recordCount() {
      const db = await persistence._db;
      const [updates] = idb.transact(db, ['updates'], 'readonly');
      return updates ? idb.count(updates) : 0;
    },
    async compact(force = false) {
      if (!persistence.synced || persistence._destroyed) return false;
      if (!force && (await this.recordCount()) < COMPACT_AT_RECORDS) return false;
      // storeState writes the merged state, then deletes the older records.
      await storeState(persistence, true);
      return true;
    },
    destroy() {
      stopSkipping();
      writes.stop();
      void persistence.destroy();
    },
  };
}

/**
 * y-indexeddb only logs a write it could not make (an unhandled rejection): a quota failure
 * aborts the write's transaction after the fact, and a database closed by another tab (leaving
 * the list there) throws at once. Both are noticed here, so the session keeps this device's
 * edits elsewhere (kept-edits.ts) instead of trusting a copy that does not hold them.
 */
function watchWriteFailures(
  persistence: IndexeddbPersistence,
  doc: Y.Doc,
): { readonly failed: boolean; readonly failures: Emitter<void>; stop(): void } {
  const state = { failed: false };
  const failures = new Emitter<void>();
  const markFailed = (): void => {
    if (state.failed) return;
    state.failed = true;
    failures.emit();
  };
  // A transaction's abort event bubbles to its database (IndexedDB spec), whichever write it was.
  let database: IDBDatabase | null = null;
  let stopped = false;
  persistence._db.then(
    (db) => {
      if (stopped) return;
      database = db;
      db.addEventListener('abort', markFailed);
    },
    () => undefined,
  );
  const storeUpdate = persistence._storeUpdate;
  const storeUpdateWatched = (update: Uint8Array, origin: unknown): void => {
    try {
      storeUpdate(update, origin);
    } catch (error) {
      markFailed();
      throw error;
    }
  };
  // Replaced before anyone takes it from the document's listeners (after-paint-updates.ts).
  doc.off('update', storeUpdate);
  persistence._storeUpdate = storeUpdateWatched;
  doc.on('update', storeUpdateWatched);
  return {
    get failed() {
      return state.failed;
    },
    failures,
    stop() {
      stopped = true;
      failures.clear();
      database?.removeEventListener('abort', markFailed);
    },
  };
}

type Listeners = Set<unknown>;

/**
 * Yjs encodes every transaction a second time for its 'update' listeners.
 * Applying the stored copy at load is one big transaction whose update no
 * listener needs (y-indexeddb skips its own; the relay and other tabs get the
 * state through the sync handshake, which starts only after the load), and
 * encoding it again cost ~330 ms for 5,000 items with 100k edits (2.6 MB).
 * So for that one transaction the 'update' listeners are set aside, and put
 * back before anything else runs (the next transaction's observers). Only
 * while `skipLoadUpdate()` says so: a load later than the timeout can find
 * the handshake done, and then the relay needs that update.
 */
export function skipUpdateEventOfLoad(doc: Y.Doc, persistence: IndexeddbPersistence, skipLoadUpdate: () => boolean = () => true): () => void {
  const observers = (doc as unknown as { _observers?: unknown })._observers;
  if (!(observers instanceof Map)) return () => {};
  const registry = observers as Map<string, Listeners>;
  let setAside: Map<string, Listeners> | null = null;
  const putBack = (): void => {
    if (setAside === null) return;
    for (const [name, listeners] of setAside) {
      const addedMeanwhile = registry.get(name);
      if (addedMeanwhile) for (const listener of addedMeanwhile) listeners.add(listener);
      registry.set(name, listeners);
    }
    setAside = null;
  };
  const beforeUpdateEvent = (transaction: Y.Transaction): void => {
    if (transaction.origin !== persistence || persistence.synced || !skipLoadUpdate()) return;
    setAside = new Map();
    for (const name of ['update', 'updateV2']) {
      const listeners = registry.get(name);
      if (!listeners) continue;
      setAside.set(name, listeners);
      registry.delete(name);
    }
  };
  doc.on('afterTransactionCleanup', beforeUpdateEvent);
  doc.on('beforeObserverCalls', putBack);
  doc.on('afterAllTransactions', putBack);
  return () => {
    putBack();
    doc.off('afterTransactionCleanup', beforeUpdateEvent);
    doc.off('beforeObserverCalls', putBack);
    doc.off('afterAllTransactions', putBack);
  };
}

/** Deletes the device's copy of a list (leaving it). */
export function deleteLocalCopy(listId: string): Promise<void> {
  if (!indexedDbAvailable()) return Promise.resolve();
  return clearDocument(localDatabaseName(listId)).catch((error: unknown) => {
    console.warn('[basket] could not delete the local copy', error);
  });
}

const PERSIST_ASKED_KEY = 'basket:persist-asked';

/** Asks once per device for storage the browser will not evict (the list must survive). */
export async function requestPersistentStorage(
  storage: KeyValueStore = deviceStorage(),
  manager: Pick<StorageManager, 'persist' | 'persisted'> | undefined = globalThis.navigator?.storage,
): Promise<boolean> {
  if (!manager || typeof manager.persist !== 'function') return false;
  if (storage.getItem(PERSIST_ASKED_KEY) !== null) return manager.persisted();
  storage.setItem(PERSIST_ASKED_KEY, String(Date.now()));
  try {
    return await manager.persist();
  } catch {
    return false;
  }
}

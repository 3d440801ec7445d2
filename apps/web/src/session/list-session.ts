/**
 * One open list on this device: Y.Doc + IndexedDB copy + relay connection +
 * presence + durable-ack tracking. Reads and writes are always local; the
 * network only ever catches up.
 */
import * as Y from 'yjs';
import * as decoding from 'lib0/decoding';
import { WebsocketProvider } from 'y-websocket';
import { removeAwarenessStates } from 'y-protocols/awareness';
import type { Item, ListChange } from '@basket/list-core';
import type { ListSession, Peer, ReconnectSummary, SyncStatus } from './types.js';
import { AckTracker, ackStorageKey } from './ack-tracker.js';
import { applyOtherTabsAsOwnEdits } from './other-tabs.js';
import { deriveSyncStatus, refusalReason, sameStatus } from './sync-status.js';
import { browserPageLifecycle, followNetwork, realTimers, startHeartbeat, type NetworkEvents, type PageLifecycle, type Timers } from './connection-watch.js';
import { peersFromStates, samePeers } from './peers.js';
import { keepOwnPresence } from './own-presence.js';
import { forgetDroppedPeerClocks } from './peer-clocks.js';
import { snapshotItems, summarizeRemoteChanges } from './reconnect-summary.js';
import { createShoppingList } from './list-model.js';
import { indexedDbAvailable, openLocalCopy, requestPersistentStorage, type LocalCopy } from './local-copy.js';
import { AfterPaintUpdates, afterNextPaint } from './after-paint-updates.js';
import { keepLocalEdits } from './kept-edits.js';
import { applyTap, keepPendingTaps, tapTargetsPresent } from './pending-taps.js';
import { keepViewCached, readCachedView } from './view-cache.js';
import { afterInputQuiet } from './input-quiet.js';
import { createMemoryStore, deviceStorage, type KeyValueStore } from './device-storage.js';
import { deviceProfileStore } from './profile.js';
import { registerOpenSession } from './open-sessions.js';
import { Emitter } from './emitter.js';

/** The relay's durable acknowledgement: varUint8Array(encodeStateVector(stored state)). */
export const MESSAGE_DURABLE_ACK = 100;

export interface ListSessionOptions {
  /** ws(s)://host/sync; default: same origin as the page. */
  serverUrl?: string;
  storage?: KeyValueStore;
  /** Presence colour; default: the device profile's. */
  color?: string;
  WebSocketPolyfill?: typeof WebSocket;
  timers?: Timers;
  network?: NetworkEvents & { isOnline(): boolean };
  /** Use IndexedDB (default true when available). */
  persist?: boolean;
  /** Upper bound of the reconnect backoff. */
  maxBackoffMs?: number;
  /** Sync with other tabs of this browser directly (BroadcastChannel); default true. */
  crossTab?: boolean;
  /** With a cached view: what to wait for before applying the stored document; default a pause in typing. */
  pauseBeforeLoad?: () => Promise<void>;
  /** Tells when the page is shown or resumed again; default the browser's page events. */
  page?: PageLifecycle;
}

/** Timeline marks for the browser benchmark and DevTools (cheap; no-ops where unsupported). */
function mark(name: string): void {
  try {
    performance.mark(name);
  } catch {
    // performance.mark is missing in some embedded webviews.
  }
}

export function relayUrl(loc: Pick<Location, 'protocol' | 'host'> = location): string {
  return `${loc.protocol === 'https:' ? 'wss:' : 'ws:'}//${loc.host}/sync`;
}

function browserNetwork(): NetworkEvents & { isOnline(): boolean } {
  return {
    addEventListener: (type, listener) => window.addEventListener(type, listener),
    removeEventListener: (type, listener) => window.removeEventListener(type, listener),
    isOnline: () => navigator.onLine !== false,
  };
}

/** Close code 1009 (RFC 6455): a message too big to process. */
const MESSAGE_TOO_BIG = 1009;

/**
 * y-websocket's rule (4400–4499 are refusals for good), and 1009: a frame so far past the relay's
 * message size that its WebSocket library closes the socket before the relay reads it. Sent again,
 * the same changes make the same frame: the phone re-uploaded it for ever, no reason shown ([RR3]).
 */
function relayMayTakeItLater(event: CloseEvent): boolean {
  return !(event.code >= 4400 && event.code < 4500) && event.code !== MESSAGE_TOO_BIG;
}

/**
 * After a refusal for good, how often a phone left open tries again. The refusal stands for these
 * changes on this relay as it is now: an operator may raise a limit, a newer relay may take them.
 * Tried again too when the person comes back to the app, and when the network returns.
 */
export const REFUSED_RETRY_MS = 10 * 60_000;

export function openListSession(listId: string, actor: string, options: ListSessionOptions = {}): ListSession {
  const storage = options.storage ?? deviceStorage();
  const timers = options.timers ?? realTimers;
  const network = options.network ?? browserNetwork();
  const color = options.color ?? deviceProfileStore().get().color;

  mark('basket:session-open');
  const doc = new Y.Doc();
  let destroyed = false;
  const persist = options.persist !== false;
  // This device's edits are kept in localStorage too until the relay has them (kept-edits.ts).
  const keptEdits = persist && indexedDbAvailable() ? keepLocalEdits(storage, listId, doc) : null;
  // Taps on cached rows wait for the load; kept in localStorage meanwhile (see pending-taps.ts).
  const pendingTaps = keepPendingTaps(persist ? storage : createMemoryStore(), listId);
  // The rows shown last time, painted while the document loads (see view-cache.ts).
  const cachedView = persist ? readCachedView(storage, listId) : null;
  let localCopy: LocalCopy | null = null;
  // With rows to paint, the stored document is applied after that first paint and at a pause in
  // typing: applying a long history blocks the main thread for hundreds of ms, and must hold
  // back neither the rows nor the keystrokes of someone typing at once. But an edit (or a tap on
  // a cached row, see loadNow) opens it at once: until the local copy is open nothing is
  // written to IndexedDB, and an edit must never wait on a pause to become durable.
  let loadNow: () => void = () => {};
  const afterPaintAndPause = (): Promise<void> => {
    const actedBeforeLoad = new Promise<void>((resolve) => {
      loadNow = resolve;
    });
    const onEarlyEdit = (): void => loadNow();
    doc.on('update', onEarlyEdit);
    const pause = new Promise<void>((resolve) => afterNextPaint(resolve)).then(
      options.pauseBeforeLoad ?? (() => afterInputQuiet()),
    );
    return Promise.race([pause, actedBeforeLoad]).then(() => doc.off('update', onEarlyEdit));
  };
  // The providers' update listeners run after the paint that shows an edit (after-paint-updates.ts).
  const afterPaintUpdates = new AfterPaintUpdates(doc);
  const openCopy = (): LocalCopy | null => {
    if (destroyed) return null;
    localCopy = openLocalCopy(listId, doc, undefined, () => !provider.wsconnected && !provider.wsconnecting);
    // Told on the status line; localCopy.destroy() drops the listener.
    localCopy.onWriteFailed(refreshStatus);
    if (localCopy.persistence) afterPaintUpdates.defer(localCopy.persistence._storeUpdate);
    return localCopy;
  };
  const localCopyOpened: Promise<LocalCopy | null> = !persist
    ? Promise.resolve(null)
    : cachedView === null
      ? Promise.resolve(openCopy())
      : afterPaintAndPause().then(openCopy);
  // What the device stored is in the document only once this resolves, which can be after
  // whenLoaded (its timeout), and after an edit made on the cached rows.
  const whenStoredCopyApplied = localCopyOpened.then((opened) => opened?.whenApplied);
  // An edit made before then writes nothing that builds on what the list holds (list-core).
  const list = createShoppingList(doc, actor, whenStoredCopyApplied);
  const tracker = new AckTracker(doc, { storage, listId, now: timers.now });
  const provider = new WebsocketProvider(options.serverUrl ?? relayUrl(), listId, doc, {
    connect: false,
    maxBackoffTime: options.maxBackoffMs ?? 8000,
    disableBc: options.crossTab === false,
    shouldReconnect: relayMayTakeItLater,
    ...(options.WebSocketPolyfill ? { WebSocketPolyfill: options.WebSocketPolyfill } : {}),
  });
  afterPaintUpdates.defer(provider._updateHandler);
  applyOtherTabsAsOwnEdits(provider);
  const awareness = provider.awareness;

  const statusChanged = new Emitter<SyncStatus>();
  const peersChanged = new Emitter<readonly Peer[]>();
  const summaries = new Emitter<ReconnectSummary>();
  const cleanups: Array<() => void> = [];
  let loaded = false;
  let storedCopyApplied = false;
  let refusal: string | null = null;
  // Online at open: the first attempt starts as soon as the local copy is loaded.
  let attempting = network.isOnline();

  provider.messageHandlers[MESSAGE_DURABLE_ACK] = (_encoder, decoder) => {
    try {
      tracker.acknowledge(Y.decodeStateVector(decoding.readVarUint8Array(decoder)));
    } catch (error) {
      console.warn('[basket] ignored a malformed ack from the relay', error);
    }
  };

  let status: SyncStatus = computeStatus();
  function computeStatus(): SyncStatus {
    const acks = tracker.state();
    return deriveSyncStatus({
      online: network.isOnline(),
      connected: provider.wsconnected,
      connecting: attempting,
      synced: provider.synced,
      refusal,
      // A tap waiting for the stored copy is a change on this phone that no ack can cover yet.
      pendingChanges: acks.pendingChanges + pendingTaps.waiting(),
      lastSyncedAt: acks.lastSyncedAt,
      ackedThisConnection: acks.ackedThisConnection,
      deviceCopyFailed: localCopy?.writeFailed === true,
    });
  }
  function refreshStatus(): void {
    if (destroyed) return;
    const next = computeStatus();
    if (sameStatus(status, next)) return;
    status = next;
    statusChanged.emit(status);
  }

  let peers: readonly Peer[] = [];
  function refreshPeers(): void {
    if (destroyed) return;
    const next = peersFromStates(awareness.getStates(), doc.clientID);
    if (samePeers(peers, next)) return;
    peers = next;
    peersChanged.emit(peers);
  }

  // "While you were offline": remote changes applied between a socket opening and the first sync
  // since. Kept across sockets that close before it: the relay's answer comes in parts, and a
  // socket cut after the first (weak signal, the heartbeat) left the next one a "before" that
  // already held them, so the summary left out what the first part brought ([E6]).
  // A device joining the list (its link opened with no signal, items added) is not told at its
  // first sync that the family "added" everything that was on the list before it came.
  let catchUp: { before: Map<string, Item>; changed: Set<string>; joining: boolean } | null = null;
  const stopObservingList = list.observe((change: ListChange) => {
    if (catchUp && change.remote) for (const id of change.changedIds) catchUp.changed.add(id);
  });

  provider.on('status', ({ status: socketStatus }) => {
    if (socketStatus === 'connected') {
      attempting = false;
      refusal = null;
      tracker.connectionOpened();
      catchUp ??= { before: snapshotItems(list.items(), list.deletedItems()), changed: new Set(), joining: tracker.holdsOnlyUnacknowledgedEdits() };
      ownPresence.renew();
    }
    if (socketStatus === 'disconnected') forgetDroppedPeerClocks(awareness);
    refreshStatus();
  });
  provider.on('sync', (isSynced) => {
    if (isSynced && catchUp) {
      const { before, changed, joining } = catchUp;
      catchUp = null;
      // The person's name now: presence carries the one in use (setActor).
      const summary = before.size > 0 && !joining ? summarizeRemoteChanges(before, changed, (id) => list.item(id), ownPresence.state.name) : null;
      if (summary) summaries.emit(summary);
    }
    refreshStatus();
  });
  // Connections in a row that ended before an ack on them covered what the phone held (AckState).
  let closesWithoutAck = 0;
  provider.on('connection-close', () => {
    attempting = false;
    closesWithoutAck = tracker.state().ackedThisConnection ? 0 : closesWithoutAck + 1;
    // y-websocket resets its back-off once a connection syncs, which the relay's answer does
    // before it refuses an update as "busy" (1013): the phone reconnected and synced the list 5
    // times a second, its status flickering ([RR2]). Raised here, just before y-websocket counts
    // this close, the back-off doubles until a connection gets an acknowledgement.
    provider.wsUnsuccessfulReconnects = Math.max(provider.wsUnsuccessfulReconnects, closesWithoutAck - 1);
    refreshStatus();
  });
  provider.on('closed', ({ code, reason }) => {
    refusal = refusalReason(code, reason);
    refreshStatus();
  });
  const stopTracking = tracker.subscribe(refreshStatus);
  // Every edit of this device is on the relay: the kept copies are no longer needed, unless the
  // IndexedDB copy failed to store some (storage full): then they are the device's only copy of
  // those edits, which the next offline start must still show.
  const stopClearingKeptEdits = tracker.subscribe(() => {
    if (keptEdits === null || keptEdits.isEmpty || tracker.state().pendingChanges !== 0) return;
    if (localCopy?.writeFailed === true) return;
    keptEdits.clear();
  });
  const saveBeforeLeaving = (): void => tracker.flush();
  globalThis.addEventListener?.('pagehide', saveBeforeLeaving);
  cleanups.push(() => globalThis.removeEventListener?.('pagehide', saveBeforeLeaving));
  // Another tab's edits and acks change the phone's count here too (Offline · 3 changes in every tab).
  const ackKey = ackStorageKey(listId);
  const onStorage = (event: StorageEvent): void => {
    // Removed: the device left the list; writing our entries back would bring the key back.
    if (event.key === ackKey && event.newValue !== null) tracker.storedChanged();
  };
  globalThis.addEventListener?.('storage', onStorage);
  cleanups.push(() => globalThis.removeEventListener?.('storage', onStorage));

  // Renewed as each socket opens (see the 'status' handler), before y-websocket sends it at the
  // old clock: every other phone dropped it when its own socket closed, keeping its clock, and
  // takes it again only at a newer one. After a relay restart (which remembers no one, so cannot
  // tell the phone it left, as it does after a reconnect) "Also here" stayed empty on every phone
  // until the next renewal, up to 15 s later ([E1]).
  const ownPresence = keepOwnPresence(awareness, { name: actor, color }, provider);
  awareness.on('change', refreshPeers);
  refreshPeers();

  const crossTab = options.crossTab !== false;
  // Tabs of this browser keep syncing with each other while offline, so an edit made in one tab
  // reaches the relay through whichever tab is open when the network returns.
  const keepTabsInSync = (): void => {
    if (crossTab && !destroyed) provider.connectBc();
  };
  const connectNow = (): void => {
    if (destroyed || provider.wsconnected) return;
    attempting = true;
    provider.connect();
  };
  const stopFollowingNetwork = followNetwork(
    {
      connect: () => {
        if (loaded) connectNow();
      },
      disconnect: () => {
        provider.disconnect();
        if (loaded) keepTabsInSync();
      },
    },
    network,
    refreshStatus,
  );
  // y-websocket's own watchdog (every 3 s: no message for 30 s closes the socket) is replaced by
  // the heartbeat, which finds a dead socket sooner. Left running, it closed a working socket at
  // every resume after a freeze of more than 30 s (screen off): it cannot tell frozen time from
  // the relay's silence.
  clearInterval(provider._checkInterval);
  const page = options.page ?? browserPageLifecycle();
  const stopHeartbeat = startHeartbeat(provider, { timers, page });
  // Until this, a refused phone never tried again without a reload: its changes stayed on it,
  // the family's never reached it, even once the relay had room for them ([E3]).
  const retryRefused = (): void => {
    if (refusal !== null && loaded && network.isOnline()) connectNow();
  };
  const stopRetryOnResume = page.onResume(retryRefused);
  const refusedRetry = timers.setInterval(retryRefused, REFUSED_RETRY_MS);
  cleanups.push(stopRetryOnResume, () => timers.clearInterval(refusedRetry));

  let tapsApplied: () => void = () => {};
  const whenTapsApplied = new Promise<void>((resolve) => {
    tapsApplied = resolve;
  });
  // Only once the stored copy is applied can taps on cached rows find their items, and can the
  // tracker tell an edit the device still holds from one it lost.
  void whenStoredCopyApplied.then(() => {
    if (destroyed) return;
    storedCopyApplied = true;
    // Each tap leaves the waiting count as its edit joins the tracker's: the count never jumps.
    pendingTaps.applyAll(list);
    tapsApplied();
    // Their updates reach IndexedDB within a frame (after-paint-updates.ts); then they are redundant.
    const clearTapsLater = setTimeout(() => pendingTaps.clear(), 1000);
    cleanups.push(() => clearTimeout(clearTapsLater));
    tracker.documentLoaded();
    list.purgeTombstones();
    refreshStatus();
  });
  const whenLoaded = localCopyOpened.then((opened) => opened?.whenLoaded).then(() => {
    if (destroyed) return;
    mark('basket:local-loaded');
    loaded = true;
    // Connect only now, so sync step 1 carries the stored state vector and the relay sends only
    // what is missing; and after the list has painted, so answering the relay's sync step 1
    // (a diff over the whole history) never delays the first screen.
    afterNextPaint(() => {
      if (destroyed) return;
      if (network.isOnline()) connectNow();
      else keepTabsInSync();
      refreshStatus();
    });
    refreshStatus();
    void requestPersistentStorage(storage);
    const compactLater = setTimeout(() => {
      localCopy?.compact().catch((error: unknown) => console.warn('[basket] compaction failed', error));
    }, 2000);
    cleanups.push(() => clearTimeout(compactLater));
    if (persist) cleanups.push(keepViewCached(storage, listId, list));
  });

  let unregister: () => void = () => {};

  const session: ListSession = {
    listId,
    list,
    whenLoaded,
    cachedView,
    loadNow: () => loadNow(),
    whenTapsApplied,
    applyWhenLoaded(tap) {
      // After a late load's timeout the rows shown are the document's, and a tap on one applies
      // at once; one naming an item the stored copy has not brought yet waits for it, and so
      // does one made while others wait: applied before them, it would be undone by an older tap.
      if (storedCopyApplied || (loaded && pendingTaps.waiting() === 0 && tapTargetsPresent(list, tap))) {
        applyTap(list, tap);
        return;
      }
      pendingTaps.add(tap);
      refreshStatus();
      loadNow();
    },
    status: () => status,
    onStatus: (callback) => statusChanged.on(callback),
    peers: () => peers,
    onPeers: (callback) => peersChanged.on(callback),
    onReconnectSummary: (callback) => summaries.on(callback),
    setActor(next) {
      // The name presence carries is the one in use: an unchanged name sends nothing.
      if (destroyed || ownPresence.state.name === next) return;
      list.setActor(next);
      ownPresence.setName(next);
    },
    destroy() {
      if (destroyed) return;
      destroyed = true;
      keptEdits?.stop();
      unregister();
      for (const cleanup of cleanups) cleanup();
      stopHeartbeat();
      stopFollowingNetwork();
      stopTracking();
      stopClearingKeptEdits();
      stopObservingList();
      ownPresence.stop();
      removeAwarenessStates(awareness, [doc.clientID], 'session closed');
      awareness.off('change', refreshPeers);
      // Edits of the last frame still reach IndexedDB and the relay before their providers go.
      afterPaintUpdates.destroy();
      provider.destroy();
      awareness.destroy();
      tracker.destroy();
      list.destroy();
      localCopy?.destroy();
      doc.destroy();
      statusChanged.clear();
      peersChanged.clear();
      summaries.clear();
    },
  };
  unregister = registerOpenSession(session, doc);
  return session;
}

/**
 * A ListSession with no IndexedDB and no network, for component tests and
 * demos. Its connection, acks, peers and summaries are driven by hand.
 */
import * as Y from 'yjs';
import type { CachedView, ListSession, Peer, ReconnectSummary, SyncStatus } from './types.js';
import { AckTracker } from './ack-tracker.js';
import { deriveSyncStatus, sameStatus } from './sync-status.js';
import { createShoppingList } from './list-model.js';
import { createMemoryStore } from './device-storage.js';
import { Emitter } from './emitter.js';
import { registerOpenSession } from './open-sessions.js';
import { applyTap, keepPendingTaps } from './pending-taps.js';

export interface MemoryListSession extends ListSession {
  readonly doc: Y.Doc;
  /** Pretend the socket opened and the relay's state arrived. */
  connect(): void;
  /** Pretend the socket closed. */
  disconnect(): void;
  /** Pretend the relay acknowledged everything this document holds. */
  acknowledge(): void;
  setPeers(peers: readonly Peer[]): void;
  emitReconnectSummary(summary: ReconnectSummary): void;
}

export function createMemorySession(
  listId: string,
  actor: string,
  options: {
    now?: () => number;
    color?: string;
    /** A cached view to paint until `whenLoaded` resolves (tests of the cold start). */
    cachedView?: CachedView;
    whenLoaded?: Promise<void>;
    /**
     * When the stored copy is applied, if later than `whenLoaded` (its timeout): taps kept
     * before it wait until then. Default: with `whenLoaded`.
     */
    whenStoredCopyApplied?: Promise<void>;
    /** Called when the screen asks for the stored document now (ListSession.loadNow). */
    onLoadNow?: () => void;
    /**
     * The device's stored documents by list id (what IndexedDB is to the real session): the
     * session starts from its list's copy and keeps it up to date, so opening the list again
     * shows what the last session saved. Without it every open starts empty.
     */
    storedCopies?: Map<string, Uint8Array>;
  } = {},
): MemoryListSession {
  const doc = new Y.Doc();
  const list = createShoppingList(doc, actor);
  const tracker = new AckTracker(doc, { storage: createMemoryStore(), listId, ...(options.now ? { now: options.now } : {}) });
  const statusChanged = new Emitter<SyncStatus>();
  const peersChanged = new Emitter<readonly Peer[]>();
  const summaries = new Emitter<ReconnectSummary>();
  let connected = false;
  let destroyed = false;
  let peers: readonly Peer[] = [
    { clientId: doc.clientID, name: actor, color: options.color ?? '#2f7d4f', isSelf: true },
  ];

  const tapsBeforeLoad = keepPendingTaps(createMemoryStore(), listId);
  const computeStatus = (): SyncStatus => {
    const acks = tracker.state();
    return deriveSyncStatus({
      online: true,
      connected,
      synced: connected,
      refusal: null,
      pendingChanges: acks.pendingChanges + tapsBeforeLoad.waiting(),
      lastSyncedAt: acks.lastSyncedAt,
      ackedThisConnection: acks.ackedThisConnection,
    });
  };
  let status = computeStatus();
  const refreshStatus = (): void => {
    if (destroyed) return;
    const next = computeStatus();
    if (sameStatus(next, status)) return;
    status = next;
    statusChanged.emit(status);
  };
  const stopTracking = tracker.subscribe(refreshStatus);

  const storedCopies = options.storedCopies;
  const storedCopy = storedCopies?.get(listId);
  if (storedCopy !== undefined) Y.applyUpdate(doc, storedCopy, storedCopies);
  const saveUpdate = (update: Uint8Array): void => {
    const previous = storedCopies?.get(listId);
    storedCopies?.set(listId, previous === undefined ? update : Y.mergeUpdates([previous, update]));
  };
  if (storedCopies !== undefined) doc.on('update', saveUpdate);

  let tapsApplied = false;
  // Registered before whenLoaded's own: when the two come together, the taps are in the list
  // by the time whenLoaded resolves.
  const whenTapsApplied = (options.whenStoredCopyApplied ?? options.whenLoaded ?? Promise.resolve()).then(() => {
    tapsApplied = true;
    tapsBeforeLoad.applyAll(list);
    tapsBeforeLoad.clear();
    refreshStatus();
  });
  const whenLoaded = (options.whenLoaded ?? Promise.resolve()).then(() => {});

  const session: MemoryListSession = {
    listId,
    list,
    doc,
    whenLoaded,
    cachedView: options.cachedView ?? null,
    loadNow: () => options.onLoadNow?.(),
    whenTapsApplied,
    applyWhenLoaded(tap) {
      if (tapsApplied) applyTap(list, tap);
      else {
        tapsBeforeLoad.add(tap);
        refreshStatus();
        options.onLoadNow?.();
      }
    },
    status: () => status,
    onStatus: (callback) => statusChanged.on(callback),
    peers: () => peers,
    onPeers: (callback) => peersChanged.on(callback),
    onReconnectSummary: (callback) => summaries.on(callback),
    setActor(next) {
      if (destroyed) return;
      list.setActor(next);
      if (peers.some((peer) => peer.isSelf && peer.name !== next)) {
        session.setPeers(peers.map((peer) => (peer.isSelf ? { ...peer, name: next } : peer)));
      }
    },
    connect() {
      connected = true;
      tracker.connectionOpened();
      refreshStatus();
    },
    disconnect() {
      connected = false;
      refreshStatus();
    },
    acknowledge() {
      if (connected) tracker.acknowledge(Y.decodeStateVector(Y.encodeStateVector(doc)));
    },
    setPeers(next) {
      peers = next;
      peersChanged.emit(peers);
    },
    emitReconnectSummary: (summary) => summaries.emit(summary),
    destroy() {
      if (destroyed) return;
      destroyed = true;
      unregister();
      stopTracking();
      doc.off('update', saveUpdate);
      tracker.destroy();
      list.destroy();
      doc.destroy();
      statusChanged.clear();
      peersChanged.clear();
      summaries.clear();
    },
  };
  const unregister = registerOpenSession(session, doc);
  return session;
}

/**
 * The boundary between the sync/persistence layer (src/session/) and the
 * screens (src/ui/). The UI reads everything about documents, sync and the
 * device through these types and the hooks exported from src/session/index.ts.
 */
import type { ShoppingListApi } from '@basket/list-core';
import type { CachedView } from './view-cache.js';
import type { PendingTap } from './pending-taps.js';

export type { CachedView } from './view-cache.js';

/** What the status line shows (role="status"). */
export type SyncState = 'offline' | 'syncing' | 'synced';

export interface SyncStatus {
  readonly state: SyncState;
  /** Local changes not yet acknowledged as stored by the relay (message type 100). */
  readonly pendingChanges: number;
  /** When every local change was last acknowledged, ms since epoch; null if never. */
  readonly lastSyncedAt: number | null;
  /** Why the list cannot sync at all (the relay refused it for good); absent otherwise. */
  readonly reason?: string;
  /**
   * A write to this phone's own copy of the list failed (its storage is full, or the browser
   * closed the database): what arrives from now on may be missing at the next offline start.
   * Absent while the copy is healthy.
   */
  readonly deviceCopyFailed?: true;
}

/** Someone who has this list open right now (awareness). */
export interface Peer {
  readonly clientId: number;
  readonly name: string;
  readonly color: string;
  readonly isSelf: boolean;
}

/** The person on this device. */
export interface Profile {
  readonly displayName: string;
  readonly color: string;
  /** False until the person has chosen a name (the UI may then ask, gently). */
  readonly nameChosen: boolean;
}

/** A list this device knows about (the device's list of lists). */
export interface KnownList {
  readonly id: string;
  readonly title: string;
  readonly lastOpenedAt: number;
}

/** One open list: its model plus its sync and presence state. */
export interface ListSession {
  readonly listId: string;
  readonly list: ShoppingListApi;
  /** Resolves once the IndexedDB copy is loaded (fast; never waits on the network). */
  readonly whenLoaded: Promise<void>;
  /**
   * The rows this device showed last time, to paint until `whenLoaded` (null: none, or the list
   * is not stored on this device). Actions on them must wait for `whenLoaded`.
   */
  readonly cachedView: CachedView | null;
  /** Loads the stored document now instead of at the next pause in typing (someone acted on a cached row). */
  loadNow(): void;
  /**
   * A tap on a cached row: applied now if the document is loaded, else kept (in localStorage,
   * surviving the page) and applied when it is — which this starts at once.
   */
  applyWhenLoaded(tap: PendingTap): void;
  /**
   * Resolves once the taps `applyWhenLoaded` kept are in the list: with `whenLoaded`, or later
   * when the stored copy comes after its timeout. Until then the screen shows them itself, on
   * the list's rows as on the cached ones, and they count as changes on this phone.
   */
  readonly whenTapsApplied: Promise<void>;
  status(): SyncStatus;
  onStatus(callback: (status: SyncStatus) => void): () => void;
  peers(): readonly Peer[];
  onPeers(callback: (peers: readonly Peer[]) => void): () => void;
  /** Changes that arrived from others while this device was offline, summarised after reconnect. */
  onReconnectSummary(callback: (summary: ReconnectSummary) => void): () => void;
  /**
   * The person changed their name: later edits and their presence carry the new one. The
   * document, its local copy and the connection stay as they are (undo callbacks keep working).
   */
  setActor(actor: string): void;
  destroy(): void;
}

export interface ReconnectSummary {
  readonly added: readonly string[];
  readonly checked: readonly string[];
  readonly removed: readonly string[];
  readonly by: readonly string[];
}

/**
 * Counts local changes the relay has not yet acknowledged as durably stored
 * (message type 100 carries the relay's stored state vector).
 *
 * A local transaction that created structs ends at (clientID, clock); it is
 * covered once an acknowledged state vector has clock >= that for the client.
 * The client id changes with every page load, so pending entries and the
 * acknowledged vector are persisted per list: after a reload in airplane mode
 * the count is still right.
 *
 * Transactions that only delete (no new struct, so no clock) cannot be
 * matched against a state vector, and counting acks is not sound either: an
 * ack names the stored state, not the message it answers, and the ack of a
 * batch the relay cut before the delete reached it can arrive after the
 * delete was sent (seen 9 ms later, with the same vector as the delete's own
 * ack). So such a transaction is followed at once by a marker, one map entry
 * written by this device (see markDeletions), whose clock stands for the
 * deletions too.
 *
 * Edits from other tabs of this browser (origin FROM_OTHER_TABS, see other-tabs.ts) count too,
 * at the clocks they brought, until an ack covers them: this tab shows them, and it sends them
 * to the relay itself, since the tab that made them may close before its own socket opens. The
 * rule is the one for local edits, so it is as sound: "Synced" needs an ack whose vector covers
 * every clock this tab took from another tab, i.e. a relay that stored them. A tab that made an
 * edit records the same (client, end clock) entry as the tabs that received its update, so the
 * union below counts it once: every tab shows the same count for the phone. (An update made of
 * several transactions, as when tabs exchange whole states on connecting, ends at the last one's
 * clock, which the tab that made them recorded too.) They are kept in memory only: the tab that
 * made them stored its own entries, and anything else this tab took from other tabs is in its
 * IndexedDB copy, which a reload sends in the sync step 2 that the first ack of its connection
 * covers.
 */
import * as Y from 'yjs';
import { isRecord, readJson, writeJson, type KeyValueStore } from './device-storage.js';
import { FROM_OTHER_TABS } from './other-tabs.js';

export interface AckState {
  readonly pendingChanges: number;
  readonly lastSyncedAt: number | null;
  /**
   * True once an ack that arrived through the current connection covers everything the document
   * held when it opened (see connectionOpened).
   */
  readonly ackedThisConnection: boolean;
}

interface PersistedAcks {
  /** clientID → acknowledged clock */
  acked: Record<string, number>;
  /** clientID → end clocks of pending transactions */
  pending: Record<string, number[]>;
  /**
   * Delete-only transactions no marker covers yet. Only ever non-zero when read from state an
   * older version saved, which counted deletions without a marker: documentLoaded marks them.
   */
  pendingDeletes: number;
  lastSyncedAt: number | null;
}

const emptyPersisted = (): PersistedAcks => ({ acked: {}, pending: {}, pendingDeletes: 0, lastSyncedAt: null });

function isNonNegativeInt(value: unknown): value is number {
  return typeof value === 'number' && Number.isSafeInteger(value) && value >= 0;
}

function parsePersisted(value: unknown): PersistedAcks {
  const state = emptyPersisted();
  if (!isRecord(value)) return state;
  if (isRecord(value.acked)) {
    for (const [client, clock] of Object.entries(value.acked)) if (isNonNegativeInt(clock)) state.acked[client] = clock;
  }
  if (isRecord(value.pending)) {
    for (const [client, clocks] of Object.entries(value.pending)) {
      if (Array.isArray(clocks)) state.pending[client] = clocks.filter(isNonNegativeInt);
    }
  }
  if (isNonNegativeInt(value.pendingDeletes)) state.pendingDeletes = value.pendingDeletes;
  if (typeof value.lastSyncedAt === 'number' && Number.isFinite(value.lastSyncedAt)) state.lastSyncedAt = value.lastSyncedAt;
  return state;
}

const SAVE_DELAY_MS = 50;

/**
 * The root map (in every list's document) the marker is written to. One key, overwritten each
 * time, so it stays one entry; the list model never reads it.
 */
export const DELETION_MARK_MAP = 'ackMarks';
const DELETION_MARK_KEY = 'lastDeletion';

export function ackStorageKey(listId: string): string {
  return `basket:acks:${listId}`;
}

export interface AckTrackerOptions {
  storage: KeyValueStore;
  listId: string;
  now?: () => number;
}

export class AckTracker {
  private readonly doc: Y.Doc;
  private readonly storage: KeyValueStore;
  private readonly key: string;
  private readonly now: () => number;
  private readonly persisted: PersistedAcks;
  /** clientID → end clocks of transactions received from other tabs, not yet acknowledged. */
  private readonly fromOtherTabs: Record<string, number[]> = {};
  private readonly listeners = new Set<() => void>();
  private snapshot: AckState;
  private ackedThisConnection = false;
  /** The document's state vector when the current connection opened; empty before any. */
  private heldAtConnection = new Map<number, number>();
  private saveScheduled = false;
  private saveTimer: ReturnType<typeof setTimeout> | undefined;
  /** The next save replaces the stored state instead of merging with it (after pruning). */
  private replaceStored = false;
  private destroyed = false;

  constructor(doc: Y.Doc, options: AckTrackerOptions) {
    this.doc = doc;
    this.storage = options.storage;
    this.key = ackStorageKey(options.listId);
    this.now = options.now ?? Date.now;
    this.persisted = parsePersisted(readJson(this.storage, this.key));
    this.snapshot = this.computeSnapshot();
    doc.on('afterTransaction', this.onTransaction);
  }

  state(): AckState {
    return this.snapshot;
  }

  subscribe(onChange: () => void): () => void {
    this.listeners.add(onChange);
    return () => void this.listeners.delete(onChange);
  }

  /** A type-100 message: the relay has durably stored this state vector. */
  acknowledge(storedStateVector: Map<number, number>): void {
    const { acked, pending } = this.persisted;
    for (const [client, clock] of storedStateVector) {
      const key = String(client);
      if (clock > (acked[key] ?? 0)) acked[key] = clock;
    }
    dropAcknowledged(pending, acked);
    dropAcknowledged(this.fromOtherTabs, acked);
    if (covers(storedStateVector, this.heldAtConnection)) this.ackedThisConnection = true;
    if (this.countPending() === 0) this.persisted.lastSyncedAt = this.now();
    this.changed();
  }

  /**
   * Whether everything in the document is this device's own edits, none acknowledged: it holds
   * nothing it ever got from the relay or stored there (a list opened by its link with no signal,
   * then edited). Its first sync brings the family's list, not changes made while it was away.
   */
  holdsOnlyUnacknowledgedEdits(): boolean {
    for (const client of this.doc.store.clients.keys()) {
      const key = String(client);
      if (this.persisted.acked[key] !== undefined) return false;
      const pending = (this.persisted.pending[key]?.length ?? 0) + (this.fromOtherTabs[key]?.length ?? 0);
      if (pending === 0) return false;
    }
    return true;
  }

  /**
   * A new socket: acks from the previous one no longer say anything about this one, and the
   * relay may lack anything the document holds (restored from an older backup, it lost what it
   * acknowledged since). Our sync step 2 sends it all, but an edit made before the relay's
   * sync step 1 arrives goes out first, and its ack, covering every pending change, said
   * "Synced" while the rest was still on its way. So the connection counts as acknowledged only
   * once an ack covers everything the document held as it opened.
   */
  connectionOpened(): void {
    this.heldAtConnection = Y.decodeStateVector(Y.encodeStateVector(this.doc));
    if (!this.ackedThisConnection) return;
    this.ackedThisConnection = false;
    this.changed(false);
  }

  /**
   * Once the stored document is loaded: drop pending entries the document does
   * not contain (their updates never reached IndexedDB, so they will never be sent).
   */
  documentLoaded(): void {
    keepClocks(this.persisted.pending, (client, clock) => clock <= Y.getState(this.doc.store, Number(client)));
    // Deletions counted by an older version, which the stored document now holds: the marker
    // written now reaches the relay after them (or with them, in our sync step 2).
    if (this.persisted.pendingDeletes > 0) this.markDeletions();
    this.replaceStored = true;
    this.changed();
  }

  /** Forget everything stored for this list (the device leaves it). */
  clear(): void {
    this.storage.removeItem(this.key);
  }

  destroy(): void {
    this.doc.off('afterTransaction', this.onTransaction);
    this.flush();
    this.destroyed = true;
    this.listeners.clear();
  }

  /**
   * Another tab saved this list's state (a `storage` event): take in its pending changes and acks
   * now rather than at this tab's next save, so every tab shows the phone's count.
   */
  storedChanged(): void {
    // A save that replaces the stored state (pruned entries) is due: it must not be merged into.
    if (this.destroyed || this.replaceStored) return;
    if (this.mergeStored()) this.scheduleSave();
    this.changed(false);
  }

  private readonly onTransaction = (transaction: Y.Transaction): void => {
    if (transaction.origin === FROM_OTHER_TABS) {
      this.receivedFromOtherTab(transaction);
      return;
    }
    if (!transaction.local || transaction.origin === this) return;
    const client = this.doc.clientID;
    const before = transaction.beforeState.get(client) ?? 0;
    const after = transaction.afterState.get(client) ?? 0;
    if (after > before) {
      const key = String(client);
      (this.persisted.pending[key] ??= []).push(after);
    } else if (transaction.deleteSet.clients.size > 0) {
      this.persisted.pendingDeletes += 1;
      this.markDeletions();
    } else {
      return;
    }
    this.changed();
  };

  private receivedFromOtherTab(transaction: Y.Transaction): void {
    const { acked } = this.persisted;
    let counted = false;
    for (const [client, after] of transaction.afterState) {
      const key = String(client);
      if (after <= (transaction.beforeState.get(client) ?? 0) || after <= (acked[key] ?? 0)) continue;
      (this.fromOtherTabs[key] ??= []).push(after);
      counted = true;
    }
    if (counted) {
      this.changed(false);
    } else if (transaction.deleteSet.clients.size > 0) {
      // Deletions only: the tab that made them writes a marker after them, but a marker of our
      // own needs nothing from that tab (its update is queued behind the deletions we forward).
      this.persisted.pendingDeletes += 1;
      this.markDeletions();
      this.changed();
    }
  }

  /**
   * Writes the marker and counts the pending deletions at its clock.
   *
   * Why that is sound: an ack covers the marker's clock only if the relay had integrated the
   * marker when it cut that batch, and the relay stores everything it integrated before a cut.
   * Every way our edits reach the relay brings the deletions no later than the marker: the
   * marker's update is emitted right after theirs, in the same synchronous cleanup, so the
   * WebSocket (and after-paint-updates.ts, which flushes its queue in order, in one go) sends
   * the two in order on one connection, which the relay applies in order; or the socket was
   * closed when they were emitted and both go in the next sync step 2, which carries the whole
   * delete set. (Inside afterTransaction, transact() runs the marker's cleanup after the
   * current one, so the marker's update never precedes the deletions'.)
   *
   * The marker's own transaction is not counted as a change: it is bookkeeping.
   */
  private markDeletions(): void {
    const client = this.doc.clientID;
    const clocks = (this.persisted.pending[String(client)] ??= []);
    // One marker each: entries are merged across tabs as sets of clocks.
    for (; this.persisted.pendingDeletes > 0; this.persisted.pendingDeletes -= 1) {
      this.doc.transact(() => this.doc.getMap(DELETION_MARK_MAP).set(DELETION_MARK_KEY, client), this);
      clocks.push(Y.getState(this.doc.store, client));
    }
  }

  private countPending(): number {
    const { pending, pendingDeletes } = this.persisted;
    let count = pendingDeletes;
    for (const clocks of Object.values(pending)) count += clocks.length;
    for (const [client, clocks] of Object.entries(this.fromOtherTabs)) {
      const stored = pending[client];
      if (stored === undefined) {
        count += clocks.length;
      } else {
        const known = new Set(stored);
        for (const clock of clocks) if (!known.has(clock)) count += 1;
      }
    }
    return count;
  }

  private computeSnapshot(): AckState {
    return {
      pendingChanges: this.countPending(),
      lastSyncedAt: this.persisted.lastSyncedAt,
      ackedThisConnection: this.ackedThisConnection,
    };
  }

  private changed(persist = true): void {
    if (this.destroyed) return;
    const next = this.computeSnapshot();
    if (persist) this.scheduleSave();
    const previous = this.snapshot;
    if (
      previous.pendingChanges === next.pendingChanges &&
      previous.lastSyncedAt === next.lastSyncedAt &&
      previous.ackedThisConnection === next.ackedThisConnection
    ) {
      return;
    }
    this.snapshot = next;
    for (const listener of [...this.listeners]) listener();
  }

  /**
   * Coalesces a burst of transactions into one localStorage write, kept off
   * the keystroke → paint path (a write costs ~1 ms with a long pending list).
   * Losing the last entry in a crash is harmless: the relay acks our whole
   * sync step 2 on the next connection anyway.
   */
  private scheduleSave(): void {
    if (this.saveScheduled) return;
    this.saveScheduled = true;
    this.saveTimer = setTimeout(() => this.flush(), SAVE_DELAY_MS);
  }

  /** Writes pending state now (page hide, tests). */
  flush(): void {
    clearTimeout(this.saveTimer);
    if (!this.saveScheduled || this.destroyed) return;
    this.saveScheduled = false;
    if (this.replaceStored) this.replaceStored = false;
    else this.mergeStored();
    writeJson(this.storage, this.key, this.persisted);
    this.changed(false);
  }

  /**
   * Other tabs of this browser may have the same list open and write the same
   * key: keep the union of everyone's pending changes (they are all changes
   * on this phone) minus what any tab has seen acknowledged.
   * Returns true when this tab holds pending changes the stored state lacks.
   */
  private mergeStored(): boolean {
    const stored = parsePersisted(readJson(this.storage, this.key));
    const { acked, pending } = this.persisted;
    for (const [client, clock] of Object.entries(stored.acked)) {
      if (clock > (acked[client] ?? 0)) acked[client] = clock;
    }
    let storedLacksSome = stored.pendingDeletes < this.persisted.pendingDeletes;
    const clients = new Set([...Object.keys(pending), ...Object.keys(stored.pending)]);
    for (const client of clients) {
      const ackedClock = acked[client] ?? 0;
      const storedClocks = new Set(stored.pending[client]);
      const union = new Set([...(pending[client] ?? []), ...storedClocks]);
      const remaining = [...union].filter((clock) => clock > ackedClock).sort((a, b) => a - b);
      if (remaining.some((clock) => !storedClocks.has(clock))) storedLacksSome = true;
      if (remaining.length === 0) delete pending[client];
      else pending[client] = remaining;
    }
    dropAcknowledged(this.fromOtherTabs, acked);
    if ((stored.lastSyncedAt ?? 0) > (this.persisted.lastSyncedAt ?? 0)) this.persisted.lastSyncedAt = stored.lastSyncedAt;
    return storedLacksSome;
  }
}

/** Whether the relay's stored state vector holds every clock of `held`. */
function covers(stored: Map<number, number>, held: Map<number, number>): boolean {
  for (const [client, clock] of held) if ((stored.get(client) ?? 0) < clock) return false;
  return true;
}

function dropAcknowledged(entries: Record<string, number[]>, acked: Record<string, number>): void {
  keepClocks(entries, (client, clock) => clock > (acked[client] ?? 0));
}

/** Keeps the clocks `keep` accepts; a client left with none is removed. */
function keepClocks(entries: Record<string, number[]>, keep: (client: string, clock: number) => boolean): void {
  for (const [client, clocks] of Object.entries(entries)) {
    const remaining = clocks.filter((clock) => keep(client, clock));
    if (remaining.length === 0) delete entries[client];
    else entries[client] = remaining;
  }
}

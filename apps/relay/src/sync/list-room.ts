import * as Y from 'yjs';
import type { Logger } from '../log.js';
import type { RelayMetrics } from '../metrics.js';
import type { ListStorage, StoredList } from '../storage/list-storage.js';
import { isNewListsPaused } from '../storage/new-list-reserve.js';
import { arrayRunJoins, HELD_BACK_JOINING_VALUES_UNCHECKED, MAX_ARRAY_RUN_JOIN_COPIES } from './array-run-joins.js';
import { CloseCode } from './close-codes.js';
import { GroupCommit } from './group-commit.js';
import { detachAddedValues } from './detached-values.js';
import { estimatedDocHeapBytes, HEAP_BYTES_PER_LIST_BYTE, MOST_HEAP_BYTES_PER_STORED_BYTE } from './heap-estimate.js';
import { crowdedMapKey, HeldBackMapValues, rememberHeldBackValues } from './map-key-values.js';
import type { AwarenessEntry, IncomingMessage, SlicedUpdate, SyncUpdateMessage } from './protocol.js';
import type { PresenceShare } from './presence-bytes.js';
import { DEFAULT_PRESENCE_LIMITS, Presence } from './presence.js';
import { encodeStateVectorOf } from './state-vector.js';
import { PeerSendQueues } from './peer-send-queues.js';
import type { SyncAnswerCutter } from './sync-answer-parts.js';
import { SYNC_ANSWER_PART_BYTES, syncAnswerMessages } from './sync-answer-parts.js';
import type { RoomRefusal } from './room-registry.js';
import type { StoredUpdateSlicer } from './stored-replay.js';
import { replayStoredUpdatesInTurns, replayStoredUpdatesTimed } from './stored-replay.js';
import type { StoredListCut } from './update-slices.js';
import {
  encodeDurableAck,
  encodeSyncStep1,
  encodeSyncStep2,
  encodeSyncUpdate,
  MAX_ROOT_TYPES,
} from './protocol.js';

/** What the room needs from a connection; tests use plain objects. */
export interface RoomPeer {
  readonly id: number;
  send(message: Uint8Array): void;
  close(code: number, reason: string): void;
  /** What this peer's update added to the list's log, for its address's storage budget. */
  chargeStoredBytes(bytes: number): void;
  /** Event-loop time its message took after Connection handed it over (slices; a wait for the load), for its address's budget. */
  chargeLoopMs(ms: number): void;
  /** Sizes of the loaded lists its address's connections are on (HeldLists), `except` one; none if not told. */
  heldListBytes?(except?: ListRoom): number;
  /** The list takes messages again (see ListRoom.isBusy): a peer that held its own meanwhile goes on. */
  listReady(): void;
  /** Its address's share of the presence bytes held on every list; none if not bounded. */
  readonly presenceShare?: PresenceShare;
  /**
   * Counts `bytes` more in its unsent backlog while they wait to be sent (a sync answer being cut,
   * what waits behind it), under the backlog's bounds as a send would be: false if that passes
   * one, and the peer is then dropped as a slow consumer. Not counted if absent.
   */
  holdUnsent?(bytes: number): boolean;
  /** Those bytes are sent, or will never be: no longer counted. */
  releaseUnsent?(bytes: number): void;
}

export interface ListRoomOptions {
  readonly listId: string;
  readonly storage: ListStorage;
  readonly logger: Logger;
  readonly metrics: RelayMetrics;
  readonly now: () => number;
  readonly maxListBytes: number;
  /** Fold the log into a snapshot once it holds this many bytes. */
  readonly compactLogBytes: number;
  /** Called when the room can no longer serve (storage failure, poisoned document). */
  readonly onFailed: (room: ListRoom) => void;
  readonly onEmpty: (room: ListRoom) => void;
  /** Told each change of its size (sizeBytes), for the registry's bound on the loaded lists' bytes. */
  readonly onSizeChange?: (room: ListRoom, delta: number) => void;
  /** Loads a list holding a large stored update in slices, one per turn; in one go without it. */
  readonly storedUpdateSlicer?: StoredUpdateSlicer;
  /**
   * Who pays for its load: the address whose connection made it load. A load was paid by nobody,
   * and a list stored to be slow could be loaded again every time it was unloaded, for the price
   * of a connection.
   */
  readonly payer?: LoadPayer;
  /**
   * Whether the list may be loaded, taking `addedBytes` more of the loaded lists' room: asked once
   * it is read (its stored bytes), before any memory beyond the bytes read, and again when its
   * turn to be replayed comes (what its estimated heap adds, see replayInTurn). Refused, its phones
   * are closed with 1013 and try again later. Checked only when they connected, lists loading
   * side by side were all let in, and together they took the process past its heap.
   */
  readonly admit?: (addedBytes: number, worstCaseGuess?: boolean) => boolean;
  /**
   * Runs the list's read and its admission when no other list's are running (RoomRegistry): read
   * side by side, every list asked for during the journal's replay after a crash was read before
   * the first was admitted, memory growing with what was asked, not with the bound: 40 lists of
   * 3.5 MB took the relay 307 MB past a 7 MB bound ([LB1]).
   */
  readonly readInTurn?: <T>(read: () => Promise<T>) => Promise<T>;
  /**
   * Whether `peer`'s update may make the list `sizeDelta` bytes larger (RoomRegistry: the bound on
   * the loaded lists holds for their growth too). Refused, the peer is closed with 1013 and sends
   * it again when it reconnects.
   */
  readonly mayGrow?: (peer: RoomPeer, sizeDelta: number) => RoomRefusal | undefined;
  /** The largest answer to a sync request sent as one message, and the most each part of a larger one holds: SYNC_ANSWER_PART_BYTES unless a test says less. */
  readonly syncAnswerPartBytes?: number;
  /** Cuts answers larger than a part off the event loop (the decode worker); on it without one. */
  readonly syncAnswerCutter?: SyncAnswerCutter;
}

/**
 * The turn a load waits for, and where its time goes. The turn comes after the stored list is
 * read (reads run side by side, and a restart's reads should not queue behind one address's) and
 * before it is replayed; the time is charged as it is spent, on the event loop and on the decode
 * worker cutting large stored updates.
 */
export interface LoadPayer {
  /** Resolves when the replay may start. */
  turn(): Promise<void>;
  charge(ms: number): void;
  /** Called once the replay has ended, whatever its outcome. */
  finished(): void;
}

type RoomState = 'loading' | 'ready' | 'failed' | 'closing';

/** A message applied in slices, one per event-loop turn (see applyNextSlice). */
interface SlicedApply {
  readonly peer: RoomPeer;
  readonly message: SyncUpdateMessage;
  readonly sliced: SlicedUpdate;
  readonly receivedAt: number;
  next: number;
}

/** Updates from one message are framed as separate log records when Yjs emits several. */
const RECORD_OVERHEAD_BYTES = 8;

/**
 * After a failed compaction the next size-triggered one waits this long: the log is still
 * complete, and on a full disk a retry at every acknowledged write would only fail again.
 */
const COMPACTION_RETRY_DELAY_MS = 10_000;

/**
 * The messages that waited (for a load, a sliced message) are handled in turns of about this
 * long: after a large list loads, each phone's sync request costs an encoding of the whole list
 * (~60 ms for 6 MB), and all of them in one turn held every other list for as many ([AP15]).
 */
const WAITING_TURN_MS = 20;

/** The error kind (metric label, log event) of each presence limit. */
const PRESENCE_LIMIT_KIND = {
  'too-many-states': 'presence_limit',
  'too-many-states-on-list': 'presence_list_limit',
  'over-address-share': 'presence_address_limit',
} as const;

/**
 * At shutdown, how long the phones' closes wait for answers still being cut (the decode worker is
 * closed after the lists), so the acks behind them go out first. A cut takes about 2 s for the
 * largest list; a stop (`docker stop` allows 10 s) does not wait longer for one.
 */
const SHUTDOWN_ANSWER_WAIT_MS = 2_000;

/**
 * One loaded list: its Y.Doc, the peers on it, presence, and the group commit that makes their
 * updates durable. Messages that arrive before the stored list is loaded wait, in order.
 */
export class ListRoom {
  readonly listId: string;
  readonly doc: Y.Doc;
  readonly presence: Presence<RoomPeer>;
  private readonly peers = new Set<RoomPeer>();
  /** Every send to a peer goes through here, so that none overtakes a sync answer still being cut. */
  private readonly sends = new PeerSendQueues<RoomPeer>({
    sendNow: (peer, message) => this.sendNow(peer, message),
    hold: (peer, bytes) => peer.holdUnsent?.(bytes) ?? true,
    release: (peer, bytes) => peer.releaseUnsent?.(bytes),
  });
  /**
   * The answer being cut on the decode worker, and its parts to come: a phone asking for the same
   * answer meanwhile (phones joining at once after a load, a phone whose socket was replaced
   * while it waited) gets these parts instead of a cut of its own queued behind it.
   */
  private cutInFlight: { readonly answer: Uint8Array; readonly maxPartBytes: number; readonly messages: Promise<readonly Uint8Array[]> } | undefined;
  /** Messages that arrived while the list was loading or a message was applied in slices, in order. */
  private readonly waiting: Array<{ peer: RoomPeer; message: IncomingMessage; receivedAt: number }> = [];
  private slicing: SlicedApply | undefined;
  /** The turn that handles the rest of `waiting`, when the last one ran out of time (WAITING_TURN_MS). */
  private nextWaitingTurn: NodeJS.Immediate | undefined;
  private readonly commit: GroupCommit<RoomPeer>;
  private state: RoomState = 'loading';
  private storedBytes = 0;
  private logBytes = 0;
  /** An upper estimate of the heap its document takes (heap-estimate.ts), kept as updates arrive. */
  private heapBytes = 0;
  /** heapBytes was measured on the document since the last update added to it. */
  private heapMeasured = true;
  /** The size last told to onSizeChange. */
  private reportedSize = 0;
  /** Updates Yjs emitted while applying the current message; kept only if the apply succeeds. */
  private collecting: Uint8Array[] | undefined;
  private compaction: Promise<boolean> | undefined;
  /** Set while a compaction waits for its turn (compactInTurn): drops it. */
  private dropWaitingCompaction: (() => void) | undefined;
  /**
   * Its document holds every stored update: only then may it be compacted. A load abandoned
   * halfway (abandonLoad, shutdown) leaves a document that compacted would replace the stored
   * list with part of it.
   */
  private replayedWhole = false;
  /**
   * Resolves when the load is abandoned (abandonLoad): made by the first step of the load that
   * waits for something that may take long (its payer's turn, the decode worker's cut).
   */
  private loadAbandoned: { readonly signal: Promise<void>; readonly resolve: () => void } | undefined;
  private compactionRetryAt = 0;
  /**
   * Peers that sent an update Yjs held back: their acknowledgement so far does not cover it, and
   * once another peer's update completes it, nothing they send may follow to earn them one.
   */
  private readonly heldBackSenders = new Set<RoomPeer>();
  /** Map values with no origin that Yjs holds back, per key (see crowdedMapKey). */
  private readonly heldBackMapValues = new HeldBackMapValues();
  /**
   * Array values held back that may join a run (see ArrayRunJoins), since nothing was held back,
   * and the count past which the held-back updates' joins are counted again.
   */
  private heldBackJoiningValues = 0;
  private nextHeldBackJoinCheck = HELD_BACK_JOINING_VALUES_UNCHECKED;
  /**
   * Peers whose message was stopped between two slices (the relay stopping, the peer closed): the
   * state vector covers the clocks of its applied slices, not its deletions, which come with the
   * last. No ack may go to them any more ([K6]); their phones send the whole update again.
   */
  private readonly stoppedMidSlices = new WeakSet<RoomPeer>();
  /** Peers whose presence was refused for a full list: logged once each (their renewals come every 15 s). */
  private readonly presenceRefused = new WeakSet<RoomPeer>();
  /**
   * The document's own encoded size, measured when the stored size (which counts the whole log)
   * reached the limit; grows with every accepted update, forgotten after a compaction.
   */
  private measuredBytes: number | undefined;
  /** Whether accepted updates were added to measuredBytes since it was measured. */
  private measuredSince = false;
  /** Time its load has taken so far (see LoadPayer). */
  private loadMs = 0;
  lastActivity: number;

  constructor(private readonly options: ListRoomOptions) {
    this.listId = options.listId;
    // A given guid: Yjs would otherwise draw a random UUID, 36 crypto calls per list (~0.2 ms).
    this.doc = new Y.Doc({ gc: true, guid: options.listId });
    this.doc.on('afterTransactionCleanup', detachAddedValues);
    this.lastActivity = options.now();
    this.presence = new Presence(
      this.doc,
      (message) => {
        for (const peer of this.peers) this.sendTo(peer, message);
      },
      DEFAULT_PRESENCE_LIMITS,
      (peer) => peer.presenceShare,
    );
    this.commit = new GroupCommit<RoomPeer>({
      write: (updates) => this.writeBatch(updates),
      readStateVector: () => encodeStateVectorOf(this.doc),
      onDurable: (stateVector, waiters, updateCount) => this.acknowledge(stateVector, waiters, updateCount),
      onWriteFailed: (error, retryInMs, unwrittenBytes) => this.writeFailed(error, retryInMs, unwrittenBytes),
    });
  }

  /** Bytes its snapshot and log take on disk (0 until loaded). */
  get storedByteCount(): number {
    return this.storedBytes;
  }

  /**
   * What it counts for against MAX_LIST_BYTES and MAX_LOADED_LIST_BYTES: its stored bytes, or its
   * estimated heap over HEAP_BYTES_PER_LIST_BYTE when that is more. Stored bytes alone let a list
   * of subdocuments take 176 times its size in heap (see heap-estimate.ts). Until its load has
   * replayed it, only its stored bytes are known.
   */
  get sizeBytes(): number {
    return Math.max(this.storedBytes, Math.ceil(this.heapBytes / HEAP_BYTES_PER_LIST_BYTE));
  }

  get peerCount(): number {
    return this.peers.size;
  }

  get isReady(): boolean {
    return this.state === 'ready';
  }

  /**
   * Loading, applying a message in slices, or handling in turns the messages that waited for
   * either (WAITING_TURN_MS): messages would only wait in the list, where no
   * bound on incoming bytes sees them. Connection holds its frames instead, until listReady.
   */
  get isBusy(): boolean {
    return this.state === 'loading' || this.slicing !== undefined || this.nextWaitingTurn !== undefined;
  }

  /** Messages waiting in the list (passed in while it was busy). */
  get waitingMessageCount(): number {
    return this.waiting.length;
  }

  /** Its last write failed: its phones' latest edits wait for the storage (a full disk). */
  get isWaitingForStorage(): boolean {
    return this.commit.isFailing;
  }

  get isIdle(): boolean {
    return this.peers.size === 0 && this.slicing === undefined && this.commit.isIdle;
  }

  async load(): Promise<void> {
    const started = this.options.now();
    try {
      const readAndAdmit = async (): Promise<StoredList | undefined> => {
        // Unloaded while it waited for its turn: not read at all.
        if (this.state !== 'loading') return undefined;
        const read = await this.options.storage.load(this.listId);
        if (this.state !== 'loading') return undefined;
        if (this.options.admit?.(read.storedBytes) === false) {
          this.refuseLoad();
          return undefined;
        }
        // Counted from here: the next list read is admitted beside it.
        this.setStoredBytes(read.storedBytes);
        return read;
      };
      const stored = await (this.options.readInTurn === undefined ? readAndAdmit() : this.options.readInTurn(readAndAdmit));
      if (stored === undefined) return;
      this.logBytes = stored.logBytes;
      const skipped = await this.replayInTurn(stored.updates);
      if (skipped > 0) {
        this.options.logger.error('list.stored_update_unreadable', { listId: this.listId, skipped });
        this.options.metrics.errors.inc({ kind: 'stored_update_unreadable' });
      }
    } catch (error) {
      // Abandoned (unloaded, or the relay stopping): its phones are closed by whoever abandoned it,
      // with 1012 at a shutdown, not told the list failed (1011) ([LR3]).
      if (this.state !== 'loading') return;
      this.options.logger.error('list.load_failed', { listId: this.listId, error });
      this.options.metrics.errors.inc({ kind: 'load_failed' });
      this.fail('load failed', error);
      return;
    }
    if (this.state !== 'loading') return;
    try {
      this.becomeReady(started);
    } catch (error) {
      // Whoever awaits the load (a reload of this list, the shutdown) must not see it reject:
      // the list is unloaded and reloaded like after a failed load.
      this.options.metrics.errors.inc({ kind: 'load_failed' });
      this.fail('load failed', error);
    }
  }

  /**
   * Applies the stored updates once the payer's turn has come, then estimates the heap they took.
   * Admitted again first, by the heap it is estimated to take when it is large: lists admitted by
   * their stored bytes could otherwise each take 5 times more than counted (subdocuments), and
   * lists replayed side by side took the relay past its heap.
   */
  private async replayInTurn(updates: readonly Uint8Array[]): Promise<number> {
    const payer = this.options.payer;
    if (payer !== undefined && !(await this.turnUnlessAbandoned(payer))) return 0;
    try {
      // Abandoned as its turn came: admitted now, it would take room the registry no longer counts.
      if (this.state !== 'loading') return 0;
      const cut = await this.cutForTurns(updates);
      if (this.state !== 'loading') return 0;
      if (!this.admitToReplay(cut?.heapBytes ?? 0, cut?.worstCaseGuess === true)) {
        this.refuseLoad();
        return 0;
      }
      // In one go, the replay and its measure take one turn: no other list is admitted between them.
      const skipped = cut === undefined ? this.replayInOneGo(updates) : await this.replayInTurns(updates, cut.slices);
      if (this.state === 'loading') this.measureHeap(true);
      return skipped;
    } finally {
      payer?.finished();
    }
  }

  /**
   * Waits for the payer's turn; false if the load is abandoned first. The turn may be a minute
   * away (the address's load budget), and whoever waits for this load (the list's next load, the
   * shutdown) would wait as long for nothing. The turn, once it comes, is handed straight back.
   */
  private async turnUnlessAbandoned(payer: LoadPayer): Promise<boolean> {
    const turn = payer.turn().then(() => true);
    const started = await Promise.race([turn, this.whenLoadAbandoned().then(() => false)]);
    if (!started) void turn.then(() => payer.finished());
    return started;
  }

  /** Resolves once the load is abandoned (at once if it is already). */
  private whenLoadAbandoned(): Promise<void> {
    if (this.state !== 'loading') return Promise.resolve();
    if (this.loadAbandoned === undefined) {
      let resolve = (): void => undefined;
      const signal = new Promise<void>((settle) => (resolve = settle));
      this.loadAbandoned = { signal, resolve };
    }
    return this.loadAbandoned.signal;
  }

  /**
   * A large list (see StoredUpdateSlicer), readied on the decode worker to load in turns (its
   * large updates cut into slices, its heap estimated); undefined for a smaller list, applied in
   * one go. If the worker fails, its updates are applied whole, a few per turn, and it counts as
   * the costliest shape known.
   */
  private async cutForTurns(updates: readonly Uint8Array[]): Promise<(StoredListCut & { readonly worstCaseGuess?: boolean }) | undefined> {
    const slicer = this.options.storedUpdateSlicer;
    if (slicer === undefined) return undefined;
    const bytes = this.storedBytes;
    if (bytes < slicer.estimateBytes && !updates.some((update) => update.length >= slicer.minBytes)) return undefined;
    try {
      const cutting = slicer.cut(updates);
      // Not waited for once the load is abandoned: queued on a busy worker, each request ahead of
      // it may take DECODE_WORKER_CHECK_MS, and the shutdown (or the list's next load) waited as
      // long for a load that replays nothing ([DW3]). Its time is still its payer's, once spent.
      const cut = await Promise.race([cutting, this.whenLoadAbandoned().then(() => undefined)]);
      if (cut === undefined) {
        void cutting.then(
          (late) => this.options.payer?.charge(late.ms),
          () => undefined,
        );
        return undefined;
      }
      this.spendOnLoad(cut.ms);
      return cut;
    } catch {
      return { slices: [], heapBytes: bytes * MOST_HEAP_BYTES_PER_STORED_BYTE, worstCaseGuess: true };
    }
  }

  /**
   * Whether the list, now its turn has come, still fits beside the lists loaded since it was
   * admitted, once it is counted by `heapBytes` (its estimated heap, 0 when unknown). A list of
   * small updates is replayed and measured in the same turn; a large one counts by its estimate
   * until it is measured.
   */
  private admitToReplay(heapBytes: number, worstCaseGuess: boolean): boolean {
    const sizeAfter = Math.max(this.storedBytes, Math.ceil(heapBytes / HEAP_BYTES_PER_LIST_BYTE));
    if (this.options.admit?.(Math.max(0, sizeAfter - this.sizeBytes), worstCaseGuess) === false) return false;
    if (heapBytes > 0) {
      this.heapBytes = heapBytes;
      this.heapMeasured = false;
      this.reportSize();
    }
    return true;
  }

  private replayInOneGo(updates: readonly Uint8Array[]): number {
    return replayStoredUpdatesTimed(this.doc, updates, this, (ms) => this.spendOnLoad(ms));
  }

  /** Applies the stored updates in turns, an update cut into slices one slice per turn (see replayStoredUpdatesInTurns). */
  private replayInTurns(updates: readonly Uint8Array[], slices: ReadonlyArray<readonly Uint8Array[] | undefined>): Promise<number> {
    this.options.metrics.slicedLoads.inc();
    const batchBytes = this.options.storedUpdateSlicer?.minBytes ?? 0;
    return replayStoredUpdatesInTurns(this.doc, updates, slices, this, { batchBytes, wanted: () => this.state === 'loading', spent: (ms) => this.spendOnLoad(ms) });
  }

  private spendOnLoad(ms: number): void {
    this.loadMs += ms;
    this.options.payer?.charge(ms);
  }

  private becomeReady(started: number): void {
    // Only now: while Yjs has an 'update' listener it encodes every transaction for it, and the
    // replay above would be encoded whole for nobody (83 of the 454 ms loading 1,000 lists took).
    this.doc.on('update', (update: Uint8Array) => {
      if (this.collecting !== undefined) this.collecting.push(update);
    });
    this.state = 'ready';
    this.replayedWhole = true;
    this.options.metrics.listLoadSeconds.observe(this.loadMs / 1000);
    this.options.logger.debug('list.loaded', { listId: this.listId, ms: this.options.now() - started, loadMs: this.loadMs, storedBytes: this.storedBytes });
    for (const peer of this.peers) this.greet(peer);
    this.receiveWaiting();
  }

  /**
   * Handles the messages that waited, in order, until one is applied in slices again. Each one's
   * time is charged to its sender, as Connection charges a message it hands over directly.
   */
  private receiveWaiting(): void {
    const turnStarted = performance.now();
    while (this.waiting.length > 0 && this.state === 'ready' && this.slicing === undefined) {
      if (performance.now() - turnStarted > WAITING_TURN_MS) {
        // The rest in a turn of its own; the list stays busy meanwhile, so later messages queue behind.
        this.nextWaitingTurn = setImmediate(() => {
          this.nextWaitingTurn = undefined;
          this.receiveWaiting();
        });
        return;
      }
      const { peer, message, receivedAt } = this.waiting.shift() as (typeof this.waiting)[number];
      if (!this.peers.has(peer)) continue;
      const started = performance.now();
      try {
        this.receive(peer, message, receivedAt);
      } catch (error) {
        // As for a message that arrives after the load (Connection): only its sender is closed,
        // and the messages queued behind it are still answered.
        this.options.metrics.errors.inc({ kind: 'handler_error' });
        this.options.logger.error('connection.handler_error', { connection: peer.id, listId: this.listId, error });
        peer.close(CloseCode.internalError, 'internal error');
      } finally {
        peer.chargeLoopMs(performance.now() - started);
      }
    }
    if (this.isBusy || this.state !== 'ready') return;
    for (const peer of [...this.peers]) peer.listReady();
  }

  attach(peer: RoomPeer): void {
    this.peers.add(peer);
    this.lastActivity = this.options.now();
    if (this.state === 'ready') this.greet(peer);
  }

  detach(peer: RoomPeer): void {
    if (!this.peers.delete(peer)) return;
    this.commit.removeWaiter(peer);
    this.heldBackSenders.delete(peer);
    this.sends.forget(peer);
    this.lastActivity = this.options.now();
    if (this.state === 'ready') this.presence.peerLeft(peer);
    if (this.peers.size === 0) this.options.onEmpty(this);
  }

  receive(peer: RoomPeer, message: IncomingMessage, receivedAt: number): void {
    if (this.isBusy) {
      // A phone's later sync request replaces its earlier one, as Connection does for answers
      // still unsent: the answer to the latest covers the earlier (a phone's state only grows),
      // and a socket that never reads must not get one list-sized answer per request it sent
      // while a large list loaded.
      if (message.kind === 'sync-step-1') {
        const earlier = this.waiting.findIndex((waiting) => waiting.peer === peer && waiting.message.kind === 'sync-step-1');
        if (earlier >= 0) this.waiting.splice(earlier, 1);
      }
      this.waiting.push({ peer, message, receivedAt });
      return;
    }
    if (this.state !== 'ready') return;
    this.lastActivity = receivedAt;
    switch (message.kind) {
      case 'sync-step-1':
        this.answerSyncRequest(peer, Y.encodeStateAsUpdate(this.doc, message.stateVector));
        return;
      case 'sync-step-2':
      case 'sync-update':
        this.applyUpdate(peer, message, receivedAt);
        return;
      case 'awareness':
        this.applyPresence(peer, message.entries);
        return;
      case 'query-awareness':
        this.answerPresenceQuery(peer);
        return;
    }
  }

  /**
   * Answers a phone's presence query (query-awareness) at once, whatever the list is doing: ahead
   * of a sync answer still being cut for it, and, called by Connection, while the list loads (its
   * presence then empty). The web app asks every 3 s and reconnects after 8 s with nothing
   * received, so a phone waiting for a large list behind others would otherwise reconnect, and ask
   * for the list again, mid-wait ([P15]). Presence sent ahead of what waits changes nothing a phone
   * holds of the list, and an older presence state sent after it is ignored (its clock is lower).
   */
  answerPresenceQuery(peer: RoomPeer): void {
    this.sendNow(peer, this.presence.encodeAll());
  }

  /**
   * Sends `answer` (what the peer's sync request showed it lacks) as one sync step 2, or, when it
   * is over SYNC_ANSWER_PART_BYTES, in parts a phone on a slow link sees arrive one by one ([RR1];
   * see syncAnswerMessages). Most answers are small and take the first branch, which decodes
   * nothing. The parts are the same bytes, give or take their headers, and each is counted
   * against the send backlog's bounds as it is sent. A larger answer is cut on the decode worker
   * when there is one (cutOffThread); what the peer is sent meanwhile waits behind it.
   */
  private answerSyncRequest(peer: RoomPeer, answer: Uint8Array): void {
    const maxPartBytes = this.options.syncAnswerPartBytes ?? SYNC_ANSWER_PART_BYTES;
    const cutter = this.options.syncAnswerCutter;
    if (answer.length > maxPartBytes && cutter !== undefined) {
      // A peer dropped for the answer's bytes (its backlog's bounds) is not worth the cut.
      if (!this.sends.hold(peer, answer.length)) return;
      const messages = this.cutFor(peer, answer, maxPartBytes, cutter);
      void messages.then((sent) => {
        if (sent.length > 1) this.options.metrics.syncAnswersInParts.inc();
      });
      this.sends.sendWhenMade(peer, answer.length, messages);
      return;
    }
    const messages = syncAnswerMessages(answer, maxPartBytes);
    if (messages.length > 1) this.options.metrics.syncAnswersInParts.inc();
    for (const message of messages) this.sendTo(peer, message);
  }

  /** The cut in flight when it is of the same answer, else a new one, charged to `peer`. */
  private cutFor(peer: RoomPeer, answer: Uint8Array, maxPartBytes: number, cutter: SyncAnswerCutter): Promise<readonly Uint8Array[]> {
    const inFlight = this.cutInFlight;
    if (inFlight !== undefined && inFlight.maxPartBytes === maxPartBytes && Buffer.compare(inFlight.answer, answer) === 0) return inFlight.messages;
    const cut = { answer, maxPartBytes, messages: this.cutOffThread(peer, answer, maxPartBytes, cutter) };
    this.cutInFlight = cut;
    void cut.messages.then(() => {
      if (this.cutInFlight === cut) this.cutInFlight = undefined;
    });
    return cut.messages;
  }

  /**
   * The messages sending `answer`, cut by `cutter`, whose time is charged to the peer as the
   * event loop's would be. Should the worker fail (out of its heap or time), the answer goes as
   * one message, as before answers were sent in parts: the phone still syncs, if slowly.
   */
  private async cutOffThread(peer: RoomPeer, answer: Uint8Array, maxPartBytes: number, cutter: SyncAnswerCutter): Promise<readonly Uint8Array[]> {
    const started = performance.now();
    try {
      const { messages, ms } = await cutter.cut(answer, maxPartBytes, peer);
      peer.chargeLoopMs(ms);
      return messages;
    } catch (error) {
      // The worker's time until it failed (out of time or heap), as for a frame whose check fails:
      // a list shaped to fail its cut would otherwise cost the worker up to its time limit for free ([AR1]).
      peer.chargeLoopMs(performance.now() - started);
      this.options.metrics.errors.inc({ kind: 'sync_answer_cut_failed' });
      this.options.logger.warn('sync.answer_cut_failed', { connection: peer.id, listId: this.listId, answerBytes: answer.length, error });
      return [encodeSyncStep2(answer)];
    }
  }

  /** Whether an answer to `peer`'s sync request is still being cut: Connection answers no other meanwhile. */
  isCuttingAnswerFor(peer: RoomPeer): boolean {
    return this.sends.isMaking(peer);
  }

  /** Resolves once every accepted update is durable and acknowledged. */
  flush(): Promise<void> {
    return this.commit.whenIdle();
  }

  /**
   * Before the room goes away: resolves once every accepted update is durable, or, when writes
   * are failing, after one last attempt made at once. What that cannot store was never
   * acknowledged, so the phones that sent it still have it and send it again on reconnect.
   */
  stopWriting(): Promise<void> {
    return this.commit.close();
  }

  /**
   * Stops its load, if it is still loading: the list was unloaded (no phone left) or the relay is
   * shutting down. A loading list holds no accepted update, and the messages waiting in it were
   * never acknowledged, so nothing is lost. Left to run, the load would replay a list the
   * registry no longer counts, past the bound on loaded lists.
   */
  abandonLoad(): void {
    if (this.state !== 'loading') return;
    this.state = 'closing';
    this.waiting.length = 0;
    this.loadAbandoned?.resolve();
  }

  /** Stops serving: later messages are ignored, peers are closed with `code` after `stopWriting`. */
  async shutdown(code: number, reason: string): Promise<void> {
    if (this.state === 'ready' || this.state === 'loading') this.state = 'closing';
    await this.stopWriting();
    // The acks of that last flush wait behind any answer still being cut: closed at once, its
    // phone never got them and sent its stored edits again after the restart ([AR2]).
    await withinMs(this.sends.whenDrained(), SHUTDOWN_ANSWER_WAIT_MS);
    for (const peer of [...this.peers]) peer.close(code, reason);
    this.peers.clear();
  }

  destroy(): void {
    // A message still being applied in slices stops at its next turn.
    if (this.state !== 'failed') this.state = 'closing';
    this.dropCompactionNotStarted();
    this.loadAbandoned?.resolve();
    clearImmediate(this.nextWaitingTurn);
    this.nextWaitingTurn = undefined;
    this.sends.forgetAll();
    this.presence.destroy();
    this.doc.destroy();
  }

  /**
   * Folds the log into a snapshot when it has grown past the threshold (or `force`); `background`:
   * nobody waits for it (an unload), it waits behind loaded lists' compactions (CompactOptions).
   * Resolves true when a snapshot was written.
   */
  compactIfLarge(force = false, background = false): Promise<boolean> {
    if (this.state === 'failed' || !this.replayedWhole) return Promise.resolve(false);
    if (this.compaction !== undefined) return this.compaction;
    const wanted = (): boolean =>
      this.logBytes > 0 && (force || (this.logBytes >= this.options.compactLogBytes && this.options.now() >= this.compactionRetryAt));
    if (!wanted()) return Promise.resolve(false);
    this.compaction = this.compactInTurn(wanted, background).finally(() => {
      this.compaction = undefined;
      this.dropWaitingCompaction = undefined;
    });
    return this.compaction;
  }

  /**
   * Drops the compaction waiting for its turn among the storage's compactions, if one is (one
   * already writing runs to its end): the list keeps its log, which is just as complete. At
   * shutdown, which otherwise waited for every compaction queued ahead of it ([GC3]), and for an
   * unloading list whose release loads wait for ([GC2]).
   */
  dropCompactionNotStarted(): void {
    this.dropWaitingCompaction?.();
  }

  /**
   * Compacts once the storage gives the compaction its turn (SnapshotSource): the list's writes
   * stop only from the snapshot, taken between two writes, to the compaction's end. Waiting for
   * its turn with the writes stopped, an active list acknowledged nothing for seconds behind the
   * compactions of lists the idle sweep had just unloaded ([GC3]); and the snapshot, encoded only
   * once the turn has come, is in memory only for as long as it is being written.
   */
  private async compactInTurn(wanted: () => boolean, background: boolean): Promise<boolean> {
    let snapshot: Uint8Array | undefined;
    let droppedBeforeItsTurn = false;
    const dropped = new Promise<false>((resolve) => {
      this.dropWaitingCompaction = () => {
        droppedBeforeItsTurn = true;
        resolve(false);
      };
    });
    let endExclusive = (): void => undefined;
    const ended = new Promise<void>((resolve) => (endExclusive = resolve));
    const takeSnapshot = (): Promise<Uint8Array | undefined> =>
      new Promise((resolve, reject) => {
        void this.commit.runExclusive(async () => {
          if (droppedBeforeItsTurn || !wanted() || this.state === 'failed' || this.doc.isDestroyed) {
            resolve(undefined);
            return;
          }
          this.dropWaitingCompaction = undefined;
          try {
            // Taken between writes: every update the log holds is in the document; the snapshot may
            // also hold accepted-but-unwritten updates, which merely makes them durable early.
            snapshot = encodeIntegratedState(this.doc);
          } catch (error) {
            reject(error);
            return;
          }
          resolve(snapshot);
          // No write until the compaction has ended: its snapshot must hold every update stored before it.
          await ended;
        });
      });
    try {
      const stored = (async () => this.options.storage.compact(this.listId, takeSnapshot, { background }))();
      if (!(await Promise.race([stored.then(() => true), dropped])) || snapshot === undefined) return false;
      this.setStoredBytes(snapshot.length + RECORD_OVERHEAD_BYTES);
      this.logBytes = 0;
      this.measuredBytes = undefined;
      this.measureHeap();
      return true;
    } catch (error) {
      this.compactionRetryAt = this.options.now() + COMPACTION_RETRY_DELAY_MS;
      this.options.metrics.errors.inc({ kind: 'compaction_failed' });
      this.options.logger.error('list.compaction_failed', { listId: this.listId, error });
      return false;
    } finally {
      endExclusive();
    }
  }

  private applyUpdate(peer: RoomPeer, message: SyncUpdateMessage, receivedAt: number): void {
    const { update, unanchoredMapValues, sliced } = message;
    const metrics = this.options.metrics;
    metrics.updatesIn.inc();
    const adds = this.addsContentOnce(message);
    if (this.wouldExceedSizeLimit(message, adds)) {
      metrics.errors.inc({ kind: 'list_too_large' });
      // Its size may be its heap's measure, not its stored bytes: both, or a refusal at 10 kB of 64 KiB reads as a bug ([OM5]).
      this.options.logger.warn('connection.list_too_large', {
        listId: this.listId,
        peer: peer.id,
        sizeBytes: this.sizeBytes,
        storedBytes: this.storedBytes,
        updateBytes: message.update.length,
        maxListBytes: this.options.maxListBytes,
      });
      peer.close(CloseCode.listTooLarge, 'list too large');
      return;
    }
    if (!this.mayGrowBy(peer, message, adds)) {
      peer.close(CloseCode.tryAgainLater, 'busy');
      return;
    }
    const crowded = unanchoredMapValues.length === 0 ? undefined : crowdedMapKey(this.doc, unanchoredMapValues, this.heldBackMapValues);
    if (crowded !== undefined) {
      // Not applied: Yjs would take time quadratic in the key's values, now and at every load.
      metrics.errors.inc({ kind: 'map_key_crowded' });
      this.options.logger.warn('connection.map_key_crowded', { listId: this.listId, peer: peer.id, key: crowded });
      peer.close(CloseCode.malformedMessage, 'too many first values for one map key');
      return;
    }
    const newRootTypes = (message.rootTypeNames ?? []).filter((name) => !this.doc.share.has(name)).length;
    if (newRootTypes > 0 && this.doc.share.size + newRootTypes > MAX_ROOT_TYPES) {
      metrics.errors.inc({ kind: 'too_many_root_types' });
      this.options.logger.warn('connection.too_many_root_types', { listId: this.listId, peer: peer.id, rootTypes: this.doc.share.size, newRootTypes });
      peer.close(CloseCode.malformedMessage, 'too many top-level types');
      return;
    }
    const heldBackBefore = heldBackBytes(this.doc);
    // With updates held back, each slice that completed part of them would make Yjs merge and
    // retry all of them: such a message is applied in one go, as every message was before.
    if (sliced !== undefined && heldBackBefore === 0) {
      this.slicing = { peer, message, sliced, receivedAt, next: 0 };
      metrics.slicedUpdates.inc();
      setImmediate(() => this.applyNextSlice());
      return;
    }
    const emitted = this.integrate(peer, update);
    if (emitted === undefined) return;
    this.accepted(peer, message, emitted, heldBackBefore, receivedAt);
  }

  /**
   * One slice of the message being applied in slices; the next one in the next turn, so every
   * other list is served in between. Its own list's messages wait (receive), as they do for a load.
   * What each slice integrates is stored and sent on at once; the sender's acknowledgement waits
   * for the last. A sender gone before that stops it: the rest was never acknowledged, and the
   * phone sends it again when it reconnects.
   */
  private applyNextSlice(): void {
    const job = this.slicing;
    if (job === undefined) return;
    try {
      this.applySlice(job);
    } catch (error) {
      // As Connection.handle does for a message handled at once (a forward to a socket gone
      // wrong): only the sender is closed, the rest of its message dropped, the list goes on.
      this.stopSlicing(job);
      this.options.metrics.errors.inc({ kind: 'handler_error' });
      this.options.logger.error('connection.handler_error', { connection: job.peer.id, listId: this.listId, error });
      job.peer.close(CloseCode.internalError, 'internal error');
    }
    if (this.slicing === undefined) this.receiveWaiting();
  }

  /** Applies the job's next slice, and schedules the one after or finishes the message. */
  private applySlice(job: SlicedApply): void {
    const { peer, message } = job;
    if (this.state !== 'ready' || !this.peers.has(peer)) {
      this.stopSlicing(job);
      return;
    }
    const started = performance.now();
    const { slices } = job.sliced;
    const emitted = this.integrate(peer, slices[job.next] as Uint8Array);
    if (emitted === undefined) {
      this.slicing = undefined;
      return;
    }
    this.store(peer, emitted);
    this.forward(peer, emitted);
    job.next += 1;
    let done = job.next === slices.length;
    if (!done && heldBackBytes(this.doc) > 0) {
      // Not in the slices' order after all (the document lacked what a slice builds on): the rest
      // in one go, as Yjs skips what it already has. Retrying held-back updates at every later
      // slice would cost more.
      const rest = this.integrate(peer, message.update);
      if (rest === undefined) {
        this.slicing = undefined;
        return;
      }
      this.store(peer, rest);
      this.forward(peer, rest);
      done = true;
    }
    peer.chargeLoopMs(performance.now() - started);
    if (!done) {
      setImmediate(() => this.applyNextSlice());
      return;
    }
    this.slicing = undefined;
    // Before the waiting messages: what the message held back (and its ack) comes first.
    this.accepted(peer, message, [], 0, job.receivedAt, true);
  }

  /**
   * Stops a message's slices before its last: what the applied ones added is counted in the
   * list's size by measuring its heap (the message's estimate is added only once it is whole),
   * or the list counted as what is stored alone, under MAX_LIST_BYTES and the loaded lists'
   * bound until its next compaction ([K4]).
   */
  private stopSlicing(job: SlicedApply): void {
    this.slicing = undefined;
    if (job.next === 0) return;
    this.stoppedMidSlices.add(job.peer);
    if (this.state !== 'ready') return;
    this.measureHeap();
    this.reportSize();
  }

  /**
   * Applies `update` for `peer`, returning the updates Yjs emitted; undefined if Yjs threw, and
   * then the list is failed (reloaded from disk).
   */
  private integrate(peer: RoomPeer, update: Uint8Array): Uint8Array[] | undefined {
    const emitted: Uint8Array[] = [];
    this.collecting = emitted;
    try {
      Y.applyUpdate(this.doc, update, peer);
    } catch (error) {
      // Yjs may have integrated part of the update before throwing: the document can no longer
      // be trusted, so nothing of it is stored or forwarded and the list is reloaded from disk.
      this.options.metrics.errors.inc({ kind: 'update_rejected' });
      this.options.logger.warn('connection.update_rejected', { listId: this.listId, peer: peer.id, error });
      peer.close(CloseCode.malformedMessage, 'update could not be applied');
      this.fail('document poisoned by a rejected update', error);
      return undefined;
    } finally {
      this.collecting = undefined;
    }
    return emitted;
  }

  /**
   * After a message was applied (`emitted`: what it integrated and is not stored yet): its
   * held-back updates checked, then stored, acknowledged once durable, and sent on.
   * `integratedEarlier`: its slices integrated (and stored, and sent on) something already.
   */
  private accepted(
    peer: RoomPeer,
    { unanchoredMapValues, joiningValues, heapBytes }: SyncUpdateMessage,
    emitted: readonly Uint8Array[],
    heldBackBefore: number,
    receivedAt: number,
    integratedEarlier = false,
  ): void {
    const metrics = this.options.metrics;
    const heldBackAfter = heldBackBytes(this.doc);
    if (heldBackAfter === 0) this.heldBackMapValues.clear();
    else if (unanchoredMapValues.length > 0) rememberHeldBackValues(this.doc, unanchoredMapValues, this.heldBackMapValues);
    if (heldBackAfter > this.options.maxListBytes / 4) {
      // Updates whose dependencies never arrive are held in memory only; past this bound the
      // list is reloaded from disk, which drops them (they were never stored nor acknowledged).
      metrics.errors.inc({ kind: 'missing_dependencies' });
      peer.close(CloseCode.malformedMessage, 'too many updates with missing dependencies');
      this.fail('too many held-back updates', new Error('pending structs over limit'));
      return;
    }
    if (heldBackAfter !== heldBackBefore && this.heldBackRunsTooSplit(heldBackAfter, joiningValues)) {
      // Each message was within the bound, but held back together they would integrate, and be
      // joined, in the one transaction that brings their missing dependency.
      metrics.errors.inc({ kind: 'missing_dependencies' });
      peer.close(CloseCode.malformedMessage, 'held-back updates split an array run into too many pieces');
      this.fail('held-back updates split an array run into too many pieces', new Error('pending structs too split'));
      return;
    }
    // Queued for storage before anything is forwarded: the document holds these updates now, and
    // every later batch's state vector covers them, so if a send below throws (a socket gone
    // wrong; Connection closes this sender) they must still be written before that ack goes out.
    if (integratedEarlier || emitted.length > 0) {
      this.heapBytes += heapBytes;
      this.heapMeasured = false;
      this.reportSize();
    }
    this.store(peer, emitted);
    this.commit.addWaiter(peer, receivedAt);
    // Not "held back fewer bytes than before": a message can complete one phone's held update and
    // hold back a larger one of its own.
    if ((integratedEarlier || emitted.length > 0) && this.heldBackSenders.size > 0) this.acknowledgeHeldBackSenders(heldBackAfter === 0, receivedAt);
    if (heldBackAfter > heldBackBefore) this.heldBackSenders.add(peer);
    this.forward(peer, emitted);
  }

  /** Queues what a message integrated for the next write, charged to its sender's storage budget. */
  private store(peer: RoomPeer, emitted: readonly Uint8Array[]): void {
    let addedBytes = 0;
    for (const integrated of emitted) {
      addedBytes += integrated.length + RECORD_OVERHEAD_BYTES;
      this.commit.add(integrated);
    }
    if (this.measuredBytes !== undefined && addedBytes > 0) {
      this.measuredBytes += addedBytes;
      this.measuredSince = true;
    }
    if (addedBytes > 0) peer.chargeStoredBytes(addedBytes);
  }

  /** Sends what a message integrated to every other phone on the list. */
  private forward(peer: RoomPeer, emitted: readonly Uint8Array[]): void {
    for (const integrated of emitted) {
      const message = encodeSyncUpdate(integrated);
      for (const other of this.peers) {
        if (other !== peer) {
          this.sendTo(other, message);
          this.options.metrics.updatesOut.inc();
        }
      }
    }
  }

  /**
   * This message integrated something, which may have been an update held back earlier: the peers
   * that sent held updates wait in this batch too. Which of them it completed is not known, so all
   * of them get the ack; an ack whose vector does not cover a phone's update yet changes nothing
   * for that phone.
   */
  private acknowledgeHeldBackSenders(noneLeft: boolean, receivedAt: number): void {
    for (const sender of this.heldBackSenders) this.commit.addWaiter(sender, receivedAt);
    if (noneLeft) this.heldBackSenders.clear();
  }

  /**
   * Whether `update` would take the list past `maxListBytes`. The stored size counts every
   * update logged since the last compaction, so near the limit the document itself is measured:
   * a list whose edits filled the log but not the document stays writable, and is compacted.
   * An update that adds nothing (an empty sync step, what the list already has, or deletions
   * only) never grows the list and always passes: a phone only reading an over-limit list
   * (the limit lowered since it was stored) must not be cut off.
   */
  private wouldExceedSizeLimit(message: SyncUpdateMessage, adds: () => boolean): boolean {
    const { heapBytes } = message;
    const growth = growthBytes(message);
    const limit = this.options.maxListBytes;
    const storedFits = this.storedBytes + this.commit.pendingBytes + growth <= limit;
    const heapLimit = limit * HEAP_BYTES_PER_LIST_BYTE;
    const heapFits = this.heapBytes + heapBytes <= heapLimit;
    if (storedFits && heapFits) return false;
    if (!adds()) return false;
    if (!heapFits) {
      // The estimate counts each update's items apart, where Yjs merges neighbours: measured once
      // on the document before an update is refused for it.
      if (!this.heapMeasured) this.measureHeap();
      if (this.heapBytes + heapBytes > heapLimit) return true;
    }
    if (storedFits) return false;
    // Measured again before a refusal once updates were counted on top of the last measure: they
    // may have deleted most of the list, and the sum only grows until a compaction ([HP1]).
    if (this.measuredBytes === undefined || (this.measuredBytes + growth > limit && this.measuredSince)) {
      this.measuredBytes = encodeIntegratedState(this.doc).length + RECORD_OVERHEAD_BYTES;
      this.measuredSince = false;
      if (this.measuredBytes + growth <= limit) void this.compactIfLarge(true);
    }
    return this.measuredBytes + growth > limit;
  }

  /**
   * Whether the loaded lists have room for what `message` would add to this one (an upper bound:
   * its bytes, and its heap estimate). An update that adds nothing always passes.
   */
  private mayGrowBy(peer: RoomPeer, message: SyncUpdateMessage, adds: () => boolean): boolean {
    const mayGrow = this.options.mayGrow;
    if (mayGrow === undefined) return true;
    const { heapBytes } = message;
    const storedAfter = this.storedBytes + this.commit.pendingBytes + growthBytes(message) + RECORD_OVERHEAD_BYTES;
    const sizeAfter = Math.max(storedAfter, Math.ceil((this.heapBytes + heapBytes) / HEAP_BYTES_PER_LIST_BYTE));
    const growth = sizeAfter - this.sizeBytes;
    if (growth <= 0) return true;
    const refusal = mayGrow(peer, growth);
    if (refusal === undefined || !adds()) return true;
    this.options.metrics.errors.inc({ kind: refusal.overShare ? 'address_list_share' : 'loaded_lists_full' });
    this.options.logger.warn('list.growth_refused', {
      listId: this.listId,
      peer: peer.id,
      reason: refusal.overShare ? 'its address holds more than its share of the loaded lists' : 'no room in memory for the list to grow',
      sizeDelta: growth,
      loadedBytes: refusal.loadedBytes,
      heldByAddress: refusal.heldBytes,
    });
    return false;
  }

  /** Whether `message` adds anything to the list, found at most once (Y.parseUpdateMeta reads the update whole), and only if asked. */
  private addsContentOnce({ update, sliced }: SyncUpdateMessage): () => boolean {
    let adds: boolean | undefined;
    return () => (adds ??= addsContent(this.doc, sliced?.clientEnds ?? Y.parseUpdateMeta(update).to));
  }

  private async writeBatch(updates: readonly Uint8Array[]): Promise<void> {
    const started = performance.now();
    await this.options.storage.append(this.listId, updates);
    this.options.metrics.fsyncSeconds.observe((performance.now() - started) / 1000);
    this.options.metrics.batchUpdates.observe(updates.length);
    const bytes = updates.reduce((total, u) => total + u.length + RECORD_OVERHEAD_BYTES, 0);
    this.setStoredBytes(this.storedBytes + bytes);
    this.logBytes += bytes;
  }

  private setStoredBytes(bytes: number): void {
    this.storedBytes = bytes;
    this.reportSize();
  }

  /** Estimates the document's heap from its structs (a pass over all of them); `duringLoad`: the load's payer pays. */
  private measureHeap(duringLoad = false): void {
    const started = performance.now();
    this.heapBytes = estimatedDocHeapBytes(this.doc);
    this.heapMeasured = true;
    if (duringLoad) this.spendOnLoad(performance.now() - started);
    this.reportSize();
  }

  private reportSize(): void {
    const size = this.sizeBytes;
    const delta = size - this.reportedSize;
    this.reportedSize = size;
    if (delta !== 0) this.options.onSizeChange?.(this, delta);
  }

  private acknowledge(storedStateVector: Uint8Array, waiters: ReadonlyMap<RoomPeer, number>, updateCount: number): void {
    if (this.state === 'failed') return;
    const ack = encodeDurableAck(storedStateVector);
    const now = this.options.now();
    for (const [peer, receivedAt] of waiters) {
      if (!this.peers.has(peer)) continue;
      if (this.slicing?.peer === peer) {
        // Its message is being applied in slices, and its deletions come with the last: an ack
        // now could cover every clock of the message while its deletions are not stored ([K2]).
        this.commit.addWaiter(peer, receivedAt);
        continue;
      }
      if (this.stoppedMidSlices.has(peer)) continue;
      this.sendTo(peer, ack);
      this.options.metrics.acksSent.inc();
      this.options.metrics.ackSeconds.observe(Math.max(0, now - receivedAt) / 1000);
    }
    if (updateCount > 0 && this.logBytes >= this.options.compactLogBytes) {
      void this.compactIfLarge();
    }
  }

  /**
   * Nothing is applied past a presence limit, and the peer stays, its update unseen. Whoever
   * filled the list (or the address's share, or the relay's) may not be this phone, which may be
   * an honest newcomer; and a phone's echoes of states the relay no longer remembers count as
   * states it carries, which someone else can make happen. Closing it (4400) would stop it for good
   * ([PR2]: a peer past its own share was closed, and three frames from one member got every other
   * phone on the list closed so).
   */
  private applyPresence(peer: RoomPeer, entries: readonly AwarenessEntry[]): void {
    const result = this.presence.apply(peer, entries);
    if (result === 'applied' || result === 'unchanged') {
      const departures = this.presence.departuresShownIn(entries);
      if (departures !== undefined) this.sendTo(peer, departures);
      return;
    }
    const kind = PRESENCE_LIMIT_KIND[result];
    this.options.metrics.errors.inc({ kind });
    if (this.presenceRefused.has(peer)) return;
    this.presenceRefused.add(peer);
    this.options.logger.warn(`connection.${kind}`, {
      listId: this.listId,
      peer: peer.id,
      entries: entries.length,
      states: this.presence.stateCount,
      stateBytes: this.presence.stateBytes,
      ...(peer.presenceShare === undefined ? {} : { addressStateBytes: peer.presenceShare.held }),
    });
  }

  private greet(peer: RoomPeer): void {
    this.sendTo(peer, encodeSyncStep1(Y.encodeStateVector(this.doc)));
    if (this.presence.stateCount > 0) this.sendTo(peer, this.presence.encodeAll());
  }

  /**
   * Sends to one peer of many (a forward, an ack, a greeting, presence): a send that throws (a
   * socket gone wrong) closes that peer only. Thrown on, it would cut short the loop over the
   * others, fail the whole list at the end of a load, or leave a batch's acks unsent and the
   * list's writes stopped.
   */
  private sendTo(peer: RoomPeer, message: Uint8Array): void {
    this.sends.send(peer, message);
  }

  private sendNow(peer: RoomPeer, message: Uint8Array): void {
    try {
      peer.send(message);
    } catch (error) {
      this.options.metrics.errors.inc({ kind: 'handler_error' });
      this.options.logger.error('connection.send_failed', { connection: peer.id, listId: this.listId, error });
      peer.close(CloseCode.internalError, 'internal error');
    }
  }

  /**
   * The list goes on being served: phones keep syncing through the relay and keep their edits
   * until an acknowledgement covers them, which comes once a retry succeeds.
   */
  private writeFailed(error: unknown, retryInMs: number | undefined, unwrittenBytes: number): void {
    if (isNewListsPaused(error)) {
      // Not a failure: the disk is near full and this list has nothing stored yet (NewListReserve).
      this.options.metrics.errors.inc({ kind: 'new_list_waiting_for_disk' });
      this.options.logger.warn('list.new_list_waiting_for_disk', { listId: this.listId, unacknowledgedBytes: unwrittenBytes, retryInMs: retryInMs ?? 'never (shutting down)' });
      return;
    }
    this.options.metrics.errors.inc({ kind: 'storage_write_failed' });
    this.options.logger.error('list.write_failed', {
      listId: this.listId,
      unacknowledgedBytes: unwrittenBytes,
      retryInMs: retryInMs ?? 'never (shutting down)',
      error,
    });
  }

  /**
   * Notes what a message held back, and tells whether the updates Yjs now holds back split array
   * runs into more pieces than one message may. Their joins are counted (a decode of all of them)
   * only once enough values that may join have been held back, and then again only after as many
   * more, so a run of small held-back messages does not decode them all each time (that made each
   * one 2–5× slower with 106 kB held back).
   */
  private heldBackRunsTooSplit(heldBackBytes: number, joiningValues: number): boolean {
    if (heldBackBytes === 0) {
      this.heldBackJoiningValues = 0;
      this.nextHeldBackJoinCheck = HELD_BACK_JOINING_VALUES_UNCHECKED;
      return false;
    }
    this.heldBackJoiningValues += joiningValues;
    if (this.heldBackJoiningValues <= this.nextHeldBackJoinCheck) return false;
    this.nextHeldBackJoinCheck = this.heldBackJoiningValues + HELD_BACK_JOINING_VALUES_UNCHECKED;
    const { pendingStructs: pending, pendingDs } = this.doc.store;
    if (pending === null) return false;
    // Yjs keeps held-back structs and deletions in its second update format, and applies the
    // deletions of held-back structs in the transaction that integrates them.
    const deletions = pendingDs === null ? undefined : Y.decodeUpdateV2(pendingDs).ds;
    return arrayRunJoins(Y.decodeUpdateV2(pending.update).structs, deletions).copies > MAX_ARRAY_RUN_JOIN_COPIES;
  }

  /** No room for the list in memory (see ListRoomOptions.admit): its phones come back later. */
  private refuseLoad(): void {
    this.state = 'failed';
    this.waiting.length = 0;
    for (const peer of [...this.peers]) peer.close(CloseCode.tryAgainLater, 'busy');
    this.peers.clear();
    this.options.onFailed(this);
  }

  private fail(reason: string, error: unknown): void {
    if (this.state === 'failed') return;
    this.state = 'failed';
    this.options.logger.error('list.failed', { listId: this.listId, reason, error });
    for (const peer of [...this.peers]) peer.close(CloseCode.internalError, 'list reloading');
    this.peers.clear();
    this.options.onFailed(this);
  }
}

/** Whether an update whose clients' clocks end at `clientEnds` holds structs `doc` does not have yet (deletions alone never add). */
function addsContent(doc: Y.Doc, clientEnds: Iterable<readonly [number, number]>): boolean {
  for (const [client, clock] of clientEnds) {
    if (clock > Y.getState(doc.store, client)) return true;
  }
  return false;
}

/** Bytes of updates Yjs holds back because something they build on has not arrived. */
function heldBackBytes(doc: Y.Doc): number {
  return (doc.store.pendingStructs?.update.length ?? 0) + (doc.store.pendingDs?.length ?? 0);
}

/**
 * The document without held-back updates: Y.encodeStateAsUpdate appends them, and a snapshot
 * must hold only integrated content (held-back updates are never stored, see README).
 */
function encodeIntegratedState(doc: Y.Doc): Uint8Array {
  const { pendingStructs, pendingDs } = doc.store;
  doc.store.pendingStructs = null;
  doc.store.pendingDs = null;
  try {
    return Y.encodeStateAsUpdate(doc);
  } finally {
    doc.store.pendingStructs = pendingStructs;
    doc.store.pendingDs = pendingDs;
  }
}

/** What a message may add to a list's stored size: its bytes but its delete set's. */
function growthBytes({ update, deleteSetBytes = 0 }: SyncUpdateMessage): number {
  return update.length - deleteSetBytes;
}

/** Resolves when `promise` does, or after `ms`, whichever comes first. */
async function withinMs(promise: Promise<void>, ms: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const elapsed = new Promise<void>((resolve) => {
    timer = setTimeout(resolve, ms);
    timer.unref();
  });
  try {
    await Promise.race([promise, elapsed]);
  } finally {
    clearTimeout(timer);
  }
}

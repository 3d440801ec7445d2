import type { Logger } from '../log.js';
import type { RelayMetrics } from '../metrics.js';
import type { ListStorage } from '../storage/list-storage.js';
import type { LoadPayer } from './list-room.js';
import { ListRoom } from './list-room.js';
import type { SyncAnswerCutter } from './sync-answer-parts.js';
import type { StoredUpdateSlicer } from './stored-replay.js';

export interface RoomRegistryOptions {
  readonly storage: ListStorage;
  readonly logger: Logger;
  readonly metrics: RelayMetrics;
  readonly now: () => number;
  readonly maxLoadedLists: number;
  /** Sizes of the loaded lists together (MAX_LOADED_LIST_BYTES, ListRoom.sizeBytes): what bounds their memory. */
  readonly maxLoadedListBytes: number;
  /**
   * Sizes of the loaded lists one address's connections are on (MAX_LOADED_LIST_BYTES_PER_IP)
   * past which it may load another only while the loaded lists stay under half the bound.
   */
  readonly maxLoadedListBytesPerAddress: number;
  readonly maxListBytes: number;
  readonly compactLogBytes: number;
  /** A list with no connections is unloaded after this long. */
  readonly idleUnloadMs: number;
  /** Time budget for compacting lists at shutdown (0: none). */
  readonly shutdownCompactMs?: number;
  /** Large stored updates are loaded in slices (see ListRoom). */
  readonly storedUpdateSlicer?: StoredUpdateSlicer;
  /** Large sync answers are cut into parts off the event loop (see ListRoom). */
  readonly syncAnswerCutter?: SyncAnswerCutter;
}

/**
 * The address whose connection asks for a list: it pays for the load, and the loaded lists its
 * connections are on count against its share of the room.
 */
export interface ListRequester extends LoadPayer {
  /** Sizes of the loaded lists its connections are on, `except` one. */
  heldListBytes(except?: ListRoom): number;
}

/** Why a list may not load or grow (RoomRegistry.roomFor), for its log line. */
export interface RoomRefusal {
  /** Its address holds more than its share (else the loaded lists are at the bound). */
  readonly overShare: boolean;
  readonly loadedBytes: number;
  /** What its address holds besides the list. */
  readonly heldBytes: number;
}

/** Compactions at shutdown run this many at a time: enough to share fsyncs, few enough to finish some. */
const SHUTDOWN_COMPACTION_CONCURRENCY = 32;

/**
 * The loaded lists. A list being unloaded finishes its flush before the same list can load
 * again, so a reload always sees every write of the previous incarnation.
 */
export class RoomRegistry {
  private readonly rooms = new Map<string, ListRoom>();
  private readonly unloading = new Map<string, Promise<void>>();
  /**
   * Lists taken out of `rooms` and not yet released, with the size each was counted for: their
   * documents (and an unload compaction's snapshot) stay in memory until their flush and
   * compaction end, so loads wait for them (waitForRoomBesideUnloading).
   */
  private readonly unloadingRooms = new Map<ListRoom, number>();
  private unloadingBytes = 0;
  /** Loads waiting for unloading lists to be released: each looks again whenever one is, and resolves once it may read. */
  private readonly waitingForRoom = new Set<(released?: ListRoom) => boolean>();
  /** Set by shutdown: lists unloaded from then on are not compacted. */
  private stopping = false;
  private readonly loads = new WeakMap<ListRoom, Promise<void>>();
  /** The last list read (and admitted or refused) in turn: see readInTurn. */
  private lastRead: Promise<void> = Promise.resolve();
  /** Stored bytes of the lists in `rooms`, kept up to date by each room: summed, it would cost every upgrade a pass over all lists. */
  private loadedBytes = 0;
  /**
   * The sizes of lists whose load was refused for want of room, as then read (or estimated), at
   * most maxLoadedLists of them, oldest forgotten first. A list does not change while it is not
   * loaded, so a phone coming back to one that still does not fit is refused at the upgrade:
   * each retry read the list from disk again, and had a large one estimated on the worker again.
   */
  private readonly refusedSizes = new Map<string, number>();

  constructor(private readonly options: RoomRegistryOptions) {}

  /** Loaded lists whose last write failed: their newest edits wait for the storage. */
  get waitingForStorageCount(): number {
    let waiting = 0;
    for (const room of this.rooms.values()) if (room.isWaitingForStorage) waiting += 1;
    return waiting;
  }

  get loadedCount(): number {
    return this.rooms.size;
  }

  get loadedByteCount(): number {
    return this.loadedBytes;
  }

  /** Lists unloaded and not yet released (their flush and compaction still running). */
  get unloadingCount(): number {
    return this.unloadingRooms.size;
  }

  get(listId: string): ListRoom | undefined {
    return this.rooms.get(listId);
  }

  /**
   * Whether `acquire(listId, requester)` would find room for it, without loading or evicting
   * anything. The list's size is not known before it is read, unless its load was refused before
   * (refusedSizes): unknown, it may still be refused once it is read. Lists still unloading are
   * not counted, as acquire does not refuse for them: the list waits for them before it is read.
   */
  canAcquire(listId: string, requester?: ListRequester): boolean {
    if (this.rooms.has(listId)) return true;
    const knownBytes = this.refusedSizes.get(listId) ?? 0;
    // Under half the bound no share is counted (see byteBoundFor), nor an address's lists summed.
    const underHalf = this.loadedBytes + knownBytes < this.halfByteBound;
    const byteBound = underHalf ? this.options.maxLoadedListBytes : this.byteBoundFor(requester?.heldListBytes() ?? 0, knownBytes);
    let count = this.rooms.size;
    let bytes = this.loadedBytes;
    // Alone when the others take no bytes, as roomFor counts it (empty lists may be loaded beside it).
    const fits = (): boolean => count < this.options.maxLoadedLists && (knownBytes === 0 ? bytes < byteBound : bytes === 0 || bytes + knownBytes <= byteBound);
    // Evicting every idle list is what acquire does at most.
    for (const room of this.rooms.values()) {
      if (fits()) break;
      if (room.peerCount > 0) continue;
      count -= 1;
      bytes -= room.sizeBytes;
    }
    return fits();
  }

  /**
   * The room for `listId`, loading it if needed (paid for by `requester`, and admitted once its
   * size is known, see admit); undefined when every slot is busy.
   */
  acquire(listId: string, requester?: ListRequester): ListRoom | undefined {
    const existing = this.rooms.get(listId);
    if (existing !== undefined) return existing;
    while (this.isFull(this.rooms.size, this.loadedBytes, this.options.maxLoadedListBytes)) {
      if (this.evictOneIdle() === undefined) return undefined;
    }
    const room: ListRoom = new ListRoom({
      listId,
      storage: this.options.storage,
      logger: this.options.logger,
      metrics: this.options.metrics,
      now: this.options.now,
      maxListBytes: this.options.maxListBytes,
      compactLogBytes: this.options.compactLogBytes,
      onFailed: (failed) => void this.unload(failed, false),
      onSizeChange: (changed, delta) => {
        if (this.rooms.get(changed.listId) === changed) this.loadedBytes += delta;
      },
      onEmpty: () => undefined,
      ...(this.options.storedUpdateSlicer === undefined ? {} : { storedUpdateSlicer: this.options.storedUpdateSlicer }),
      ...(this.options.syncAnswerCutter === undefined ? {} : { syncAnswerCutter: this.options.syncAnswerCutter }),
      ...(requester === undefined ? {} : { payer: requester }),
      admit: (addedBytes, worstCaseGuess) => this.admit(room, addedBytes, requester, worstCaseGuess === true),
      readInTurn: (read) => this.readInTurn(read),
      mayGrow: (peer, sizeDelta) => this.roomFor(room, sizeDelta, () => peer.heldListBytes?.(room) ?? 0),
    });
    this.rooms.set(listId, room);
    // Read and sized again: it is refused again, and remembered again, if it still does not fit.
    this.refusedSizes.delete(listId);
    const previous = this.unloading.get(listId) ?? Promise.resolve();
    this.loads.set(room, Promise.all([previous, this.waitForRoomBesideUnloading(room)]).then(() => room.load()));
    return room;
  }

  /**
   * Resolves once `room` (counted in `rooms`, not read yet) fits beside the loaded lists and those
   * still unloading, or once every list unloading now is released, or once `room` is no longer
   * loaded. Unloaded lists stay in memory until flushed and compacted: on a slow disk, lists
   * evicted for others ([LR1]) or unloaded by the idle sweep ([GC2]) piled up there, uncounted,
   * past the bound. Its phones are not refused for them: they wait, as for the list's load; and
   * not for the unloading lists' compactions still waiting for their turn, which are dropped (the
   * lists keep their logs, as complete): behind a backlog of them, each list loaded waited seconds.
   */
  private waitForRoomBesideUnloading(room: ListRoom): Promise<void> {
    if (this.unloadingRooms.size === 0) return Promise.resolve();
    const unloadingNow = new Set(this.unloadingRooms.keys());
    return new Promise((resolve) => {
      const mayRead = (released?: ListRoom): boolean => {
        if (released !== undefined) unloadingNow.delete(released);
        const others = this.rooms.size - 1 + this.unloadingRooms.size;
        const fits = !this.isFull(others, this.loadedBytes + this.unloadingBytes, this.options.maxLoadedListBytes);
        if (!fits && unloadingNow.size > 0 && this.rooms.get(room.listId) === room) return false;
        resolve();
        return true;
      };
      if (mayRead()) return;
      this.waitingForRoom.add(mayRead);
      for (const unloaded of unloadingNow) unloaded.dropCompactionNotStarted();
    });
  }

  /** Lets the loads waiting for room beside unloading lists look again: `released`, or a load abandoned. */
  private lookAgainForRoom(released?: ListRoom): void {
    for (const mayRead of [...this.waitingForRoom]) if (mayRead(released)) this.waitingForRoom.delete(mayRead);
  }

  /** Runs `read` (a list's read and admission) once every read started before it has ended. */
  private readInTurn<T>(read: () => Promise<T>): Promise<T> {
    const result = this.lastRead.then(read);
    this.lastRead = result.then(
      () => undefined,
      () => undefined,
    );
    return result;
  }

  /** Unloads lists nobody has been connected to for `idleUnloadMs`. */
  sweepIdle(): void {
    const cutoff = this.options.now() - this.options.idleUnloadMs;
    for (const room of [...this.rooms.values()]) {
      if (room.peerCount === 0 && room.lastActivity <= cutoff) void this.unload(room, true);
    }
  }

  /** Resolves when every list being unloaded is flushed and released. */
  async whenUnloaded(): Promise<void> {
    await Promise.all([...this.unloading.values()]);
  }

  /**
   * Flushes every list, then closes its connections with `code`, then — within the shutdown
   * budget — folds each list's log into a snapshot, like a database's shutdown checkpoint: the
   * next start then reads one record per list instead of replaying every logged update.
   * A list not compacted in time keeps its log, which is just as complete, only slower to load.
   */
  async shutdown(code: number, reason: string): Promise<void> {
    const rooms = [...this.rooms.values()];
    this.rooms.clear();
    this.loadedBytes = 0;
    this.stopping = true;
    this.lookAgainForRoom();
    // Compactions still waiting for their turn are not waited for: the stop waited for every one
    // queued ahead of them, seconds after the idle sweep had unloaded many lists ([GC3]). Those of
    // the shutdown's own budget (compactBeforeExit) start afresh.
    for (const room of [...rooms, ...this.unloadingRooms.keys()]) room.dropCompactionNotStarted();
    const flushed = await Promise.all(
      rooms.map(async (room) => {
        try {
          // A list still loading holds nothing to flush; its load could wait a minute for its turn.
          room.abandonLoad();
          await this.loads.get(room);
          await room.shutdown(code, reason);
        } catch (error) {
          // One list's failure must not stop the others' flushes; its journal records stay.
          this.options.logger.error('list.shutdown_failed', { listId: room.listId, error });
          this.options.metrics.errors.inc({ kind: 'shutdown_failed' });
        }
        return room;
      }),
    );
    await this.compactBeforeExit(flushed);
    await Promise.all(flushed.map((room) => this.release(room)));
    await this.whenUnloaded();
  }

  private async compactBeforeExit(rooms: readonly ListRoom[]): Promise<void> {
    const budgetMs = this.options.shutdownCompactMs ?? 0;
    if (budgetMs <= 0) return;
    const deadline = this.options.now() + budgetMs;
    const started = this.options.now();
    let next = 0;
    let compacted = 0;
    const worker = async (): Promise<void> => {
      while (next < rooms.length && this.options.now() < deadline) {
        const room = rooms[next++] as ListRoom;
        if (await room.compactIfLarge(true)) compacted += 1;
      }
    };
    await Promise.all(Array.from({ length: SHUTDOWN_COMPACTION_CONCURRENCY }, worker));
    this.options.logger.info('relay.shutdown_compacted', {
      lists: rooms.length,
      compacted,
      skippedForTime: rooms.length - next,
      ms: this.options.now() - started,
    });
  }

  /**
   * Whether `room`, being loaded, fits beside the lists loaded once it takes `addedBytes` more
   * (roomFor): asked once it is read, and again before it is replayed. The bytes of lists admitted
   * before it count, whether their load has finished or not, so lists loading side by side cannot
   * pass the bound together. A refusal by a worst-case guess (the decode worker failed to estimate
   * the list) is remembered by the list's stored bytes only: the guess is not the list's size, and
   * remembered, it would refuse the list's phones at the upgrade after the worker is back.
   */
  private admit(room: ListRoom, addedBytes: number, requester: ListRequester | undefined, worstCaseGuess: boolean): boolean {
    const refusal = this.roomFor(room, addedBytes, () => requester?.heldListBytes(room) ?? 0);
    if (refusal === undefined) return true;
    this.rememberRefused(room.listId, worstCaseGuess ? room.sizeBytes : room.sizeBytes + addedBytes);
    this.options.metrics.errors.inc({ kind: refusal.overShare ? 'address_list_share' : 'too_many_lists' });
    this.options.logger.warn('list.load_refused', {
      listId: room.listId,
      reason: refusal.overShare ? 'the address holds more than its share of the loaded lists' : 'no room for the list in memory',
      sizeBytes: room.sizeBytes + addedBytes,
      loadedBytes: refusal.loadedBytes,
      heldByAddress: refusal.heldBytes,
    });
    return false;
  }

  /**
   * Whether the loaded lists have room for `room` to take `addedBytes` more, for an address holding
   * other lists of `otherListBytes()`: idle lists are evicted to make room, least recently used
   * first. Loads and growth alike: loaded lists could
   * otherwise be grown past the bound, each within its size limit. A list alone in memory always
   * fits (it may grow to its size limit), or it could never be read again. Asked at every update
   * that grows a list, so the address's lists are summed only once the loaded lists pass half.
   */
  private roomFor(room: ListRoom, addedBytes: number, otherListBytes: () => number): RoomRefusal | undefined {
    if (this.rooms.get(room.listId) !== room) return undefined;
    if (this.loadedBytes + addedBytes <= this.halfByteBound) return undefined;
    const heldBytes = otherListBytes();
    const byteBound = this.byteBoundFor(heldBytes, room.sizeBytes + addedBytes);
    const fits = (): boolean => this.loadedBytes === room.sizeBytes || this.loadedBytes + addedBytes <= byteBound;
    while (!fits()) if (this.evictOneIdle(room) === undefined) break;
    if (fits()) return undefined;
    return { overShare: byteBound < this.options.maxLoadedListBytes, loadedBytes: this.loadedBytes, heldBytes };
  }

  /**
   * The bound on the loaded lists' bytes for an address holding other lists of `otherBytes`, for
   * one of `listBytes`. Within its share, the whole bound: an address has the whole room while
   * there is room. Past it, half: one address (or a few) holding lists open cannot keep every
   * other list from loading. An address's only list is within its share whatever its size: once
   * read, it is on the address's own connections, and counted there it was refused when its turn
   * to be replayed came, each time it was asked for ([LR2]).
   */
  private byteBoundFor(otherBytes: number, listBytes: number): number {
    const withinShare = otherBytes === 0 || otherBytes + listBytes <= this.options.maxLoadedListBytesPerAddress;
    return withinShare ? this.options.maxLoadedListBytes : this.halfByteBound;
  }

  private rememberRefused(listId: string, sizeBytes: number): void {
    this.refusedSizes.delete(listId);
    this.refusedSizes.set(listId, sizeBytes);
    if (this.refusedSizes.size > this.options.maxLoadedLists) this.refusedSizes.delete(this.refusedSizes.keys().next().value as string);
  }

  private get halfByteBound(): number {
    return Math.floor(this.options.maxLoadedListBytes / 2);
  }

  /** Unloads the least recently used idle list, but `except`: its unload, done once it is released. */
  private evictOneIdle(except?: ListRoom): Promise<void> | undefined {
    let oldest: ListRoom | undefined;
    for (const room of this.rooms.values()) {
      if (room === except) continue;
      if (room.peerCount === 0 && (oldest === undefined || room.lastActivity < oldest.lastActivity)) oldest = room;
    }
    return oldest === undefined ? undefined : this.unload(oldest, true);
  }

  /**
   * Whether `count` lists storing `bytes` leave no room for another under `byteBound`. Before a
   * list is read its size is unknown: it is let in while the bytes are under the bound, and
   * admitted or refused once read.
   */
  private isFull(count: number, bytes: number, byteBound: number): boolean {
    return count >= this.options.maxLoadedLists || bytes >= byteBound;
  }

  /** Takes `room` out of the loaded lists; resolves once it is flushed and released (never rejects). */
  private unload(room: ListRoom, compact: boolean): Promise<void> {
    if (this.rooms.get(room.listId) !== room) return this.unloading.get(room.listId) ?? Promise.resolve();
    this.rooms.delete(room.listId);
    const sizeBytes = room.sizeBytes;
    this.loadedBytes -= sizeBytes;
    // Counted until released: its document is in memory until then ([GC2]).
    this.unloadingRooms.set(room, sizeBytes);
    this.unloadingBytes += sizeBytes;
    room.abandonLoad();
    // A load of this very list waiting for room beside the unloading lists ends (abandoned).
    this.lookAgainForRoom();
    const previous = this.unloading.get(room.listId) ?? Promise.resolve();
    const loaded = this.loads.get(room) ?? Promise.resolve();
    const done = Promise.allSettled([previous, loaded]).then(async () => {
      try {
        // Not a plain flush: on a failing disk that would keep the list from loading again until
        // the disk had room, even for reading.
        await room.stopWriting();
        // In the background: loaded lists' compactions go first, their writes stop meanwhile ([GC3]).
        // None at shutdown, nor while loads wait for unloading lists to be released ([GC2]).
        if (compact && !this.stopping && this.waitingForRoom.size === 0) await room.compactIfLarge(true, true);
      } catch (error) {
        // Never rejects: the next load of this list and the shutdown wait on it. Whatever was
        // acknowledged is in the journal, which the next load replays; the rest, phones send again.
        this.options.logger.error('list.unload_failed', { listId: room.listId, error });
        this.options.metrics.errors.inc({ kind: 'unload_failed' });
      } finally {
        await this.release(room);
        this.unloadingRooms.delete(room);
        this.unloadingBytes -= sizeBytes;
        if (this.unloading.get(room.listId) === done) this.unloading.delete(room.listId);
        this.lookAgainForRoom(room);
      }
    });
    this.unloading.set(room.listId, done);
    return done;
  }

  private async release(room: ListRoom): Promise<void> {
    try {
      await this.options.storage.release(room.listId);
    } catch (error) {
      this.options.logger.warn('list.release_failed', { listId: room.listId, error });
    }
    room.destroy();
  }
}

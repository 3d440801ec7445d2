import type { WebSocket } from 'ws';
import type { Logger } from '../log.js';
import type { RelayMetrics } from '../metrics.js';
import { CLOSE_HANDSHAKE_MS, CloseCode } from './close-codes.js';
import type { PresenceShare } from './presence-bytes.js';
import type { ListRoom, RoomPeer } from './list-room.js';
import type { AddressBudget } from './address-budgets.js';
import type { BacklogBound, BacklogShare } from './shared-backlogs.js';
import { rawSocketOf, unhandledIncomingBytes } from './ws-incoming.js';
import type { IncomingMessage } from './protocol.js';
import { decodeIncomingMessage, isPresenceQuery, ProtocolError } from './protocol.js';
import type { OffThreadDecoder } from './off-thread-decoder.js';
import { DecodeWorkerFailed } from './off-thread-decoder.js';
import { PingLiveness } from './ping-liveness.js';
import { TokenBucket } from '../token-bucket.js';

/**
 * Sync requests (step 1) a connection may have answered at once. Each makes the relay encode the
 * part of the list the sender lacks, up to the whole list (~20 ms of the event loop for a 0.5 MB
 * list, more for larger ones), so a few bytes a second of requests could keep the relay busy. A
 * y-websocket client sends one when it connects, and one per `resyncInterval` if it sets one.
 */
const SYNC_REQUEST_BURST = 4;

/**
 * A sync request is answered only while the connection's send backlog is below this: the answer
 * can be the whole list, and a peer that does not read would otherwise have the relay hold one
 * list-sized answer per request it sends (a request costs it ~10 bytes). Far above what an honest
 * phone's edits, acks and presence leave unsent, far below a list.
 */
const SYNC_ANSWER_MAX_BACKLOG_BYTES = 64 * 1024;
/** How often a sync request waiting for its connection's backlog to drain looks again. */
const DRAIN_CHECK_MS = 1000;
/** How often a connection its address's budgets hold unread looks at them again, at most. */
const HOLD_RECHECK_MS = 1000;
/** How often a frame for the decode worker looks again while its address has one there. */
const OFF_THREAD_TURN_RECHECK_MS = 20;
/**
 * How long a phone whose frames wait, or are still arriving, goes without hearing from the relay
 * before it is sent the list's presence: well inside the 8 s of silence after which the web app
 * reconnects (connection-watch.ts).
 */
const WAITING_PHONE_KEEPALIVE_MS = 3000;

/** The `errors_total` kind counting connections dropped for each bound on unsent bytes. */
const SLOW_CONSUMER_KIND: Record<'connection' | BacklogBound, string> = {
  connection: 'slow_consumer',
  address: 'slow_consumer_address',
  relay: 'slow_consumer_relay',
};

/** The `errors_total` kind counting connections dropped for each bound on bytes read and not yet handled. */
export const INCOMING_BOUND_KIND: Record<BacklogBound, string> = {
  address: 'incoming_over_address',
  relay: 'incoming_over_relay',
};

/**
 * A frame, or the message decoded from it, and when it was read (options.now()): an update's
 * acknowledgement is timed from there, not from when it reached its list, or the time it waited
 * here for a load, the decode worker or a budget went unseen in ack_seconds ([OM2]).
 */
interface Received<T> {
  readonly item: T;
  readonly readAt: number;
}

/** The `errors_total` kind of a frame `ws` refuses itself, by its error code (else malformed_frame). */
const WS_ERROR_KIND: Record<string, string> = {
  WS_ERR_UNSUPPORTED_MESSAGE_LENGTH: 'message_too_large',
  WS_ERR_INVALID_UTF8: 'text_frame',
};

export interface ConnectionLimits {
  readonly maxMessageBytes: number;
  readonly messagesPerSecond: number;
  readonly bytesPerSecond: number;
  /** Past the burst, sync requests are answered at most once per this interval. */
  readonly syncRequestIntervalMs: number;
  /** A peer whose unsent backlog grows past this is too slow to keep. */
  readonly maxBufferedBytes: number;
  /** Refuse updates that put content in an array or text (see decodeIncomingMessage). */
  readonly refuseListContent?: boolean;
  /** Frames this large or larger are checked on the decode worker (with `offThreadDecoder`). */
  readonly offThreadDecodeBytes?: number;
}

export interface ConnectionOptions {
  readonly id: number;
  readonly socket: WebSocket;
  readonly room: ListRoom;
  readonly remoteAddress: string;
  /**
   * Its address as the per-address bounds count it (an IPv4 address, an IPv6 /64): the turn its
   * frames, and the sync answers cut for it, take on the decode worker (OffThreadDecoder).
   */
  readonly addressGroup: string;
  /** Shared by every connection from the same address (see AddressBudgets). */
  readonly addressBudget: AddressBudget;
  /** This connection's part of the unsent bytes its address and the relay may hold (see SharedBacklogs). */
  readonly sendBacklog: BacklogShare;
  /**
   * Opens this connection's part of the bytes read and not yet handled that its address and the
   * relay may hold; `readIncoming` says how much it holds now.
   */
  readonly openIncoming: (readIncoming: () => number) => BacklogShare;
  readonly limits: ConnectionLimits;
  readonly logger: Logger;
  readonly metrics: RelayMetrics;
  readonly now: () => number;
  readonly onClosed: (connection: Connection) => void;
  /** Checks frames of at least `limits.offThreadDecodeBytes` off the event loop; all on it if absent. */
  readonly offThreadDecoder?: OffThreadDecoder;
}

/**
 * One WebSocket on one list. Every frame is size-checked, rate-limited and fully decoded
 * before the room sees it; any failure closes this socket only, with one log line.
 */
export class Connection implements RoomPeer {
  readonly id: number;
  readonly remoteAddress: string;
  readonly addressGroup: string;
  private readonly socket: WebSocket;
  private readonly room: ListRoom;
  private readonly messageBudget: TokenBucket;
  private readonly byteBudget: TokenBucket;
  private readonly syncRequestBudget: TokenBucket;
  /**
   * A sync request over budget, or sent while an answer is still unsent, answered once the budget
   * allows and the backlog has drained. A later one replaces it: a phone's state only grows, so
   * the answer to its latest request covers the earlier ones.
   */
  private deferredSyncRequest: IncomingMessage | undefined;
  /** Bytes the list holds for this peer until they can be sent (holdUnsent): counted in its backlog. */
  private unsentHeldBytes = 0;
  private deferredSyncTimer: NodeJS.Timeout | undefined;
  /**
   * Frames read but not yet handled, oldest first, still undecoded: decoding is part of what a
   * message costs the event loop (a crafted 4 MiB update takes Yjs ~0.8 s to decode), so it waits
   * for the address's budget like the rest (see handleHeld).
   */
  private readonly held: Received<Uint8Array>[] = [];
  private heldBytes = 0;
  /** Its frames wait while the list is busy (ListRoom.isBusy), until listReady. */
  private waitingForList = false;
  /** What this connection holds of frames read and not yet handled, against its address's and the relay's bounds. */
  private readonly incoming: BacklogShare;
  /** The oldest held frame once decoded, while it waits for the address's storage or delivery budget. */
  private decodedHead: Received<IncomingMessage> | undefined;
  /** What `decodedHead` holds in memory (holdDecoded), counted in `heldBytes` until it is handed over. */
  private decodedHeadBytes = 0;
  private holdTimer: NodeJS.Timeout | undefined;
  /**
   * The bytes of the oldest held frame while it is checked on the decode worker (0 when none is):
   * nothing else is handled meanwhile, and the worker holds it (and so does this process) even
   * after the socket is gone.
   */
  private offThreadFrameBytes = 0;
  /** Reading stopped while another of the address's frames is on the decode worker (not a budget). */
  private pausedForDecodeTurn = false;
  /** While its frame waits on the decode worker: keeps its phone listening (keepWaitingPhoneListening). */
  private offThreadKeepaliveTimer: NodeJS.Timeout | undefined;
  /** When this connection was last sent anything (keepWaitingPhoneListening). */
  private lastSentAt: number;
  private closing = false;
  private readonly liveness = new PingLiveness();
  /** Bytes handed to the socket so far (their frames' headers not counted): what PingLiveness sees move. */
  private sentBytes = 0;

  constructor(private readonly options: ConnectionOptions) {
    this.id = options.id;
    this.remoteAddress = options.remoteAddress;
    this.addressGroup = options.addressGroup;
    this.socket = options.socket;
    this.room = options.room;
    const { limits, now } = options;
    this.messageBudget = new TokenBucket(limits.messagesPerSecond, limits.messagesPerSecond * 2, now);
    this.byteBudget = new TokenBucket(limits.bytesPerSecond, Math.max(limits.bytesPerSecond * 2, limits.maxMessageBytes), now);
    this.syncRequestBudget = new TokenBucket(1000 / limits.syncRequestIntervalMs, SYNC_REQUEST_BURST, now);
    this.lastSentAt = now();
    this.socket.on('message', (data, isBinary) => this.onFrame(data, isBinary));
    this.socket.on('pong', () => this.liveness.alive());
    this.socket.on('close', () => this.onSocketClosed());
    this.socket.on('error', (error: Error & { code?: string }) => this.onSocketError(error));
    this.incoming = options.openIncoming(() => unhandledIncomingBytes(this.socket) + this.heldBytes);
    this.incoming.evictWith((bound) => this.dropForIncoming(bound, true));
    // Added after ws's own listener, so it runs once ws has parsed what was read.
    rawSocketOf(this.socket)?.on('data', () => this.onBytesRead());
    // Before joining: joining sends, and a send may need the room another connection holds.
    options.sendBacklog.evictWith((bound) => this.dropAsSlowConsumer(bound));
    options.addressBudget.lists.hold(this.room);
    this.room.attach(this);
  }

  get listId(): string {
    return this.room.listId;
  }

  send(message: Uint8Array): void {
    if (this.closing || this.socket.readyState !== this.socket.OPEN) return;
    const boundPassed = this.backlogBoundPassedBy(message.length);
    if (boundPassed !== undefined) {
      this.dropAsSlowConsumer(boundPassed, message.length);
      return;
    }
    this.socket.send(message, { binary: true });
    this.sentBytes += message.length;
    this.lastSentAt = this.options.now();
    this.options.sendBacklog.update();
    this.options.metrics.bytesOut.inc(undefined, message.length);
  }

  holdUnsent(bytes: number): boolean {
    if (this.closing) return false;
    const boundPassed = this.backlogBoundPassedBy(bytes);
    if (boundPassed !== undefined) {
      this.dropAsSlowConsumer(boundPassed, bytes);
      return false;
    }
    this.unsentHeldBytes += bytes;
    this.options.sendBacklog.hold(bytes);
    return true;
  }

  releaseUnsent(bytes: number): void {
    this.unsentHeldBytes -= bytes;
    this.options.sendBacklog.hold(-bytes);
  }

  heldListBytes(except?: ListRoom): number {
    return this.options.addressBudget.lists.bytes(except);
  }

  close(code: number, reason: string): void {
    if (this.closing) return;
    this.closing = true;
    this.socket.close(code, reason);
    setTimeout(() => this.socket.terminate(), CLOSE_HANDSHAKE_MS).unref();
  }

  /** Sends a ping, or drops the socket if the previous ping went unanswered (see PingLiveness). */
  heartbeat(): void {
    if (this.holdTimer !== undefined || this.offThreadFrameBytes > 0) {
      // Its address's budget (or the decode worker) holds the socket unread, pongs included: that
      // says nothing of the phone, and a phone slowed this way must not be cut off as gone.
      this.liveness.alive();
      return;
    }
    if (this.liveness.beat(this.sentBytes, this.socket.bufferedAmount) === 'dead') {
      this.options.metrics.errors.inc({ kind: 'dead_socket' });
      this.options.logger.info('connection.dead', { connection: this.id, listId: this.listId });
      this.socket.terminate();
      return;
    }
    try {
      this.socket.ping();
    } catch {
      this.socket.terminate();
    }
  }

  private onFrame(data: unknown, isBinary: boolean): void {
    if (this.closing) return;
    try {
      const frame = toBytes(data);
      this.options.metrics.bytesIn.inc(undefined, frame.length);
      if (!isBinary) {
        this.refuse(CloseCode.malformedMessage, 'text frames are not part of the protocol', 'text_frame');
        return;
      }
      if (frame.length > this.options.limits.maxMessageBytes) {
        this.refuse(CloseCode.messageTooLarge, 'message too large', 'message_too_large', { bytes: frame.length });
        return;
      }
      if (this.answeredProbeAtOnce(frame)) return;
      this.held.push({ item: frame, readAt: this.options.now() });
      this.heldBytes += frame.length;
      this.handleHeld();
    } catch (error) {
      this.internalError(error);
    }
  }

  /**
   * Whether `frame` was a presence query, answered at once although the frames before it wait for
   * the list (loading, or applying a large update in slices). The web app sends one every 3 s to
   * tell a live socket from a dead one, and reconnects after 8 s with nothing received: a phone
   * asking for a large list that loads behind others reconnected, and asked again, mid-load
   * ([P15]; bench/large-lists-joined.mjs on a relay with a third of a core). Its answer depends on
   * nothing the waiting frames change but presence, which it shows a moment older. Charged to the
   * address like any message; an address out of its event-loop budget, or held for another
   * budget (its socket then unread anyway), waits as before.
   */
  private answeredProbeAtOnce(frame: Uint8Array): boolean {
    if (!isPresenceQuery(frame) || !this.room.isBusy || this.holdTimer !== undefined) return false;
    const { loopMs } = this.options.addressBudget;
    if (!loopMs.hasCredit() || this.rateWait(frame) > 0) return false;
    const started = performance.now();
    try {
      this.room.answerPresenceQuery(this);
    } finally {
      loopMs.charge(performance.now() - started);
    }
    return true;
  }

  /**
   * Decodes and handles held frames in order while the address's budgets allow. When they do not,
   * the socket stops being read until they have refilled: an address driving the relay too hard
   * is slowed to its budget, and an honest phone behind it (or after a large upload) waits a moment
   * instead of being cut off and reconnecting. Frames ws had already read wait here, undecoded.
   *
   * Decoding is checked and charged like handling: it can cost as much (Yjs builds every struct of
   * an update to validate it), and a frame refused as malformed costs its sender only a reconnect,
   * so uncharged, one address could keep the event loop busy without ever being slowed.
   */
  private handleHeld(): void {
    if (this.holdTimer !== undefined || this.offThreadFrameBytes > 0 || this.waitingForList) return;
    while (!this.closing && (this.decodedHead !== undefined || this.held.length > 0)) {
      if (this.room.isBusy) {
        // Its frames wait here, counted by the incoming bounds, until the list says it is ready.
        // The socket is still read (pausing and resuming every phone of every list a restart
        // loads cost 1,000 lists' load 50–80 ms): a phone sending more than those bounds allow
        // meanwhile is dropped, as one whose frames wait for a budget. A socket a budget had
        // paused is read again too: left unread, without the hold that excuses it from the
        // heartbeat, its pongs went unread and a live phone was dropped as dead ([B12]).
        this.waitingForList = true;
        if (this.socket.isPaused) this.socket.resume();
        return;
      }
      if (this.decodedHead === undefined) {
        // One check of the event-loop budget per message, before its decoding: the message is
        // then decoded and handled whatever it costs, and the address pays it off afterwards.
        const busyMs = this.loopBudgetWait();
        if (busyMs > 0) {
          this.holdFor(busyMs);
          return;
        }
        const { item: frame, readAt } = this.held[0] as Received<Uint8Array>;
        const offThread = this.decodesOffThread(frame);
        // One of the address's frames at a time on the worker (AddressBudget.decodesInFlight).
        if (offThread && this.options.addressBudget.decodesInFlight > 0) {
          this.pausedForDecodeTurn = true;
          this.holdFor(OFF_THREAD_TURN_RECHECK_MS);
          return;
        }
        const rateLimitedMs = this.rateWait(frame);
        if (rateLimitedMs > 0) {
          this.countThrottled('rate_limited');
          this.holdFor(rateLimitedMs);
          return;
        }
        if (offThread) {
          this.pausedForDecodeTurn = false;
          // Still counted as held until checked: the worker's queue is bounded by what the
          // address and the relay may hold unhandled, like the frames waiting here.
          this.held.shift();
          this.decodeOffThread(frame, readAt);
          return;
        }
        this.held.shift();
        this.heldBytes -= frame.length;
        const decoded = this.decodeCharged(frame);
        // Refused: the loop ends, and the socket is read again for the close handshake.
        if (decoded === undefined) continue;
        this.holdDecoded(decoded, readAt);
        // From the top, as the decoded head.
        continue;
      }
      const { item: message, readAt } = this.decodedHead;
      const storageLimitedMs = this.storageBudgetWait(message);
      if (storageLimitedMs > 0) {
        this.holdDecodedFor(storageLimitedMs);
        return;
      }
      const rateLimitedMs = this.deliveryBudgetWait(message);
      if (rateLimitedMs > 0) {
        this.holdDecodedFor(rateLimitedMs);
        return;
      }
      this.decodedHead = undefined;
      this.heldBytes -= this.decodedHeadBytes;
      this.decodedHeadBytes = 0;
      if (message.kind === 'sync-step-1' && !this.mayAnswerSyncRequest()) this.deferSyncRequest(message);
      else this.handle(message, readAt);
    }
    if (this.socket.isPaused) this.socket.resume();
  }

  /**
   * Stops reading the socket for `waitMs`, then goes on with the held frames. Looked at again at
   * least every HOLD_RECHECK_MS: a storage wait can be most of an hour, and the clock the budgets
   * read may be stepped meanwhile.
   */
  private holdFor(waitMs: number): void {
    this.keepWaitingPhoneListening();
    this.socket.pause();
    this.holdTimer = setTimeout(() => {
      this.holdTimer = undefined;
      this.handleHeld();
    }, Math.min(waitMs, HOLD_RECHECK_MS));
    this.holdTimer.unref();
  }

  /**
   * Keeps `message`, decoded from the oldest held frame, until its address's budgets let it
   * through, still counted as held for what it keeps in memory (retainedBytesOf): a decoded update
   * can wait for the stored-bytes budget most of an hour. Until the thirty-eighth session's review
   * a frame stopped counting once decoded, and 150 connections of one address in storage debt,
   * each sending a 7.9 MB update, took the relay to 1.3 GB with 16 MB counted ([DW2]).
   */
  private holdDecoded(message: IncomingMessage, readAt: number): void {
    this.decodedHead = { item: message, readAt };
    this.decodedHeadBytes = retainedBytesOf(message);
    this.heldBytes += this.decodedHeadBytes;
  }

  /**
   * Holds the decoded head for `waitMs`, under the incoming bounds as a read would be: it may keep
   * more than its frame (an update the worker cut into slices keeps both). Checked only once it
   * waits: handed over at once, a list-sized update is not refused for its slices.
   */
  private holdDecodedFor(waitMs: number): void {
    const bound = this.incoming.makeRoomFor(0);
    if (bound !== undefined) {
      this.dropForIncoming(bound, false);
      return;
    }
    this.holdFor(waitMs);
  }

  /** Decodes `frame`, charging the time to the address; undefined (and the socket refused) if malformed. */
  private decodeCharged(frame: Uint8Array): IncomingMessage | undefined {
    const started = performance.now();
    try {
      return decodeIncomingMessage(frame, { refuseListContent: this.options.limits.refuseListContent === true });
    } catch (error) {
      if (error instanceof ProtocolError) {
        this.refuse(CloseCode.malformedMessage, 'malformed message', 'malformed_message', { detail: error.message });
      } else {
        this.internalError(error);
      }
      return undefined;
    } finally {
      this.options.addressBudget.loopMs.charge(performance.now() - started);
    }
  }

  private decodesOffThread(frame: Uint8Array): boolean {
    const threshold = this.options.limits.offThreadDecodeBytes;
    return this.options.offThreadDecoder !== undefined && threshold !== undefined && frame.length >= threshold;
  }

  /**
   * Checks `frame` on the decode worker while the socket is not read; its later frames wait. The
   * worker's time is charged to the address as the event loop's would be: it is shared by every
   * address's large frames.
   */
  private decodeOffThread(frame: Uint8Array, readAt: number): void {
    const decoder = this.options.offThreadDecoder as OffThreadDecoder;
    this.options.addressBudget.decodesInFlight += 1;
    this.offThreadFrameBytes = frame.length;
    this.socket.pause();
    // Its presence queries wait unread behind the frame, as during a hold ([DW1]).
    this.keepWaitingPhoneListening();
    this.offThreadKeepaliveTimer = setInterval(() => this.keepWaitingPhoneListening(), HOLD_RECHECK_MS);
    this.offThreadKeepaliveTimer.unref();
    const started = performance.now();
    decoder.decode(frame, { refuseListContent: this.options.limits.refuseListContent === true }, this.addressGroup).then(
      ({ message, ms }) => this.decodedOffThread(frame, ms, () => this.holdDecoded(message, readAt)),
      (error: unknown) => this.decodedOffThread(frame, performance.now() - started, () => this.refuseUnchecked(frame, error)),
    );
  }

  /** The worker is done with `frame` (in `ms`): `next` runs unless the connection is closing. */
  private decodedOffThread(frame: Uint8Array, ms: number, next: () => void): void {
    const budget = this.options.addressBudget;
    budget.decodesInFlight -= 1;
    budget.loopMs.charge(ms);
    clearInterval(this.offThreadKeepaliveTimer);
    this.offThreadKeepaliveTimer = undefined;
    this.options.metrics.offThreadDecodeSeconds.observe(ms / 1000);
    this.offThreadFrameBytes = 0;
    this.heldBytes -= frame.length;
    if (this.socket.readyState === this.socket.CLOSED) {
      // Counted until now (onSocketClosed kept this frame's share).
      this.incoming.release();
      return;
    }
    // In a promise callback: anything thrown here would be an unhandled rejection.
    try {
      if (!this.closing) next();
      this.resumeAfterDecode();
    } catch (error) {
      this.internalError(error);
    }
  }

  /**
   * Reads the socket again (a budget that stops it now counts as stopping it, and a closing
   * socket must read the close handshake) and goes on with the held frames. Streams resume on the
   * next tick, so a budget that pauses it again at once lets nothing through meanwhile.
   */
  private resumeAfterDecode(): void {
    this.socket.resume();
    this.handleHeld();
  }

  /** Closes this connection for a frame the decode worker could not pass. */
  private refuseUnchecked(frame: Uint8Array, error: unknown): void {
    if (error instanceof ProtocolError) {
      this.refuse(CloseCode.malformedMessage, 'malformed message', 'malformed_message', { detail: error.message });
    } else if (error instanceof DecodeWorkerFailed && error.tooCostly) {
      // Valid or not, checking it took more memory or time than the worker has: it would again.
      this.refuse(CloseCode.messageTooLarge, 'message too costly to check', 'message_too_costly', { bytes: frame.length });
    } else {
      this.options.metrics.errors.inc({ kind: 'decode_worker_failed' });
      this.options.logger.error('connection.decode_worker_failed', { connection: this.id, listId: this.listId, error });
      this.close(CloseCode.tryAgainLater, 'try again later');
    }
  }

  /** 0 when the address has event-loop time left, else how long until it has. */
  private loopBudgetWait(): number {
    const { loopMs } = this.options.addressBudget;
    if (loopMs.hasCredit()) return 0;
    this.countThrottled('address_busy');
    return Math.max(1, loopMs.msUntil(1));
  }

  /**
   * 0 unless `message` carries an update and the address has stored its budget's worth: then how
   * long until it may store again. Only updates wait for it, as nothing else adds to the disk;
   * whether one adds anything is known only once applied, so each is let through on credit.
   */
  private storageBudgetWait(message: IncomingMessage): number {
    if (message.kind !== 'sync-update' && message.kind !== 'sync-step-2') return 0;
    const { storedBytes } = this.options.addressBudget;
    if (storedBytes.hasCredit()) return 0;
    this.countThrottled('address_storage_limited');
    return Math.max(1, storedBytes.msUntil(1));
  }

  /**
   * A phone whose frames wait hears nothing back: an update waiting for its address's storage
   * budget can wait minutes (past 64 MiB stored an hour), its socket unread meanwhile, so its
   * presence queries go unanswered; and one large frame on a slow uplink holds the phone's queries
   * behind it on its own side. The web app reconnected after 8 s of silence, every 8 s, and each
   * time sent its upload again from the start. So a phone that has heard nothing for
   * WAITING_PHONE_KEEPALIVE_MS is sent the list's presence, as if it had asked: it stays
   * connected, sees the others' edits, and its update is stored once it has arrived and the
   * budgets allow ([B11], [SL3]). Called at each hold (rechecked every second), every second
   * while its frame waits on the decode worker ([DW1]: behind other addresses' frames, a phone
   * heard nothing for 10 s), and at each read into a frame not yet whole.
   */
  private keepWaitingPhoneListening(): void {
    if (this.closing || this.options.now() - this.lastSentAt < WAITING_PHONE_KEEPALIVE_MS) return;
    this.room.answerPresenceQuery(this);
  }

  /** Its address's share of the presence held on every list. */
  get presenceShare(): PresenceShare {
    return this.options.addressBudget.presenceBytes;
  }

  /** Called by the room for what this connection's update added to the list's stored log. */
  chargeStoredBytes(bytes: number): void {
    this.options.addressBudget.storedBytes.charge(bytes);
  }

  /** Called by the room once it takes messages again (loaded, or done with one applied in slices). */
  listReady(): void {
    if (!this.waitingForList) return;
    this.waitingForList = false;
    this.handleHeld();
  }

  /** Called by the room for the time its update's slices took, after `handle` returned. */
  chargeLoopMs(ms: number): void {
    this.options.addressBudget.loopMs.charge(ms);
  }

  /**
   * 0 when the connection's own rates allow `frame` now (its message and bytes are then taken),
   * else how long to wait. Past them a phone is slowed, not closed: y-websocket sends a message per
   * transaction, so pasting 250 items was 250 messages at once, and the phone was closed with 1013
   * and reconnected mid-paste ([HP5]). The byte budget holds one message of the largest size, so
   * the wait is always finite.
   */
  private rateWait(frame: Uint8Array): number {
    const messageMs = this.messageBudget.msUntil(1);
    const byteMs = this.byteBudget.msUntil(frame.length);
    if (messageMs > 0 || byteMs > 0) return Math.max(1, messageMs, byteMs);
    this.messageBudget.tryTake(1);
    this.byteBudget.tryTake(frame.length);
    return 0;
  }

  /** 0 when the address may have `message` delivered now (the deliveries are then taken), else how long to wait. */
  private deliveryBudgetWait(message: IncomingMessage): number {
    const { deliveries } = this.options.addressBudget;
    const cost = Math.min(deliveries.capacity, 1 + this.deliveriesOf(message));
    if (deliveries.tryTake(cost)) return 0;
    this.countThrottled('address_rate_limited');
    return Math.max(1, deliveries.msUntil(cost));
  }

  /** Counts each time reading stops, not each retry while it is stopped. */
  private countThrottled(kind: string): void {
    // A wait for the decode worker is not a budget's: the budget stopping it next is counted.
    if (!this.socket.isPaused || this.pausedForDecodeTurn) this.options.metrics.errors.inc({ kind });
    this.pausedForDecodeTurn = false;
  }

  /** Passes `message` (read at `readAt`) to the room and charges the time it took to the address's loop budget. */
  private handle(message: IncomingMessage, readAt: number): void {
    const started = performance.now();
    try {
      if (this.isPresenceEcho(message)) this.messageBudget.refund(1);
      this.room.receive(this, message, readAt);
    } catch (error) {
      this.internalError(error);
    } finally {
      this.options.addressBudget.loopMs.charge(performance.now() - started);
    }
  }

  /**
   * y-websocket re-sends every presence change it receives, so a phone sends as many messages as
   * the others on the list make changes: counted against its own rate, another member's allowed
   * rate got it closed with 1013. An echo changes nothing and is not relayed (Presence.apply), and
   * its bytes and the address's budgets are still charged, so it cannot buy anything for free.
   */
  private isPresenceEcho(message: IncomingMessage): boolean {
    return message.kind === 'awareness' && this.room.isReady && this.room.presence.isEcho(message.entries);
  }

  /** How many phones the room will send `message` on to (an update only if it changes the list). */
  private deliveriesOf(message: IncomingMessage): number {
    switch (message.kind) {
      case 'sync-step-2':
      case 'sync-update':
        return this.room.peerCount - 1;
      case 'awareness':
        // An echo changes nothing and is relayed to nobody (Presence.apply).
        return this.isPresenceEcho(message) ? 0 : this.room.peerCount;
      default:
        return 0;
    }
  }

  /**
   * Rather than closing the connection (a y-websocket client with a short `resyncInterval` would
   * reconnect and cost a full sync each time), its sync requests are merged and answered at the
   * budget's pace, each once the previous answer has been read: at most one waits per connection,
   * so a flood of them costs the relay nothing.
   */
  private deferSyncRequest(request: IncomingMessage): void {
    this.deferredSyncRequest = request;
    if (this.deferredSyncTimer !== undefined) return;
    this.options.metrics.errors.inc({ kind: 'sync_requests_deferred' });
    this.answerDeferredSyncRequestLater();
  }

  /** Looks again when the budget has refilled or, while an answer is unsent, every DRAIN_CHECK_MS. */
  private answerDeferredSyncRequestLater(): void {
    const waitMs = this.answerStillUnsent() ? DRAIN_CHECK_MS : this.syncRequestBudget.msUntil(1);
    this.deferredSyncTimer = setTimeout(() => {
      this.deferredSyncTimer = undefined;
      const deferred = this.deferredSyncRequest;
      if (deferred === undefined || this.closing) return;
      if (!this.mayAnswerSyncRequest()) {
        this.answerDeferredSyncRequestLater();
        return;
      }
      this.deferredSyncRequest = undefined;
      this.handle(deferred, this.options.now());
    }, waitMs);
    this.deferredSyncTimer.unref();
  }

  /** Takes one from the sync request budget if the backlog allows an answer and the budget has one. */
  private mayAnswerSyncRequest(): boolean {
    return !this.answerStillUnsent() && this.syncRequestBudget.tryTake(1);
  }

  /** Whether an earlier answer (or anything list-sized) still waits to be read by the peer, or to be cut into parts. */
  private answerStillUnsent(): boolean {
    return this.socket.bufferedAmount > SYNC_ANSWER_MAX_BACKLOG_BYTES || this.room.isCuttingAnswerFor(this);
  }

  /**
   * Which bound sending `messageBytes` more would pass: this connection's own, its address's or
   * the relay's, once connections holding more than this one have been dropped to make room
   * under the shared ones (see SharedBacklogs). The message counts: checking the backlog alone let
   * one connection hold its bound plus a list-sized message.
   */
  private backlogBoundPassedBy(messageBytes: number): 'connection' | BacklogBound | undefined {
    if (this.socket.bufferedAmount + this.unsentHeldBytes + messageBytes > this.options.limits.maxBufferedBytes) return 'connection';
    return this.options.sendBacklog.makeRoomFor(messageBytes);
  }

  /** `messageBytes`: what this connection was about to send; none when another's send needed the room. */
  private dropAsSlowConsumer(bound: 'connection' | BacklogBound, messageBytes?: number): void {
    this.options.metrics.errors.inc({ kind: SLOW_CONSUMER_KIND[bound] });
    this.options.logger.warn('connection.slow_consumer', {
      connection: this.id,
      listId: this.listId,
      remoteAddress: this.remoteAddress,
      bound,
      bufferedBytes: this.socket.bufferedAmount,
      ...(messageBytes === undefined ? { evictedForAnotherConnection: true } : { messageBytes }),
    });
    // A close frame would queue behind the backlog it is meant to stop. The peer sees 1006 and
    // reconnects (transient); what it held is freed with the socket, so it is no longer counted.
    this.closing = true;
    this.socket.terminate();
    this.options.sendBacklog.release();
  }

  /**
   * Each read may take what this connection holds of unfinished and waiting frames past its
   * address's or the relay's bound: connections holding more are dropped to make room, or this
   * one if it holds the most. Closing too: until its peer answers the close (or the socket is
   * cut), `ws` still reads its frames, and a peer refused with one message could hold a large
   * frame per socket, uncounted, for CLOSE_HANDSHAKE_MS.
   *
   * Bytes read are proof of life too: a phone uploading one large frame on a slow uplink cannot
   * answer a ping until the frame is sent (a pong may not interrupt it), and was cut off as dead
   * mid-upload, again and again, every upload starting over ([SL2]).
   */
  private onBytesRead(): void {
    this.liveness.alive();
    if (unhandledIncomingBytes(this.socket) > 0) this.keepWaitingPhoneListening();
    const bound = this.incoming.makeRoomFor(0);
    if (bound !== undefined) this.dropForIncoming(bound, false);
  }

  /**
   * Without this bound, 40 sockets from one address each sending 29 of a 30 MiB frame and
   * stopping took the relay to 1.2 GB, and 200 (MAX_CONNECTIONS_PER_IP) would take 6 GB. Dropped
   * like a slow consumer: a close frame would wait behind nothing here, but the socket's buffers
   * are only freed once it is gone, and the peer reconnects on 1006 either way.
   */
  private dropForIncoming(bound: BacklogBound, evictedForAnotherConnection: boolean): void {
    this.options.metrics.errors.inc({ kind: INCOMING_BOUND_KIND[bound] });
    this.options.logger.warn('connection.incoming_bound', {
      connection: this.id,
      listId: this.listId,
      remoteAddress: this.remoteAddress,
      bound,
      incomingBytes: this.incoming.bytes,
      ...(evictedForAnotherConnection ? { evictedForAnotherConnection } : {}),
    });
    this.closing = true;
    this.socket.terminate();
    this.incoming.release();
  }

  /** A bug, not the peer's fault: logged loudly, and only this connection is closed. */
  private internalError(error: unknown): void {
    this.options.metrics.errors.inc({ kind: 'handler_error' });
    this.options.logger.error('connection.handler_error', { connection: this.id, listId: this.listId, error });
    this.close(CloseCode.internalError, 'internal error');
  }

  /**
   * A frame `ws` refused itself, before the relay saw it (it closes the socket: 1009 for one too
   * large to read, 1007 for text that is not UTF-8, 1002 for a broken frame), counted and logged as
   * the relay's own refusals are: the most hostile frames were the invisible ones ([OM1]). Other
   * socket errors (a reset) are the network's.
   */
  private onSocketError(error: Error & { code?: string }): void {
    const code = error.code ?? '';
    if (!code.startsWith('WS_ERR_')) {
      this.options.logger.debug('connection.socket_error', { connection: this.id, error });
      return;
    }
    const kind = WS_ERROR_KIND[code] ?? 'malformed_frame';
    this.options.metrics.errors.inc({ kind });
    this.options.logger.warn('connection.refused', {
      connection: this.id,
      listId: this.listId,
      remoteAddress: this.remoteAddress,
      reason: error.message,
      wsError: code,
    });
  }

  private refuse(code: number, reason: string, kind: string, fields?: Record<string, unknown>): void {
    this.options.metrics.errors.inc({ kind });
    this.options.logger.warn('connection.refused', {
      connection: this.id,
      listId: this.listId,
      remoteAddress: this.remoteAddress,
      code,
      reason,
      ...fields,
    });
    this.close(code, reason);
  }

  private onSocketClosed(): void {
    this.closing = true;
    clearTimeout(this.deferredSyncTimer);
    this.deferredSyncTimer = undefined;
    this.deferredSyncRequest = undefined;
    clearTimeout(this.holdTimer);
    this.holdTimer = undefined;
    clearInterval(this.offThreadKeepaliveTimer);
    this.offThreadKeepaliveTimer = undefined;
    this.held.length = 0;
    // A frame still on the decode worker stays counted until it is checked ([K3]): a sender that
    // hangs up at once could otherwise queue large frames past every bound.
    this.heldBytes = this.offThreadFrameBytes;
    this.decodedHead = undefined;
    this.decodedHeadBytes = 0;
    this.options.sendBacklog.release();
    if (this.offThreadFrameBytes === 0) this.incoming.release();
    else this.incoming.update();
    this.options.addressBudget.lists.release(this.room);
    try {
      this.room.detach(this);
    } finally {
      // Whatever leaving the room threw, the server must forget this connection, or it counts
      // against the address's and the relay's connection limits for good.
      this.options.onClosed(this);
    }
  }
}

/**
 * The bytes `message` keeps in memory: the buffers its byte arrays view, each once (decoded on the
 * loop, a copy of the frame; from the worker, the update and the slices it was cut into).
 */
function retainedBytesOf(message: IncomingMessage): number {
  const arrays: readonly Uint8Array[] =
    message.kind === 'sync-step-1'
      ? [message.stateVector]
      : message.kind === 'sync-step-2' || message.kind === 'sync-update'
        ? [message.update, ...(message.sliced?.slices ?? [])]
        : message.kind === 'awareness'
          ? message.entries.map((entry) => entry.stateJson)
          : [];
  let bytes = 0;
  for (const buffer of new Set(arrays.map((array) => array.buffer))) bytes += buffer.byteLength;
  return bytes;
}

function toBytes(data: unknown): Uint8Array {
  if (data instanceof Uint8Array) return data;
  if (data instanceof ArrayBuffer) return new Uint8Array(data);
  if (Array.isArray(data)) return Buffer.concat(data as Buffer[]);
  throw new ProtocolError('unexpected frame payload');
}

import type { WorkerOptions } from 'node:worker_threads';
import { Worker } from 'node:worker_threads';
import * as Y from 'yjs';
import type { DecodeOptions, IncomingMessage, UnanchoredMapValue } from './protocol.js';
import { ProtocolError } from './protocol.js';
import type { TimedStoredListCut } from './stored-replay.js';
import type { StoredListCut } from './update-slices.js';

/**
 * A frame to check, the stored updates of a list being loaded, to cut those of `minBytes` or more
 * into slices, or the answer to a sync request, to cut into the messages sending it in parts.
 */
export type DecodeRequest = { readonly id: number } & (
  | { readonly frame: Uint8Array; readonly options: DecodeOptions }
  | { readonly storedList: readonly Uint8Array[]; readonly minBytes: number }
  | { readonly syncAnswer: Uint8Array; readonly maxPartBytes: number }
);

export type DecodeResponse = { readonly id: number; readonly ms: number } & (
  | { readonly message: IncomingMessage }
  | { readonly cut: StoredListCut }
  | { readonly answerMessages: Uint8Array[] }
  | { readonly error: { readonly protocol: boolean; readonly message: string } }
);

/** A decoded frame, and how long the worker took on it (charged to the sender's address). */
export interface OffThreadResult {
  readonly message: IncomingMessage;
  readonly ms: number;
}

/** Sent once by a worker whose message handler is in place: its requests' time starts then. */
interface WorkerReady {
  readonly ready: true;
}

/**
 * The worker could not check the frame: it ran out of its heap or its time (`tooCostly`: the
 * frame would cost as much again), or failed in some other way.
 */
export class DecodeWorkerFailed extends Error {
  override readonly name = 'DecodeWorkerFailed';
  constructor(
    message: string,
    readonly tooCostly: boolean,
  ) {
    super(message);
  }
}

export interface OffThreadDecoderOptions {
  /** The worker's old-generation heap, in MB: past it the worker dies, not the relay. */
  readonly maxHeapMb: number;
  /** How long one check may take on the worker: past it the worker is stopped, and the frame refused. */
  readonly maxCheckMs: number;
  /** How long an idle worker is kept (IDLE_WORKER_MS unless set). */
  readonly idleStopMs?: number;
}

/**
 * An idle worker is stopped after this long: its heap, grown to check one large frame, would
 * otherwise stay resident (nothing runs there to collect it). Starting one takes about 50 ms.
 */
const IDLE_WORKER_MS = 10_000;

/** A request waiting for the worker, or on it. */
interface Request {
  readonly id: number;
  readonly resolve: (response: DecodeResponse) => void;
  readonly reject: (error: Error) => void;
  /** The request, built when it goes to a worker (again to a new one, see failInFlight). */
  readonly build: (id: number) => DecodeRequest;
}

/**
 * Whose turn a request takes on the worker: the address group of the phone it is for (an IPv4
 * address, an IPv6 /64, as its per-address budgets count it), or one of the keys below.
 */
export type WorkerTurn = string;

/** The turn of every list being loaded (OffThreadDecoder.cutStored): loads take one turn together. */
export const LIST_LOADS_TURN: WorkerTurn = '(list loads)';
/** The turn of requests that name none (tests). */
const UNNAMED_TURN: WorkerTurn = '(unnamed)';

/**
 * Checks large frames on one worker thread. Checking builds every struct of an update (Yjs has
 * no lighter reader): an 8 MiB update of one-clock GC structs took the event loop about 1 s and
 * 0.8 GB of heap before Yjs even began applying it, and every list on the relay waited. On the
 * worker, the other lists go on; a frame that would exhaust the worker's heap kills only the
 * worker, which is started again for the next frame.
 *
 * One request at a time goes to the worker, the turns (addresses) taking one request each in
 * turn, each turn's own in the order sent: a phone's frame waits for one request of each other
 * address waiting, however many each has queued. One queue for all, in the order sent, had a
 * phone wait behind every frame and sync-answer cut queued before it, and its app reconnect
 * after 8 s of silence and upload again, at the back of the queue ([DW1], [DW5]). One worker is
 * enough: what it checks is charged to each sender's event-loop budget like the main thread's
 * work, so one address cannot keep it busy for long, and honest large messages (a long list's
 * first upload) are rare.
 */
export class OffThreadDecoder {
  private worker: Worker | undefined;
  /** Requests waiting, by turn; the turns in the order they go next (a turn served goes last). */
  private readonly waiting = new Map<WorkerTurn, Request[]>();
  /** The request on the worker, and that worker. */
  private inFlight: { readonly request: Request; readonly worker: Worker } | undefined;
  private nextId = 1;
  private closed = false;
  private idleTimer: NodeJS.Timeout | undefined;
  /** Bounds the worker's check of the request in flight (armCheckTimer). */
  private checkTimer: NodeJS.Timeout | undefined;
  private readonly readyWorkers = new WeakSet<Worker>();

  constructor(private readonly options: OffThreadDecoderOptions) {}

  /** Checks `frame`, in `turn` (its sender's address group). */
  async decode(frame: Uint8Array, decodeOptions: DecodeOptions, turn: WorkerTurn = UNNAMED_TURN): Promise<OffThreadResult> {
    const response = await this.request((id) => ({ id, frame, options: decodeOptions }), turn);
    if (!('message' in response)) throw new DecodeWorkerFailed('unexpected answer from the decode worker', false);
    return { message: withIds(response.message), ms: response.ms };
  }

  /**
   * A stored list being loaded: its updates of `minBytes` or more cut into slices to apply one per
   * event-loop turn, the heap all of them would take (cutStoredList), and the worker's time on it
   * (charged to the address that made the list load). Rejects if the worker fails. Every load
   * takes LIST_LOADS_TURN unless told another.
   */
  async cutStored(updates: readonly Uint8Array[], minBytes: number, turn: WorkerTurn = LIST_LOADS_TURN): Promise<TimedStoredListCut> {
    const response = await this.request((id) => ({ id, storedList: updates, minBytes }), turn);
    if (!('cut' in response)) throw new DecodeWorkerFailed('unexpected answer from the decode worker', false);
    return { ...response.cut, ms: response.ms };
  }

  /**
   * The messages sending `answer` to a phone (syncAnswerMessages), and the worker's time on them,
   * in `turn` (the asking phone's address group). Cutting decodes every struct of the answer: on
   * the event loop it took 1.1–1.7 s and ~60 times the answer's bytes in heap for a ~6 MB list of
   * toggled fields, enough to abort a relay whose heap held that list comfortably ([AP5], [AP6]).
   * Rejects if the worker fails.
   */
  async cutSyncAnswer(answer: Uint8Array, maxPartBytes: number, turn: WorkerTurn = UNNAMED_TURN): Promise<{ messages: Uint8Array[]; ms: number }> {
    const response = await this.request((id) => ({ id, syncAnswer: answer, maxPartBytes }), turn);
    if (!('answerMessages' in response)) throw new DecodeWorkerFailed('unexpected answer from the decode worker', false);
    return { messages: response.answerMessages, ms: response.ms };
  }

  private request(build: (id: number) => DecodeRequest, turn: WorkerTurn): Promise<DecodeResponse> {
    if (this.closed) return Promise.reject(new DecodeWorkerFailed('decoder closed', false));
    clearTimeout(this.idleTimer);
    this.idleTimer = undefined;
    return new Promise<DecodeResponse>((resolve, reject) => {
      const request: Request = { id: this.nextId++, resolve, reject, build };
      const queue = this.waiting.get(turn);
      if (queue === undefined) this.waiting.set(turn, [request]);
      else queue.push(request);
      this.startNext();
    });
  }

  /** Sends the next turn's request to the worker (started if need be) when none is on it. */
  private startNext(): void {
    if (this.inFlight !== undefined || this.closed) return;
    const next = this.waiting.entries().next();
    if (next.done === true) {
      this.stopWhenIdle();
      return;
    }
    const [turn, queue] = next.value;
    const request = queue.shift() as Request;
    // Its turn goes last: every other turn waiting has one request taken before its next.
    this.waiting.delete(turn);
    if (queue.length > 0) this.waiting.set(turn, queue);
    const worker = this.worker ?? this.startWorker();
    this.inFlight = { request, worker };
    try {
      worker.postMessage(request.build(request.id));
    } catch (error) {
      // Called from the worker's own events too: nothing may be thrown from here, nor the queue stop.
      this.inFlight = undefined;
      request.reject(error instanceof Error ? error : new Error(String(error)));
      this.startNext();
      return;
    }
    this.armCheckTimer();
  }

  /** Stops the worker; requests waiting or being checked fail with DecodeWorkerFailed. */
  async close(): Promise<void> {
    this.closed = true;
    clearTimeout(this.idleTimer);
    clearTimeout(this.checkTimer);
    const error = new DecodeWorkerFailed('decoder closed', false);
    const inFlight = this.inFlight;
    this.inFlight = undefined;
    inFlight?.request.reject(error);
    for (const queue of this.waiting.values()) for (const request of queue) request.reject(error);
    this.waiting.clear();
    const worker = this.worker;
    this.worker = undefined;
    if (worker !== undefined) await worker.terminate();
  }

  private startWorker(): Worker {
    const worker = startWorkerThread({ resourceLimits: { maxOldGenerationSizeMb: this.options.maxHeapMb } });
    // Never what keeps the process alive: the HTTP server does that while the relay runs.
    worker.unref();
    worker.on('message', (message: DecodeResponse | WorkerReady) => {
      if ('ready' in message) {
        this.readyWorkers.add(worker);
        this.armCheckTimer();
      } else {
        this.settle(message);
      }
    });
    worker.on('error', (error: Error & { code?: string }) => {
      if (this.worker === worker) this.worker = undefined;
      this.failInFlight(worker, new DecodeWorkerFailed(error.message, error.code === 'ERR_WORKER_OUT_OF_MEMORY'));
    });
    worker.on('exit', () => {
      if (this.worker === worker) this.worker = undefined;
      this.failInFlight(worker, new DecodeWorkerFailed('decode worker exited', false));
    });
    this.worker = worker;
    return worker;
  }

  private settle(response: DecodeResponse): void {
    const inFlight = this.inFlight;
    if (inFlight === undefined || inFlight.request.id !== response.id) return;
    this.inFlight = undefined;
    clearTimeout(this.checkTimer);
    this.checkTimer = undefined;
    if ('error' in response) {
      inFlight.request.reject(response.error.protocol ? new ProtocolError(response.error.message) : new Error(response.error.message));
    } else {
      inFlight.request.resolve(response);
    }
    this.startNext();
  }

  /**
   * Times the check in flight from when the worker could start it (ready). A check that never
   * ends (a bug like [P1]'s loop, met on the worker) would otherwise hold every large frame on the
   * relay behind it, and their phones, for good.
   */
  private armCheckTimer(): void {
    const inFlight = this.inFlight;
    if (inFlight === undefined || this.checkTimer !== undefined || !this.readyWorkers.has(inFlight.worker)) return;
    const maxCheckMs = this.options.maxCheckMs;
    this.checkTimer = setTimeout(() => {
      this.checkTimer = undefined;
      if (this.inFlight !== inFlight) return;
      const { worker } = inFlight;
      // As if out of heap: the check it was on is refused, those waiting go to a new worker.
      if (this.worker === worker) this.worker = undefined;
      this.failInFlight(worker, new DecodeWorkerFailed(`checking took over ${maxCheckMs} ms`, true));
      void worker.terminate();
    }, maxCheckMs);
    this.checkTimer.unref();
  }

  private stopWhenIdle(): void {
    clearTimeout(this.idleTimer);
    this.idleTimer = setTimeout(() => {
      this.idleTimer = undefined;
      const worker = this.worker;
      if (worker === undefined || this.inFlight !== undefined || this.waiting.size > 0) return;
      this.worker = undefined;
      void worker.terminate();
    }, this.options.idleStopMs ?? IDLE_WORKER_MS);
    this.idleTimer.unref();
  }

  /** Whether a worker thread is running now (started by a large frame, stopped when idle). */
  get running(): boolean {
    return this.worker !== undefined;
  }

  /**
   * Fails the request `worker` was on, if any: out of memory or time, it is the one to blame.
   * Those waiting were never sent to it and go to a new worker: queued on the failed worker, they
   * failed as too costly, and a phone whose frame waited behind an attacker's was refused for good
   * (4413), a list cut behind it judged by the worst-case guess ([K1]).
   */
  private failInFlight(worker: Worker, error: DecodeWorkerFailed): void {
    const inFlight = this.inFlight;
    if (inFlight === undefined || inFlight.worker !== worker) return;
    this.inFlight = undefined;
    clearTimeout(this.checkTimer);
    this.checkTimer = undefined;
    inFlight.request.reject(error);
    this.startNext();
  }
}

/** The compiled worker beside this module; from the TypeScript sources (the tests), through tsx. */
function startWorkerThread(options: WorkerOptions): Worker {
  const entry = import.meta.url.endsWith('.ts') ? './decode-worker-under-tsx.mjs' : './decode-worker.js';
  return new Worker(new URL(entry, import.meta.url), options);
}

/** Structured clone keeps an ID's fields but not its class: the room's checks expect Y.ID. */
function withIds(message: IncomingMessage): IncomingMessage {
  if (message.kind !== 'sync-step-2' && message.kind !== 'sync-update') return message;
  const unanchoredMapValues = message.unanchoredMapValues.map((value): UnanchoredMapValue => {
    const place = value.place;
    if ('keyOf' in place) return { ...value, place: { keyOf: Y.createID(place.keyOf.client, place.keyOf.clock) } };
    if (typeof place.parent === 'string') return value;
    return { ...value, place: { parent: Y.createID(place.parent.client, place.parent.clock), key: place.key } };
  });
  return { ...message, unanchoredMapValues };
}

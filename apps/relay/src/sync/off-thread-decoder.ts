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

interface Pending {
  readonly resolve: (response: DecodeResponse) => void;
  readonly reject: (error: Error) => void;
  /** The worker checking it: only its own failure fails this request. */
  worker: Worker;
  /** The request, to send again to a new worker (see failAllOf). */
  readonly build: (id: number) => DecodeRequest;
}

/**
 * Checks large frames on one worker thread. Checking builds every struct of an update (Yjs has
 * no lighter reader): an 8 MiB update of one-clock GC structs took the event loop about 1 s and
 * 0.8 GB of heap before Yjs even began applying it, and every list on the relay waited. On the
 * worker, the other lists go on; a frame that would exhaust the worker's heap kills only the
 * worker, which is started again for the next frame.
 *
 * Frames are checked one at a time, in the order sent. One worker is enough: what it checks is
 * charged to each sender's event-loop budget like the main thread's work, so one address cannot
 * keep it busy for long, and honest large messages (a long list's first upload) are rare.
 */
export class OffThreadDecoder {
  private worker: Worker | undefined;
  private readonly pending = new Map<number, Pending>();
  private nextId = 1;
  private closed = false;
  private idleTimer: NodeJS.Timeout | undefined;
  /** Bounds the current worker's check of its first request, `timedRequest` (armCheckTimer). */
  private checkTimer: NodeJS.Timeout | undefined;
  private timedRequest: number | undefined;
  private readonly readyWorkers = new WeakSet<Worker>();

  constructor(private readonly options: OffThreadDecoderOptions) {}

  async decode(frame: Uint8Array, decodeOptions: DecodeOptions): Promise<OffThreadResult> {
    const response = await this.request((id) => ({ id, frame, options: decodeOptions }));
    if (!('message' in response)) throw new DecodeWorkerFailed('unexpected answer from the decode worker', false);
    return { message: withIds(response.message), ms: response.ms };
  }

  /**
   * A stored list being loaded: its updates of `minBytes` or more cut into slices to apply one per
   * event-loop turn, the heap all of them would take (cutStoredList), and the worker's time on it
   * (charged to the address that made the list load). Rejects if the worker fails.
   */
  async cutStored(updates: readonly Uint8Array[], minBytes: number): Promise<TimedStoredListCut> {
    const response = await this.request((id) => ({ id, storedList: updates, minBytes }));
    if (!('cut' in response)) throw new DecodeWorkerFailed('unexpected answer from the decode worker', false);
    return { ...response.cut, ms: response.ms };
  }

  /**
   * The messages sending `answer` to a phone (syncAnswerMessages), and the worker's time on them.
   * Cutting decodes every struct of the answer: on the event loop it took 1.1–1.7 s and ~60 times
   * the answer's bytes in heap for a ~6 MB list of toggled fields, enough to abort a relay whose
   * heap held that list comfortably ([AP5], [AP6]). Rejects if the worker fails.
   */
  async cutSyncAnswer(answer: Uint8Array, maxPartBytes: number): Promise<{ messages: Uint8Array[]; ms: number }> {
    const response = await this.request((id) => ({ id, syncAnswer: answer, maxPartBytes }));
    if (!('answerMessages' in response)) throw new DecodeWorkerFailed('unexpected answer from the decode worker', false);
    return { messages: response.answerMessages, ms: response.ms };
  }

  private request(build: (id: number) => DecodeRequest): Promise<DecodeResponse> {
    if (this.closed) return Promise.reject(new DecodeWorkerFailed('decoder closed', false));
    clearTimeout(this.idleTimer);
    this.idleTimer = undefined;
    const worker = this.worker ?? this.startWorker();
    const id = this.nextId++;
    return new Promise<DecodeResponse>((resolve, reject) => {
      this.pending.set(id, { resolve, reject, worker, build });
      worker.postMessage(build(id));
      this.armCheckTimer();
    });
  }

  /** Stops the worker; frames still being checked fail with DecodeWorkerFailed. */
  async close(): Promise<void> {
    this.closed = true;
    clearTimeout(this.idleTimer);
    clearTimeout(this.checkTimer);
    const worker = this.worker;
    this.worker = undefined;
    if (worker === undefined) return;
    this.failAllOf(worker, new DecodeWorkerFailed('decoder closed', false));
    await worker.terminate();
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
      this.failAllOf(worker, new DecodeWorkerFailed(error.message, error.code === 'ERR_WORKER_OUT_OF_MEMORY'));
    });
    worker.on('exit', () => {
      if (this.worker === worker) this.worker = undefined;
      this.failAllOf(worker, new DecodeWorkerFailed('decode worker exited', false));
    });
    this.worker = worker;
    return worker;
  }

  private settle(response: DecodeResponse): void {
    const pending = this.pending.get(response.id);
    if (pending === undefined) return;
    this.pending.delete(response.id);
    if ('error' in response) {
      pending.reject(response.error.protocol ? new ProtocolError(response.error.message) : new Error(response.error.message));
    } else {
      pending.resolve(response);
    }
    this.armCheckTimer();
    if (this.pending.size === 0) this.stopWhenIdle();
  }

  private firstRequestOn(worker: Worker): number | undefined {
    for (const [id, pending] of this.pending) if (pending.worker === worker) return id;
    return undefined;
  }

  /**
   * Times the check the current worker is on: its first request (it takes them in order), from
   * when the worker could start it (ready, and the one before answered). A check that never ends
   * (a bug like [P1]'s loop, met on the worker) would otherwise hold every large frame on the
   * relay behind it, and their phones, for good.
   */
  private armCheckTimer(): void {
    const worker = this.worker;
    const first = worker !== undefined && this.readyWorkers.has(worker) ? this.firstRequestOn(worker) : undefined;
    // Still on the same check: its clock goes on.
    if (first !== undefined && first === this.timedRequest) return;
    clearTimeout(this.checkTimer);
    this.checkTimer = undefined;
    this.timedRequest = first;
    if (worker === undefined || first === undefined) return;
    const maxCheckMs = this.options.maxCheckMs;
    this.checkTimer = setTimeout(() => {
      this.checkTimer = undefined;
      this.timedRequest = undefined;
      if (this.worker !== worker) return;
      // As if out of heap: the check it was on is refused, those queued go to a new worker.
      this.worker = undefined;
      this.failAllOf(worker, new DecodeWorkerFailed(`checking took over ${maxCheckMs} ms`, true));
      void worker.terminate();
    }, maxCheckMs);
    this.checkTimer.unref();
  }

  private stopWhenIdle(): void {
    clearTimeout(this.idleTimer);
    this.idleTimer = setTimeout(() => {
      this.idleTimer = undefined;
      const worker = this.worker;
      if (worker === undefined || this.pending.size > 0) return;
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
   * Fails the requests of `worker`. Out of memory or time, only the one it was checking (the first
   * of its requests: it takes them in order) is to blame; those queued behind it go to a new
   * worker. They failed as too costly: a phone whose frame waited behind an attacker's was refused
   * for good (4413), and a list cut behind it judged by the worst-case guess ([K1]).
   */
  private failAllOf(worker: Worker, error: DecodeWorkerFailed): void {
    let first = true;
    for (const [id, pending] of this.pending) {
      if (pending.worker !== worker) continue;
      if (first || !error.tooCostly || this.closed) {
        this.pending.delete(id);
        pending.reject(error);
      } else {
        pending.worker = this.worker ?? this.startWorker();
        pending.worker.postMessage(pending.build(id));
      }
      first = false;
    }
    this.armCheckTimer();
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

/**
 * Load generator for the relay benchmark, run in its own process so it does not share an event
 * loop with the server. Each simulated phone speaks the y-websocket protocol frame for frame
 * (sync step 1/2, updates, durable acks) over `ws`, with its own Y.Doc producing real updates;
 * it skips the provider's timers and awareness so 5,000 of them fit beside the relay on 2 cores.
 *
 * Protocol with the orchestrator: one JSON line per phase on stdout; after each phase line the
 * generator waits for a line on stdin before continuing (so the server's RSS can be sampled).
 */
import * as decoding from 'lib0/decoding';
import * as encoding from 'lib0/encoding';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { createInterface } from 'node:readline';
import WebSocket from 'ws';
import * as Y from 'yjs';

const MESSAGE_SYNC = 0;
const MESSAGE_ACK = 100;

interface Options {
  mode: 'steady' | 'load';
  url: string;
  connections: number;
  lists: number;
  updatesPerSecond: number;
  seconds: number;
  /** Updates sent in the first seconds are not measured: every list's first write creates its files. */
  warmupSeconds: number;
}

function parseOptions(): Options {
  const json = process.argv[2];
  if (json === undefined) throw new Error('usage: load-generator <options json>');
  return JSON.parse(json) as Options;
}

const stdinLines = createInterface({ input: process.stdin });
const stdinQueue: Array<() => void> = [];
let goAhead = 0;
stdinLines.on('line', () => {
  const waiting = stdinQueue.shift();
  if (waiting === undefined) goAhead += 1;
  else waiting();
});
function report(fields: Record<string, unknown>): Promise<void> {
  process.stdout.write(JSON.stringify(fields) + '\n');
  if (goAhead > 0) {
    goAhead -= 1;
    return Promise.resolve();
  }
  return new Promise((resolve) => stdinQueue.push(resolve));
}

function listIdFor(index: number): string {
  return `benchList_${String(index).padStart(6, '0')}`;
}

function syncStep1(stateVector: Uint8Array): Uint8Array {
  const e = encoding.createEncoder();
  encoding.writeVarUint(e, MESSAGE_SYNC);
  encoding.writeVarUint(e, 0);
  encoding.writeVarUint8Array(e, stateVector);
  return encoding.toUint8Array(e);
}

function syncMessage(syncType: 1 | 2, update: Uint8Array): Uint8Array {
  const e = encoding.createEncoder();
  encoding.writeVarUint(e, MESSAGE_SYNC);
  encoding.writeVarUint(e, syncType);
  encoding.writeVarUint8Array(e, update);
  return encoding.toUint8Array(e);
}

const keepZeroMask = (): void => undefined;

const EMPTY_UPDATE = Y.encodeStateAsUpdate(new Y.Doc());

/**
 * Latency samples in preallocated typed arrays: growing JS arrays and maps of 100,000 entries
 * make old-space garbage, and this process's own garbage collections delay every message it is
 * timing (each latency spike in the traces lined up with a major GC of one of the two processes).
 */
class Samples {
  private values: Float64Array;
  length = 0;
  constructor(capacity: number) {
    this.values = new Float64Array(Math.max(16, capacity));
  }
  push(value: number): void {
    if (this.length === this.values.length) {
      const grown = new Float64Array(this.values.length * 2);
      grown.set(this.values);
      this.values = grown;
    }
    this.values[this.length++] = value;
  }
  at(index: number): number {
    return this.values[index] as number;
  }
  sorted(): Float64Array {
    return this.values.slice(0, this.length).sort();
  }
}

let fanoutMs = new Samples(0);
let ackMs = new Samples(0);
/** When each measured acked update was sent (to tell a steady tail from a few stalls). */
let ackSentAt = new Samples(0);

/**
 * Every update of the steady phase is made before it starts (`Phone.prepare`, called for all of
 * them in `steady`), so the timed window holds no Yjs transactions in this process. Made in the window, they were this
 * process's main garbage: it collected its young generation every ~1.2 s for 20–30 ms, with
 * ~6 MB surviving each time, and each such pause delayed every message it was timing, for any
 * server. Indexed by the update's place in the send order.
 */
const prepared = {
  /** When it was sent (performance.now()), NaN until then. */
  sentAt: new Float64Array(0),
  /** 1 if it was sent inside the measured window. */
  measured: new Uint8Array(0),
  /** (clientID, clock of its item) → its index, to time an update another phone receives. */
  indexByItem: new Map<number, number>(),
};
/** Item ids fit a double exactly: a clientID is below 2^32, and no phone writes 2^20 items. */
const itemKey = (client: number, clock: number): number => client * 2 ** 20 + clock;
let delivered = 0;
let measuring = false;

class Phone {
  // A given guid: Yjs would otherwise spend ~36 crypto calls per phone drawing a random UUID.
  readonly doc: Y.Doc;
  socket: WebSocket | undefined;
  synced = false;
  /** This phone's prepared updates in send order: the framed message, its index, its clock after. */
  private readonly frames: Uint8Array[] = [];
  private readonly indexes: number[] = [];
  private readonly clocksAfter: number[] = [];
  private sentCount = 0;
  private ackedCount = 0;

  constructor(readonly listId: string) {
    this.doc = new Y.Doc({ guid: listId });
  }

  connect(url: string): Promise<void> {
    return new Promise((resolve, reject) => {
      // Masking protects browsers from cache-poisoning proxies; a load generator on loopback
      // needs none, and drawing a random mask per frame would load this process, not the relay.
      const socket = new WebSocket(`${url}/${this.listId}`, { perMessageDeflate: false, generateMask: keepZeroMask });
      this.socket = socket;
      socket.binaryType = 'nodebuffer';
      socket.on('message', (data: Buffer) => this.onMessage(data, resolve));
      socket.once('error', reject);
      socket.once('open', () => socket.send(syncStep1(Y.encodeStateVector(this.doc))));
    });
  }

  /** Makes this phone's next update (one new item) now, to be sent by `sendNext`. */
  prepare(index: number): void {
    let update: Uint8Array | undefined;
    const capture = (u: Uint8Array): void => {
      update = u;
    };
    const number = this.frames.length + 1;
    this.doc.on('update', capture);
    this.doc.getMap('items').set(`i${number}`, { name: `Item ${number}`, quantity: 1, checked: false });
    this.doc.off('update', capture);
    if (update === undefined) throw new Error('Yjs made no update for a new item');
    const clockAfter = Y.getState(this.doc.store, this.doc.clientID);
    this.frames.push(syncMessage(2, update));
    this.indexes.push(index);
    this.clocksAfter.push(clockAfter);
    prepared.indexByItem.set(itemKey(this.doc.clientID, clockAfter - 1), index);
  }

  sendNext(): void {
    const socket = this.socket;
    if (socket === undefined || socket.readyState !== WebSocket.OPEN) return;
    const local = this.sentCount;
    if (local >= this.frames.length) throw new Error('a phone ran out of prepared updates');
    this.sentCount += 1;
    const index = this.indexes[local] as number;
    prepared.measured[index] = measuring ? 1 : 0;
    prepared.sentAt[index] = performance.now();
    socket.send(this.frames[local] as Uint8Array);
  }

  private onMessage(data: Buffer, onSynced: () => void): void {
    const decoder = decoding.createDecoder(new Uint8Array(data.buffer, data.byteOffset, data.byteLength));
    const type = decoding.readVarUint(decoder);
    if (type === MESSAGE_SYNC) {
      const syncType = decoding.readVarUint(decoder);
      if (syncType === 0) {
        // The server's step 1: answer with what we have that it lacks (nothing, in this benchmark).
        this.socket?.send(syncMessage(1, EMPTY_UPDATE));
      } else if (syncType === 1) {
        if (!this.synced) {
          this.synced = true;
          onSynced();
        }
      } else if (syncType === 2) {
        decoding.readVarUint(decoder); // the update's length: it runs to the end of the frame
        this.onRemoteUpdate(decoder);
      }
    } else if (type === MESSAGE_ACK) {
      decoding.readVarUint(decoder); // the state vector's length
      this.onAck(storedClockOf(decoder, this.doc.clientID));
    }
  }

  private onAck(stored: number): void {
    const now = performance.now();
    while (this.ackedCount < this.sentCount && (this.clocksAfter[this.ackedCount] as number) <= stored) {
      const index = this.indexes[this.ackedCount] as number;
      this.ackedCount += 1;
      if (prepared.measured[index] === 1) {
        const sentAt = prepared.sentAt[index] as number;
        ackMs.push(now - sentAt);
        ackSentAt.push(sentAt);
      }
    }
  }

  /** Reads the first struct's (client, clock) of a v1 update to find when it was sent. */
  private onRemoteUpdate(decoder: decoding.Decoder): void {
    const clients = decoding.readVarUint(decoder);
    if (clients === 0) return;
    decoding.readVarUint(decoder);
    const client = decoding.readVarUint(decoder);
    const clock = decoding.readVarUint(decoder);
    if (client === this.doc.clientID) return; // the reference server echoes to the sender
    const index = prepared.indexByItem.get(itemKey(client, clock));
    if (index === undefined || prepared.measured[index] !== 1) return;
    delivered += 1;
    fanoutMs.push(performance.now() - (prepared.sentAt[index] as number));
  }
}

/** This phone's clock in an encoded state vector, read in place (no Map per acknowledgement). */
function storedClockOf(decoder: decoding.Decoder, clientID: number): number {
  const entries = decoding.readVarUint(decoder);
  for (let i = 0; i < entries; i++) {
    const client = decoding.readVarUint(decoder);
    const clock = decoding.readVarUint(decoder);
    if (client === clientID) return clock;
  }
  return 0;
}

function percentile(samples: Samples, p: number): number {
  if (samples.length === 0) return NaN;
  const sorted = samples.sorted();
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] as number;
}

const round = (n: number): number => Math.round(n * 100) / 100;

function slowWindows(latencies: Samples, sentAt: Samples, windowMs: number): number {
  const threshold = percentile(latencies, 99);
  const windows = new Set<number>();
  for (let i = 0; i < latencies.length; i++) {
    if (latencies.at(i) >= threshold) windows.add(Math.floor(sentAt.at(i) / windowMs));
  }
  return windows.size;
}

async function connectAll(phones: Phone[], url: string, concurrency: number): Promise<number> {
  let next = 0;
  let failed = 0;
  const worker = async (): Promise<void> => {
    while (next < phones.length) {
      const phone = phones[next++] as Phone;
      try {
        await phone.connect(url);
      } catch {
        failed += 1;
      }
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  return failed;
}

const loopDelay = monitorEventLoopDelay({ resolution: 10 });

async function steady(options: Options): Promise<void> {
  const phones = Array.from({ length: options.connections }, (_, i) => new Phone(listIdFor(i % options.lists)));
  const rampStart = performance.now();
  const failed = await connectAll(phones, options.url, 100);
  const rampMs = performance.now() - rampStart;
  const open = phones.filter((p) => p.socket?.readyState === WebSocket.OPEN).length;
  await report({ phase: 'ramped', open, failed, rampMs: round(rampMs) });

  const expectedUpdates = Math.ceil(options.updatesPerSecond * options.seconds * 1.05);
  ackMs = new Samples(expectedUpdates);
  ackSentAt = new Samples(expectedUpdates);
  fanoutMs = new Samples(expectedUpdates * Math.max(1, Math.ceil(options.connections / options.lists) - 1));
  // Seeded so runs are comparable: every phone on every list writes, in a random order.
  let seed = 0x2f6b1d;
  const nextPhone = (): Phone => {
    seed = (seed + 0x6d2b79f5) >>> 0;
    let t = seed;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return phones[(((t ^ (t >>> 14)) >>> 0) % phones.length)] as Phone;
  };
  // The pacing below never sends more than this many.
  const updateCount = Math.floor(options.updatesPerSecond * options.seconds) + 1;
  const senders: Phone[] = [];
  prepared.sentAt = new Float64Array(updateCount).fill(Number.NaN);
  prepared.measured = new Uint8Array(updateCount);
  const prepareStart = performance.now();
  for (let index = 0; index < updateCount; index++) {
    const phone = nextPhone();
    phone.prepare(index);
    senders.push(phone);
  }
  await report({ phase: 'prepared', updates: updateCount, prepareMs: round(performance.now() - prepareStart) });

  const intervalMs = 10;
  const warmupEndsAt = performance.now() + options.warmupSeconds * 1000;
  let sent = 0;
  let measuredFrom = 0;
  let measuredStart = 0;
  const start = performance.now();
  await new Promise<void>((resolve) => {
    const timer = setInterval(() => {
      const elapsed = performance.now() - start;
      if (!measuring && performance.now() >= warmupEndsAt) {
        measuring = true;
        loopDelay.enable();
        measuredFrom = sent;
        measuredStart = performance.now();
      }
      if (elapsed >= options.seconds * 1000) {
        clearInterval(timer);
        resolve();
        return;
      }
      // Paced against the clock, so a slow tick does not lower the offered rate.
      const count = Math.floor((elapsed / 1000) * options.updatesPerSecond - sent);
      for (let i = 0; i < count; i++) {
        (senders[sent] as Phone).sendNext();
        sent += 1;
      }
    }, intervalMs);
  });
  const steadyMs = performance.now() - start;
  loopDelay.disable();
  // Let the last fan-outs and acks arrive.
  await new Promise((resolve) => setTimeout(resolve, 1000));
  const stillOpen = phones.filter((p) => p.socket?.readyState === WebSocket.OPEN).length;
  const expectedDeliveries = (sent - measuredFrom) * (options.connections / options.lists - 1);
  await report({
    phase: 'steady-done',
    connections: stillOpen,
    updatesSent: sent,
    updatesPerSec: round(sent / (steadyMs / 1000)),
    measuredUpdates: sent - measuredFrom,
    measuredSeconds: round((start + steadyMs - measuredStart) / 1000),
    deliveredRatio: round(delivered / Math.max(1, expectedDeliveries)),
    fanoutP50Ms: round(percentile(fanoutMs, 50)),
    fanoutP99Ms: round(percentile(fanoutMs, 99)),
    ackP50Ms: ackMs.length === 0 ? null : round(percentile(ackMs, 50)),
    ackP99Ms: ackMs.length === 0 ? null : round(percentile(ackMs, 99)),
    acked: ackMs.length,
    // How many 250 ms windows the slowest 1 % of acks were sent in: a few means the tail is
    // stalls (garbage collections of either process, see docs/benchmark-history.md), many means a steady queue.
    slowAckWindows: slowWindows(ackMs, ackSentAt, 250),
    // Latencies are taken on this process's event loop: its own delay is part of every figure.
    generatorLoopDelayP99Ms: round(loopDelay.percentile(99) / 1e6),
    generatorLoopDelayMaxMs: round(loopDelay.max / 1e6),
  });
  for (const phone of phones) phone.socket?.terminate();
}

async function loadLists(options: Options): Promise<void> {
  const phones = Array.from({ length: options.lists }, (_, i) => new Phone(listIdFor(i)));
  const start = performance.now();
  const failed = await connectAll(phones, options.url, 200);
  const loadListsMs = performance.now() - start;
  await report({ phase: 'loaded', lists: options.lists, failed, loadListsMs: round(loadListsMs) });
  for (const phone of phones) phone.socket?.terminate();
}

const options = parseOptions();
const run = options.mode === 'steady' ? steady(options) : loadLists(options);
run.then(
  () => process.exit(0),
  (error: unknown) => {
    process.stderr.write(`load generator failed: ${String(error)}\n`);
    process.exit(1);
  },
);

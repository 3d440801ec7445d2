import type { ChildProcess } from 'node:child_process';
import { execFileSync } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import * as decoding from 'lib0/decoding';
import * as encoding from 'lib0/encoding';
import { afterEach, beforeEach } from 'vitest';
import WebSocket from 'ws';
import { WebsocketProvider } from 'y-websocket';
import * as Y from 'yjs';
import { DEFAULT_LIMITS } from '../src/config.js';
import type { RelayLimits } from '../src/http/relay-server.js';
import { RelayServer } from '../src/http/relay-server.js';
import type { Logger } from '../src/log.js';
import { silentLogger } from '../src/log.js';
import type { RelayMetrics } from '../src/metrics.js';
import { LOCK_FILE_NAME } from '../src/storage/data-dir-lock.js';
import type { ListStorage, StoredList } from '../src/storage/list-storage.js';
import { MemoryListStorage } from '../src/storage/memory-storage.js';
import { encodeSyncUpdate, MESSAGE_DURABLE_ACK } from '../src/sync/protocol.js';

/** Storage whose loads and appends wait until the test releases them. */
export class GatedStorage implements ListStorage {
  readonly inner = new MemoryListStorage();
  private loadGate: Promise<void> = Promise.resolve();
  private appendGate: Promise<void> = Promise.resolve();
  private openLoad: (() => void) | undefined;
  private openAppend: (() => void) | undefined;
  loadsStarted = 0;
  appendsStarted = 0;
  appendsFinished = 0;

  holdLoads(): void {
    this.loadGate = new Promise((resolve) => (this.openLoad = resolve));
  }
  releaseLoads(): void {
    this.openLoad?.();
  }
  holdAppends(): void {
    this.appendGate = new Promise((resolve) => (this.openAppend = resolve));
  }
  releaseAppends(): void {
    this.openAppend?.();
  }
  async load(listId: string): Promise<StoredList> {
    this.loadsStarted += 1;
    await this.loadGate;
    return this.inner.load(listId);
  }
  async append(listId: string, updates: readonly Uint8Array[]): Promise<void> {
    this.appendsStarted += 1;
    await this.appendGate;
    await this.inner.append(listId, updates);
    this.appendsFinished += 1;
  }
  compact(listId: string, snapshot: Uint8Array): Promise<void> {
    return this.inner.compact(listId, snapshot);
  }
  release(): Promise<void> {
    return this.inner.release();
  }
  close(): Promise<void> {
    return this.inner.close();
  }
}

export interface RunningRelay {
  readonly relay: RelayServer;
  readonly port: number;
  readonly syncUrl: string;
  readonly storage: ListStorage;
  close(): Promise<void>;
}

export async function startRelay(
  options: {
    storage?: ListStorage;
    limits?: Partial<RelayLimits>;
    staticDir?: string;
    metrics?: RelayMetrics;
    trustedProxies?: readonly string[];
    logger?: Logger;
    now?: () => number;
    httpIdleMs?: number;
    httpHeadersMs?: number;
    staticInMemoryBytes?: number;
  } = {},
): Promise<RunningRelay> {
  const storage = options.storage ?? new MemoryListStorage();
  const relay = new RelayServer({
    limits: { ...DEFAULT_LIMITS, maxConnectionsPerIp: 10_000, maxDeliveriesPerIpPerSecond: 1_000_000, maxLoopMsPerIpPerSecond: 100_000, maxStoredBytesPerIpPerHour: Number.MAX_SAFE_INTEGER, ...options.limits },
    storage,
    logger: options.logger ?? silentLogger,
    staticDir: options.staticDir,
    metrics: options.metrics,
    trustedProxies: options.trustedProxies,
    now: options.now,
    ...(options.httpIdleMs === undefined ? {} : { httpIdleMs: options.httpIdleMs }),
    ...(options.httpHeadersMs === undefined ? {} : { httpHeadersMs: options.httpHeadersMs }),
    ...(options.staticInMemoryBytes === undefined ? {} : { staticInMemoryBytes: options.staticInMemoryBytes }),
  });
  const address = await relay.listen(0, '127.0.0.1');
  return {
    relay,
    port: address.port,
    syncUrl: `ws://127.0.0.1:${address.port}/sync`,
    storage,
    close: () => relay.close(),
  };
}

export async function temporaryDirectory(prefix: string): Promise<{ dir: string; remove: () => Promise<void> }> {
  const dir = await mkdtemp(path.join(tmpdir(), prefix));
  return { dir, remove: () => rm(dir, { recursive: true, force: true }) };
}

/** A fresh directory for each test of the enclosing `describe`, removed after it: call the result for its path. */
export function directoryPerTest(prefix: string): () => string {
  let current: { dir: string; remove: () => Promise<void> } | undefined;
  beforeEach(async () => {
    current = await temporaryDirectory(prefix);
  });
  afterEach(async () => {
    await current?.remove();
    current = undefined;
  });
  return () => {
    if (current === undefined) throw new Error('directoryPerTest: only inside a test');
    return current.dir;
  };
}

let listCounter = 0;
/** A fresh valid list id per call. */
/**
 * A stored list holding one string of `chars` characters: cheap for Yjs to encode, so each sync
 * request of a few bytes asks the relay for that many. `update` is the whole list.
 */
export async function storedTextList(chars: number): Promise<{ storage: MemoryListStorage; listId: string; update: Uint8Array }> {
  const storage = new MemoryListStorage();
  const listId = newListId();
  const list = new Y.Doc();
  list.getText('t').insert(0, 'y'.repeat(chars));
  const update = Y.encodeStateAsUpdate(list);
  await storage.append(listId, [update]);
  return { storage, listId, update };
}

export function newListId(): string {
  listCounter += 1;
  return `testList_${process.pid}_${listCounter}_${Math.random().toString(36).slice(2, 8)}`;
}

/** An unmodified y-websocket client, plus a record of the durable acks it received. */
export interface Phone {
  readonly doc: Y.Doc;
  readonly provider: WebsocketProvider;
  readonly acks: Uint8Array[];
  /** True once the last ack's state vector covers every change this phone made. */
  isFullyStored(): boolean;
  destroy(): void;
}

export function connectPhone(
  syncUrl: string,
  listId: string,
  doc = new Y.Doc(),
  resyncIntervalMs?: number,
  socketClass: new (url: string, protocols?: string | string[]) => WebSocket = WebSocket,
): Phone {
  const provider = new WebsocketProvider(syncUrl, listId, doc, {
    WebSocketPolyfill: socketClass as unknown as typeof globalThis.WebSocket,
    disableBc: true,
    ...(resyncIntervalMs === undefined ? {} : { resyncInterval: resyncIntervalMs }),
  });
  const acks: Uint8Array[] = [];
  provider.messageHandlers[MESSAGE_DURABLE_ACK] = (_encoder, decoder) => {
    acks.push(decoding.readVarUint8Array(decoder));
  };
  return {
    doc,
    provider,
    acks,
    isFullyStored: () => {
      const last = acks.at(-1);
      if (last === undefined) return false;
      const ownClock = Y.getState(doc.store, doc.clientID);
      return (Y.decodeStateVector(last).get(doc.clientID) ?? 0) >= ownClock;
    },
    destroy: () => {
      provider.destroy();
      doc.destroy();
    },
  };
}

/** Whether state vector `stored` includes every clock in `wanted`. */
export function stateVectorCovers(stored: Uint8Array, wanted: Uint8Array): boolean {
  const storedClocks = Y.decodeStateVector(stored);
  for (const [client, clock] of Y.decodeStateVector(wanted)) {
    if ((storedClocks.get(client) ?? 0) < clock) return false;
  }
  return true;
}

/** Polls `condition` every 10 ms; by performance.now, which clock-steps.test.ts leaves alone when it steps Date.now. */
export async function waitFor(condition: () => boolean, timeoutMs = 5000, what = 'condition'): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  while (!condition()) {
    if (performance.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

/**
 * A raw WebSocket to the relay, for hostile frames; `forwardedFor`: the client address a relay
 * trusting 127.0.0.1 as a proxy takes it to come from.
 */
export function openRawSocket(syncUrl: string, listId: string, forwardedFor?: string): Promise<WebSocket> {
  return new Promise((resolve, reject) => {
    const socket = new WebSocket(`${syncUrl}/${listId}`, forwardedFor === undefined ? {} : { headers: { 'X-Forwarded-For': forwardedFor } });
    socket.binaryType = 'nodebuffer';
    socket.once('open', () => resolve(socket));
    socket.once('error', reject);
  });
}

export function closeCodeOf(socket: WebSocket, timeoutMs = 5000): Promise<number> {
  return new Promise((resolve, reject) => {
    if (socket.readyState === WebSocket.CLOSED) {
      reject(new Error('socket already closed'));
      return;
    }
    const timer = setTimeout(() => reject(new Error('socket not closed in time')), timeoutMs);
    socket.once('close', (code) => {
      clearTimeout(timer);
      resolve(code);
    });
  });
}

/** Kills the `flock` helper holding `dataDir`'s lock, as an outside hand would. */
export function killLockHelper(dataDir: string): void {
  execFileSync('pkill', ['-KILL', '-f', `^flock .*${path.join(dataDir, LOCK_FILE_NAME)} `]);
}

/**
 * A crafted update of one client's `count` items from `firstClock`, each written by `writeItem`
 * (its info byte, neighbours or parent, and content), with no deletions.
 */
function oneClientRun(client: number, firstClock: number, count: number, writeItem: (update: encoding.Encoder, i: number) => void): Uint8Array {
  const update = encoding.createEncoder();
  encoding.writeVarUint(update, 1);
  encoding.writeVarUint(update, count);
  encoding.writeVarUint(update, client);
  encoding.writeVarUint(update, firstClock);
  for (let i = 0; i < count; i++) {
    writeItem(update, i);
    encoding.writeVarUint(update, 1); // ContentAny: one value
    encoding.writeAny(update, i);
  }
  encoding.writeVarUint(update, 0);
  return encoding.toUint8Array(update);
}

function writeId(update: encoding.Encoder, { client, clock }: { client: number; clock: number }): void {
  encoding.writeVarUint(update, client);
  encoding.writeVarUint(update, clock);
}

/** Item info bits: ContentAny, and which of origin, right neighbour and map key are written. */
const CONTENT_ANY = 8;
const HAS_ORIGIN = 0x80;
const HAS_RIGHT_ORIGIN = 0x40;
const HAS_MAP_KEY = 0x20;

/**
 * A crafted update: `count` values of the root map `items`'s key `key` by one client, each with no
 * origin (no earlier value to follow), which Y.Map never writes twice for one phone. Yjs takes time
 * quadratic in their number to integrate them.
 */
export function unanchoredValuesUpdate(count: number, { client = 777, firstClock = 0, key = 'k' } = {}): Uint8Array {
  return oneClientRun(client, firstClock, count, (update) => {
    encoding.writeUint8(update, CONTENT_ANY | HAS_MAP_KEY);
    encoding.writeVarUint(update, 1); // the parent is a root type, by name
    encoding.writeVarString(update, 'items');
    encoding.writeVarString(update, key);
  });
}

/**
 * A crafted update: `count` items by one client with no origin, each naming only a right
 * neighbour, whose map key it takes: the item before it in this update, or `rightOf` for the
 * first. Y.Map never writes one; Yjs integrates a run of them on one key in quadratic time.
 */
export function rightNeighbourValuesUpdate(
  count: number,
  { client = 777, firstClock = 0, rightOf }: { client?: number; firstClock?: number; rightOf: { client: number; clock: number } },
): Uint8Array {
  return oneClientRun(client, firstClock, count, (update, i) => {
    encoding.writeUint8(update, CONTENT_ANY | HAS_RIGHT_ORIGIN);
    writeId(update, i === 0 ? rightOf : { client, clock: firstClock + i - 1 });
  });
}

/**
 * One client's items of the root array `items`, each after the one before but naming the second
 * item, on its left, as its right neighbour: a run sent in one-value pieces, which Yjs joins from
 * the right in quadratic time and memory (bench/slow-update-freeze.mjs, SHAPE=right-to-left).
 */
export function rightToLeftListUpdate(count: number, client = 424242): Uint8Array {
  return oneClientRun(client, 0, count, (update, i) => {
    if (i === 0) {
      encoding.writeUint8(update, CONTENT_ANY); // the start of the array: no neighbours, no key
      encoding.writeVarUint(update, 1);
      encoding.writeVarString(update, 'items');
      return;
    }
    encoding.writeUint8(update, i === 1 ? CONTENT_ANY | HAS_ORIGIN : CONTENT_ANY | HAS_ORIGIN | HAS_RIGHT_ORIGIN);
    writeId(update, { client, clock: i - 1 });
    if (i > 1) writeId(update, { client, clock: 1 });
  });
}

/**
 * One client's `count` one-value items of the root array `items` from clock `firstClock`, each
 * after the one before: a run sent in pieces, as `Y.mergeUpdates` of one-value pushes writes it.
 * From clock 0 the first starts the array; later, it follows clock `firstClock - 1`.
 */
export function splitRunUpdate(count: number, { client = 424242, firstClock = 0 } = {}): Uint8Array {
  return oneClientRun(client, firstClock, count, (update, i) => {
    if (firstClock + i === 0) {
      encoding.writeUint8(update, CONTENT_ANY);
      encoding.writeVarUint(update, 1);
      encoding.writeVarString(update, 'items');
      return;
    }
    encoding.writeUint8(update, CONTENT_ANY | HAS_ORIGIN);
    writeId(update, { client, clock: firstClock + i - 1 });
  });
}

/**
 * An update of `structs` one-clock GC structs (2 bytes each) whose delete set claims clients it
 * does not hold: Yjs builds every struct before it finds the end missing, about 0.25 s per MiB
 * here, and the relay refuses it as malformed (4400).
 */
export function costlyMalformedUpdate(structs: number): Uint8Array {
  const update = encoding.createEncoder();
  encoding.writeVarUint(update, 1);
  encoding.writeVarUint(update, structs);
  encoding.writeVarUint(update, 1 + Math.floor(Math.random() * 1_000_000));
  encoding.writeVarUint(update, 0);
  for (let i = 0; i < structs; i++) {
    encoding.writeUint8(update, 0);
    encoding.writeVarUint(update, 1);
  }
  encoding.writeVarUint(update, 5);
  return encodeSyncUpdate(encoding.toUint8Array(update));
}

/**
 * A Yjs update of two clients' one-clock deleted items in the root array "order", each after the
 * other client's last (client 2's first item starts the array): nothing in it can be joined, and
 * applied in slices it needs the two clients in turn. `perClient` items each. With `cyclic`,
 * client 2's first item follows client 1's last instead, which follows it: no order integrates
 * them, and Yjs holds them all back.
 */
export function interleavedDeletedUpdate(perClient: number, cyclic = false): Uint8Array {
  const [first, second] = [2, 1];
  const update = encoding.createEncoder();
  encoding.writeVarUint(update, 2);
  for (const client of [first, second]) {
    encoding.writeVarUint(update, perClient);
    encoding.writeVarUint(update, client);
    encoding.writeVarUint(update, 0);
    for (let i = 0; i < perClient; i++) {
      if (client === first && i === 0 && cyclic) {
        encoding.writeUint8(update, 1 | 0x80);
        encoding.writeVarUint(update, second);
        encoding.writeVarUint(update, perClient - 1);
      } else if (client === first && i === 0) {
        encoding.writeUint8(update, 1); // ContentDeleted, no origins: the root array's start
        encoding.writeVarUint(update, 1);
        encoding.writeVarString(update, 'order');
      } else {
        encoding.writeUint8(update, 1 | 0x80); // after the other client's last item
        encoding.writeVarUint(update, client === first ? second : first);
        encoding.writeVarUint(update, client === first ? i - 1 : i);
      }
      encoding.writeVarUint(update, 1);
    }
  }
  encoding.writeVarUint(update, 0);
  return encoding.toUint8Array(update);
}

/**
 * Resolves with the port a relay started as a child process listens on, and what it logged up
 * to and including `relay.listening`; rejects if it exits first. Its output is drained afterwards.
 */
export function whenListening(child: ChildProcess): Promise<{ port: number; startupLog: string }> {
  return new Promise((resolve, reject) => {
    let buffered = '';
    const onData = (chunk: Buffer): void => {
      buffered += chunk.toString();
      const match = /"event":"relay.listening"[^\n]*"port":(\d+)/.exec(buffered);
      if (match) {
        child.stdout?.off('data', onData);
        child.stdout?.resume();
        resolve({ port: Number(match[1]), startupLog: buffered });
      }
    };
    child.stdout?.on('data', onData);
    child.once('exit', (code) => reject(new Error(`relay exited early with ${code}: ${buffered}`)));
  });
}

/** Resolves with the first durable ack's state vector; rejects with the close code if closed first. */
export function firstAck(socket: WebSocket, timeoutMs = 20_000): Promise<Map<number, number>> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('no acknowledgement in time')), timeoutMs);
    socket.on('message', (data: Buffer) => {
      if (data[0] !== MESSAGE_DURABLE_ACK) return;
      clearTimeout(timer);
      resolve(ackVector(new Uint8Array(data)));
    });
    socket.once('close', (code) => {
      clearTimeout(timer);
      reject(new Error(`closed with ${code}`));
    });
  });
}

/** The state vector a durable acknowledgement (message 100) carries. */
export function ackVector(message: Uint8Array): Map<number, number> {
  const decoder = decoding.createDecoder(message);
  decoding.readVarUint(decoder);
  return Y.decodeStateVector(decoding.readVarUint8Array(decoder));
}

/** Resolves 'settled' if `promise` settles within `ms`, else 'pending'. */
export function within(promise: Promise<unknown>, ms: number): Promise<'settled' | 'pending'> {
  return Promise.race([
    promise.then(
      () => 'settled' as const,
      () => 'settled' as const,
    ),
    new Promise<'pending'>((resolve) => setTimeout(() => resolve('pending'), ms)),
  ]);
}

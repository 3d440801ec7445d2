import path from 'node:path';
import { getHeapStatistics } from 'node:v8';
import { fileURLToPath } from 'node:url';
import type { LogLevel } from './log.js';
import { isLogLevel } from './log.js';
import { parseTrustedProxies } from './http/client-address.js';
import { MAX_RECORD_BYTES } from './storage/record-framing.js';

export interface RelayConfig {
  readonly port: number;
  readonly host: string | undefined;
  readonly dataDir: string;
  readonly staticDir: string;
  readonly logLevel: LogLevel;
  /** Reverse proxies whose X-Forwarded-For is believed (addresses or CIDR ranges). */
  readonly trustedProxies: readonly string[];
  readonly maxMessageBytes: number;
  readonly messagesPerSecond: number;
  readonly bytesPerSecond: number;
  /** After a burst, a connection's sync requests are answered at most once per this interval. */
  readonly syncRequestIntervalMs: number;
  readonly maxConnectionsPerIp: number;
  /** Messages from one IP plus the deliveries to other phones they cause, per second (burst 2×). */
  readonly maxDeliveriesPerIpPerSecond: number;
  /** Milliseconds of the event loop one IP's messages may take per second (burst 2×). */
  readonly maxLoopMsPerIpPerSecond: number;
  /** Bytes one IP's updates may add to the lists on disk in any hour (also the burst). */
  readonly maxStoredBytesPerIpPerHour: number;
  readonly maxConnections: number;
  readonly maxLoadedLists: number;
  /**
   * Sizes of all loaded lists together (ListRoom.sizeBytes): past it, idle lists are unloaded to
   * make room, and a list that does not fit is not loaded nor grown (see defaultMaxLoadedListBytes).
   */
  readonly maxLoadedListBytes: number;
  /**
   * Sizes of the loaded lists one address's connections are on, past which it may load or grow
   * another only while the loaded lists stay under half of maxLoadedListBytes (see RoomRegistry).
   */
  readonly maxLoadedListBytesPerIp: number;
  readonly maxListBytes: number;
  readonly maxBufferedBytes: number;
  /** Unsent bytes all connections from one address may hold together (see SharedBacklogs). */
  readonly maxBufferedBytesPerIp: number;
  /** Unsent bytes all connections may hold together. */
  readonly maxBufferedBytesTotal: number;
  /** Bytes read and not yet handled (frames still arriving or waiting) all connections from one address may hold together. */
  readonly maxIncomingBytesPerIp: number;
  /** Bytes read and not yet handled all connections may hold together. */
  readonly maxIncomingBytesTotal: number;
  readonly compactLogBytes: number;
  readonly idleUnloadMs: number;
  readonly pingIntervalMs: number;
  /** How long a clean shutdown may spend folding logs into snapshots so the next start loads fast. */
  readonly shutdownCompactMs: number;
  /** How often the write-ahead journal is copied into the list logs. */
  readonly checkpointIntervalMs: number;
  /** A journal segment this large is checkpointed at once. */
  readonly journalSegmentBytes: number;
  /** How long a starting relay waits for another to release DATA_DIR before refusing to start. */
  readonly dataDirLockWaitMs: number;
  /** Free disk bytes kept for lists already stored: below it, lists with nothing stored wait (0: off). */
  readonly newListReserveBytes: number;
  /** Refuse updates that put content in an array or text (Basket's documents are maps only). */
  readonly refuseListContent: boolean;
  /** Frames this large or larger are checked on a worker thread, off the event loop (0: never). */
  readonly offThreadDecodeBytes: number;
  /** The decode worker's heap (MB): a frame whose check needs more is refused, and the relay lives. */
  readonly decodeWorkerHeapMb: number;
  /** How long one check may take on the decode worker: a frame whose check takes longer is refused (4413). */
  readonly decodeWorkerCheckMs: number;
}

const MiB = 1024 * 1024;

/** The built web app, found relative to this file: apps/relay/dist → apps/web/dist. */
export function defaultStaticDir(): string {
  return path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../web/dist');
}

/**
 * A phone's first full sync of a list is one message holding the whole document, so a single
 * message must be allowed to be as large as the list may be; likewise a newcomer's sync step 2 is
 * one message of that size, so the send backlog tolerated before a peer counts as a slow consumer
 * must hold one such message plus headroom. A family adding 40 items a week reaches about 1 MB in
 * three years, 100 a week 1.6 MB in two (`bench/list-growth.mjs`), so 8 MiB is a decade or more
 * of honest use. Larger costs every other list: one valid 8 MiB message of the slowest kind holds
 * the event loop about 2 s and takes the relay to 0.7 GB on a quiet machine, a 32 MiB one 13 s
 * and 2.8 GB (`bench/slow-update-freeze.mjs`).
 */
const DEFAULT_MAX_LIST_BYTES = 8 * MiB;
/**
 * The most MAX_LIST_BYTES and MAX_MESSAGE_BYTES may be set to. Every update and every snapshot is
 * one record on disk, and a record over MAX_RECORD_BYTES reads back as damage: above a quarter of
 * it a list's snapshot, or one message, could be acknowledged and then quarantined at the next
 * load. (A 32 MiB message alone already holds the event loop for 13 s.)
 */
export const MAX_CONFIGURABLE_LIST_BYTES = MAX_RECORD_BYTES / 4;
const BUFFER_HEADROOM_BYTES = 8 * MiB;
const DEFAULT_MAX_BUFFERED_BYTES = DEFAULT_MAX_LIST_BYTES + BUFFER_HEADROOM_BYTES;
/**
 * Unsent bytes shared by an address's connections: a family's phones downloading a large list at
 * once each hold one list-sized answer, so a few per-connection bounds; without it the 200
 * connections an address may open could hold 16 MiB each (3.2 GB).
 */
const BUFFERED_CONNECTIONS_PER_IP = 4;
/** Unsent bytes of all connections: a few addresses' worth, a fraction of a small server's memory. */
const DEFAULT_MAX_BUFFERED_BYTES_TOTAL = 512 * MiB;
/**
 * An address may fill this many lists to the size limit in an hour (64 MiB at the default): a
 * family's first uploads of their largest lists pass at once, while one address can no longer
 * fill the disk list after list (each list has its own limit).
 */
const STORED_LISTS_PER_IP_PER_HOUR = 8;
/**
 * Incoming bytes shared by an address's connections: a family's phones uploading their largest
 * lists at once each hold one list-sized frame while it arrives.
 */
const INCOMING_FRAMES_PER_IP = 4;
/** Beyond this a buffered-bytes setting is a typo rather than a machine's memory. */
const MAX_BUFFERED_BYTES_SETTING = 64 * 1024 * MiB;

/**
 * Yjs holds a loaded list in at most 34 times its size (ListRoom.sizeBytes: its stored bytes, or
 * its estimated heap over 34 where the shape takes more; see heap-estimate.ts), so by default the
 * loaded lists may together be a fortieth of the heap: lists of the most costly kind then fill it
 * at most about seven eighths, where without a bound 25–40 lists at the size limit, each held by
 * one connection, took the process past its heap.
 */
const HEAP_BYTES_PER_LOADED_BYTE = 40;

function defaultMaxLoadedListBytes(maxListBytes: number): number {
  return Math.max(maxListBytes, Math.floor(getHeapStatistics().heap_size_limit / HEAP_BYTES_PER_LOADED_BYTE));
}

/**
 * An address's share of the loaded lists: an eighth of the room (13 MB here), at least one list
 * at the size limit. A family's lists store tens of kilobytes each; a carrier NAT's 200
 * connections (MAX_CONNECTIONS_PER_IP) on lists of 50 kB hold 10 MB, and the share binds only
 * once the room is half full.
 */
const LOADED_LIST_SHARES = 8;

function defaultMaxLoadedListBytesPerIp(maxListBytes: number, maxLoadedListBytes: number): number {
  return Math.max(maxListBytes, Math.floor(maxLoadedListBytes / LOADED_LIST_SHARES));
}

export const DEFAULT_LIMITS = {
  maxMessageBytes: DEFAULT_MAX_LIST_BYTES,
  messagesPerSecond: 100,
  bytesPerSecond: 1 * MiB,
  syncRequestIntervalMs: 5_000,
  maxConnectionsPerIp: 200,
  maxDeliveriesPerIpPerSecond: 5_000,
  maxLoopMsPerIpPerSecond: 250,
  maxStoredBytesPerIpPerHour: STORED_LISTS_PER_IP_PER_HOUR * DEFAULT_MAX_LIST_BYTES,
  maxConnections: 20_000,
  maxLoadedLists: 10_000,
  maxLoadedListBytes: defaultMaxLoadedListBytes(DEFAULT_MAX_LIST_BYTES),
  maxLoadedListBytesPerIp: defaultMaxLoadedListBytesPerIp(DEFAULT_MAX_LIST_BYTES, defaultMaxLoadedListBytes(DEFAULT_MAX_LIST_BYTES)),
  maxListBytes: DEFAULT_MAX_LIST_BYTES,
  maxBufferedBytes: DEFAULT_MAX_BUFFERED_BYTES,
  maxBufferedBytesPerIp: DEFAULT_MAX_BUFFERED_BYTES * BUFFERED_CONNECTIONS_PER_IP,
  maxBufferedBytesTotal: DEFAULT_MAX_BUFFERED_BYTES_TOTAL,
  maxIncomingBytesPerIp: INCOMING_FRAMES_PER_IP * maxReadableFrameBytes(DEFAULT_MAX_LIST_BYTES),
  maxIncomingBytesTotal: DEFAULT_MAX_BUFFERED_BYTES_TOTAL,
  compactLogBytes: 1 * MiB,
  idleUnloadMs: 30_000,
  pingIntervalMs: 30_000,
  // Well inside docker-compose's 30 s stop_grace_period, leaving time for the flush before it.
  shutdownCompactMs: 10_000,
  refuseListContent: false,
  // About 5 ms of checking on the event loop; a phone's edits are a few hundred bytes.
  offThreadDecodeBytes: 64 * 1024,
  // Checking the largest message (8 MiB of 2-byte structs) takes about 0.8 GB of heap.
  decodeWorkerHeapMb: 1536,
  // Checking the largest message takes about 1 s here: 30 times that is room for a slow machine.
  decodeWorkerCheckMs: 30_000,
} as const;

export const DEFAULT_STORAGE = {
  checkpointIntervalMs: 10_000,
  journalSegmentBytes: 8 * MiB,
  // A relay being replaced may still be flushing on SIGTERM; a crashed one frees the lock at once.
  dataDirLockWaitMs: 10_000,
  /**
   * Compactions running at once, each holding its temp snapshot open (part of the open-file
   * budget, file-limit.ts): as many as shutdown runs together (room-registry.ts).
   */
  maxConcurrentCompactions: 32,
  /**
   * Lists already stored grow slowly (a family's is about 1 MB after three years), so this is
   * weeks of their growth, journal segments and compactions included, after new lists stop.
   */
  newListReserveBytes: 256 * MiB,
} as const;

export function configFromEnvironment(env: NodeJS.ProcessEnv): RelayConfig {
  const maxListBytes = integer(env, 'MAX_LIST_BYTES', DEFAULT_LIMITS.maxListBytes, 1024, MAX_CONFIGURABLE_LIST_BYTES);
  const maxMessageBytes = integer(env, 'MAX_MESSAGE_BYTES', maxListBytes, 64, MAX_CONFIGURABLE_LIST_BYTES);
  // At least one list at the size limit, which may always load when nothing else is loaded.
  const maxLoadedListBytes = integer(env, 'MAX_LOADED_LIST_BYTES', defaultMaxLoadedListBytes(maxListBytes), maxListBytes);
  return {
    ...bufferedBytesLimits(env, maxListBytes),
    port: integer(env, 'PORT', 8080, 0, 65_535),
    host: env['HOST'] === undefined || env['HOST'] === '' ? undefined : env['HOST'],
    dataDir: dataDirFromEnvironment(env),
    staticDir: path.resolve(nonEmpty(env['STATIC_DIR']) ?? defaultStaticDir()),
    logLevel: logLevel(env['LOG_LEVEL']),
    trustedProxies: parseTrustedProxies(env['TRUSTED_PROXIES']),
    // Defaults follow MAX_LIST_BYTES so that changing it alone keeps the limits consistent.
    maxMessageBytes,
    ...incomingBytesLimits(env, maxMessageBytes),
    messagesPerSecond: integer(env, 'MAX_MESSAGES_PER_SECOND', DEFAULT_LIMITS.messagesPerSecond, 1),
    bytesPerSecond: integer(env, 'MAX_BYTES_PER_SECOND', DEFAULT_LIMITS.bytesPerSecond, 1024),
    syncRequestIntervalMs: integer(env, 'SYNC_REQUEST_INTERVAL_MS', DEFAULT_LIMITS.syncRequestIntervalMs, 1, MAX_TIMER_MS),
    maxConnectionsPerIp: integer(env, 'MAX_CONNECTIONS_PER_IP', DEFAULT_LIMITS.maxConnectionsPerIp, 1),
    maxDeliveriesPerIpPerSecond: integer(env, 'MAX_DELIVERIES_PER_IP_PER_SECOND', DEFAULT_LIMITS.maxDeliveriesPerIpPerSecond, 1),
    maxLoopMsPerIpPerSecond: integer(env, 'MAX_LOOP_MS_PER_IP_PER_SECOND', DEFAULT_LIMITS.maxLoopMsPerIpPerSecond, 1),
    maxStoredBytesPerIpPerHour: integer(env, 'MAX_STORED_BYTES_PER_IP_PER_HOUR', STORED_LISTS_PER_IP_PER_HOUR * maxListBytes, 1024),
    maxConnections: integer(env, 'MAX_CONNECTIONS', DEFAULT_LIMITS.maxConnections, 1),
    maxLoadedLists: integer(env, 'MAX_LOADED_LISTS', DEFAULT_LIMITS.maxLoadedLists, 1),
    maxLoadedListBytes,
    maxLoadedListBytesPerIp: integer(env, 'MAX_LOADED_LIST_BYTES_PER_IP', defaultMaxLoadedListBytesPerIp(maxListBytes, maxLoadedListBytes), 1024),
    maxListBytes,
    compactLogBytes: integer(env, 'COMPACT_LOG_BYTES', DEFAULT_LIMITS.compactLogBytes, 1024),
    idleUnloadMs: integer(env, 'IDLE_UNLOAD_MS', DEFAULT_LIMITS.idleUnloadMs, 0, MAX_TIMER_MS),
    pingIntervalMs: integer(env, 'PING_INTERVAL_MS', DEFAULT_LIMITS.pingIntervalMs, 100, MAX_TIMER_MS),
    shutdownCompactMs: integer(env, 'SHUTDOWN_COMPACT_MS', DEFAULT_LIMITS.shutdownCompactMs, 0, MAX_TIMER_MS),
    checkpointIntervalMs: integer(env, 'CHECKPOINT_INTERVAL_MS', DEFAULT_STORAGE.checkpointIntervalMs, 10, MAX_TIMER_MS),
    journalSegmentBytes: integer(env, 'JOURNAL_SEGMENT_BYTES', DEFAULT_STORAGE.journalSegmentBytes, 4096),
    dataDirLockWaitMs: integer(env, 'DATA_DIR_LOCK_WAIT_MS', DEFAULT_STORAGE.dataDirLockWaitMs, 0, MAX_TIMER_MS),
    newListReserveBytes: integer(env, 'NEW_LIST_RESERVE_BYTES', DEFAULT_STORAGE.newListReserveBytes, 0),
    // Off by default: with it the relay carries only map-only documents such as Basket's, which
    // closes a way to crash it (see "List content" in the README) but refuses Y.Text and Y.Array.
    refuseListContent: flag(env, 'REFUSE_LIST_CONTENT'),
    offThreadDecodeBytes: integer(env, 'OFF_THREAD_DECODE_BYTES', DEFAULT_LIMITS.offThreadDecodeBytes, 0),
    decodeWorkerHeapMb: integer(env, 'DECODE_WORKER_HEAP_MB', DEFAULT_LIMITS.decodeWorkerHeapMb, 64),
    decodeWorkerCheckMs: integer(env, 'DECODE_WORKER_CHECK_MS', DEFAULT_LIMITS.decodeWorkerCheckMs, 100, MAX_TIMER_MS),
  };
}

/**
 * The three bounds on unsent bytes, each at least the one before it: a connection must be able to
 * hold one list-sized answer, whichever bound counts it. Defaults follow MAX_LIST_BYTES.
 */
function bufferedBytesLimits(
  env: NodeJS.ProcessEnv,
  maxListBytes: number,
): Pick<RelayConfig, 'maxBufferedBytes' | 'maxBufferedBytesPerIp' | 'maxBufferedBytesTotal'> {
  // Less than a list would drop every newcomer to a full list as a slow consumer, each time it came back ([SV3]).
  const maxBufferedBytes = integer(env, 'MAX_BUFFERED_BYTES', maxListBytes + BUFFER_HEADROOM_BYTES, maxListBytes, MAX_BUFFERED_BYTES_SETTING);
  const perIpDefault = Math.min(maxBufferedBytes * BUFFERED_CONNECTIONS_PER_IP, MAX_BUFFERED_BYTES_SETTING);
  const maxBufferedBytesPerIp = integer(env, 'MAX_BUFFERED_BYTES_PER_IP', perIpDefault, maxBufferedBytes, MAX_BUFFERED_BYTES_SETTING);
  const totalDefault = Math.max(DEFAULT_MAX_BUFFERED_BYTES_TOTAL, maxBufferedBytesPerIp);
  const maxBufferedBytesTotal = integer(env, 'MAX_BUFFERED_BYTES_TOTAL', totalDefault, maxBufferedBytesPerIp, MAX_BUFFERED_BYTES_SETTING);
  return { maxBufferedBytes, maxBufferedBytesPerIp, maxBufferedBytesTotal };
}

/**
 * The two bounds on bytes read and not yet handled, the second at least the first: an address
 * must be able to send one frame of the largest size `ws` reads. Defaults follow MAX_MESSAGE_BYTES.
 */
function incomingBytesLimits(env: NodeJS.ProcessEnv, maxMessageBytes: number): Pick<RelayConfig, 'maxIncomingBytesPerIp' | 'maxIncomingBytesTotal'> {
  const oneFrame = maxReadableFrameBytes(maxMessageBytes);
  const perIpDefault = Math.min(oneFrame * INCOMING_FRAMES_PER_IP, MAX_BUFFERED_BYTES_SETTING);
  const maxIncomingBytesPerIp = integer(env, 'MAX_INCOMING_BYTES_PER_IP', perIpDefault, oneFrame, MAX_BUFFERED_BYTES_SETTING);
  const totalDefault = Math.max(DEFAULT_MAX_BUFFERED_BYTES_TOTAL, maxIncomingBytesPerIp);
  const maxIncomingBytesTotal = integer(env, 'MAX_INCOMING_BYTES_TOTAL', totalDefault, maxIncomingBytesPerIp, MAX_BUFFERED_BYTES_SETTING);
  return { maxIncomingBytesPerIp, maxIncomingBytesTotal };
}

/**
 * The largest frame `ws` reads: frames a little over MAX_MESSAGE_BYTES are read and refused with a
 * clear 4413; beyond this `ws` drops the socket itself (1009) before buffering the frame.
 */
export function maxReadableFrameBytes(maxMessageBytes: number): number {
  return Math.min(maxMessageBytes * 4, maxMessageBytes + 1024 * 1024);
}

/** Refused when misspelt: "verbose" running silently at info would hide what was asked for. */
function logLevel(raw: string | undefined): LogLevel {
  const value = raw?.trim() ?? '';
  if (value === '') return 'info';
  if (!isLogLevel(value)) throw new Error(`LOG_LEVEL must be one of debug, info, warn, error, got "${raw}"`);
  return value;
}

/**
 * The longest delay Node's timers take (2^31 − 1 ms, about 24.8 days): a longer one is run after
 * 1 ms instead, with only a warning, so "practically never" would become "all the time".
 */
const MAX_TIMER_MS = 2_147_483_647;

/** A yes/no setting: unset or empty is no; anything but 1/0, true/false, yes/no is refused. */
function flag(env: NodeJS.ProcessEnv, name: string): boolean {
  const value = (env[name] ?? '').trim().toLowerCase();
  if (value === '' || value === '0' || value === 'false' || value === 'no') return false;
  if (value === '1' || value === 'true' || value === 'yes') return true;
  throw new Error(`${name} must be 1 or 0 (true/false, yes/no), got "${env[name]}"`);
}

/** DATA_DIR as the relay reads it (the backup command reads it the same way). */
export function dataDirFromEnvironment(env: NodeJS.ProcessEnv): string {
  // An empty value is unset, as for HOST and the numbers: `DATA_DIR=` (an unset variable in an
  // env file or `docker run -e`) resolved to the working directory, and the relay wrote its
  // journal, lock and lists among the repository's (or the image's) own files.
  return path.resolve(nonEmpty(env['DATA_DIR']) ?? './data');
}

function nonEmpty(raw: string | undefined): string | undefined {
  return raw === undefined || raw.trim() === '' ? undefined : raw;
}

function integer(env: NodeJS.ProcessEnv, name: string, fallback: number, minimum: number, maximum = Number.MAX_SAFE_INTEGER): number {
  const raw = env[name];
  if (raw === undefined || raw.trim() === '') return fallback;
  // Decimal digits only: Number() would also take "0x1f90" or "1e3".
  const value = /^\s*\d+\s*$/.test(raw) ? Number(raw) : NaN;
  if (!Number.isSafeInteger(value) || value < minimum || value > maximum) {
    const range = maximum === Number.MAX_SAFE_INTEGER ? `≥ ${minimum}` : `from ${minimum} to ${maximum}`;
    throw new Error(`${name} must be an integer ${range}, got "${raw}"`);
  }
  return value;
}

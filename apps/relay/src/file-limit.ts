import { readFileSync } from 'node:fs';
import { DEFAULT_STORAGE } from './config.js';

/**
 * Every socket and every open file takes a file descriptor. Past the process's open-file limit
 * each accept and each list load fails with EMFILE: the list's phones are closed, reconnect at
 * once and fail again, and every other family's list is hit too. Refusing connections beyond
 * what the limit can hold (HTTP 429 on upgrade, which y-websocket retries with backoff) keeps the
 * relay working for those it holds.
 *
 * The budget, every part of it bounded whatever the number of loaded lists:
 * - RESERVED_FILES: Node itself (about 25: stdio, epoll, the listening socket, the DATA_DIR lock
 *   helper's pipe), the journal segment being written, one fsync of DATA_DIR at a time, a list
 *   load's read (synchronous, one at a time) or a rare repair, static files over 4 MiB being
 *   streamed (at most MAX_FILES_STREAMED; the app's files, smaller, are sent from memory).
 * - List logs: the disk storage holds at most `listLogsWithinFileLimit` open, least recently
 *   used closed first (storage/open-logs.ts).
 * - Compactions: at most `maxConcurrentCompactions` at once, each holding its temp snapshot.
 * - Plain HTTP sockets (`otherSockets`), then one socket per WebSocket connection.
 */
const RESERVED_FILES = 64;
const COMPACTION_FILES = DEFAULT_STORAGE.maxConcurrentCompactions;
/** A connection's socket. Its list's log is not counted per connection: logs have their own cap. */
const FILES_PER_CONNECTION = 1;
/**
 * Bounds of the list logs held open. A checkpoint copies each list written since the last one
 * into its log; a list whose log is not open costs an open, an fstat and (for the log it
 * replaces) a close more: 1,000 lists copied each checkpoint took 850–1,040 ms with 64 logs
 * open against 180–425 ms with all of them (about twice the CPU too). So logs get a quarter
 * of the limit (256 of the usual 1,024; 4,096, four times the benchmark's 1,000 lists, under
 * docker-compose's 65,536), and at least 64 on a tiny limit.
 */
const MIN_LIST_LOGS = 64;
const MAX_LIST_LOGS = 4096;

/** The soft open-file limit (Linux: /proc/self/limits); undefined when unknown or unlimited. */
export function openFileLimit(readLimits: () => string = () => readFileSync('/proc/self/limits', 'utf8')): number | undefined {
  let limits: string;
  try {
    limits = readLimits();
  } catch {
    return undefined;
  }
  const match = /^Max open files\s+(\d+)\s/m.exec(limits);
  return match === null ? undefined : Number(match[1]);
}

/** How many list logs the disk storage may hold open under `fileLimit` (undefined: unknown or unlimited). */
export function listLogsWithinFileLimit(fileLimit: number | undefined): number {
  if (fileLimit === undefined) return MAX_LIST_LOGS;
  return Math.min(MAX_LIST_LOGS, Math.max(MIN_LIST_LOGS, Math.floor(fileLimit / 4)));
}

/** How many WebSocket connections fit in `fileLimit` open files beside `otherSockets` plain HTTP ones. */
export function connectionsWithinFileLimit(fileLimit: number, otherSockets: number): number {
  const besidesSockets = RESERVED_FILES + COMPACTION_FILES + listLogsWithinFileLimit(fileLimit);
  return Math.max(1, Math.floor((fileLimit - besidesSockets - otherSockets) / FILES_PER_CONNECTION));
}

import { readFileSync } from 'node:fs';

/**
 * Every socket and every open list log takes a file descriptor. Past the process's open-file
 * limit each accept and each list load fails with EMFILE: the list's phones are closed, reconnect
 * at once and fail again, and every other family's list is hit too. Refusing connections beyond
 * what the limit can hold (HTTP 429 on upgrade, which y-websocket retries with backoff) keeps the
 * relay working for those it holds.
 */

/** Files for everything but connections: Node itself, the journal, checkpoint copies, snapshots, static files. */
const RESERVED_FILES = 64;
/** A connection's socket, plus its list's log in the worst case of one phone per list. */
const FILES_PER_CONNECTION = 2;

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

/** How many WebSocket connections fit in `fileLimit` open files beside `otherSockets` plain HTTP ones. */
export function connectionsWithinFileLimit(fileLimit: number, otherSockets: number): number {
  return Math.max(1, Math.floor((fileLimit - RESERVED_FILES - otherSockets) / FILES_PER_CONNECTION));
}

/**
 * A tiny structured logger: one JSON object per line on stdout. We do not use pino because the
 * relay logs events (connections, refusals, recoveries), never per message, so throughput does
 * not matter and a dependency would buy nothing.
 */
import { fstatSync, writeSync } from 'node:fs';
import { TokenBucket } from './token-bucket.js';

export type LogLevel = 'debug' | 'info' | 'warn' | 'error';

export type LogFields = Record<string, unknown>;

export interface Logger {
  debug(event: string, fields?: LogFields): void;
  info(event: string, fields?: LogFields): void;
  warn(event: string, fields?: LogFields): void;
  error(event: string, fields?: LogFields): void;
}

const LEVEL_RANK: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40 };

export function isLogLevel(value: string | undefined): value is LogLevel {
  return value !== undefined && Object.hasOwn(LEVEL_RANK, value);
}

export function parseLogLevel(value: string | undefined): LogLevel {
  return isLogLevel(value) ? value : 'info';
}

/**
 * Writes lines to `stream` until it fails, then drops them. A log pipe can close under the relay
 * (the process reading it died): each write then fails with EPIPE as an 'error' event, which,
 * unhandled, is an uncaught exception whose own log line fails again — found as a relay spinning
 * at 100 % CPU, its shutdown starved, after its parent was killed. Logs are not worth the lists.
 */
export function streamLineWriter(stream: NodeJS.WritableStream): (line: string) => void {
  let broken = false;
  stream.on('error', () => {
    broken = true;
  });
  return (line) => {
    if (!broken) stream.write(line + '\n');
  };
}

/**
 * Writes lines to the file open as `fd`, each on its own: one that fails is dropped and the next
 * is tried. A log file shares its disk with the lists (`>> relay.log`, systemd's
 * StandardOutput=append:); a full disk fails a write with ENOSPC, and a stream errs once and is
 * destroyed, so the relay logged nothing more, its recovery and shutdown included, once room
 * was made ([FD4]).
 */
export function fileLineWriter(fd: number): (line: string) => void {
  return (line) => {
    try {
      writeSync(fd, line + '\n');
    } catch {
      // Dropped; the disk may have room for the next one.
    }
  };
}

let stdoutWriter: ((line: string) => void) | undefined;
/** One writer (so one 'error' listener) for every logger on stdout. */
function writeToStdout(line: string): void {
  stdoutWriter ??= stdoutIsFile() ? fileLineWriter(1) : streamLineWriter(process.stdout);
  stdoutWriter(line);
}

function stdoutIsFile(): boolean {
  try {
    return fstatSync(1).isFile();
  } catch {
    return false;
  }
}

/** Lines per second (and burst) one event may write; 0 lines per second means no limit. */
export interface LogRate {
  readonly linesPerSecond: number;
  readonly burst: number;
}

/**
 * Enough for every line an incident writes, far below a flood. Lines are per event, not per
 * message, but a client can still cause one per connection (a refusal) as fast as it connects:
 * unlimited, that fills the disk the lists live on (Docker keeps container logs there), and a
 * pipe to a slow log reader blocks Node's event loop on each write.
 */
export const DEFAULT_LOG_RATE: LogRate = { linesPerSecond: 20, burst: 100 };

/** Per event: lines left to write, and how many were dropped since the last one written. */
class EventRateLimit {
  private readonly events = new Map<string, { budget: TokenBucket; dropped: number }>();

  constructor(
    private readonly rate: LogRate,
    private readonly now: () => number,
  ) {}

  /** Undefined: drop this line. Otherwise, how many lines of this event were dropped before it. */
  take(event: string): number | undefined {
    if (this.rate.linesPerSecond <= 0) return 0;
    let entry = this.events.get(event);
    if (entry === undefined) {
      entry = { budget: new TokenBucket(this.rate.linesPerSecond, this.rate.burst, this.now), dropped: 0 };
      this.events.set(event, entry);
    }
    if (!entry.budget.tryTake(1)) {
      entry.dropped += 1;
      return undefined;
    }
    const dropped = entry.dropped;
    entry.dropped = 0;
    return dropped;
  }
}

export function createJsonLogger(
  minimumLevel: LogLevel,
  writeLine: (line: string) => void = writeToStdout,
  now: () => number = Date.now,
  rate: LogRate = DEFAULT_LOG_RATE,
): Logger {
  const limit = new EventRateLimit(rate, now);
  const emit = (level: LogLevel, event: string, fields?: LogFields): void => {
    if (LEVEL_RANK[level] < LEVEL_RANK[minimumLevel]) return;
    const dropped = limit.take(event);
    if (dropped === undefined) return;
    // The metrics count every occurrence; the log says how many lines it left out.
    const record: LogFields = { time: new Date(now()).toISOString(), level, event, ...fields, ...(dropped > 0 ? { linesDropped: dropped } : {}) };
    let line: string;
    try {
      line = JSON.stringify(record, errorReplacer);
    } catch {
      line = JSON.stringify({ time: record['time'], level, event, note: 'unserializable fields' });
    }
    writeLine(line);
  };
  return {
    debug: (event, fields) => emit('debug', event, fields),
    info: (event, fields) => emit('info', event, fields),
    warn: (event, fields) => emit('warn', event, fields),
    error: (event, fields) => emit('error', event, fields),
  };
}

function errorReplacer(_key: string, value: unknown): unknown {
  if (value instanceof Error) return { name: value.name, message: value.message };
  return value;
}

export const silentLogger: Logger = {
  debug: () => undefined,
  info: () => undefined,
  warn: () => undefined,
  error: () => undefined,
};

import { configFromEnvironment } from './config.js';
import { connectionsWithinFileLimit, openFileLimit } from './file-limit.js';
import { PLAIN_HTTP_SOCKETS, RelayServer } from './http/relay-server.js';
import type { Logger } from './log.js';
import { createJsonLogger, parseLogLevel } from './log.js';
import { RelayMetrics } from './metrics.js';
import { unfinishedRestores } from './backup/restore-progress.js';
import { lockDataDir } from './storage/data-dir-lock.js';
import { DiskListStorage } from './storage/disk-storage.js';

/**
 * Each ends the relay cleanly: flush, 1012 to every phone, exit 0. SIGHUP is what a closed
 * terminal or SSH session sends a relay started by hand ([SV4]); there is no configuration to reload.
 */
const STOP_SIGNALS: readonly NodeJS.Signals[] = ['SIGTERM', 'SIGINT', 'SIGHUP'];

/** Entry point: `PORT=… DATA_DIR=… node apps/relay/dist/main.js`. */
async function main(): Promise<void> {
  const bootLogger = createJsonLogger(parseLogLevel(process.env['LOG_LEVEL']));
  let config;
  try {
    config = configFromEnvironment(process.env);
  } catch (error) {
    bootLogger.error('relay.bad_config', { error });
    process.exit(2);
  }
  const logger = createJsonLogger(config.logLevel);
  const {
    port,
    host,
    dataDir,
    staticDir,
    logLevel: _logLevel,
    trustedProxies,
    checkpointIntervalMs,
    journalSegmentBytes,
    dataDirLockWaitMs,
    newListReserveBytes,
    ...configured
  } = config;
  const limits = { ...configured, maxConnections: connectionsAllowedByFileLimit(configured.maxConnections, logger) };

  // Installed before the DATA_DIR lock wait (up to DATA_DIR_LOCK_WAIT_MS): a stop during it
  // would otherwise end the process by the signal, with no log line and its lock helper left
  // waiting ([SV5]).
  const booting = new AbortController();
  let relay: RelayServer | undefined;
  let stopping = false;
  const stop = (signal: NodeJS.Signals): void => {
    if (stopping) return;
    stopping = true;
    logger.info('relay.stopping', { signal });
    booting.abort();
    (relay?.close() ?? Promise.resolve()).then(
      () => {
        logger.info('relay.stopped', { signal });
        process.exit(0);
      },
      (error: unknown) => {
        logger.error('relay.stop_failed', { error });
        process.exit(1);
      },
    );
  };
  for (const signal of STOP_SIGNALS) process.on(signal, () => stop(signal));
  process.on('uncaughtException', (error: unknown) => {
    // Every handler catches its own errors; reaching here is a bug worth a loud line, but one
    // bad socket must not take every family's list offline. Anything can be thrown, null
    // included: a handler that threw on it would end the process ([SV6]).
    logger.error('relay.uncaught_exception', { error, stack: error instanceof Error ? error.stack : undefined });
  });
  process.on('unhandledRejection', (reason) => {
    logger.error('relay.unhandled_rejection', { error: reason });
  });

  const held = await holdDataDir(dataDir, dataDirLockWaitMs, booting.signal, logger);
  if (held === 'stopped') return;
  if (held === 'refused') process.exit(1);
  const unfinished = await unfinishedRestores(dataDir).catch((error: unknown) => [`(unreadable: ${String(error)})`]);
  if (unfinished.length > 0) {
    // Serving it would offer phones part of the backup's lists and part of the old ones.
    logger.error('relay.unfinished_restore', { dataDir, staging: unfinished, note: 'a restore was stopped part-way: run it again (README, Backups), then start the relay' });
    process.exit(1);
  }
  const metrics = new RelayMetrics();
  const storage = new DiskListStorage({
    dataDir,
    logger,
    checkpointIntervalMs,
    journalSegmentBytes,
    newListReserveBytes,
    observer: metrics.storageObserver,
  });
  const server = new RelayServer({ limits, storage, logger, staticDir, metrics, trustedProxies });

  try {
    const address = await server.listen(port, host);
    // Only now: until it listens, nothing is stored or acknowledged, and exiting loses nothing.
    relay = server;
    logger.info('relay.listening', { url: localUrl(address.address, address.port), host: address.address, port: address.port, dataDir, staticDir, limits, trustedProxies });
    if (process.env['UV_THREADPOOL_SIZE'] === undefined) {
      // Checkpoints and list loads fsync and read many list files at once; libuv's default 4
      // threads make them queue behind each other. It must be set before Node starts, so we can only advise.
      logger.info('relay.threadpool_hint', { note: 'set UV_THREADPOOL_SIZE=64 for many concurrently writing lists' });
    }
  } catch (error) {
    logger.error('relay.listen_failed', { port, host, error });
    process.exit(1);
  }
}

/** MAX_CONNECTIONS, or fewer when the open-file limit cannot hold that many (see file-limit.ts). */
function connectionsAllowedByFileLimit(maxConnections: number, logger: Logger): number {
  const fileLimit = openFileLimit();
  if (fileLimit === undefined) return maxConnections;
  const fitting = connectionsWithinFileLimit(fileLimit, PLAIN_HTTP_SOCKETS);
  if (fitting >= maxConnections) return maxConnections;
  logger.warn('relay.file_limit_low', {
    openFileLimit: fileLimit,
    maxConnections,
    connectionsAllowed: fitting,
    note: `raise the open-file limit (ulimit -n, or ulimits.nofile in docker-compose.yml) to hold MAX_CONNECTIONS, or set MAX_CONNECTIONS=${fitting} to accept this and not be warned`,
  });
  return fitting;
}

/**
 * Takes the one-relay-per-DATA_DIR lock before anything reads or writes there. 'refused': do not
 * start; 'stopped': a stop signal came while waiting for it.
 */
async function holdDataDir(dataDir: string, waitMs: number, signal: AbortSignal, logger: Logger): Promise<'held' | 'refused' | 'stopped'> {
  let outcome;
  try {
    outcome = await lockDataDir(dataDir, { waitMs, signal });
  } catch (error) {
    logger.error('relay.data_dir_lock_failed', { dataDir, error });
    return 'refused';
  }
  if (outcome.kind === 'abandoned') return 'stopped';
  if (outcome.kind === 'held') {
    logger.error('relay.data_dir_locked', {
      dataDir,
      owner: outcome.owner,
      waitedMs: waitMs,
      note: 'another relay is using this DATA_DIR; two relays on one directory would lose edits',
    });
    return 'refused';
  }
  if (outcome.kind === 'unavailable') {
    logger.warn('relay.data_dir_unlocked', { dataDir, reason: outcome.reason, note: 'make sure only one relay uses this DATA_DIR' });
    return 'held';
  }
  if (outcome.ownerUnwritten !== undefined) {
    logger.warn('relay.data_dir_lock_owner_unwritten', { dataDir, reason: outcome.ownerUnwritten, note: 'the lock is held; a second relay will not be told who holds it' });
  }
  void outcome.lock.lost.then((reason) => {
    // Another relay may take the directory now. Everything acknowledged is already on disk and
    // the next start replays it; writing on (even a flush) could interleave with that relay.
    logger.error('relay.data_dir_lock_lost', { dataDir, reason });
    process.exit(1);
  });
  return 'held';
}

/** Where a person on this machine opens the app: "::" or "0.0.0.0" listen on every address. */
function localUrl(host: string, port: number): string {
  if (host === '::' || host === '0.0.0.0') return `http://localhost:${port}`;
  return `http://${host.includes(':') ? `[${host}]` : host}:${port}`;
}

void main();

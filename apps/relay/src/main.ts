import { configFromEnvironment } from './config.js';
import { connectionsWithinFileLimit, openFileLimit } from './file-limit.js';
import { PLAIN_HTTP_SOCKETS, RelayServer } from './http/relay-server.js';
import type { Logger } from './log.js';
import { createJsonLogger, parseLogLevel } from './log.js';
import { RelayMetrics } from './metrics.js';
import { lockDataDir } from './storage/data-dir-lock.js';
import { DiskListStorage } from './storage/disk-storage.js';

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
  if (!(await holdDataDir(dataDir, dataDirLockWaitMs, logger))) process.exit(1);
  const metrics = new RelayMetrics();
  const storage = new DiskListStorage({
    dataDir,
    logger,
    checkpointIntervalMs,
    journalSegmentBytes,
    newListReserveBytes,
    observer: metrics.storageObserver,
  });
  const relay = new RelayServer({ limits, storage, logger, staticDir, metrics, trustedProxies });

  let stopping = false;
  const stop = (signal: string): void => {
    if (stopping) return;
    stopping = true;
    logger.info('relay.stopping', { signal });
    relay.close().then(
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
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
  process.on('uncaughtException', (error) => {
    // Every handler catches its own errors; reaching here is a bug worth a loud line, but one
    // bad socket must not take every family's list offline.
    logger.error('relay.uncaught_exception', { error, stack: error.stack });
  });
  process.on('unhandledRejection', (reason) => {
    logger.error('relay.unhandled_rejection', { error: reason });
  });

  try {
    const address = await relay.listen(port, host);
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

/** Takes the one-relay-per-DATA_DIR lock before anything reads or writes there; false: refuse to start. */
async function holdDataDir(dataDir: string, waitMs: number, logger: Logger): Promise<boolean> {
  let outcome;
  try {
    outcome = await lockDataDir(dataDir, { waitMs });
  } catch (error) {
    logger.error('relay.data_dir_lock_failed', { dataDir, error });
    return false;
  }
  if (outcome.kind === 'held') {
    logger.error('relay.data_dir_locked', {
      dataDir,
      owner: outcome.owner,
      waitedMs: waitMs,
      note: 'another relay is using this DATA_DIR; two relays on one directory would lose edits',
    });
    return false;
  }
  if (outcome.kind === 'unavailable') {
    logger.warn('relay.data_dir_unlocked', { dataDir, reason: outcome.reason, note: 'make sure only one relay uses this DATA_DIR' });
    return true;
  }
  void outcome.lock.lost.then((reason) => {
    // Another relay may take the directory now. Everything acknowledged is already on disk and
    // the next start replays it; writing on (even a flush) could interleave with that relay.
    logger.error('relay.data_dir_lock_lost', { dataDir, reason });
    process.exit(1);
  });
  return true;
}

/** Where a person on this machine opens the app: "::" or "0.0.0.0" listen on every address. */
function localUrl(host: string, port: number): string {
  if (host === '::' || host === '0.0.0.0') return `http://localhost:${port}`;
  return `http://${host.includes(':') ? `[${host}]` : host}:${port}`;
}

void main();

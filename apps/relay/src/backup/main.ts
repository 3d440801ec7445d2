import path from 'node:path';
import { dataDirFromEnvironment } from '../config.js';
import type { Logger } from '../log.js';
import { createJsonLogger, parseLogLevel } from '../log.js';
import { recordInventory } from './inventory.js';
import { BackupError, BackupNotSynced, copyLiveDataDir } from './live-copy.js';
import { DamagedBackup, restoreDataDir } from './restore.js';
import type { VerifiedCopy } from './verify-copy.js';
import { verifyCopy } from './verify-copy.js';

const USAGE = `usage, with DATA_DIR set as for the relay:
  node apps/relay/dist/backup/main.js backup <new directory>   copy every list while the relay runs
  node apps/relay/dist/backup/main.js restore <backup>         with the relay stopped: put a backup's lists in DATA_DIR
      [--accept-damage]   restore a backup found damaged too, the damage set aside in quarantine/
`;
const ACCEPT_DAMAGE = '--accept-damage';

/**
 * Entry point (README, "Backups"). Exit status 0: done, and every list reads back; 1: it failed
 * or was stopped (a failed or stopped backup leaves nothing at its destination), or it was done
 * but the lists hold damage or gaps (logged, with what the storage found: a backup, or a restore
 * with --accept-damage); 2: refused (usage, a missing directory, a destination that exists or runs
 * through a file, a relay running on DATA_DIR during a restore, a damaged backup to restore, a
 * DATA_DIR a restore is changing).
 */
async function main(args: readonly string[]): Promise<number> {
  const logger = createJsonLogger(parseLogLevel(process.env['LOG_LEVEL']));
  const [command, directoryArg, ...flags] = args;
  const acceptDamage = command === 'restore' && flags.length === 1 && flags[0] === ACCEPT_DAMAGE;
  if (directoryArg === undefined || (command !== 'backup' && command !== 'restore') || (flags.length > 0 && !acceptDamage)) {
    process.stderr.write(USAGE);
    return 2;
  }
  const dataDir = dataDirFromEnvironment(process.env);
  const directory = path.resolve(directoryArg);
  const interrupt = new AbortController();
  const stopOnSignal = interruptOnSignal(logger, command, interrupt);
  try {
    if (command === 'backup') {
      const fields = { dataDir, destination: directory, ...(await copyLiveDataDir(dataDir, directory, { signal: interrupt.signal })) };
      let verified;
      // Reading the copy back makes the logs of lists found only in the journal: under root's
      // umask (077) the relay's user could not read them, and the restore failed (EACCES).
      const umask = process.umask(0o022);
      try {
        verified = await verifyCopy(directory, logger, interrupt.signal);
        // What a restore checks the backup against: the read-back changed files (it cut torn tails, copied the journal into logs).
        await recordInventory(directory, verified, interrupt.signal);
      } catch (error) {
        logger.error('backup.unverified', { ...fields, error });
        return 1;
      } finally {
        process.umask(umask);
      }
      // Torn tails here are writes in flight during the copy, never acknowledged: not damage.
      return reportVerified(logger, 'backup', fields, verified, verified.failures.length > 0 || verified.incomplete.length > 0);
    }
    const { copied, verified, inventory, damaged, quarantined, setAside, finished } = await restoreDataDir(directory, dataDir, { logger, signal: interrupt.signal, acceptDamage });
    const checked = { ...(inventory === undefined ? {} : { inventory }), ...(quarantined.length === 0 ? {} : { quarantined }) };
    return reportVerified(logger, 'restore', { dataDir, backup: directory, setAside, finishedEarlier: finished, ...copied, ...checked }, verified, damaged);
  } catch (error) {
    if (error instanceof BackupError) {
      const found = error instanceof DamagedBackup ? error.found : {};
      logger.error(`${command}.refused`, { dataDir, directory, reason: error.message, ...found });
      return 2;
    }
    if (error instanceof BackupNotSynced) {
      logger.error('backup.unsynced', { dataDir, destination: directory, ...error.copied, error: error.cause, advice: 'the backup is whole at its destination but a power loss could take it: sync its file system (sync -f) before relying on it' });
      return 1;
    }
    if (interrupt.signal.aborted && error instanceof Error && error.name === 'AbortError') {
      const reason = command === 'backup' ? 'nothing was left at the destination' : 'DATA_DIR is as it was';
      logger.error(`${command}.interrupted`, { dataDir, directory, reason: `stopped by a signal before it was done: ${reason}` });
      return 1;
    }
    logger.error(`${command}.failed`, { dataDir, directory, error });
    return 1;
  } finally {
    stopOnSignal();
  }
}

/**
 * Ctrl-C, SIGTERM or SIGHUP (a closed terminal) stops either command before its next file, and
 * it cleans up after itself: a backup leaves nothing at its destination, a restore leaves
 * DATA_DIR as it was. Once a restore has begun moving files in DATA_DIR (renames, quick) it goes
 * on to its end. A second signal stops either at once. Returns what removes the handlers.
 */
function interruptOnSignal(logger: Logger, command: 'backup' | 'restore', interrupt: AbortController): () => void {
  const onSignal = (signal: NodeJS.Signals): void => {
    if (interrupt.signal.aborted) {
      logger.error(`${command}.stopped`, { signal, advice: 'stopped at once: see the README (Backups) for what may be left' });
      process.exit(1);
    }
    interrupt.abort();
    logger.warn(`${command}.stopping`, {
      signal,
      reason:
        command === 'backup'
          ? 'the copy stops before its next file and removes itself (a backup already in place stays, unverified)'
          : 'the copy stops before its next file and DATA_DIR stays as it was (a restore already moving files goes on to its end)',
    });
  };
  const signals: NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP'];
  for (const signal of signals) process.on(signal, onSignal);
  return () => {
    for (const signal of signals) process.off(signal, onSignal);
  };
}

function reportVerified(logger: Logger, command: 'backup' | 'restore', fields: Record<string, unknown>, verified: VerifiedCopy, damaged: boolean): number {
  if (!damaged) {
    // A mistyped DATA_DIR that exists backs up nothing, and restoring that would set every list aside.
    const warning = command === 'backup' && verified.lists === 0 ? { warning: 'no lists: is DATA_DIR right?' } : {};
    logger.info(`${command}.done`, { ...fields, verified, ...warning });
    return 0;
  }
  const held = command === 'backup' ? 'what DATA_DIR held' : 'what the backup held';
  const gaps = fields['quarantined'] === undefined ? '' : '; the edits after a list\'s gap are kept only in the quarantined copies of its files';
  logger.error(`${command}.damaged`, { ...fields, verified, advice: `the lists hold ${held}: see the storage lines above${gaps}` });
  return 1;
}

process.exitCode = await main(process.argv.slice(2));

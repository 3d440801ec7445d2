import { promises as fs } from 'node:fs';
import path from 'node:path';
import type { Logger } from '../log.js';
import { lockDataDir } from '../storage/data-dir-lock.js';
import { QUARANTINE_DIR, TEMP_SUFFIX } from '../storage/disk-storage.js';
import { syncDirectory } from '../storage/file-ops.js';
import type { BackupCopy } from './live-copy.js';
import { BACKUP_MANIFEST, BackupError, copyListFiles, holdsListFiles, isWithin, requireDirectory } from './live-copy.js';
import type { VerifiedCopy } from './verify-copy.js';
import { verifyCopy } from './verify-copy.js';

/** Where a restore puts what DATA_DIR held before it: inside DATA_DIR, the one place a container may write. */
export const SET_ASIDE_PREFIX = 'before-restore-';

export interface Restored {
  readonly copied: BackupCopy;
  readonly verified: VerifiedCopy;
  /** The directory in DATA_DIR now holding what was there before; undefined when it held nothing. */
  readonly setAside: string | undefined;
}

export interface RestoreOptions {
  readonly logger?: Logger;
  /** For the set-aside directory's name, which a person reads. */
  readonly wallClock?: () => number;
  /** Test seam: the `flock` command the DATA_DIR lock runs. */
  readonly flockCommand?: string;
}

/**
 * Puts a backup's lists into DATA_DIR for the relay's next start, and reads them back as the relay
 * will. Refused while a relay holds DATA_DIR. Nothing is deleted: the relay's own files in DATA_DIR
 * are moved into `before-restore-<time>/` inside it, which the relay ignores, until a person
 * removes it. The backup is only read, so it may be mounted read-only.
 */
export async function restoreDataDir(backup: string, dataDir: string, options: RestoreOptions = {}): Promise<Restored> {
  const source = path.resolve(backup);
  const target = path.resolve(dataDir);
  await requireDirectory(source, 'the backup');
  const [realSource, realTarget] = [await fs.realpath(source), await fs.realpath(target).catch(() => target)];
  // Set aside with DATA_DIR's other contents, such a backup would be gone before it was read. An
  // earlier restore's set-aside directory stays where it is: restoring it undoes that restore.
  const inDataDir = isWithin(realSource, realTarget) ? path.relative(realTarget, realSource).split(path.sep)[0] : undefined;
  if (isWithin(realTarget, realSource) || (inDataDir !== undefined && !inDataDir.startsWith(SET_ASIDE_PREFIX))) {
    throw new BackupError(`the backup ${source} and DATA_DIR (${target}) must not hold one another`);
  }
  const names = await fs.readdir(source);
  if (!names.includes(BACKUP_MANIFEST) && !holdsListFiles(names)) throw new BackupError(`${source} holds neither lists nor ${BACKUP_MANIFEST}: not a Basket backup`);
  const outcome = await lockDataDir(target, { waitMs: 0, ...(options.flockCommand === undefined ? {} : { flockCommand: options.flockCommand }) });
  if (outcome.kind === 'held') {
    const owner = outcome.owner === undefined ? '' : ` (pid ${outcome.owner.pid} on ${outcome.owner.host})`;
    throw new BackupError(`a relay (or another restore) is running on ${target}${owner}: stop it first`);
  }
  if (outcome.kind === 'unavailable') options.logger?.warn('restore.unlocked', { dataDir: target, reason: outcome.reason });
  const setAside = path.join(target, SET_ASIDE_PREFIX + new Date((options.wallClock ?? Date.now)()).toISOString().replace(/[:.]/g, '-'));
  try {
    try {
      const moved = await setAsideListFiles(target, setAside);
      const copied = await copyListFiles(source, target);
      const verified = await verifyCopy(target, options.logger);
      return { copied, verified, setAside: moved ? setAside : undefined };
    } catch (error) {
      const before = `the files DATA_DIR held before are in ${setAside}, or still in DATA_DIR where the move did not reach them`;
      throw new Error(`the restore stopped part-way (${String(error)}): ${before}`, { cause: error });
    }
  } finally {
    if (outcome.kind === 'acquired') await outcome.lock.release();
  }
}

/**
 * Moves the relay's own files in DATA_DIR (list files, journal segments, quarantine/, temp files)
 * into the new directory `setAside` there; false when there were none. Anything else stays: a
 * volume's root holds a `lost+found` the relay's user cannot move, and a move that failed on it
 * part-way left half the lists behind.
 */
async function setAsideListFiles(dataDir: string, setAside: string): Promise<boolean> {
  const names = (await fs.readdir(dataDir)).filter(isRelayFile);
  if (names.length === 0) return false;
  await fs.mkdir(setAside);
  for (const name of names) await fs.rename(path.join(dataDir, name), path.join(setAside, name));
  await syncDirectory(setAside);
  await syncDirectory(dataDir);
  return true;
}

function isRelayFile(name: string): boolean {
  return name === QUARANTINE_DIR || holdsListFiles([name]) || (name.endsWith(TEMP_SUFFIX) && holdsListFiles([name.slice(0, -TEMP_SUFFIX.length)]));
}

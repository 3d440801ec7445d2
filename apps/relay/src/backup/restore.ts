import { promises as fs } from 'node:fs';
import path from 'node:path';
import type { Logger } from '../log.js';
import { lockDataDir } from '../storage/data-dir-lock.js';
import { QUARANTINE_DIR, TEMP_SUFFIX } from '../storage/disk-storage.js';
import { syncDirectory } from '../storage/file-ops.js';
import type { BackupCopy } from './live-copy.js';
import { BACKUP_MANIFEST, BackupError, copyListFiles, holdsListFiles, isWithin, requireDirectory } from './live-copy.js';
import { isStaging, readSwap, SET_ASIDE_PREFIX, STAGING_PREFIX, writeSwap } from './restore-progress.js';
import type { VerifiedCopy } from './verify-copy.js';
import { verifyCopy } from './verify-copy.js';

export interface Restored {
  readonly copied: BackupCopy;
  readonly verified: VerifiedCopy;
  /** The directory in DATA_DIR now holding what was there before; undefined when it held nothing. */
  readonly setAside: string | undefined;
  /** Set-aside directories of earlier restores that were stopped part-way and are now whole. */
  readonly finished: readonly string[];
}

export interface RestoreOptions {
  readonly logger?: Logger;
  /** For the set-aside directory's name, which a person reads. */
  readonly wallClock?: () => number;
  /** Test seam: the `flock` command the DATA_DIR lock runs. */
  readonly flockCommand?: string;
  /** Stops the restore before its next file while it copies and reads back (Ctrl-C); DATA_DIR stays as it was. */
  readonly signal?: AbortSignal;
  /** Test seam: runs before each file of the swap is moved (a restore killed there). */
  readonly beforeMove?: (from: string) => Promise<void> | void;
  /**
   * Restores a backup the reading back found damage or gaps in (set aside in quarantine/, as a
   * relay would at its start); without it such a backup is refused and DATA_DIR stays as it was.
   */
  readonly acceptDamage?: boolean;
}

/** A backup the reading back found damaged or missing parts in, refused without acceptDamage. */
export class DamagedBackup extends BackupError {
  constructor(readonly verified: VerifiedCopy) {
    super('the backup holds damage or gaps (see the storage lines above): DATA_DIR is as it was. To restore it anyway, the damage set aside in quarantine/, run the restore again with --accept-damage');
  }
}

/**
 * Puts a backup's lists into DATA_DIR for the relay's next start, and reads them back as the relay
 * will. Refused while a relay holds DATA_DIR. Nothing is deleted: the relay's own files in DATA_DIR
 * are moved into `before-restore-<time>/` inside it, which the relay ignores, until a person
 * removes it. The backup is only read, so it may be mounted read-only.
 *
 * DATA_DIR is touched only once the backup has been copied whole into a staging directory inside
 * it and read back there: a backup that cannot be read (damaged, unreadable to this user, a disk
 * error) leaves DATA_DIR as it was. Then the old files are moved out and the staged ones in, by
 * renames, with the step reached written down first, so a restore stopped there (killed, a lost
 * terminal) is finished by the next one before anything else, and the relay refuses to start on
 * the half-swapped DATA_DIR meanwhile.
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
  if (/^\..+\.partial-/.test(path.basename(source))) throw new BackupError(`${source} is a backup that was stopped before it was done`);
  const names = await fs.readdir(source);
  if (!names.includes(BACKUP_MANIFEST) && !holdsListFiles(names)) throw new BackupError(`${source} holds neither lists nor ${BACKUP_MANIFEST}: not a Basket backup`);
  const outcome = await lockDataDir(target, { waitMs: 0, ...(options.flockCommand === undefined ? {} : { flockCommand: options.flockCommand }) });
  if (outcome.kind === 'held') {
    const owner = outcome.owner === undefined ? '' : ` (pid ${outcome.owner.pid} on ${outcome.owner.host})`;
    throw new BackupError(`a relay (or another restore) is running on ${target}${owner}: stop it first`);
  }
  if (outcome.kind === 'unavailable') options.logger?.warn('restore.unlocked', { dataDir: target, reason: outcome.reason });
  try {
    const finished = await finishEarlierRestores(target, options);
    const stamp = new Date((options.wallClock ?? Date.now)()).toISOString().replace(/[:.]/g, '-');
    const staging = path.join(target, STAGING_PREFIX + stamp);
    await fs.mkdir(staging);
    let copied: BackupCopy;
    let verified: VerifiedCopy;
    try {
      copied = await copyListFiles(source, staging, options.signal === undefined ? {} : { signal: options.signal });
      verified = await verifyCopy(staging, options.logger, options.signal);
    } catch (error) {
      await fs.rm(staging, { recursive: true, force: true });
      if (options.signal?.aborted) throw error;
      throw new Error(`the backup could not be read whole (${String(error)}): DATA_DIR is as it was`, { cause: error });
    }
    if ((verified.failures.length > 0 || verified.incomplete.length > 0) && options.acceptDamage !== true) {
      await fs.rm(staging, { recursive: true, force: true });
      throw new DamagedBackup(verified);
    }
    const setAside = path.join(target, SET_ASIDE_PREFIX + stamp);
    await writeSwap(staging, { setAside: path.basename(setAside), step: 'setting-aside' });
    const moved = await swap(target, staging, path.basename(setAside), 'setting-aside', options);
    return { copied, verified, setAside: moved ? setAside : undefined, finished };
  } finally {
    if (outcome.kind === 'acquired') await outcome.lock.release();
  }
}

/**
 * An earlier restore stopped during its swap is finished (its backup was already read whole);
 * one stopped before its swap left only a staging copy, which goes.
 */
async function finishEarlierRestores(dataDir: string, options: RestoreOptions): Promise<string[]> {
  const finished: string[] = [];
  for (const name of (await fs.readdir(dataDir)).filter(isStaging)) {
    const staging = path.join(dataDir, name);
    const swapState = await readSwap(staging);
    if (swapState === undefined) {
      await fs.rm(staging, { recursive: true, force: true });
      continue;
    }
    await swap(dataDir, staging, swapState.setAside, swapState.step, options);
    options.logger?.warn('restore.finished_earlier', { dataDir, setAside: path.join(dataDir, swapState.setAside) });
    finished.push(path.join(dataDir, swapState.setAside));
  }
  return finished;
}

/**
 * Moves the relay's files in DATA_DIR into `setAside` there, then the staged ones into DATA_DIR,
 * writing down in `staging` when it moves from one step to the other; removes `staging` at the
 * end. From either step it may be run again. False when DATA_DIR held nothing to set aside.
 */
async function swap(dataDir: string, staging: string, setAsideName: string, from: 'setting-aside' | 'moving-in', options: RestoreOptions): Promise<boolean> {
  const setAside = path.join(dataDir, setAsideName);
  let moved = false;
  if (from === 'setting-aside') {
    moved = await moveRelayFiles(dataDir, setAside, options);
    await writeSwap(staging, { setAside: setAsideName, step: 'moving-in' });
  }
  await moveRelayFiles(staging, dataDir, options);
  await fs.rm(staging, { recursive: true, force: true });
  await syncDirectory(dataDir);
  return moved;
}

/**
 * Moves the relay's own files in `from` (list files, journal segments, quarantine/, temp files)
 * into `to`, made if there are any; false when there were none. Anything else stays: a volume's
 * root holds a `lost+found` the relay's user cannot move, and a move that failed on it part-way
 * left half the lists behind.
 */
async function moveRelayFiles(from: string, to: string, options: RestoreOptions): Promise<boolean> {
  const names = (await fs.readdir(from)).filter(isRelayFile);
  if (names.length === 0) return false;
  await fs.mkdir(to, { recursive: true });
  for (const name of names) {
    await options.beforeMove?.(path.join(from, name));
    await fs.rename(path.join(from, name), path.join(to, name));
  }
  await syncDirectory(to);
  await syncDirectory(from);
  return true;
}

function isRelayFile(name: string): boolean {
  return name === QUARANTINE_DIR || holdsListFiles([name]) || (name.endsWith(TEMP_SUFFIX) && holdsListFiles([name.slice(0, -TEMP_SUFFIX.length)]));
}

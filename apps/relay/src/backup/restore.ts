import { promises as fs } from 'node:fs';
import path from 'node:path';
import type { Logger } from '../log.js';
import { lockDataDir } from '../storage/data-dir-lock.js';
import { LOG_SUFFIX, QUARANTINE_DIR, SNAPSHOT_SUFFIX, TEMP_SUFFIX } from '../storage/disk-storage.js';
import { readIfExists, syncDirectory, unusedName, writeFileSynced } from '../storage/file-ops.js';
import type { InventoryCheck, ManifestInventory } from './inventory.js';
import { checkInventory, inventoryDamaged, readInventory } from './inventory.js';
import type { BackupCopy } from './live-copy.js';
import { BACKUP_MANIFEST, BackupError, copyListFiles, holdsListFiles, isWithin, requireDirectory } from './live-copy.js';
import { isStaging, readSwap, SET_ASIDE_PREFIX, STAGING_PREFIX, writeSwap } from './restore-progress.js';
import type { VerifiedCopy } from './verify-copy.js';
import { verifyCopy } from './verify-copy.js';

export interface Restored {
  readonly copied: BackupCopy;
  readonly verified: VerifiedCopy;
  /** The backup compared with the inventory in its manifest; undefined for a backup without one (made before inventories, or never verified). */
  readonly inventory: InventoryFound | undefined;
  /** Whether the backup was found damaged, or with gaps, and restored all the same (acceptDamage). */
  readonly damaged: boolean;
  /** Copies in DATA_DIR's quarantine/ of the files of lists with gaps, restored with acceptDamage (see quarantineListsWithGaps). */
  readonly quarantined: readonly string[];
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

/** The backup compared with its inventory, or why the manifest holding it could not be read. */
export type InventoryFound = InventoryCheck | { readonly unreadable: string };

/** What a restore found wrong with a backup. */
export interface BackupDamage {
  /** The backup's files that differ from its inventory, or why its manifest could not be read. */
  readonly inventory?: InventoryFound;
  /** What reading it back found. */
  readonly verified?: VerifiedCopy;
}

/** A backup found damaged or with missing parts (unlike its inventory, or by the reading back), refused without acceptDamage. */
export class DamagedBackup extends BackupError {
  constructor(readonly found: BackupDamage) {
    super(
      found.verified === undefined
        ? 'the backup is not as it was made: files are missing, cut short or changed (see inventory). DATA_DIR is as it was. To restore it anyway, run the restore again with --accept-damage'
        : 'the backup holds damage or gaps (see the storage lines above): DATA_DIR is as it was. To restore it anyway, the damage set aside in quarantine/, run the restore again with --accept-damage',
    );
  }
}

/**
 * Puts a backup's lists into DATA_DIR for the relay's next start, and reads them back as the relay
 * will. Refused while a relay holds DATA_DIR. Nothing is deleted: the relay's own files in DATA_DIR
 * are moved into `before-restore-<time>/` inside it, which the relay ignores, until a person
 * removes it. The backup is only read, so it may be mounted read-only.
 *
 * DATA_DIR is touched only once the backup has been checked against the inventory in its
 * manifest, copied whole into a staging directory inside it and read back there: a backup that
 * cannot be read (damaged, unreadable to this user, a disk error) leaves DATA_DIR as it was. Then the old files are moved out and the staged ones in, by
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
    let manifest: ManifestInventory;
    let inventory: InventoryFound | undefined;
    try {
      manifest = await readInventory(source);
      inventory = await checkAgainstInventory(source, manifest, options);
    } catch (error) {
      if (error instanceof BackupError || options.signal?.aborted) throw error;
      throw new Error(`the backup could not be read whole (${String(error)}): DATA_DIR is as it was`, { cause: error });
    }
    const finished = await finishEarlierRestores(target, options);
    const now = (options.wallClock ?? Date.now)();
    const stamp = new Date(now).toISOString().replace(/[:.]/g, '-');
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
    // A backup with an inventory was read back when it was made, its torn tails cut then: one
    // found now is a log cut short since, where no record ends.
    const tornSince = manifest.kind === 'inventory' && verified.tornTails.length > 0;
    const damaged = verified.failures.length > 0 || verified.incomplete.length > 0 || tornSince || (inventory !== undefined && unlikeInventory(inventory));
    let quarantined: string[] = [];
    try {
      if (damaged && options.acceptDamage !== true) throw new DamagedBackup({ verified, ...(inventory === undefined ? {} : { inventory }) });
      if (damaged) quarantined = await quarantineListsWithGaps(staging, verified.incomplete, now);
    } catch (error) {
      await fs.rm(staging, { recursive: true, force: true });
      throw error;
    }
    const setAside = path.join(target, SET_ASIDE_PREFIX + stamp);
    await writeSwap(staging, { setAside: path.basename(setAside), step: 'setting-aside' });
    const moved = await swap(target, staging, path.basename(setAside), 'setting-aside', options);
    return {
      copied,
      verified,
      inventory,
      damaged,
      quarantined: quarantined.map((name) => path.join(target, QUARANTINE_DIR, name)),
      setAside: moved ? setAside : undefined,
      finished,
    };
  } finally {
    if (outcome.kind === 'acquired') await outcome.lock.release();
  }
}

/**
 * Compares the backup with the inventory its manifest holds, before anything is copied: the
 * reading back cannot see a log cut where a record ends or a list's files gone, and cuts a log
 * cut mid-record as a torn tail, with a warning. Refuses (DamagedBackup, DATA_DIR untouched) a
 * backup unlike it, or whose manifest cannot be read, unless acceptDamage. A backup without an
 * inventory (made before inventories, or never verified) is checked by its reading back only,
 * as before, and said so; undefined then.
 */
async function checkAgainstInventory(source: string, manifest: ManifestInventory, options: RestoreOptions): Promise<InventoryFound | undefined> {
  if (manifest.kind === 'none') {
    options.logger?.warn('restore.unchecked', {
      backup: source,
      reason: `${BACKUP_MANIFEST} holds no inventory (a backup made before backups had one, or never read back): it is checked by reading it back only, which misses a log cut where a record ends or a list whose files are gone`,
    });
    return undefined;
  }
  if (manifest.kind === 'unreadable') {
    if (options.acceptDamage !== true) throw new DamagedBackup({ inventory: { unreadable: manifest.reason } });
    return { unreadable: manifest.reason };
  }
  const check = await checkInventory(source, manifest.entries, options.signal);
  if (inventoryDamaged(check) && options.acceptDamage !== true) throw new DamagedBackup({ inventory: check });
  if (check.unlisted.length > 0) {
    options.logger?.warn('restore.unlisted', { backup: source, files: check.unlisted, reason: 'files put in the backup after it was made: restored if they are lists\' files, and read back like the rest' });
  }
  return check;
}

function unlikeInventory(found: InventoryFound): boolean {
  return 'unreadable' in found || inventoryDamaged(found);
}

/**
 * With acceptDamage, a list with a gap (a log whose updates build on a snapshot the backup lost)
 * is restored as it is, and Yjs holds back the updates after the gap: the relay stores only what
 * a list integrated, so the list's first compaction drops them from its files. A copy of the
 * list's files goes into the staging copy's quarantine/, moved into DATA_DIR with the lists,
 * named as the storage names the files it sets aside (`<list>.log.<time>`). Returns the names.
 */
async function quarantineListsWithGaps(staging: string, listIds: readonly string[], now: number): Promise<string[]> {
  if (listIds.length === 0) return [];
  const quarantine = path.join(staging, QUARANTINE_DIR);
  await fs.mkdir(quarantine, { recursive: true });
  const names: string[] = [];
  for (const listId of listIds) {
    for (const suffix of [SNAPSHOT_SUFFIX, LOG_SUFFIX]) {
      const bytes = await readIfExists(path.join(staging, listId + suffix));
      if (bytes === undefined) continue;
      // A copy, not a link: the compaction empties the log in place.
      const name = await unusedName(quarantine, `${listId}${suffix}.${now}`);
      await writeFileSynced(path.join(quarantine, name), bytes, 'wx');
      names.push(name);
    }
  }
  await syncDirectory(quarantine);
  return names;
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

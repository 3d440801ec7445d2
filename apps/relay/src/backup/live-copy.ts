import { promises as fs } from 'node:fs';
import path from 'node:path';
import { isValidListId } from '../list-id.js';
import { LOG_SUFFIX, QUARANTINE_DIR, SNAPSHOT_SUFFIX } from '../storage/disk-storage.js';
import { errorCode, exists, isNotFound, makeDirectory, readIfExists, syncDirectory, writeFileSynced } from '../storage/file-ops.js';
import { segmentSequence } from '../storage/journal.js';
import { scanRecords } from '../storage/record-framing.js';
import { restoreRanBetween, restoreTracesIn, unfinishedRestores } from './restore-progress.js';

/** A backup that could not be made; nothing was left at the destination. */
export class BackupError extends Error {}

/** A backup whole at its destination, whose directory entries could not all be synced: a power loss could take it. */
export class BackupNotSynced extends Error {
  constructor(
    readonly copied: BackupCopy,
    cause: unknown,
  ) {
    super(`the backup is in place but could not be synced (${String(cause)})`, { cause });
  }
}

/**
 * Permissions of a backup's directory and files, whatever the umask: a restore runs as the
 * relay's user (a container's own), often not the one who made the backup.
 */
const READABLE_BY_ALL_DIR = 0o755;
const READABLE_BY_ALL_FILE = 0o644;

/**
 * The file naming a directory a backup: what it was copied from, and when. A restore takes a
 * directory holding it or some list's files, so a backup of a relay with no lists restores too
 * (to an empty DATA_DIR), and a mistyped path is still refused.
 */
export const BACKUP_MANIFEST = 'basket-backup.json';

/** The moments between the copy's phases (test seam: records move on between them). */
export type BackupStep = 'journal-copied' | 'logs-copied';

export interface BackupCopy {
  /** Lists with a log or a snapshot in the copy (lists only in the journal are counted by the verification). */
  readonly lists: number;
  readonly files: number;
  readonly bytes: number;
  /** Reads of a file that changed under them (a log emptied by a compaction) and were made again. */
  readonly rereads: number;
}

export interface BackupOptions {
  readonly afterStep?: (step: BackupStep) => Promise<void> | void;
  /** Stops the copy before its next file (Ctrl-C); the copy fails, and leaves nothing behind. */
  readonly signal?: AbortSignal;
  /** For the manifest's time of the backup, which a person reads. */
  readonly wallClock?: () => number;
  /** Test seam: reads one of DATA_DIR's files, undefined if it is gone (default: readIfExists). */
  readonly readFile?: (filePath: string) => Promise<Uint8Array | undefined>;
}

/**
 * A file the relay was writing as it was read is read again until its records are whole: a log
 * a compaction emptied and wrote again mid-read reads as old records followed by new ones cut at
 * the same offset, which looks like damage. A file still damaged after this many reads is damaged
 * on disk, and copied as it is (the relay would quarantine it too).
 */
const MAX_READS = 5;

/**
 * Copies a running relay's DATA_DIR into `destination`, which must not exist, without stopping
 * the relay or changing anything in DATA_DIR. Every update acknowledged before the copy started
 * is in it.
 *
 * A file-by-file copy in any order could lose some: a record moves from a journal segment into its
 * list's log at a checkpoint (and the segment is deleted), and from the log into the list's
 * snapshot at a compaction (and the log is emptied). A snapshot read before a compaction and a log
 * read after it would both lack what the compaction moved. Records only ever move that way,
 * journal → log → snapshot, and each is in one of them at every moment (see Storage in the README).
 * So the copy reads them in that order, every segment first, then every log, then every
 * snapshot: a record that moves on between two reads is read at its next place. A snapshot is
 * replaced by a rename and a segment only ever deleted, so each is read whole, old or new.
 *
 * The copy is written into a temporary directory beside `destination`, synced, and renamed into
 * place: a `destination` that exists holds a whole backup, with its manifest.
 */
export async function copyLiveDataDir(dataDir: string, destination: string, options: BackupOptions = {}): Promise<BackupCopy> {
  const source = path.resolve(dataDir);
  const target = path.resolve(destination);
  await requireDirectory(source, 'DATA_DIR');
  const insideDataDir = new BackupError(`the backup ${target} must be outside DATA_DIR (${source}): a disk that fails takes both`);
  if (isWithin(target, source)) throw insideDataDir;
  if (await refusingNotADirectory(target, () => exists(target))) throw new BackupError(`${target} exists already: a backup never replaces files`);
  // The same through a symbolic link, checked before any directory is made.
  if (isWithin(await realPathOfNew(target), await fs.realpath(source))) throw insideDataDir;
  const unfinished = await unfinishedRestores(source);
  if (unfinished.length > 0) {
    throw new BackupError(`DATA_DIR holds a restore stopped part-way (${unfinished.join(', ')}): its lists are part the backup's, part the earlier ones. Run the restore again to finish it, then back up`);
  }
  const restoresBefore = await restoreTracesIn(source);
  const parent = path.dirname(target);
  const madeEntriesIn = await refusingNotADirectory(target, () => makeDirectory(parent));
  const temporary = await fs.mkdtemp(path.join(parent, `.${path.basename(target)}.partial-`));
  let copied: BackupCopy;
  try {
    await fs.chmod(temporary, READABLE_BY_ALL_DIR);
    copied = await copyListFiles(source, temporary, options);
    if (restoreRanBetween(restoresBefore, await restoreTracesIn(source))) {
      throw new BackupError('a restore ran on DATA_DIR during the copy, moving its lists: the copy could mix two sets of lists. Back up again');
    }
    const manifest = { basketBackup: 1, createdAt: new Date((options.wallClock ?? Date.now)()).toISOString(), dataDir: source, ...copied };
    await writeFileSynced(path.join(temporary, BACKUP_MANIFEST), new TextEncoder().encode(JSON.stringify(manifest, null, 2) + '\n'), 'wx', READABLE_BY_ALL_FILE);
    await syncDirectory(temporary);
    options.signal?.throwIfAborted();
    await fs.rename(temporary, target);
  } catch (error) {
    await fs.rm(temporary, { recursive: true, force: true });
    throw error;
  }
  try {
    // Directories made for the backup reach their parents' entries too: without that, a power loss could take the backup with them.
    for (const dir of [parent, ...madeEntriesIn]) await syncDirectory(dir);
  } catch (error) {
    throw new BackupNotSynced(copied, error);
  }
  return copied;
}

/**
 * Copies the lists' files of the DATA_DIR `source`, running or not, into the directory `target`
 * and syncs them, in the order copyLiveDataDir explains. Nothing in `target` is replaced.
 */
export async function copyListFiles(source: string, target: string, { afterStep, readFile = readIfExists, signal }: BackupOptions = {}): Promise<BackupCopy> {
  const copy = new FileCopier(source, target, readFile, signal);
  const segments = (await fs.readdir(source)).filter((name) => segmentSequence(name) !== undefined);
  segments.sort((a, b) => (segmentSequence(a) as number) - (segmentSequence(b) as number));
  for (const name of segments) await copy.records(name);
  await afterStep?.('journal-copied');
  // Listed after the journal: a list whose first log a checkpoint made meanwhile is in the segments copied.
  const listIds = listIdsIn(await fs.readdir(source));
  for (const listId of listIds) await copy.records(listId + LOG_SUFFIX);
  await afterStep?.('logs-copied');
  for (const listId of listIds) await copy.records(listId + SNAPSHOT_SUFFIX);
  await copy.quarantine();
  await syncDirectory(target);
  return { lists: listIds.length, files: copy.files, bytes: copy.bytes, rereads: copy.rereads };
}

/** Whether a directory's names include any list's file or journal segment. */
export function holdsListFiles(names: readonly string[]): boolean {
  return listIdsIn(names).length > 0 || names.some((name) => segmentSequence(name) !== undefined);
}

/** The lists a directory's names hold files of, sorted. */
export function listIdsIn(names: readonly string[]): string[] {
  const ids = new Set<string>();
  for (const name of names) {
    for (const suffix of [LOG_SUFFIX, SNAPSHOT_SUFFIX]) {
      if (name.endsWith(suffix) && isValidListId(name.slice(0, -suffix.length))) ids.add(name.slice(0, -suffix.length));
    }
  }
  return [...ids].sort();
}

/** Copies files from DATA_DIR into the backup's temporary directory, counting them. */
class FileCopier {
  files = 0;
  bytes = 0;
  rereads = 0;

  constructor(
    private readonly source: string,
    private readonly target: string,
    private readonly readFile: (filePath: string) => Promise<Uint8Array | undefined>,
    private readonly signal: AbortSignal | undefined,
  ) {}

  /** A file of framed records; one deleted since it was listed is skipped (its records moved on). */
  async records(name: string): Promise<void> {
    const filePath = path.join(this.source, name);
    let bytes = await this.readFile(filePath);
    for (let read = 1; bytes !== undefined && read < MAX_READS && scanRecords(bytes).kind === 'corrupt'; read++) {
      this.rereads += 1;
      bytes = await this.readFile(filePath);
    }
    if (bytes !== undefined) await this.write(name, bytes);
  }

  /** What the relay set aside as damaged, as it is: a person may need it. */
  async quarantine(): Promise<void> {
    let entries;
    try {
      entries = await fs.readdir(path.join(this.source, QUARANTINE_DIR), { withFileTypes: true });
    } catch (error) {
      if (isNotFound(error)) return;
      throw error;
    }
    await fs.mkdir(path.join(this.target, QUARANTINE_DIR));
    await fs.chmod(path.join(this.target, QUARANTINE_DIR), READABLE_BY_ALL_DIR);
    for (const entry of entries) {
      if (!entry.isFile()) continue;
      const name = entry.name;
      const bytes = await this.readFile(path.join(this.source, QUARANTINE_DIR, name));
      if (bytes !== undefined) await this.write(path.join(QUARANTINE_DIR, name), bytes);
    }
    await syncDirectory(path.join(this.target, QUARANTINE_DIR));
  }

  private async write(name: string, bytes: Uint8Array): Promise<void> {
    this.signal?.throwIfAborted();
    await writeFileSynced(path.join(this.target, name), bytes, 'wx', READABLE_BY_ALL_FILE);
    this.files += 1;
    this.bytes += bytes.length;
  }
}

export async function requireDirectory(dir: string, what: string): Promise<void> {
  let stats;
  try {
    stats = await fs.stat(dir);
  } catch (error) {
    if (isNotFound(error) || errorCode(error) === 'ENOTDIR') throw new BackupError(`${what} ${dir} does not exist`);
    throw error;
  }
  if (!stats.isDirectory()) throw new BackupError(`${what} ${dir} is not a directory`);
}

/** `step` on a path through `target`; a file where a directory of it should be is a refusal, not a failure. */
async function refusingNotADirectory<T>(target: string, step: () => Promise<T>): Promise<T> {
  try {
    return await step();
  } catch (error) {
    if (errorCode(error) === 'ENOTDIR' || errorCode(error) === 'EEXIST') throw new BackupError(`${target} cannot be made: part of its path is a file, not a directory`);
    throw error;
  }
}

/** Where `target`, which does not exist, would be once made: its nearest existing ancestor's real path, and the rest. */
async function realPathOfNew(target: string): Promise<string> {
  const missing: string[] = [];
  for (let dir = target; ; dir = path.dirname(dir)) {
    try {
      return path.join(await fs.realpath(dir), ...missing.reverse());
    } catch (error) {
      if (!isNotFound(error) || path.dirname(dir) === dir) throw error;
      missing.push(path.basename(dir));
    }
  }
}

export function isWithin(candidate: string, dir: string): boolean {
  return candidate === dir || candidate.startsWith(dir + path.sep);
}

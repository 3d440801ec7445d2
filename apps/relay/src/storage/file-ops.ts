/** File operations the disk storage needs that know nothing of its format: read, remove, truncate, sync. */
import { constants as fsConstants, promises as fs, readFileSync } from 'node:fs';
import path from 'node:path';
import type { FileHandle } from 'node:fs/promises';

/**
 * Reads one of a list's files, synchronously: it happens once per list load, never per message,
 * and loading is event-loop work anyway (applying the update). fs.readFile's four thread-pool
 * round trips (open, fstat, read, close) cost the event loop more than the read itself: 1,000
 * files of 3–9 kB took 88–92 ms of main-thread time with UV_THREADPOOL_SIZE=64 against 18–22 ms
 * read synchronously, and ~0.4 ms per list in the relay while the load benchmark ran.
 */
export function readIfExists(filePath: string): Promise<Buffer | undefined> {
  try {
    return Promise.resolve(readFileSync(filePath));
  } catch (error) {
    return isNotFound(error) ? Promise.resolve(undefined) : Promise.reject(error);
  }
}

/**
 * Runs a write into the temp file `tempPath`, deleting the file at once if the write fails: on a
 * full disk a partial snapshot would keep the room the journal needs until the next start.
 */
export async function removingOnFailure(tempPath: string, write: () => Promise<unknown>): Promise<void> {
  try {
    await write();
  } catch (error) {
    await removeIfExists(tempPath).catch(() => undefined);
    throw error;
  }
}

/**
 * Writes `contents` to `filePath` and syncs it; a file it could not write whole is removed.
 * `'wx'` never replaces an existing file (then nothing is removed either). `exactMode`: the
 * permissions it gets whatever the umask (else 0644 less the umask).
 */
export async function writeFileSynced(filePath: string, contents: Uint8Array, flags: 'w' | 'wx', exactMode?: number): Promise<void> {
  const handle = await fs.open(filePath, flags, 0o644);
  try {
    await removingOnFailure(filePath, async () => {
      if (exactMode !== undefined) await handle.chmod(exactMode);
      await handle.writeFile(contents);
      await handle.sync();
    });
  } finally {
    await handle.close();
  }
}

export async function removeIfExists(filePath: string): Promise<void> {
  try {
    await fs.unlink(filePath);
  } catch (error) {
    if (!isNotFound(error)) throw error;
  }
}

export async function truncateAndSync(filePath: string, length: number): Promise<void> {
  let handle: FileHandle;
  try {
    handle = await fs.open(filePath, fsConstants.O_RDWR);
  } catch (error) {
    if (isNotFound(error)) return;
    throw error;
  }
  try {
    await handle.truncate(length);
    await handle.datasync();
  } finally {
    await handle.close();
  }
}

export async function syncDirectory(dir: string): Promise<void> {
  const handle = await fs.open(dir, fsConstants.O_RDONLY);
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

export function isNotFound(error: unknown): boolean {
  return errorCode(error) === 'ENOENT';
}

/**
 * `name` if `dir` has no such file, else `name.2`, `name.3`, …: rename replaces silently, and a
 * file moved aside under a name holding a clock reading would replace an earlier one whenever the
 * clock repeats (set back, or a board without a battery-backed clock booting). A name is taken as
 * well when `name` + one of `companionSuffixes` exists: a companion left by an attempt cut short
 * would otherwise pass for the one that goes with the next file of that name. Not atomic: only
 * for directories one process writes (the relay's, under the DATA_DIR lock).
 */
export async function unusedName(dir: string, name: string, companionSuffixes: readonly string[] = []): Promise<string> {
  for (let attempt = 1; ; attempt++) {
    const candidate = attempt === 1 ? name : `${name}.${attempt}`;
    const names = [candidate, ...companionSuffixes.map((suffix) => candidate + suffix)];
    if (!(await anyExists(dir, names))) return candidate;
  }
}

async function anyExists(dir: string, names: readonly string[]): Promise<boolean> {
  for (const name of names) if (await exists(path.join(dir, name))) return true;
  return false;
}

/**
 * Whether anything is at `filePath`, a dangling symbolic link too (a rename or link there would
 * replace it); an error other than its absence (EIO) is thrown, never taken for an answer.
 */
export async function exists(filePath: string): Promise<boolean> {
  try {
    await fs.lstat(filePath);
    return true;
  } catch (error) {
    if (isNotFound(error)) return false;
    throw error;
  }
}

/** What `link` fails with where the file system has no hard links (FAT, some FUSE and SMB mounts), or not across these directories. */
const NO_HARD_LINK = new Set(['EPERM', 'ENOTSUP', 'EOPNOTSUPP', 'EXDEV', 'EMLINK', 'ENOSYS']);

/**
 * Gives the file at `filePath` a second name, `target`, leaving it in place: a hard link, which
 * needs no room on a full disk, or where there are none, a copy, synced. Never replaces `target`.
 */
export async function linkOrCopy(filePath: string, target: string): Promise<void> {
  try {
    await fs.link(filePath, target);
    return;
  } catch (error) {
    if (!NO_HARD_LINK.has(errorCode(error))) throw error;
  }
  try {
    await fs.copyFile(filePath, target, fsConstants.COPYFILE_EXCL);
  } catch (error) {
    // A copy cut short (a full disk) is removed; a `target` that was there before is not.
    if (errorCode(error) !== 'EEXIST') await removeIfExists(target).catch(() => undefined);
    throw error;
  }
  await removingOnFailure(target, async () => {
    const handle = await fs.open(target, 'r+');
    try {
      await handle.sync();
    } finally {
      await handle.close();
    }
  });
}

/** A Node system error's code ('ENOENT'), or '' for anything else. */
export function errorCode(error: unknown): string {
  const code = typeof error === 'object' && error !== null ? (error as { code?: unknown }).code : undefined;
  return typeof code === 'string' ? code : '';
}

/**
 * Creates `dir` and any missing parents. Returns the directories holding a new entry (the
 * parent of each directory made), deepest first: a new directory's entry is durable only once
 * its parent is synced.
 */
export async function makeDirectory(dir: string): Promise<string[]> {
  const firstCreated = await fs.mkdir(dir, { recursive: true });
  if (firstCreated === undefined) return [];
  const top = path.dirname(path.resolve(firstCreated));
  const parents: string[] = [];
  for (let created = path.resolve(dir); path.dirname(created) !== created; created = path.dirname(created)) {
    parents.push(path.dirname(created));
    if (path.dirname(created) === top) break;
  }
  return parents;
}

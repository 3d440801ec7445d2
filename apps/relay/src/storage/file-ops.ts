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
 * `'wx'` never replaces an existing file (then nothing is removed either).
 */
export async function writeFileSynced(filePath: string, contents: Uint8Array, flags: 'w' | 'wx'): Promise<void> {
  const handle = await fs.open(filePath, flags, 0o644);
  try {
    await removingOnFailure(filePath, async () => {
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
  return typeof error === 'object' && error !== null && (error as { code?: unknown }).code === 'ENOENT';
}

/**
 * `name` if `dir` has no such file, else `name.2`, `name.3`, …: rename replaces silently, and a
 * file moved aside under a name holding a clock reading would replace an earlier one whenever the
 * clock repeats (set back, or a board without a battery-backed clock booting). Not atomic: only
 * for directories one process writes (the relay's, under the DATA_DIR lock).
 */
export async function unusedName(dir: string, name: string): Promise<string> {
  for (let attempt = 1; ; attempt++) {
    const candidate = attempt === 1 ? name : `${name}.${attempt}`;
    try {
      await fs.access(path.join(dir, candidate));
    } catch (error) {
      if (isNotFound(error)) return candidate;
      throw error;
    }
  }
}

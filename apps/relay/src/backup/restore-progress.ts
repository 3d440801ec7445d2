import { promises as fs } from 'node:fs';
import path from 'node:path';
import { isNotFound, syncDirectory, writeFileSynced } from '../storage/file-ops.js';

/**
 * A restore's staging directory in DATA_DIR: the backup copied and read back there before DATA_DIR
 * is touched. Hidden, and named as no list file is, so the relay and backups pass over it.
 */
export const STAGING_PREFIX = '.restore-';

/** Where a restore puts what DATA_DIR held before it: inside DATA_DIR, the one place a container may write. */
export const SET_ASIDE_PREFIX = 'before-restore-';

/** In a staging directory: the swap has begun, and how far it got. */
const SWAP_FILE = 'swap.json';

export interface SwapState {
  /** The set-aside directory's name in DATA_DIR. */
  readonly setAside: string;
  /** Moving DATA_DIR's files into it, or (all moved) the staged files into DATA_DIR. */
  readonly step: 'setting-aside' | 'moving-in';
}

export function isStaging(name: string): boolean {
  return name.startsWith(STAGING_PREFIX);
}

/** Written, and synced, before the step it names starts. */
export async function writeSwap(staging: string, state: SwapState): Promise<void> {
  const file = path.join(staging, SWAP_FILE);
  const temporary = file + '.tmp';
  await writeFileSynced(temporary, new TextEncoder().encode(JSON.stringify(state)), 'w');
  await fs.rename(temporary, file);
  await syncDirectory(staging);
}

/** The swap a staging directory records; undefined when its restore stopped before the swap (DATA_DIR untouched). */
export async function readSwap(staging: string): Promise<SwapState | undefined> {
  let text;
  try {
    text = await fs.readFile(path.join(staging, SWAP_FILE), 'utf8');
  } catch (error) {
    if (isNotFound(error)) return undefined;
    throw error;
  }
  const state = JSON.parse(text) as Partial<SwapState>;
  if (typeof state.setAside !== 'string' || !/^[\w.-]+$/.test(state.setAside) || (state.step !== 'setting-aside' && state.step !== 'moving-in')) {
    throw new Error(`${path.join(staging, SWAP_FILE)} is not a restore's record: ${text}`);
  }
  return { setAside: state.setAside, step: state.step };
}

/**
 * Restores stopped part-way through their swap: DATA_DIR then holds some lists of the backup, or
 * of before it, and the next restore finishes it. The relay does not start on such a DATA_DIR.
 */
export async function unfinishedRestores(dataDir: string): Promise<string[]> {
  let names;
  try {
    names = await fs.readdir(dataDir);
  } catch (error) {
    if (isNotFound(error)) return [];
    throw error;
  }
  const unfinished: string[] = [];
  for (const name of names.filter(isStaging)) {
    if ((await readSwap(path.join(dataDir, name)).catch(() => 'unreadable')) !== undefined) unfinished.push(path.join(dataDir, name));
  }
  return unfinished;
}

/** The directories restores made in DATA_DIR (staging and set-aside), and the staging ones whose swap had begun. */
export interface RestoreTraces {
  readonly directories: ReadonlySet<string>;
  readonly swapping: ReadonlySet<string>;
}

/** A backup takes them before and after its copy: a restore that ran meanwhile moved lists under it. */
export async function restoreTracesIn(dataDir: string): Promise<RestoreTraces> {
  const directories = (await fs.readdir(dataDir)).filter((name) => isStaging(name) || name.startsWith(SET_ASIDE_PREFIX));
  const swapping = new Set<string>();
  for (const name of directories.filter(isStaging)) {
    if ((await readSwap(path.join(dataDir, name)).catch(() => 'unreadable')) !== undefined) swapping.add(name);
  }
  return { directories: new Set(directories), swapping };
}

/**
 * Whether a restore ran between two takes: it made a staging or set-aside directory, or began
 * the swap of a staging one. A directory gone is no sign of one: a person removes an old
 * `before-restore-<time>/` once the restored lists look right, and a restore clears away the
 * staging copy a stopped one left (one whose swap had begun refuses the backup at its start).
 */
export function restoreRanBetween(before: RestoreTraces, after: RestoreTraces): boolean {
  return [...after.directories].some((name) => !before.directories.has(name)) || [...after.swapping].some((name) => !before.swapping.has(name));
}

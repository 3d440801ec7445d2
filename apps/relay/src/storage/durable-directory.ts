import path from 'node:path';
import { makeDirectory, syncDirectory } from './file-ops.js';

/**
 * Makes `dir` (and any missing parents) and syncs each new entry into its parent, so a power loss
 * cannot take it away with every file acknowledged in it. A `dir` that is there already may have
 * been made by a run killed before its sync: its parent is synced too, where it can be opened
 * (a parent this process cannot read leaves nothing to do about it; the directory was not made
 * by this process either way).
 */
export async function makeDirectoryDurable(dir: string): Promise<void> {
  const parents = await makeDirectory(dir);
  if (parents.length === 0) {
    await syncDirectory(path.dirname(path.resolve(dir))).catch(() => undefined);
    return;
  }
  for (const parent of parents) await syncDirectory(parent);
}

import { promises as fs } from 'node:fs';
import path from 'node:path';
import * as Y from 'yjs';
import type { Logger } from '../log.js';
import { DiskListStorage, LOG_SUFFIX } from '../storage/disk-storage.js';
import { decodeSegment, segmentSequence } from '../storage/journal.js';
import type { StorageFailureKind } from '../storage/list-storage.js';
import { scanRecords } from '../storage/record-framing.js';
import { listIdsIn } from './live-copy.js';

export interface VerifiedCopy {
  readonly lists: number;
  readonly updates: number;
  /** Damage the storage found in the copy and set aside there, as the relay would at its start. */
  readonly failures: readonly StorageFailureKind[];
  /** Lists Yjs could not read, or holding updates that build on ones not there: something is missing. */
  readonly incomplete: readonly string[];
  /**
   * Logs and journal segments ending in a torn record, which the reading back cut. In a backup of
   * a running relay, a write in flight (never acknowledged); in a backup already read back (one
   * with an inventory), damage done since: a log cut short where no record ends.
   */
  readonly tornTails: readonly string[];
}

/**
 * Opens a copy as the relay would at its start and reads every list in it, one at a time. The
 * copy ends as a relay would leave it: its journal copied into the list logs, a tail torn by a
 * write in flight during the copy (never acknowledged) cut, damage set aside in quarantine/.
 *
 * The relay stores only what a list integrated, never an update held back for a missing one, so
 * a list whose updates leave Yjs waiting for others lacks something it had. `signal` stops the
 * reading before its next list (the copy stays as it is).
 */
export async function verifyCopy(directory: string, logger?: Logger, signal?: AbortSignal): Promise<VerifiedCopy> {
  const failures: StorageFailureKind[] = [];
  // Read before the storage opens the copy: it cuts them with no more than a warning.
  const tornTails = await tornTailsIn(directory, signal);
  const storage = new DiskListStorage({
    dataDir: directory,
    checkpointIntervalMs: 0,
    ...(logger === undefined ? {} : { logger }),
    observer: { journalWritten: () => undefined, checkpointed: () => undefined, failed: (kind) => failures.push(kind) },
  });
  try {
    // The journal's records reach their lists' logs first: a list stored only there has a file then.
    await storage.checkpoint();
    const listIds = listIdsIn(await fs.readdir(directory));
    const incomplete: string[] = [];
    let updates = 0;
    for (const listId of listIds) {
      signal?.throwIfAborted();
      const stored = await storage.load(listId);
      updates += stored.updates.length;
      if (!integratesWhole(stored.updates)) incomplete.push(listId);
      await storage.release(listId);
    }
    return { lists: listIds.length, updates, failures, incomplete, tornTails };
  } finally {
    await storage.close();
  }
}

/** The logs and segments in `directory` whose last record is torn, as the storage's scans tell it. */
async function tornTailsIn(directory: string, signal: AbortSignal | undefined): Promise<string[]> {
  const torn: string[] = [];
  for (const name of (await fs.readdir(directory)).sort()) {
    signal?.throwIfAborted();
    const segment = segmentSequence(name) !== undefined;
    if (!segment && !(name.endsWith(LOG_SUFFIX) && listIdsIn([name]).length > 0)) continue;
    const bytes = await fs.readFile(path.join(directory, name));
    if ((segment ? decodeSegment(bytes) : scanRecords(bytes)).kind === 'torn') torn.push(name);
  }
  return torn;
}

function integratesWhole(updates: readonly Uint8Array[]): boolean {
  const doc = new Y.Doc();
  try {
    for (const update of updates) Y.applyUpdate(doc, update);
    return doc.store.pendingStructs === null && doc.store.pendingDs === null;
  } catch {
    return false;
  } finally {
    doc.destroy();
  }
}

import { promises as fs } from 'node:fs';
import * as Y from 'yjs';
import type { Logger } from '../log.js';
import { DiskListStorage } from '../storage/disk-storage.js';
import type { StorageFailureKind } from '../storage/list-storage.js';
import { listIdsIn } from './live-copy.js';

export interface VerifiedCopy {
  readonly lists: number;
  readonly updates: number;
  /** Damage the storage found in the copy and set aside there, as the relay would at its start. */
  readonly failures: readonly StorageFailureKind[];
  /** Lists Yjs could not read, or holding updates that build on ones not there: something is missing. */
  readonly incomplete: readonly string[];
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
    return { lists: listIds.length, updates, failures, incomplete };
  } finally {
    await storage.close();
  }
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

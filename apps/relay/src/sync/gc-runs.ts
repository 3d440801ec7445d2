import * as Y from 'yjs';
import type { Struct } from './v1-update.js';
import { follows } from './v1-update.js';

/**
 * GC structs (collected content, 2 bytes each on the wire) that directly follow another of the
 * same client: Yjs integrates each one on its own, so an 8 MiB update of one-clock GC structs
 * held the event loop about 1 s in `Y.applyUpdate` alone, for a document that ends up holding
 * one GC range. Past this many, the update is rewritten with each run of them as one struct,
 * which Yjs would make of them anyway. Honest updates hold a few (a store keeps the pieces of
 * items deleted one by one): they are passed on untouched.
 */
export const GC_RUN_REWRITE_MIN_JOINS = 1024;

/** Adjacent GC structs of one client that one struct could replace. */
export function gcRunJoins(structs: readonly Struct[]): number {
  let joins = 0;
  let previous: Struct | undefined;
  for (const struct of structs) {
    if (previous !== undefined && struct instanceof Y.GC && previous instanceof Y.GC && follows(previous, struct)) joins += 1;
    previous = struct;
  }
  return joins;
}

/** One client's block with each run of adjacent GC structs as one struct. */
export function joinGcRuns(block: readonly Struct[]): Struct[] {
  const joined: Struct[] = [];
  let runStart: Y.GC | undefined;
  let runLength = 0;
  const endRun = (): void => {
    if (runStart === undefined) return;
    joined.push(runLength === runStart.length ? runStart : new Y.GC(runStart.id, runLength));
    runStart = undefined;
  };
  for (const struct of block) {
    if (struct instanceof Y.GC) {
      if (runStart === undefined) {
        runStart = struct;
        runLength = 0;
      }
      runLength += struct.length;
    } else {
      endRun();
      joined.push(struct);
    }
  }
  endRun();
  return joined;
}

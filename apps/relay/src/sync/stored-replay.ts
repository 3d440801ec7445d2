import * as Y from 'yjs';
import type { StoredListCut } from './update-slices.js';

/**
 * Stored updates applied in one transaction. Yjs cleans up once per transaction instead of once
 * per update (measured 2× faster for lists of ~30 logged updates), but joins every run of array
 * values split across that transaction's updates from the right, copying the run built so far at
 * each join: a log of 20,000 one-value pushes (an unmodified client appending to a Y.Array) took
 * 2.8 s and 1.6 GB to load in one transaction, 35 ms in transactions of this many.
 */
export const REPLAY_UPDATES_PER_TRANSACTION = 128;

/**
 * Applies `updates` in order to `doc`; returns how many could not be read (each is skipped).
 *
 * A list with nothing stored still gets one (empty) transaction, as it always did. Without it,
 * the benchmark's fan-out p99 rose from 6.4–7.5 to 9.5–11.3 ms and the relay's RSS by 20 MB (three
 * interleaved pairs each, twenty-first session); a small test of Yjs alone showed no such
 * difference, and the cause is not found yet.
 */
export function replayStoredUpdates(doc: Y.Doc, updates: readonly Uint8Array[], origin: unknown): number {
  let skipped = 0;
  for (let start = 0; start === 0 || start < updates.length; start += REPLAY_UPDATES_PER_TRANSACTION) {
    Y.transact(
      doc,
      () => {
        for (const update of updates.slice(start, start + REPLAY_UPDATES_PER_TRANSACTION)) {
          try {
            Y.applyUpdate(doc, update, origin);
          } catch {
            skipped += 1;
          }
        }
      },
      origin,
    );
  }
  return skipped;
}

/** As replayStoredUpdates, telling `spent` the milliseconds it took. */
export function replayStoredUpdatesTimed(doc: Y.Doc, updates: readonly Uint8Array[], origin: unknown, spent: (ms: number) => void): number {
  const started = performance.now();
  try {
    return replayStoredUpdates(doc, updates, origin);
  } finally {
    spent(performance.now() - started);
  }
}

/** A stored list cut for a load in turns (cutStoredList), and the time that took. */
export type TimedStoredListCut = StoredListCut & { readonly ms: number };

/** Readies a large stored list for a load in turns, off the event loop (OffThreadDecoder.cutStored). */
export interface StoredUpdateSlicer {
  /** A list holding an update this large or larger loads in turns, such updates cut into slices. */
  readonly minBytes: number;
  /**
   * A list storing this many bytes or more in all loads so too, though none of its updates is
   * that large: readied on the worker, its heap is estimated before it is replayed. A smaller one
   * is replayed and measured in one turn, so it passes the loaded lists' bound, if at all, by what
   * its stored bytes did not count (at most about 4 times this, for subdocuments); readying every
   * list of minBytes on the worker made 300 lists of 88 kB load 10–15 % slower.
   */
  readonly estimateBytes: number;
  /** Rejects when the worker fails. */
  readonly cut: (updates: readonly Uint8Array[]) => Promise<TimedStoredListCut>;
}

/** How replayStoredUpdatesInTurns goes on: how much one turn applies, whether it still should, and where each turn's time goes. */
export interface ReplayTurns {
  /** Updates applied whole in one turn: up to REPLAY_UPDATES_PER_TRANSACTION of them, or this many bytes. */
  readonly batchBytes: number;
  /** Stops early (returning what was skipped so far) once false. */
  readonly wanted: () => boolean;
  /** Milliseconds each turn took. */
  readonly spent: (ms: number) => void;
}

/**
 * As replayStoredUpdates, in turns: each update that has `slices` (cut off the event loop) one
 * slice per turn, the others in transactions of REPLAY_UPDATES_PER_TRANSACTION or `batchBytes`,
 * one per turn. Applied in one go, a stored list of a million items held every list about 1 s at
 * each load.
 */
export async function replayStoredUpdatesInTurns(
  doc: Y.Doc,
  updates: readonly Uint8Array[],
  slices: ReadonlyArray<readonly Uint8Array[] | undefined>,
  origin: unknown,
  { batchBytes, wanted, spent }: ReplayTurns,
): Promise<number> {
  let skipped = 0;
  let small: Uint8Array[] = [];
  let smallBytes = 0;
  const replayTimed = (batch: readonly Uint8Array[]): void => {
    skipped += replayStoredUpdatesTimed(doc, batch, origin, spent);
  };
  const replaySmall = async (): Promise<void> => {
    if (small.length === 0) return;
    replayTimed(small);
    small = [];
    smallBytes = 0;
    await nextTurn();
  };
  for (const [index, update] of updates.entries()) {
    if (!wanted()) return skipped;
    const cut = slices[index];
    if (cut === undefined && update.length < batchBytes) {
      small.push(update);
      smallBytes += update.length;
      // By bytes too: a log of large records (a sliced update's, 40 kB each) is as slow as one update.
      if (small.length === REPLAY_UPDATES_PER_TRANSACTION || smallBytes >= batchBytes) await replaySmall();
      continue;
    }
    await replaySmall();
    // An update not cut (the worker could not read it, or it is dense in bytes, not structs) is applied whole.
    for (const slice of cut ?? [update]) {
      if (!wanted()) return skipped;
      replayTimed([slice]);
      await nextTurn();
    }
  }
  await replaySmall();
  return skipped;
}

function nextTurn(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

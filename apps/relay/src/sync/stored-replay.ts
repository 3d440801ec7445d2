import * as Y from 'yjs';

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

/** Cuts a large stored update into slices off the event loop (OffThreadDecoder.sliceStored). */
export interface StoredUpdateSlicer {
  /** Stored updates this large or larger are sliced. */
  readonly minBytes: number;
  /** Undefined when the update cannot be cut; rejects when it cannot be read there. */
  readonly slice: (update: Uint8Array) => Promise<readonly Uint8Array[] | undefined>;
}

/**
 * As replayStoredUpdates, for a list holding a stored update of `slicer.minBytes` or more: that
 * update is cut into slices off the event loop and applied one slice per turn, the small ones
 * in transactions of REPLAY_UPDATES_PER_TRANSACTION, one per turn. Applied in one go, a stored
 * list of a million items held every list about 1 s at each load. Stops early (returning what
 * it skipped so far) once `wanted()` is false.
 */
export async function replayStoredUpdatesInTurns(
  doc: Y.Doc,
  updates: readonly Uint8Array[],
  origin: unknown,
  slicer: StoredUpdateSlicer,
  wanted: () => boolean,
): Promise<number> {
  let skipped = 0;
  let small: Uint8Array[] = [];
  let smallBytes = 0;
  const replaySmall = async (): Promise<void> => {
    if (small.length === 0) return;
    skipped += replayStoredUpdates(doc, small, origin);
    small = [];
    smallBytes = 0;
    await nextTurn();
  };
  for (const update of updates) {
    if (!wanted()) return skipped;
    if (update.length < slicer.minBytes) {
      small.push(update);
      smallBytes += update.length;
      // By bytes too: a log of large records (a sliced update's, 40 kB each) is as slow as one update.
      if (small.length === REPLAY_UPDATES_PER_TRANSACTION || smallBytes >= slicer.minBytes) await replaySmall();
      continue;
    }
    await replaySmall();
    // An update the worker cannot read is applied here, which skips it as replayStoredUpdates does.
    const slices = (await slicer.slice(update).catch(() => undefined)) ?? [update];
    for (const slice of slices) {
      if (!wanted()) return skipped;
      skipped += replayStoredUpdates(doc, [slice], origin);
      await nextTurn();
    }
  }
  await replaySmall();
  return skipped;
}

function nextTurn(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

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

/** As replayStoredUpdates, telling `spent` the milliseconds it took. */
export function replayStoredUpdatesTimed(doc: Y.Doc, updates: readonly Uint8Array[], origin: unknown, spent: (ms: number) => void): number {
  const started = performance.now();
  try {
    return replayStoredUpdates(doc, updates, origin);
  } finally {
    spent(performance.now() - started);
  }
}

/** A stored update cut into slices, and the time that took. */
export interface StoredUpdateCut {
  /** Undefined when the update cannot be cut. */
  readonly slices: readonly Uint8Array[] | undefined;
  readonly ms: number;
}

/** Cuts a large stored update into slices off the event loop (OffThreadDecoder.sliceStored). */
export interface StoredUpdateSlicer {
  /** Stored updates this large or larger are sliced. */
  readonly minBytes: number;
  /** Rejects when the update cannot be read there. */
  readonly slice: (update: Uint8Array) => Promise<StoredUpdateCut>;
}

/** How replayStoredUpdatesInTurns goes on: whether it still should, and where each turn's time goes. */
export interface ReplayTurns {
  readonly slicer: StoredUpdateSlicer;
  /** Stops early (returning what was skipped so far) once false. */
  readonly wanted: () => boolean;
  /** Milliseconds each turn took, and each cut on the worker. */
  readonly spent: (ms: number) => void;
}

/**
 * As replayStoredUpdates, for a list holding a stored update of `slicer.minBytes` or more: that
 * update is cut into slices off the event loop and applied one slice per turn, the small ones
 * in transactions of REPLAY_UPDATES_PER_TRANSACTION, one per turn. Applied in one go, a stored
 * list of a million items held every list about 1 s at each load.
 */
export async function replayStoredUpdatesInTurns(
  doc: Y.Doc,
  updates: readonly Uint8Array[],
  origin: unknown,
  { slicer, wanted, spent }: ReplayTurns,
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
    const cut = await slicer.slice(update).catch(() => undefined);
    if (cut !== undefined) spent(cut.ms);
    const slices = cut?.slices ?? [update];
    for (const slice of slices) {
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

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

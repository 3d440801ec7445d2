/**
 * How many rows the item list renders now. A long list (a cold start with
 * thousands of items) paints its first screenfuls at once and the rest in
 * small time-sliced chunks, so the list is interactive long before every row
 * exists; every row is in the DOM shortly after (nothing is windowed away:
 * screen readers and browser tests find items by their checkbox).
 */
import { startTransition, useEffect, useState } from 'react';

/** Lists up to this size render in one go (measured: ~0.15 ms per row). */
export const ALL_AT_ONCE_ROWS = 400;
/** The first paint of a long list: a few screenfuls on a phone. */
export const FIRST_ROWS = 60;
/** Rows added per background render. */
export const CHUNK_ROWS = 250;

/**
 * The number of rows (in display order) to render for a list of `total` rows.
 * Never shrinks while mounted; once every row is shown, new rows join at once.
 */
export function useProgressiveRowCount(total: number): number {
  const [limit, setLimit] = useState(FIRST_ROWS);
  if (limit < total && (total <= ALL_AT_ONCE_ROWS || total - limit <= CHUNK_ROWS)) {
    // Every row from now on: later adds and syncs render in the same commit, with no second pass.
    // (Adjusting state while rendering: React re-runs this component before committing.)
    setLimit(Number.POSITIVE_INFINITY);
  }
  const shown = Math.min(limit, total);
  useEffect(() => {
    if (shown >= total) return;
    // A transition: React renders it in slices and lets a keystroke or tap go first.
    startTransition(() => setLimit((current) => Math.max(current, shown + CHUNK_ROWS)));
  }, [shown, total]);
  return shown;
}

/**
 * The sync status line, the page's only role="status" element: browser tests
 * look for "Offline" and "Synced" in it (PRODUCT.md). Fixed height, so a
 * change of wording never moves the list.
 */
import { memo } from 'react';
import type { SyncStatus } from '../session/types';
import { statusText } from './format';
import { useNow } from './useNow';

const REFRESH_MS = 30_000;

export const StatusLine = memo(function StatusLine({
  status,
  clock,
}: {
  status: SyncStatus;
  clock?: () => number;
}) {
  const now = useNow(REFRESH_MS, clock);
  return (
    <p className={`status-line status-${status.state}`} role="status">
      <span className="status-dot" aria-hidden="true" />
      {statusText(status, Math.max(now, status.lastSyncedAt ?? 0))}
    </p>
  );
});

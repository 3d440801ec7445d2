/**
 * The sync status line. Its role="status" element is the page's only one, and holds exactly
 * the status ("Offline…", "Syncing…", "Synced"): browser tests match its whole text
 * (PRODUCT.md). How long ago it synced sits beside it, outside the live region, which also keeps
 * screen readers from announcing the minutes ticking by. Fixed height, so a change of wording
 * never moves the list.
 */
import { memo } from 'react';
import type { SyncStatus } from '../session/types';
import { statusText, syncedAgoText } from './format';
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
  const ago = syncedAgoText(status, Math.max(now, status.lastSyncedAt ?? 0));
  return (
    <div className={`status-line status-${status.state}`}>
      <span className="status-dot" aria-hidden="true" />
      <p className="status-text" role="status">
        {statusText(status)}
      </p>
      {ago !== '' && <span className="status-ago">· {ago}</span>}
    </div>
  );
});

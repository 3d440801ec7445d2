/**
 * The sync status line. Its role="status" element is the page's only one, and holds exactly
 * the status ("Offline…", "Syncing…", "Synced"): browser tests match its whole text
 * (PRODUCT.md). How long ago it synced sits beside it. The element is not a live region
 * (aria-live="off"): every tap goes "Syncing…" then "Synced", two interruptions per item for a
 * screen reader. A hidden polite region announces only going offline (once it has lasted
 * OFFLINE_ANNOUNCE_DELAY_MS) and being synced again.
 * Fixed height, so a change of wording never moves the list.
 */
import { memo, useEffect, useRef, useState } from 'react';
import type { SyncStatus } from '../session/types';
import { statusText, syncedAgoText } from './format';
import { useNow } from './useNow';

const REFRESH_MS = 30_000;
/**
 * How long the list must stay offline before a screen reader is told. A phone on flaky Wi-Fi
 * flips between offline and synced every few seconds; each flip read out interrupts the person.
 */
export const OFFLINE_ANNOUNCE_DELAY_MS = 3_000;

export const StatusLine = memo(function StatusLine({
  status,
  clock,
}: {
  status: SyncStatus;
  clock?: () => number;
}) {
  const now = useNow(REFRESH_MS, clock);
  const ago = syncedAgoText(status, Math.max(now, status.lastSyncedAt ?? 0));
  const [announcement, setAnnouncement] = useState('');
  // Offline since the last announcement (or since the page opened): "Synced" is news only then.
  const wasOffline = useRef(status.state === 'offline');
  useEffect(() => {
    if (status.state === 'offline' && !wasOffline.current) {
      // Told once it has lasted: back within the delay, nothing was worth interrupting for.
      const announceLater = setTimeout(() => {
        wasOffline.current = true;
        setAnnouncement('Offline');
      }, OFFLINE_ANNOUNCE_DELAY_MS);
      return () => clearTimeout(announceLater);
    }
    if (status.state === 'synced' && wasOffline.current) {
      wasOffline.current = false;
      setAnnouncement('Synced');
    }
    return undefined;
  }, [status.state]);
  return (
    <>
      <div className={`status-line status-${status.state}`}>
        <span className="status-dot" aria-hidden="true" />
        <p className="status-text" role="status" aria-live="off">
          {statusText(status)}
        </p>
        {ago !== '' && <span className="status-ago">· {ago}</span>}
      </div>
      {status.deviceCopyFailed === true && (
        // Outside the status element, whose text stays exactly the status. An alert: rare, and
        // the person can act on it (free up space) before they need the list offline.
        <p className="status-warning" role="alert">
          This phone couldn’t save the list (its storage may be full), so it may not open offline.
          Your changes still reach the family while you’re online.
        </p>
      )}
      {/* Outside the status line: its text stays exactly the status and the time since. */}
      <span className="visually-hidden" aria-live="polite">
        {announcement}
      </span>
    </>
  );
});

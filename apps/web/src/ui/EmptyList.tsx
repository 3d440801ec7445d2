import type { ListSession } from '../session';
import { useDeletedItems, useSyncStatus } from '../session';
import { NothingToBuy } from './ItemList';

/**
 * An empty list's message. Offline, a list this phone holds nothing of (no items, nothing
 * deleted) may simply not have been downloaded yet: a share link opened for the first time
 * without signal. "Nothing to buy yet" would then be untrue, and invite adding what is already
 * on the family's list; this says where its items will come from. Adding is never blocked.
 */
export function EmptyList({ session }: { session: ListSession }) {
  const status = useSyncStatus(session);
  const deleted = useDeletedItems(session.list);
  if (status.state === 'offline' && deleted.length === 0) {
    return (
      <p className="empty-list">
        Nothing on this phone yet. If this list was shared with you, its items appear once you’re online.
      </p>
    );
  }
  return <NothingToBuy />;
}

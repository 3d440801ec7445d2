/** Deleted items, newest first, each with "Restore <name>" (a contract browser tests rely on). */
import type { Item } from '@basket/list-core';
import { Dialog } from './Dialog';
import { itemDetails, timeAgo } from './format';
import { useNow } from './useNow';

interface RecentlyDeletedProps {
  items: readonly Item[];
  onRestore: (item: Item) => void;
  onClose: () => void;
}

export function RecentlyDeleted({ items, onRestore, onClose }: RecentlyDeletedProps) {
  const now = useNow(60_000);
  return (
    <Dialog title="Recently deleted" onClose={onClose}>
      {items.length === 0 ? (
        <p className="muted">Nothing deleted recently.</p>
      ) : (
        <ul className="plain-list" role="list">
          {items.map((item) => {
            const details = itemDetails(item);
            const who = item.deletedBy ? `Removed by ${item.deletedBy}` : 'Removed';
            const when = item.deletedAt !== undefined ? ` ${timeAgo(item.deletedAt, now)}` : '';
            return (
              <li key={item.id} className="deleted-row">
                <span className="item-text">
                  <span className="item-name">{item.name}</span>
                  <span className="item-details">
                    {[details, `${who}${when}`].filter(Boolean).join(' · ')}
                  </span>
                </span>
                <button
                  type="button"
                  className="text-button"
                  onClick={(event) => {
                    const row = event.currentTarget.closest('li');
                    const neighbour = row?.nextElementSibling ?? row?.previousElementSibling;
                    const dialog = event.currentTarget.closest<HTMLElement>('[role="dialog"]');
                    // The row goes away with the restore; focus moves first, so it is never on
                    // <body> (where Escape and Tab would no longer reach the dialog).
                    (neighbour?.querySelector('button') ?? dialog)?.focus();
                    onRestore(item);
                  }}
                >
                  Restore {item.name}
                </button>
              </li>
            );
          })}
        </ul>
      )}
    </Dialog>
  );
}

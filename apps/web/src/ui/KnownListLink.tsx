/**
 * One of the device's lists as a link: its title and when it was last opened. A plain click
 * opens it in place (no page load, so the open list's session is handed over cleanly); a
 * modified click (new tab, new window) is left to the browser.
 */
import type { KnownList } from '../session/types';
import { timeAgo } from './format';

export function KnownListLink({
  list,
  href,
  now,
  current = false,
  onOpen,
}: {
  list: KnownList;
  href: string;
  now: number;
  current?: boolean;
  onOpen: (id: string) => void;
}) {
  return (
    <a
      className={current ? 'list-link current' : 'list-link'}
      href={href}
      aria-current={current ? 'page' : undefined}
      onClick={(event) => {
        if (event.metaKey || event.ctrlKey || event.shiftKey || event.button !== 0) return;
        event.preventDefault();
        onOpen(list.id);
      }}
    >
      <span className="item-name">{list.title || 'Shopping list'}</span>
      <span className="item-details">Opened {timeAgo(list.lastOpenedAt, now)}</span>
    </a>
  );
}

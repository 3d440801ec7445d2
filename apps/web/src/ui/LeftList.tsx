/**
 * Shown in a window whose list was left on this phone in another window of the app (another
 * tab, the installed app). The leave deleted the phone's copy of the list, so editing on here
 * would store nothing on the phone: the window says what happened and lets the person open the
 * list again (from the family, as its link would), pick another of their lists, or start one.
 */
import { useEffect, useRef } from 'react';
import type { KnownList } from '../session/types';
import { ListChoices } from './ListChoices';

export function leftListTitle(title: string): string {
  return title === '' ? 'You left this list on this phone' : `You left “${title}” on this phone`;
}

interface LeftListProps {
  /** The list's title as this window last showed it ('' for none). */
  title: string;
  lists: readonly KnownList[];
  listHref: (id: string) => string;
  onReopen: () => void;
  onOpenList: (id: string) => void;
  onCreateList: () => void;
}

export function LeftList({ title, lists, listHref, onReopen, onOpenList, onCreateList }: LeftListProps) {
  const heading = useRef<HTMLHeadingElement>(null);

  useEffect(() => {
    // The list vanished from under the person: start them (and a screen reader) at why.
    heading.current?.focus();
  }, []);

  return (
    <div className="app">
      <main className="left-list">
        <h1 ref={heading} tabIndex={-1}>
          {leftListTitle(title)}
        </h1>
        <p>It was left in another window of Basket, so its copy on this phone is gone. It stays for everyone else.</p>
        <button type="button" className="text-button" onClick={onReopen}>
          Open it again
        </button>
        <ListChoices lists={lists} listHref={listHref} onOpenList={onOpenList} onCreateList={onCreateList} />
      </main>
    </div>
  );
}

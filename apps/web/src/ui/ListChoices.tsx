/**
 * Where to go when the list in view cannot be shown (a broken link, a list left in another
 * window): the person's lists on this phone, most recently opened first, and a new one.
 */
import type { KnownList } from '../session/types';
import { KnownListLink } from './KnownListLink';
import { useNow } from './useNow';

interface ListChoicesProps {
  lists: readonly KnownList[];
  listHref: (id: string) => string;
  onOpenList: (id: string) => void;
  onCreateList: () => void;
}

export function ListChoices({ lists, listHref, onOpenList, onCreateList }: ListChoicesProps) {
  const now = useNow(60_000);
  const sorted = [...lists].sort((a, b) => b.lastOpenedAt - a.lastOpenedAt);
  return (
    <>
      {sorted.length > 0 && (
        <>
          <h2>Your lists</h2>
          <ul className="plain-list lists" role="list">
            {sorted.map((list) => (
              <li key={list.id}>
                <KnownListLink list={list} href={listHref(list.id)} now={now} onOpen={onOpenList} />
              </li>
            ))}
          </ul>
        </>
      )}
      <button type="button" className="primary-button" onClick={onCreateList}>
        Start a new list
      </button>
    </>
  );
}

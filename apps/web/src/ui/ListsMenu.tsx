/**
 * The device's lists: switch, create, rename, leave; and the person's name.
 * Leaving forgets the list on this device only; it stays for the family.
 */
import { useState } from 'react';
import type { FormEvent } from 'react';
import type { KnownList } from '../session/types';
import { Dialog } from './Dialog';
import { timeAgo } from './format';
import { useNow } from './useNow';

interface ListsMenuProps {
  lists: readonly KnownList[];
  currentListId: string;
  currentTitle: string;
  displayName: string;
  listHref: (id: string) => string;
  onOpen: (id: string) => void;
  onCreate: () => void;
  onRename: () => void;
  onLeave: () => void;
  onChangeName: (name: string) => void;
  onClose: () => void;
}

export function ListsMenu(props: ListsMenuProps) {
  const { lists, currentListId, currentTitle, listHref, onOpen, onCreate, onRename, onLeave, onClose } = props;
  const [confirmingLeave, setConfirmingLeave] = useState(false);
  const [name, setName] = useState(props.displayName);
  const [nameSaved, setNameSaved] = useState(false);
  const now = useNow(60_000);
  const sorted = [...lists].sort((a, b) => b.lastOpenedAt - a.lastOpenedAt);

  const saveName = (event: FormEvent) => {
    event.preventDefault();
    if (name.trim() === '') return;
    props.onChangeName(name.trim());
    setNameSaved(true);
  };

  return (
    <Dialog title="Your lists" onClose={onClose}>
      <ul className="plain-list lists">
        {sorted.map((list) => (
          <li key={list.id}>
            <a
              className={list.id === currentListId ? 'list-link current' : 'list-link'}
              href={listHref(list.id)}
              aria-current={list.id === currentListId ? 'page' : undefined}
              onClick={(event) => {
                if (event.metaKey || event.ctrlKey || event.shiftKey || event.button !== 0) return;
                event.preventDefault();
                onOpen(list.id);
              }}
            >
              <span className="item-name">{list.title || 'Shopping list'}</span>
              <span className="item-details">Opened {timeAgo(list.lastOpenedAt, now)}</span>
            </a>
          </li>
        ))}
      </ul>
      <div className="menu-actions">
        <button type="button" className="text-button" onClick={onCreate}>
          New list
        </button>
        <button type="button" className="text-button" onClick={onRename}>
          Rename “{currentTitle}”
        </button>
        {confirmingLeave ? (
          <div className="confirm" role="group" aria-label="Leave this list?">
            <p>Leave “{currentTitle}” on this phone? It stays for everyone else; the link brings it back.</p>
            <button type="button" className="danger-button" onClick={onLeave}>
              Leave list
            </button>
            <button type="button" className="text-button" onClick={() => setConfirmingLeave(false)}>
              Keep it
            </button>
          </div>
        ) : (
          <button type="button" className="text-button" onClick={() => setConfirmingLeave(true)}>
            Leave this list…
          </button>
        )}
      </div>
      <form className="name-form" onSubmit={saveName}>
        <label className="field">
          <span>Your name (shown to the family)</span>
          <input
            type="text"
            maxLength={40}
            autoComplete="nickname"
            value={name}
            onChange={(event) => {
              setName(event.target.value);
              setNameSaved(false);
            }}
          />
        </label>
        <button type="submit" className="text-button">
          Save name
        </button>
        <span className="muted" aria-live="polite">
          {nameSaved ? 'Saved.' : ''}
        </span>
      </form>
    </Dialog>
  );
}

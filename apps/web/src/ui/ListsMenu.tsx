/**
 * The device's lists: switch, create, rename, leave; and the person's name.
 * Leaving forgets the list on this device only: it stays for the family, but
 * changes the relay has not stored yet exist nowhere else and go with it.
 */
import { useEffect, useLayoutEffect, useRef, useState } from 'react';
import type { FormEvent, ReactNode } from 'react';
import type { KnownList } from '../session/types';
import { Dialog } from './Dialog';
import { changesCount } from './format';
import { KnownListLink } from './KnownListLink';
import { useNow } from './useNow';

/**
 * Asks before leaving. Leaving deletes this phone's copy, and with it whatever the relay has
 * not stored: those changes are on no other phone, so no link brings them back. Then the safe
 * answer is the obvious one (focused, primary) and the other one names the loss. The count
 * follows the status line live, so the words stay true while the dialog is open; the buttons
 * keep their places, so a change of wording never moves one under a finger.
 */
function LeaveConfirm({
  title,
  pendingChanges,
  onLeave,
  onKeep,
}: {
  title: string;
  pendingChanges: number | null;
  onLeave: () => void;
  onKeep: () => void;
}) {
  const keepButton = useRef<HTMLButtonElement>(null);
  useEffect(() => keepButton.current?.focus(), []);
  const unsent = pendingChanges !== null && pendingChanges > 0;

  let message: ReactNode;
  if (pendingChanges === null) message = 'Checking for changes on this phone that haven’t reached the family…';
  else if (unsent) {
    const [verb, they] = pendingChanges === 1 ? ['hasn’t', 'it'] : ['haven’t', 'they'];
    message = (
      <>
        <strong>
          {changesCount(pendingChanges)} on this phone {verb} reached the family yet — {they}’ll be lost if you leave
          now.
        </strong>{' '}
        The link only brings back what reached the family: keep “{title}” until it says “Synced”, then leave.
      </>
    );
  } else message = `Leave “${title}” on this phone? It stays for everyone else; the link brings it back.`;

  return (
    <div className="confirm" role="group" aria-label="Leave this list?">
      <p>{message}</p>
      <div className="confirm-actions">
        <button
          type="button"
          ref={keepButton}
          className={unsent || pendingChanges === null ? 'primary-button' : 'text-button'}
          onClick={onKeep}
        >
          Keep it
        </button>
        <button type="button" className="danger-button" disabled={pendingChanges === null} onClick={onLeave}>
          {unsent ? `Leave and lose ${changesCount(pendingChanges)}` : 'Leave list'}
        </button>
      </div>
    </div>
  );
}

interface ListsMenuProps {
  lists: readonly KnownList[];
  currentListId: string;
  currentTitle: string;
  /**
   * The current list's changes the relay has not stored yet (the status line's count); null
   * while the stored list is still loading, when taps kept for it are not counted yet.
   */
  pendingChanges: number | null;
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
  const leaveButton = useRef<HTMLButtonElement>(null);
  // "Keep it" answered: focus goes back to where the question was asked, in the same commit. A
  // frame later (as it was), an Escape pressed meanwhile went to <body> and the dialog stayed.
  const refocusLeave = useRef(false);
  useLayoutEffect(() => {
    if (confirmingLeave || !refocusLeave.current) return;
    refocusLeave.current = false;
    leaveButton.current?.focus();
  }, [confirmingLeave]);
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
      <ul className="plain-list lists" role="list">
        {sorted.map((list) => (
          <li key={list.id}>
            <KnownListLink list={list} href={listHref(list.id)} now={now} current={list.id === currentListId} onOpen={onOpen} />
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
          <LeaveConfirm
            title={currentTitle}
            pendingChanges={props.pendingChanges}
            onLeave={onLeave}
            onKeep={() => {
              refocusLeave.current = true;
              setConfirmingLeave(false);
            }}
          />
        ) : (
          <button type="button" ref={leaveButton} className="text-button" onClick={() => setConfirmingLeave(true)}>
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

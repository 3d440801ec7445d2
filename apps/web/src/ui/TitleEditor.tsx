/**
 * The list's title; tap to rename in place. Enter or leaving the field saves,
 * Escape cancels.
 */
import { useEffect, useRef, useState } from 'react';

export const UNTITLED = 'Shopping list';

interface TitleEditorProps {
  title: string;
  editing: boolean;
  onEditingChange: (editing: boolean) => void;
  onRename: (title: string) => void;
}

export function TitleEditor({ title, editing, onEditingChange, onRename }: TitleEditorProps) {
  const [draft, setDraft] = useState(title);
  const inputRef = useRef<HTMLInputElement>(null);
  const buttonRef = useRef<HTMLButtonElement>(null);
  const wasEditing = useRef(false);
  /** Enter, then the blur of the unmounting input, must save only once. */
  const closed = useRef(false);

  useEffect(() => {
    if (editing) {
      closed.current = false;
      setDraft(title);
      inputRef.current?.focus();
      inputRef.current?.select();
    } else if (wasEditing.current) {
      buttonRef.current?.focus();
    }
    wasEditing.current = editing;
    // Only entering or leaving edit mode moves focus; a remote rename while editing must not.
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [editing]);

  const shown = title.trim() || UNTITLED;
  if (!editing) {
    return (
      <button
        ref={buttonRef}
        type="button"
        className="title-button"
        aria-label={`${shown}, rename list`}
        onClick={() => onEditingChange(true)}
      >
        {shown}
      </button>
    );
  }

  const save = () => {
    if (closed.current) return;
    closed.current = true;
    const next = draft.trim();
    if (next !== '' && next !== title) onRename(next);
    onEditingChange(false);
  };
  return (
    <input
      ref={inputRef}
      className="title-input"
      type="text"
      aria-label="List name"
      maxLength={80}
      value={draft}
      onChange={(event) => setDraft(event.target.value)}
      onBlur={save}
      onKeyDown={(event) => {
        if (event.key === 'Enter') {
          event.preventDefault();
          save();
        } else if (event.key === 'Escape') {
          event.preventDefault();
          closed.current = true;
          onEditingChange(false);
        }
      }}
    />
  );
}

/**
 * The undo toast after a remove or "Clear checked". It floats over the list
 * (no layout shift), never takes focus, and goes away by itself. Ctrl+Z (⌘Z)
 * undoes while it shows, unless typing in a field (where it undoes the typing):
 * the Undo button is the last stop of the Tab order, too far for a keyboard
 * user before the toast goes.
 */
import { useEffect, useState } from 'react';
import { Icon } from './Icon';

export interface ToastMessage {
  /** Distinct per toast, so a new toast restarts the timer. */
  readonly id: number;
  readonly message: string;
  readonly undo?: () => void;
}

export const TOAST_MS = 7_000;

export function Toast({ toast, onDismiss }: { toast: ToastMessage; onDismiss: () => void }) {
  // The timer waits while a finger, pointer or keyboard focus is on the toast (WCAG 2.2.1).
  const [held, setHeld] = useState(false);
  useEffect(() => {
    if (held) return;
    const timer = setTimeout(onDismiss, TOAST_MS);
    return () => clearTimeout(timer);
  }, [toast.id, onDismiss, held]);

  useEffect(() => {
    const undo = toast.undo;
    if (undo === undefined) return;
    const onKeyDown = (event: KeyboardEvent): void => {
      if (event.key.toLowerCase() !== 'z' || !(event.ctrlKey || event.metaKey) || event.shiftKey || event.altKey) return;
      if (isTextEntry(event.target)) return;
      event.preventDefault();
      undo();
      onDismiss();
    };
    document.addEventListener('keydown', onKeyDown);
    return () => document.removeEventListener('keydown', onKeyDown);
  }, [toast, onDismiss]);

  return (
    <div
      className="toast card"
      onPointerEnter={() => setHeld(true)}
      onPointerLeave={() => setHeld(false)}
      onFocus={() => setHeld(true)}
      onBlur={(event) => {
        if (!event.currentTarget.contains(event.relatedTarget as Node | null)) setHeld(false);
      }}
    >
      <span className="toast-message">{toast.message}</span>
      {toast.undo && (
        <button
          type="button"
          className="text-button toast-action"
          aria-keyshortcuts="Control+Z Meta+Z"
          onClick={() => {
            toast.undo?.();
            onDismiss();
          }}
        >
          Undo
        </button>
      )}
      <button type="button" className="icon-button" aria-label="Dismiss" onClick={onDismiss}>
        <Icon name="close" />
      </button>
    </div>
  );
}

function isTextEntry(target: EventTarget | null): boolean {
  if (!(target instanceof HTMLElement)) return false;
  if (target.isContentEditable || target instanceof HTMLTextAreaElement) return true;
  return target instanceof HTMLInputElement && !['checkbox', 'radio', 'button', 'submit', 'reset'].includes(target.type);
}

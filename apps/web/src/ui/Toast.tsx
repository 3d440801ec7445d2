/**
 * The undo toast after a remove or "Clear checked". It floats over the list
 * (no layout shift), never takes focus, and goes away by itself.
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

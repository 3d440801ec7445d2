/**
 * The undo toast after a remove or "Clear checked". It floats over the list
 * (no layout shift), never takes focus, and goes away by itself.
 */
import { useEffect } from 'react';
import { Icon } from './Icon';

export interface ToastMessage {
  /** Distinct per toast, so a new toast restarts the timer. */
  readonly id: number;
  readonly message: string;
  readonly undo?: () => void;
}

export const TOAST_MS = 7_000;

export function Toast({ toast, onDismiss }: { toast: ToastMessage; onDismiss: () => void }) {
  useEffect(() => {
    const timer = setTimeout(onDismiss, TOAST_MS);
    return () => clearTimeout(timer);
  }, [toast.id, onDismiss]);

  return (
    <div className="toast card">
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

/**
 * A small modal dialog: labelled by its heading, focus moves in on open,
 * Tab stays inside, Escape or the backdrop closes it, and focus returns to
 * whatever opened it. (jsdom has no HTMLDialogElement.showModal, and the
 * component tests must exercise the real focus handling.)
 */
import { useEffect, useId, useRef } from 'react';
import type { KeyboardEvent, ReactNode } from 'react';
import { findAddItemInput } from './AddItemField';
import { Icon } from './Icon';

const FOCUSABLE =
  'a[href], button:not([disabled]), input:not([disabled]), select:not([disabled]), textarea:not([disabled]), [tabindex]:not([tabindex="-1"])';

interface DialogProps {
  title: string;
  onClose: () => void;
  children: ReactNode;
  /** Extra class for sizing (e.g. a sheet that needs more room). */
  className?: string;
}

export function Dialog({ title, onClose, children, className }: DialogProps) {
  const titleId = useId();
  const panelRef = useRef<HTMLDivElement>(null);

  useEffect(() => {
    const opener = document.activeElement instanceof HTMLElement ? document.activeElement : null;
    // An item row's opener may be re-created (the row moved to another section) or gone (merged):
    // then keyboard focus goes to the same control of the row, or to "Add item", never to <body>.
    const openerRow = opener?.matches(':focus-visible') ? opener.closest<HTMLElement>('li[data-item-id]') : null;
    const openerRowId = openerRow?.dataset['itemId'];
    const openerIndex = openerRow && opener ? [...openerRow.querySelectorAll('input, button')].indexOf(opener) : -1;
    const panel = panelRef.current;
    const autofocus = panel?.querySelector<HTMLElement>('[data-autofocus]');
    const first = autofocus ?? panel?.querySelector<HTMLElement>(FOCUSABLE) ?? panel;
    first?.focus();
    return () => {
      if (opener?.isConnected) {
        opener.focus();
        return;
      }
      if (openerRowId === undefined) return;
      const row = [...document.querySelectorAll<HTMLElement>('li[data-item-id]')].find((li) => li.dataset['itemId'] === openerRowId);
      const target =
        row?.querySelectorAll<HTMLElement>('input, button')[Math.max(0, openerIndex)] ??
        findAddItemInput();
      target?.focus();
    };
  }, []);

  const onKeyDown = (event: KeyboardEvent<HTMLDivElement>) => {
    if (event.key === 'Escape') {
      event.stopPropagation();
      onClose();
      return;
    }
    if (event.key !== 'Tab' || !panelRef.current) return;
    const focusable = [...panelRef.current.querySelectorAll<HTMLElement>(FOCUSABLE)];
    const first = focusable[0];
    const last = focusable[focusable.length - 1];
    if (!first || !last) return;
    // The panel itself holds focus when the control that had it went away (Recently deleted's
    // last restored row): Shift+Tab from there would leave for the page behind the dialog.
    const onPanel = document.activeElement === panelRef.current;
    if (event.shiftKey && (document.activeElement === first || onPanel)) {
      event.preventDefault();
      last.focus();
    } else if (!event.shiftKey && document.activeElement === last) {
      event.preventDefault();
      first.focus();
    }
  };

  return (
    <div
      className="dialog-backdrop"
      onMouseDown={(event) => {
        if (event.target === event.currentTarget) onClose();
      }}
    >
      <div
        ref={panelRef}
        className={className ? `dialog ${className}` : 'dialog'}
        role="dialog"
        aria-modal="true"
        aria-labelledby={titleId}
        tabIndex={-1}
        onKeyDown={onKeyDown}
      >
        <div className="dialog-header">
          <h2 id={titleId}>{title}</h2>
          <button type="button" className="icon-button" aria-label="Close" onClick={onClose}>
            <Icon name="close" />
          </button>
        </div>
        <div className="dialog-body">{children}</div>
      </div>
    </div>
  );
}

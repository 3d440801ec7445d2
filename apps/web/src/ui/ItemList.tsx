/**
 * The items, grouped by store section, then "In the cart" with
 * "Clear checked". Sections are memoized on their item arrays so a change
 * in one section does not re-render the others, and within a section rows are
 * rendered in memoized chunks (row-chunks.ts). A long list renders its
 * first rows at once and the rest progressively (progressive-rows.ts).
 */
import { memo, useLayoutEffect, useMemo, useRef } from 'react';
import type { ReactNode } from 'react';
import type { Item } from '@basket/list-core';
import { ItemRow } from './ItemRow';
import type { ItemActions } from './ItemRow';
import { groupItems, sameItems } from './sections';
import type { Section } from './sections';
import { useProgressiveRowCount } from './progressive-rows';
import { rowChunks } from './row-chunks';

/** Row and header heights from app.css (.item-row min-height, .section-header --tap). */
const ROW_REM = 3.25;
const HEADER_REM = 3;

function sectionHeightRem(rows: number): number {
  return HEADER_REM + rows * ROW_REM;
}

/**
 * A row whose chunk is replaced (its first item was removed, so two chunks merge) is re-created
 * in the new chunk: focus on it would fall to <body>. The old chunk notes the focused control on
 * its way out (layout cleanups run while its rows are still in the document) and the chunk that
 * now holds the row puts focus back.
 */
let focusLeavingChunk: { itemId: string; control: number } | null = null;
const FOCUSABLE = 'input, button';

function noteFocusLeaving(items: readonly Item[]): void {
  const active = document.activeElement;
  const row = active?.closest<HTMLElement>('li[data-item-id]');
  const itemId = row?.dataset['itemId'];
  if (!row || itemId === undefined || !items.some((item) => item.id === itemId)) return;
  const note = { itemId, control: [...row.querySelectorAll(FOCUSABLE)].indexOf(active as Element) };
  focusLeavingChunk = note;
  // Only the same commit can bring the row back (its layout effects run before this microtask);
  // a row that left for good must not pull focus when it returns later.
  queueMicrotask(() => {
    if (focusLeavingChunk === note) focusLeavingChunk = null;
  });
}

function restoreFocusArriving(items: readonly Item[]): void {
  const leaving = focusLeavingChunk;
  if (leaving === null || !items.some((item) => item.id === leaving.itemId)) return;
  focusLeavingChunk = null;
  const row = document.querySelector(`li[data-item-id="${CSS.escape(leaving.itemId)}"]`);
  const control = row?.querySelectorAll<HTMLElement>(FOCUSABLE)[Math.max(0, leaving.control)];
  if (control && (document.activeElement === null || document.activeElement === document.body)) control.focus();
}

/** One chunk of a section's rows (row-chunks.ts), as a fragment: re-rendered only when its items change. */
const Rows = memo(
  function Rows({ items, actions }: { items: readonly Item[]; actions: ItemActions }) {
    const itemsRef = useRef(items);
    itemsRef.current = items;
    // Every commit: the row may arrive in a chunk that already existed.
    useLayoutEffect(() => restoreFocusArriving(itemsRef.current));
    useLayoutEffect(() => () => noteFocusLeaving(itemsRef.current), []);
    return items.map((item) => <ItemRow key={item.id} item={item} actions={actions} />);
  },
  (before, after) => before.actions === after.actions && sameItems(before.items, after.items),
);

interface SectionProps {
  id: string;
  label: string;
  items: readonly Item[];
  actions: ItemActions;
  headerAction?: ReactNode;
}

const ItemSection = memo(
  function ItemSection({ id, label, items, actions, headerAction }: SectionProps) {
    const headingId = `section-${id.replace(/[^A-Za-z0-9_-]/g, '-')}`;
    const chunks = rowChunks(items);
    return (
      <section
        className="item-section"
        aria-labelledby={headingId}
        // Off-screen sections skip layout (content-visibility in app.css); until first rendered
        // they take this estimated height, so the page's height and scrollbar stay right.
        style={{ containIntrinsicSize: `auto ${sectionHeightRem(items.length)}rem` }}
      >
        <div className="section-header">
          <h2 id={headingId}>{label}</h2>
          {headerAction}
        </div>
        <ul className="item-rows" role="list">
          {chunks.map((chunk) => (
            <Rows key={chunk.key} items={chunk.items} actions={actions} />
          ))}
        </ul>
      </section>
    );
  },
  (before, after) =>
    before.id === after.id &&
    before.label === after.label &&
    before.actions === after.actions &&
    before.headerAction === after.headerAction &&
    sameItems(before.items, after.items),
);

interface ItemListProps {
  items: readonly Item[];
  /** False while the local copy is still loading: an empty list is not yet known to be empty. */
  loaded?: boolean;
  /** Shown instead of the usual "Nothing to buy yet" when the list is empty (see EmptyList). */
  emptyState?: ReactNode;
  actions: ItemActions;
  onClearChecked: () => void;
}

interface ShownSection extends Section {
  readonly inCart: boolean;
}

/** The sections in display order ("In the cart" last), cut to the first `rows` rows. */
function firstRows(sections: readonly Section[], inCart: readonly Item[], rows: number): ShownSection[] {
  const all: ShownSection[] = sections.map((section) => ({ ...section, inCart: false }));
  if (inCart.length > 0) all.push({ category: 'in-the-cart', label: 'In the cart', items: inCart, inCart: true });
  const shown: ShownSection[] = [];
  let remaining = rows;
  for (const section of all) {
    if (remaining <= 0) break;
    shown.push(section.items.length <= remaining ? section : { ...section, items: section.items.slice(0, remaining) });
    remaining -= section.items.length;
  }
  return shown;
}

export function ItemList({ items, loaded = true, emptyState, actions, onClearChecked }: ItemListProps) {
  const grouped = useMemo(() => groupItems(items), [items]);
  const rowCount = useProgressiveRowCount(items.length);
  const shownSections = useMemo(
    () => firstRows(grouped.sections, grouped.inCart, rowCount),
    [grouped, rowCount],
  );
  const clearButton = useMemo(
    () => (
      <button type="button" className="text-button" onClick={onClearChecked}>
        Clear checked
      </button>
    ),
    [onClearChecked],
  );

  if (items.length === 0) {
    if (!loaded) return <div className="item-list" aria-busy="true" />;
    return emptyState ?? <NothingToBuy />;
  }

  return (
    <div className="item-list">
      {shownSections.map((section) =>
        section.inCart ? (
          <ItemSection
            key="in-the-cart"
            id="in-the-cart"
            label="In the cart"
            items={section.items}
            actions={actions}
            headerAction={clearButton}
          />
        ) : (
          <ItemSection
            key={`category:${section.category}`}
            id={section.category}
            label={section.label}
            items={section.items}
            actions={actions}
          />
        ),
      )}
    </div>
  );
}

/** The usual message of an empty list (ListScreen may show another: EmptyList). */
export function NothingToBuy() {
  return (
    <p className="empty-list">
      Nothing to buy yet. Type what you need above — “2 l milk” works too.
    </p>
  );
}

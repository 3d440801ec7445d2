/**
 * Edit one item: name, quantity, unit, note and store section. Only the
 * fields the person actually changed are written, so a concurrent edit of
 * another field on another phone is not overwritten (merge rule 5 is per field).
 *
 * Saving never fails silently: a name of only spaces, or a quantity that is
 * not a number above 0, keeps the dialog open with the reason next to the
 * field, and a new name that is the same item as another row (rule 2 would
 * fold them into one) asks first.
 */
import { useEffect, useId, useRef, useState } from 'react';
import type { FormEvent } from 'react';
import { CATEGORIES, normalizeName } from '@basket/list-core';
import type { Item, ItemPatch } from '@basket/list-core';
import { Dialog } from './Dialog';
import { categoryLabel } from './sections';

interface ItemEditorProps {
  item: Item;
  /** The rows on the list, read when saving (a remote add while the dialog is open counts). */
  visibleItems: () => readonly Item[];
  /**
   * Set once someone removed the item while the editor is open (their name; '' if unknown): the
   * editor says so, and saving is putting the item back with the edit (onSave restores it).
   */
  removedBy?: string | undefined;
  onSave: (id: string, patch: ItemPatch) => void;
  onClose: () => void;
}

export const QUANTITY_ERROR = 'Enter a number above 0';
export const NAME_ERROR = 'Enter a name';

const VULGAR_FRACTIONS: Readonly<Record<string, number>> = {
  '½': 1 / 2,
  '⅓': 1 / 3,
  '⅔': 2 / 3,
  '¼': 1 / 4,
  '¾': 3 / 4,
  '⅛': 1 / 8,
};

/**
 * "2", "1.5", "0,5" (decimal comma, as typed in much of Europe), "1/2", "1 1/2", "½", "1½" →
 * the number; anything else (empty, 0, negative, "abc", "1e9") → undefined. Plain digits only:
 * Number() would also take "1e9", "0x10" and "Infinity", which nobody means as a quantity.
 */
export function parseQuantity(text: string): number | undefined {
  const value = text.trim().replace(/\s+/g, ' ');
  let quantity: number | undefined;
  let match: RegExpExecArray | null;
  if ((match = /^(\d+(?:[.,]\d*)?|[.,]\d+)$/.exec(value))) {
    quantity = Number(match[1]!.replace(',', '.'));
  } else if ((match = /^(?:(\d+) )?(\d+)[/⁄](\d+)$/.exec(value))) {
    quantity = Number(match[1] ?? 0) + Number(match[2]) / Number(match[3]);
  } else if ((match = /^(?:(\d+) ?)?([½⅓⅔¼¾⅛])$/u.exec(value))) {
    quantity = Number(match[1] ?? 0) + (VULGAR_FRACTIONS[match[2]!] ?? Number.NaN);
  }
  return quantity !== undefined && Number.isFinite(quantity) && quantity > 0 ? quantity : undefined;
}

/** The other row the list would fold a renamed item into (rule 2: same normalized name), if any. */
export function sameNamedItem(item: Item, newName: string, visible: readonly Item[]): Item | undefined {
  const key = normalizeName(newName);
  if (key === '') return undefined;
  return visible.find((other) => other.id !== item.id && normalizeName(other.name) === key);
}

export function changedFields(item: Item, draft: Required<ItemPatch>): ItemPatch {
  const patch: { -readonly [K in keyof ItemPatch]: ItemPatch[K] } = {};
  const name = draft.name.trim();
  if (name !== '' && name !== item.name) patch.name = name;
  if (Number.isFinite(draft.quantity) && draft.quantity > 0 && draft.quantity !== item.quantity) {
    patch.quantity = draft.quantity;
  }
  if (draft.unit.trim() !== item.unit) patch.unit = draft.unit.trim();
  if (draft.note.trim() !== item.note) patch.note = draft.note.trim();
  if (draft.category !== (item.category || 'other')) patch.category = draft.category;
  return patch;
}

export function ItemEditor({ item, visibleItems, removedBy, onSave, onClose }: ItemEditorProps) {
  const [name, setName] = useState(item.name);
  const [quantity, setQuantity] = useState(String(item.quantity));
  const [unit, setUnit] = useState(item.unit);
  const [note, setNote] = useState(item.note);
  const [category, setCategory] = useState(String(item.category || 'other'));
  // Set by the first save that found a field wrong: from then on each error follows its text,
  // so it goes away as soon as the field is fixed.
  const [showErrors, setShowErrors] = useState(false);
  const parsedQuantity = parseQuantity(quantity);
  const nameInvalid = showErrors && name.trim() === '';
  const quantityInvalid = showErrors && parsedQuantity === undefined;
  // The row a rename would merge into, once the person has been told and not yet decided.
  const [mergeWith, setMergeWith] = useState<Item | null>(null);
  const nameRef = useRef<HTMLInputElement>(null);
  const quantityRef = useRef<HTMLInputElement>(null);
  const changeNameRef = useRef<HTMLButtonElement>(null);
  const nameId = useId();
  const quantityId = useId();
  const quantityErrorId = useId();
  const nameErrorId = useId();
  const mergeWarningId = useId();
  const categories: readonly string[] = CATEGORIES.includes(category as (typeof CATEGORIES)[number])
    ? CATEGORIES
    : [...CATEGORIES, category];

  const save = (confirmedMerge: boolean) => {
    // The browser's `required` stops an empty name, not one of only spaces, which saving
    // would otherwise drop without a word (the item keeps its old name).
    const nameMissing = name.trim() === '';
    if (nameMissing || parsedQuantity === undefined) {
      setShowErrors(true);
      setMergeWith(null);
      // A screen reader reads the focused field with its error (aria-describedby).
      (nameMissing ? nameRef : quantityRef).current?.focus();
      return;
    }
    const patch = changedFields(item, { name, quantity: parsedQuantity, unit, note, category });
    if (patch.name !== undefined && !confirmedMerge) {
      const other = sameNamedItem(item, patch.name, visibleItems());
      if (other) {
        setMergeWith(other);
        return;
      }
    }
    // A removed item is put back even with nothing changed: that is what the button says.
    if (Object.keys(patch).length > 0 || removedBy !== undefined) onSave(item.id, patch);
    onClose();
  };

  useEffect(() => {
    // The Save button is replaced by the choice, so focus would fall to <body>. "Change name"
    // takes it: pressing Enter twice must not fold two items into one for good.
    if (mergeWith) changeNameRef.current?.focus();
  }, [mergeWith]);

  const onSubmit = (event: FormEvent) => {
    event.preventDefault();
    save(false);
  };

  const changeName = () => {
    setMergeWith(null);
    nameRef.current?.focus();
    nameRef.current?.select();
  };

  return (
    <Dialog title={`Edit ${item.name}`} onClose={onClose}>
      <form className="editor" onSubmit={onSubmit}>
        <div className="field">
          <label htmlFor={nameId}>Name</label>
          <input
            ref={nameRef}
            id={nameId}
            data-autofocus
            type="text"
            required
            maxLength={200}
            value={name}
            aria-invalid={nameInvalid || undefined}
            aria-describedby={nameInvalid ? nameErrorId : mergeWith ? mergeWarningId : undefined}
            onChange={(event) => {
              setName(event.target.value);
              setMergeWith(null);
            }}
          />
          {nameInvalid && (
            <span id={nameErrorId} className="field-error" role="alert">
              {NAME_ERROR}
            </span>
          )}
        </div>
        <div className="field-row">
          <div className="field">
            <label htmlFor={quantityId}>Quantity</label>
            <input
              ref={quantityRef}
              id={quantityId}
              type="text"
              inputMode="decimal"
              value={quantity}
              aria-invalid={quantityInvalid || undefined}
              aria-describedby={quantityInvalid ? quantityErrorId : undefined}
              onChange={(event) => setQuantity(event.target.value)}
            />
            {quantityInvalid && (
              <span id={quantityErrorId} className="field-error" role="alert">
                {QUANTITY_ERROR}
              </span>
            )}
          </div>
          <label className="field">
            <span>Unit</span>
            <input type="text" value={unit} placeholder="l, kg, pack…" onChange={(event) => setUnit(event.target.value)} />
          </label>
        </div>
        <label className="field">
          <span>Note</span>
          <input type="text" value={note} placeholder="Brand, size…" onChange={(event) => setNote(event.target.value)} />
        </label>
        <label className="field">
          <span>Section</span>
          <select value={category} onChange={(event) => setCategory(event.target.value)}>
            {categories.map((id) => (
              <option key={id} value={id}>
                {categoryLabel(id)}
              </option>
            ))}
          </select>
        </label>
        {removedBy !== undefined && (
          <p className="field-error" role="alert">
            {`${removedBy || 'Someone'} removed ${item.name} while you were editing`}
          </p>
        )}
        {mergeWith ? (
          <div className="merge-warning">
            <p id={mergeWarningId} role="alert">
              <span>{`${mergeWith.name} is already on the list — saving will merge them`}</span>
              {mergeWith.checked && <span> (it’s checked off, in the cart)</span>}
            </p>
            <div className="dialog-actions">
              <button ref={changeNameRef} type="button" className="text-button" onClick={changeName}>
                Change name
              </button>
              <button type="button" className="primary-button" onClick={() => save(true)}>
                Merge anyway
              </button>
            </div>
          </div>
        ) : (
          <div className="dialog-actions">
            <button type="button" className="text-button" onClick={onClose}>
              Cancel
            </button>
            <button type="submit" className="primary-button">
              {removedBy !== undefined ? 'Put back and save' : 'Save'}
            </button>
          </div>
        )}
      </form>
    </Dialog>
  );
}

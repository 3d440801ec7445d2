/**
 * Edit one item: name, quantity, unit, note and store section. Only the
 * fields the person actually changed are written, so a concurrent edit of
 * another field on another phone is not overwritten (merge rule 5 is per field).
 */
import { useState } from 'react';
import type { FormEvent } from 'react';
import { CATEGORIES } from '@basket/list-core';
import type { Item, ItemPatch } from '@basket/list-core';
import { Dialog } from './Dialog';
import { categoryLabel } from './sections';

interface ItemEditorProps {
  item: Item;
  onSave: (id: string, patch: ItemPatch) => void;
  onClose: () => void;
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

export function ItemEditor({ item, onSave, onClose }: ItemEditorProps) {
  const [name, setName] = useState(item.name);
  const [quantity, setQuantity] = useState(String(item.quantity));
  const [unit, setUnit] = useState(item.unit);
  const [note, setNote] = useState(item.note);
  const [category, setCategory] = useState(String(item.category || 'other'));
  const categories: readonly string[] = CATEGORIES.includes(category as (typeof CATEGORIES)[number])
    ? CATEGORIES
    : [...CATEGORIES, category];

  const onSubmit = (event: FormEvent) => {
    event.preventDefault();
    const patch = changedFields(item, {
      name,
      quantity: Number(quantity.replace(',', '.')),
      unit,
      note,
      category,
    });
    if (Object.keys(patch).length > 0) onSave(item.id, patch);
    onClose();
  };

  return (
    <Dialog title={`Edit ${item.name}`} onClose={onClose}>
      <form className="editor" onSubmit={onSubmit}>
        <label className="field">
          <span>Name</span>
          <input
            data-autofocus
            type="text"
            required
            maxLength={200}
            value={name}
            onChange={(event) => setName(event.target.value)}
          />
        </label>
        <div className="field-row">
          <label className="field">
            <span>Quantity</span>
            <input
              type="text"
              inputMode="decimal"
              value={quantity}
              onChange={(event) => setQuantity(event.target.value)}
            />
          </label>
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
        <div className="dialog-actions">
          <button type="button" className="text-button" onClick={onClose}>
            Cancel
          </button>
          <button type="submit" className="primary-button">
            Save
          </button>
        </div>
      </form>
    </Dialog>
  );
}

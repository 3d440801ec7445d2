/**
 * One item: a checkbox named exactly after the item (a contract browser
 * tests rely on), its details referenced by aria-describedby, and the edit
 * and remove buttons. Memoized on the item object: the model keeps unchanged
 * items' identities, so a change elsewhere in the list skips this row.
 */
import { memo } from 'react';
import { sameItem } from './sections';
import type { Item } from '@basket/list-core';
import { itemDetails } from './format';
import { Icon } from './Icon';

export interface ItemActions {
  toggle(item: Item): void;
  remove(item: Item): void;
  edit(item: Item): void;
}

export function checkboxId(itemId: string): string {
  return `item-${itemId}`;
}

export const ItemRow = memo(
  function ItemRow({ item, actions }: { item: Item; actions: ItemActions }) {
    const inputId = checkboxId(item.id);
    const detailsId = `${inputId}-details`;
    const details = itemDetails(item);
    return (
      <li className={item.checked ? 'item-row checked' : 'item-row'} data-item-id={item.id}>
        <label className="item-main" htmlFor={inputId}>
          <input
            id={inputId}
            type="checkbox"
            className="item-check"
            checked={item.checked}
            aria-label={item.name}
            aria-describedby={details ? detailsId : undefined}
            onChange={() => actions.toggle(item)}
          />
          <span className="item-text">
            <span className="item-name">{item.name}</span>
            {details && (
              <span className="item-details" id={detailsId}>
                {details}
              </span>
            )}
          </span>
        </label>
        <button
          type="button"
          className="icon-button"
          aria-label={`Edit ${item.name}`}
          onClick={() => actions.edit(item)}
        >
          <Icon name="edit" size={18} />
        </button>
        <button
          type="button"
          className="icon-button remove"
          aria-label={`Remove ${item.name}`}
          onClick={() => actions.remove(item)}
        >
          <Icon name="close" size={18} />
        </button>
      </li>
    );
  },
  (before, after) => before.actions === after.actions && sameItem(before.item, after.item),
);

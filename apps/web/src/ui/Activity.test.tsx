import { render, screen } from '@testing-library/react';
import { describe, expect, it } from 'vitest';
import * as Y from 'yjs';
import { ShoppingList } from '@basket/list-core';
import { ActivityLog } from './Activity';

/** Mum's Milk (1) and Dad's Milk (3), added apart, merged into one row of 3 once they sync. */
function mergedMilk() {
  let time = 1_700_000_000_000;
  const now = () => time;
  const mumDoc = new Y.Doc();
  const dadDoc = new Y.Doc();
  const mum = new ShoppingList(mumDoc, { actor: 'Mum', now });
  const dad = new ShoppingList(dadDoc, { actor: 'Dad', now });
  mum.addItem({ name: 'Milk', quantity: 1 });
  time += 10;
  dad.addItem({ name: 'Milk', quantity: 3 });
  Y.applyUpdate(mumDoc, Y.encodeStateAsUpdate(dadDoc));
  Y.applyUpdate(dadDoc, Y.encodeStateAsUpdate(mumDoc));
  time += 1000;
  return { mum };
}

describe('ActivityLog', () => {
  it('tells a unit-only edit of a merged row as the unit change and the quantity kept, not "from 3 to 3"', () => {
    const { mum } = mergedMilk();
    const row = mum.items()[0]!;
    expect(row.quantity).toBe(3);
    mum.updateItem(row.id, { unit: 'l' });
    render(<ActivityLog list={mum} onClose={() => {}} />);
    const texts = screen.getAllByRole('listitem').map((item) => item.textContent ?? '');
    expect(texts.some((text) => text.includes("Mum changed Milk's unit from nothing to l"))).toBe(true);
    expect(texts.some((text) => text.includes("Mum kept Milk's quantity at 3"))).toBe(true);
    expect(texts.filter((text) => text.includes('from 3 to 3'))).toEqual([]);
  });
});

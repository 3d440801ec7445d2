import { describe, expect, it } from 'vitest';
import { CATEGORIES, CATEGORY_LABELS } from '@basket/list-core';
import type { Item } from '@basket/list-core';
import { categoryLabel, groupItems, sameItems } from './sections';

let nextId = 0;
function item(name: string, category: string, checked = false): Item {
  nextId += 1;
  return {
    id: `id-${nextId}`,
    name,
    quantity: 1,
    unit: '',
    note: '',
    category,
    checked,
    addedBy: 'Mum',
    addedAt: 0,
    contributors: ['Mum'],
  };
}

describe('groupItems', () => {
  it('orders sections the way a shopper walks the store and keeps item order inside each', () => {
    const first = CATEGORIES[0]!;
    const last = CATEGORIES[CATEGORIES.length - 1]!;
    const a = item('Apples', last);
    const b = item('Bread', first);
    const c = item('Carrots', last);
    const { sections, inCart } = groupItems([a, b, c]);
    expect(sections.map((section) => section.category)).toEqual([first, last]);
    expect(sections[0]!.label).toBe(CATEGORY_LABELS[first]);
    expect(sections[1]!.items).toEqual([a, c]);
    expect(inCart).toEqual([]);
  });

  it('puts checked items in the cart, whatever their section', () => {
    const milk = item('Milk', 'dairy', true);
    const bread = item('Bread', 'bakery');
    const { sections, inCart } = groupItems([bread, milk]);
    expect(inCart).toEqual([milk]);
    expect(sections.flatMap((section) => section.items)).toEqual([bread]);
  });

  it('keeps categories it does not know, after the built-in ones', () => {
    const party = item('Balloons', 'party supplies');
    const bread = item('Bread', 'bakery');
    const { sections } = groupItems([party, bread]);
    expect(sections.map((section) => section.label)).toEqual([CATEGORY_LABELS.bakery, 'Party supplies']);
  });

  it('files an item without a category under other', () => {
    const { sections } = groupItems([item('Thing', '')]);
    expect(sections.map((section) => section.category)).toEqual(['other']);
    expect(categoryLabel('')).toBe(CATEGORY_LABELS.other);
  });
});

describe('sameItems', () => {
  it('compares items by what they show, so equal copies (cached rows → live list) count as the same', () => {
    const a = item('A', 'other');
    const b = item('B', 'other');
    expect(sameItems([a, b], [a, b])).toBe(true);
    expect(sameItems([a, b], [a, { ...b, contributors: [...b.contributors] }])).toBe(true);
    expect(sameItems([a, b], [a, { ...b, checked: !b.checked }])).toBe(false);
    expect(sameItems([a, b], [a, { ...b, note: 'ripe ones' }])).toBe(false);
    expect(sameItems([a, b], [a, { ...b, contributors: [...b.contributors, 'Dad'] }])).toBe(false);
    expect(sameItems([a, b], [b, a])).toBe(false);
    expect(sameItems([a], [a, b])).toBe(false);
  });
});

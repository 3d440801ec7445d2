import { describe, expect, it } from 'vitest';
import { parseQuickAdd } from './quick-add.js';

describe('parseQuickAdd', () => {
  it.each([
    ['2 l milk', { quantity: 2, unit: 'l', name: 'milk' }],
    ['2 L Milk', { quantity: 2, unit: 'l', name: 'Milk' }],
    ['Flour 1KG', { quantity: 1, unit: 'kg', name: 'Flour' }],
    ['milk x2', { quantity: 2, unit: '', name: 'milk' }],
    ['Milk ×3', { quantity: 3, unit: '', name: 'Milk' }],
    ['3 apples', { quantity: 3, unit: '', name: 'apples' }],
    ['500g sugar', { quantity: 500, unit: 'g', name: 'sugar' }],
    ['1.5 kg potatoes', { quantity: 1.5, unit: 'kg', name: 'potatoes' }],
    ['1,5 kg Potatoes', { quantity: 1.5, unit: 'kg', name: 'Potatoes' }],
    ['Eggs', { quantity: 1, unit: '', name: 'Eggs' }],
    ['  Greek Yogurt  ', { quantity: 1, unit: '', name: 'Greek Yogurt' }],
    ['2x Bread', { quantity: 2, unit: '', name: 'Bread' }],
    ['2 lemons', { quantity: 2, unit: '', name: 'lemons' }],
    ['2 bags of rice', { quantity: 2, unit: 'bags', name: 'rice' }],
    ['tomatoes 400g', { quantity: 400, unit: 'g', name: 'tomatoes' }],
    ['7up', { quantity: 1, unit: '', name: '7up' }],
    ['0 milk', { quantity: 1, unit: '', name: '0 milk' }],
    ['Pyrex x 2', { quantity: 2, unit: '', name: 'Pyrex' }],
    ['Milk×3', { quantity: 3, unit: '', name: 'Milk' }],
    // A name ending in "x" keeps its last letter; the number stays part of the name.
    ['Weetabix 24', { quantity: 1, unit: '', name: 'Weetabix 24' }],
    ['Tampax 20', { quantity: 1, unit: '', name: 'Tampax 20' }],
    ['Xbox 2', { quantity: 1, unit: '', name: 'Xbox 2' }],
  ])('%j', (text, expected) => {
    expect(parseQuickAdd(text)).toEqual(expected);
  });
});

import { describe, expect, it } from 'vitest';
import { CATEGORIES, CATEGORY_LABELS, builtInCategory, builtInNameCount } from './categories.js';

describe('built-in categories', () => {
  it('knows at least 300 grocery names', () => {
    expect(builtInNameCount()).toBeGreaterThanOrEqual(300);
  });

  it('labels every category in store-walk order', () => {
    expect(CATEGORIES.map((category) => CATEGORY_LABELS[category])).toEqual([
      'Produce', 'Bakery', 'Dairy & eggs', 'Meat & fish', 'Frozen', 'Pantry', 'Drinks',
      'Household', 'Personal care', 'Baby', 'Pets', 'Other',
    ]);
  });

  it.each([
    ['Apples', 'produce'],
    ['tomatoes', 'produce'],
    ['Sourdough', 'bakery'],
    ['Milk', 'dairy'],
    ['eggs', 'dairy'],
    ['Organic whole milk', 'dairy'],
    ['chicken breasts', 'meat-fish'],
    ['Ice cream', 'frozen'],
    ['spaghetti', 'pantry'],
    ['Oat milk', 'drinks'],
    ['Toilet paper', 'household'],
    ['toothpaste', 'personal-care'],
    ['Diapers', 'baby'],
    ['cat food', 'pets'],
    ['Bananas, ripe', 'produce'],
    // A name in two sections' lists belongs to the first, in store-walk order.
    ['Pretzels', 'bakery'],
    ['Tissues', 'household'],
    ['Flux capacitor', 'other'],
  ])('%s → %s', (name, category) => {
    expect(builtInCategory(name)).toBe(category);
  });
});

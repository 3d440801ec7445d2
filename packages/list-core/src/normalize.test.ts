import { describe, expect, it } from 'vitest';
import { normalizeName } from './normalize.js';

describe('normalizeName (the rule 2 duplicate key)', () => {
  it.each([
    ['Milk', 'milk '],
    ['Milk', 'Milks'],
    ['tomato', 'tomatoes'],
    ['berry', 'berries'],
    ['cookie', 'Cookies'],
    ['Brussels sprout', 'brussels  sprouts'],
    ['peach', 'peaches'],
    ['Jalapeño', 'jalapeno'],
    ['Egg', 'eggs'],
    ['Kiwi', 'Kiwis'],
    ['Pie', 'pies'],
    ['taxi', 'taxis'],
    ['Shoe', 'shoes'],
    ['toe', 'toes'],
    ['potato', 'potatoes'],
    ['mango', 'mangos'],
    ['mango', 'mangoes'],
    ['box', 'boxes'],
    ['glass', 'glasses'],
    ['dish', 'dishes'],
    ['cherry', 'cherries'],
    ['pea', 'peas'],
    ['cheese', 'cheeses'],
    ['apple', 'apples'],
    ['quiche', 'quiches'],
    ['spritz', 'spritzes'],
  ])('%j equals %j', (a, b) => {
    expect(normalizeName(a)).toBe(normalizeName(b));
  });

  it.each([
    ['Milk', 'Oat milk'],
    ['hummus', 'hummu'],
    ['glass', 'gla'],
    ['Milk', 'Silk'],
    ['pie', 'pi'],
    ['oat', 'oats milk'],
  ])('%j differs from %j', (a, b) => {
    expect(normalizeName(a)).not.toBe(normalizeName(b));
  });
});

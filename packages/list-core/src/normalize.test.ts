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
  ])('%j equals %j', (a, b) => {
    expect(normalizeName(a)).toBe(normalizeName(b));
  });

  it.each([
    ['Milk', 'Oat milk'],
    ['hummus', 'hummu'],
    ['glass', 'gla'],
  ])('%j differs from %j', (a, b) => {
    expect(normalizeName(a)).not.toBe(normalizeName(b));
  });
});

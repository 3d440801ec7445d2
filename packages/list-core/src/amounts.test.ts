import { describe, expect, it } from 'vitest';
import { amountText, convertAmount } from './amounts.js';

describe('convertAmount (rule 2 amounts in different units)', () => {
  it.each([
    [500, 'ml', 'l', 0.5],
    [1, 'l', 'ml', 1000],
    [1.5, 'L', 'ml', 1500],
    [250, 'g', 'kg', 0.25],
    [2, 'kg', 'g', 2000],
    [3, 'cl', 'dl', 0.3],
    [2, 'packs', 'pack', 2],
    [4, 'rolls', 'roll', 4],
    [1, 'oz', 'g', 28.349523],
    [3, '', '', 3],
  ])('%d %s in %s is %d', (quantity, unit, target, expected) => {
    expect(convertAmount(quantity, unit, target)).toBe(expected);
  });

  it.each([
    [500, 'g', 'pack'],
    [1, 'l', 'kg'],
    [3, '', 'kg'],
    [1, 'kg', ''],
  ])('%d %s does not convert to %s', (quantity, unit, target) => {
    expect(convertAmount(quantity, unit, target)).toBeUndefined();
  });

  it('writes an amount for a note', () => {
    expect(amountText(500, 'g')).toBe('500 g');
    expect(amountText(3, '')).toBe('3');
  });
});

import { describe, expect, it } from 'vitest';
import { patchSorted } from './sorted.js';

const compare = (a: number, b: number) => a - b;

describe('patchSorted', () => {
  it('removes and inserts by binary search without touching the input', () => {
    const input = [1, 3, 5, 7];
    expect(patchSorted(input, [3], [4, 8, 0], compare)).toEqual([0, 1, 4, 5, 7, 8]);
    expect(input).toEqual([1, 3, 5, 7]);
  });

  it('re-sorts for large batches with the same result', () => {
    const input = Array.from({ length: 200 }, (_, index) => index * 2);
    const added = Array.from({ length: 100 }, (_, index) => index * 2 + 1);
    const removed = input.slice(0, 50);
    const expected = [...input.slice(50), ...added].sort(compare);
    expect(patchSorted(input, removed, added, compare)).toEqual(expected);
  });
});

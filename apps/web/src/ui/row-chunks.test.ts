import { describe, expect, it } from 'vitest';
import type { Item } from '@basket/list-core';
import { MAX_CHUNK_ROWS, rowChunks } from './row-chunks';
import type { RowChunk } from './row-chunks';

function makeItem(id: string): Item {
  return { id, name: id, quantity: 1, unit: '', note: '', category: 'other', checked: false, addedBy: 'A', addedAt: 0, contributors: ['A'] };
}

/** Ids like the model's: random base64url strings (seeded, so the test is repeatable). */
function makeItems(count: number, seed: number): Item[] {
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
  let state = seed;
  const next = () => {
    state = (Math.imul(state, 1103515245) + 12345) >>> 0;
    return state >>> 8;
  };
  return Array.from({ length: count }, () => makeItem(Array.from({ length: 12 }, () => alphabet[next() % 64]).join('')));
}

/** Chunks of `after` that are not in `before` with the same key and the same item objects. */
function changedChunks(before: RowChunk[], after: RowChunk[]): RowChunk[] {
  const old = new Map(before.map((chunk) => [chunk.key, chunk.items]));
  return after.filter((chunk) => {
    const items = old.get(chunk.key);
    return !items || items.length !== chunk.items.length || items.some((item, i) => item !== chunk.items[i]);
  });
}

describe('rowChunks', () => {
  it('keeps every row, in order, in chunks of a bounded size averaging a few dozen', () => {
    const items = makeItems(1000, 1);
    const chunks = rowChunks(items);
    expect(chunks.flatMap((chunk) => chunk.items)).toEqual(items);
    expect(new Set(chunks.map((chunk) => chunk.key)).size).toBe(chunks.length);
    expect(Math.max(...chunks.map((chunk) => chunk.items.length))).toBeLessThanOrEqual(MAX_CHUNK_ROWS);
    expect(chunks.length).toBeGreaterThan(15);
    expect(chunks.length).toBeLessThan(70);
  });

  it('an added row changes only the chunk it lands in, wherever it lands', () => {
    const items = makeItems(1000, 2);
    const before = rowChunks(items);
    const [added] = makeItems(1, 99) as [Item];
    for (const at of [0, 1, 137, 500, 999, 1000]) {
      const after = rowChunks([...items.slice(0, at), added, ...items.slice(at)]);
      const changed = changedChunks(before, after);
      // One chunk grows; if the new row starts a chunk itself, the one it split also changes.
      expect(changed.length).toBeGreaterThanOrEqual(1);
      expect(changed.length).toBeLessThanOrEqual(2);
      expect(changed.some((chunk) => chunk.items.includes(added))).toBe(true);
    }
  });

  it('a removed row changes one chunk (two when it started one: they merge)', () => {
    const items = makeItems(1000, 3);
    const before = rowChunks(items);
    for (const at of [0, 1, 250, 998, 999]) {
      const after = rowChunks([...items.slice(0, at), ...items.slice(at + 1)]);
      expect(changedChunks(before, after).length).toBeLessThanOrEqual(1);
      expect(before.length - after.length).toBeLessThanOrEqual(1);
    }
  });

  it('an empty section has no chunks', () => {
    expect(rowChunks([])).toEqual([]);
  });
});

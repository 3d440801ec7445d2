import * as Y from 'yjs';
import { describe, expect, it } from 'vitest';
import { ShoppingList } from '../src/index.js';

/**
 * Performance budgets as tests (the full figures come from `pnpm bench`).
 * Medians, so a busy CI machine does not make them flaky.
 */
describe('performance budget, 5,000 items', () => {
  it('one remote change updates the view in ≤ 1 ms (median) and keeps unchanged rows', () => {
    const source = new Y.Doc();
    const writer = new ShoppingList(source, { actor: 'Mum', now: () => 1 });
    const ids: string[] = [];
    source.transact(() => {
      for (let index = 0; index < 5_000; index++) ids.push(writer.addItem({ name: `Item ${index}` }));
    });
    const target = new Y.Doc();
    Y.applyUpdate(target, Y.encodeStateAsUpdate(source));
    const reader = new ShoppingList(target, { actor: 'Dad' });
    expect(reader.items()).toHaveLength(5_000);
    const updates: Uint8Array[] = [];
    source.on('update', (update: Uint8Array) => updates.push(update));
    const times: number[] = [];
    for (let run = 0; run < 41; run++) {
      writer.setChecked(ids[run * 97]!, true);
      const before = reader.items();
      const started = performance.now();
      for (const update of updates.splice(0)) Y.applyUpdate(target, update);
      const after = reader.items();
      times.push(performance.now() - started);
      const previous = new Set(before);
      expect(after.filter((item) => !previous.has(item)).map((item) => item.id)).toEqual([ids[run * 97]]);
    }
    times.sort((a, b) => a - b);
    expect(times[20]).toBeLessThanOrEqual(1);
    const started = performance.now();
    reader.items();
    expect(performance.now() - started).toBeLessThanOrEqual(10);
  }, 60_000);
});

/**
 * Rows are memoized on the item object: a change re-renders only the row
 * that changed. Counted through itemDetails, which every row render calls once.
 */
import { act, configure, render } from '@testing-library/react';
import { describe, expect, it, vi } from 'vitest';
import type { Item } from '@basket/list-core';
import * as format from './format';
import { ItemList } from './ItemList';
import type { ItemActions } from './ItemRow';

// Component tests type key by key; on a loaded 2-core machine the 5 s default is too tight.
vi.setConfig({ testTimeout: 30_000 });
configure({ asyncUtilTimeout: 5_000 });

vi.mock('./format', async (importOriginal) => {
  const original = await importOriginal<typeof import('./format')>();
  return { ...original, itemDetails: vi.fn(original.itemDetails) };
});

function makeItems(count: number): Item[] {
  return Array.from({ length: count }, (_, index) => ({
    id: `item-${index}`,
    name: `Item ${String(index).padStart(4, '0')}`,
    quantity: 1,
    unit: '',
    note: '',
    category: index % 2 === 0 ? 'produce' : 'pantry',
    checked: false,
    addedBy: 'Mum',
    addedAt: 0,
    contributors: ['Mum'],
  }));
}

const actions: ItemActions = { toggle() {}, remove() {}, edit() {} };
const onClearChecked = () => {};

describe('ItemList rendering', () => {
  it('renders only the changed row when one item of 400 changes', () => {
    const renders = vi.mocked(format.itemDetails);
    const items = makeItems(400);
    const { rerender, container } = render(<ItemList items={items} actions={actions} onClearChecked={onClearChecked} />);
    expect(renders).toHaveBeenCalledTimes(400);
    expect(container.querySelectorAll('li.item-row')).toHaveLength(400);

    renders.mockClear();
    const changed = items.map((item, index) => (index === 200 ? { ...item, quantity: 3 } : item));
    act(() => rerender(<ItemList items={changed} actions={actions} onClearChecked={onClearChecked} />));
    expect(renders).toHaveBeenCalledTimes(1);
    expect(renders).toHaveBeenCalledWith(changed[200]);

    renders.mockClear();
    const added: Item = { ...makeItems(1)[0]!, id: 'new', name: 'New thing' };
    act(() => rerender(<ItemList items={[...changed, added]} actions={actions} onClearChecked={onClearChecked} />));
    expect(renders).toHaveBeenCalledTimes(1);
    expect(container.querySelectorAll('li.item-row')).toHaveLength(401);
  });

  it('re-renders no row when equal copies replace the items (the live list taking over from cached rows)', () => {
    const renders = vi.mocked(format.itemDetails);
    const items = makeItems(400);
    const { rerender } = render(<ItemList items={items} actions={actions} onClearChecked={onClearChecked} />);
    renders.mockClear();
    const copies = items.map((item) => ({ ...item, contributors: [...item.contributors] }));
    copies[7] = { ...copies[7]!, checked: true };
    act(() => rerender(<ItemList items={copies} actions={actions} onClearChecked={onClearChecked} />));
    expect(renders).toHaveBeenCalledTimes(1);
    expect(renders).toHaveBeenCalledWith(copies[7]);
  });
});

describe('ItemList focus', () => {
  it('keeps focus on a row whose chunk merges into the one before (the chunk’s first item removed)', async () => {
    const { rowChunks } = await import('./row-chunks');
    const items = makeItems(200).map((item) => ({ ...item, category: 'produce' }));
    const chunks = rowChunks(items);
    // A chunk after the first, with a row after its first: removing that first item merges the
    // chunk into the previous one, so its other rows are re-created.
    const chunk = chunks.find((c, index) => index > 0 && c.items.length > 1)!;
    const [first, focused] = chunk.items as [Item, Item];
    const { rerender, container } = render(<ItemList items={items} actions={actions} onClearChecked={onClearChecked} />);
    const checkboxNamed = (name: string) => container.querySelector<HTMLInputElement>(`input[type="checkbox"][aria-label="${name}"]`)!;
    const checkbox = checkboxNamed(focused.name);
    checkbox.focus();
    expect(document.activeElement).toBe(checkbox);

    const remaining = items.filter((item) => item.id !== first.id);
    expect(rowChunks(remaining).some((c) => c.key === first.id)).toBe(false);
    act(() => rerender(<ItemList items={remaining} actions={actions} onClearChecked={onClearChecked} />));
    const after = checkboxNamed(focused.name);
    expect(after).not.toBe(checkbox); // re-created under the merged chunk
    expect(document.activeElement).toBe(after);
  });
});

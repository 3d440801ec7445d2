/**
 * A long list paints its first rows at once and every row shortly after;
 * short lists (and every list once complete) render all rows in one commit.
 */
import { act, render, waitFor, within } from '@testing-library/react';
import { createRoot } from 'react-dom/client';
import { describe, expect, it, vi } from 'vitest';
import type { Item } from '@basket/list-core';
import { ItemList } from './ItemList';
import type { ItemActions } from './ItemRow';
import { ALL_AT_ONCE_ROWS, FIRST_ROWS } from './progressive-rows';

vi.setConfig({ testTimeout: 30_000 });

function makeItems(count: number, prefix = 'Item'): Item[] {
  return Array.from({ length: count }, (_, index) => ({
    id: `${prefix}-${index}`,
    name: `${prefix} ${String(index).padStart(4, '0')}`,
    quantity: 1,
    unit: '',
    note: '',
    category: index % 3 === 0 ? 'produce' : 'pantry',
    checked: index % 7 === 0,
    addedBy: 'Mum',
    addedAt: 0,
    contributors: ['Mum'],
  }));
}

const actions: ItemActions = { toggle() {}, remove() {}, edit() {} };
const onClearChecked = () => {};
const rows = (container: HTMLElement) => container.querySelectorAll('li.item-row').length;

// Queries are scoped to a row or a section header: a role query over the whole list computes the
// role and visibility of every element in 700 rows (measured: ~3 s for "Clear checked", ~1 s for a
// checkbox). What remains is jsdom walking every row's <label> once to name a button (~1 s).
function row(container: HTMLElement, itemId: string): HTMLElement {
  const found = container.querySelectorAll<HTMLElement>(`li[data-item-id="${itemId}"]`);
  expect(found).toHaveLength(1);
  return found[0]!;
}

/** The header of the section named `label` (its heading and header button). */
function sectionHeader(container: HTMLElement, label: string): HTMLElement {
  const section = [...container.querySelectorAll<HTMLElement>('section')].find(
    (candidate) => candidate.querySelector('h2')?.textContent === label,
  );
  expect(section, `section "${label}"`).toBeDefined();
  expect(section).toHaveAccessibleName(label);
  const header = section!.querySelector<HTMLElement>('h2')!.parentElement!;
  within(header).getByRole('heading', { name: label });
  return header;
}

describe('progressive rendering of long lists', () => {
  it('renders a short list completely in the first commit', () => {
    const { container } = render(
      <ItemList items={makeItems(ALL_AT_ONCE_ROWS)} actions={actions} onClearChecked={onClearChecked} />,
    );
    expect(rows(container)).toBe(ALL_AT_ONCE_ROWS);
  });

  it('paints the first rows of a long list at once, then every row, "In the cart" included', async () => {
    // Outside act(), which would flush every chunk at once: the first commit is seen as the browser sees it.
    const actEnvironment = globalThis as { IS_REACT_ACT_ENVIRONMENT?: boolean };
    const wasActEnvironment = actEnvironment.IS_REACT_ACT_ENVIRONMENT;
    actEnvironment.IS_REACT_ACT_ENVIRONMENT = false;
    const container = document.createElement('div');
    document.body.append(container);
    const seen: number[] = [];
    const observer = new MutationObserver(() => {
      if (seen.length < 2) seen.push(rows(container));
    });
    observer.observe(container, { childList: true, subtree: true });
    const root = createRoot(container);
    try {
      root.render(<ItemList items={makeItems(700)} actions={actions} onClearChecked={onClearChecked} />);
      for (let waited = 0; rows(container) < 700 && waited < 20_000; waited += 20) {
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
      expect(rows(container)).toBe(700);
      expect(seen[0]).toBe(FIRST_ROWS);
      expect(seen.length).toBeGreaterThan(1);
      const cartHeader = sectionHeader(container, 'In the cart');
      expect(within(cartHeader).getByRole('button', { name: 'Clear checked' })).toBeInTheDocument();
      expect(within(row(container, 'Item-699')).getByRole('checkbox', { name: 'Item 0699' })).toBeInTheDocument();
    } finally {
      observer.disconnect();
      root.unmount();
      container.remove();
      actEnvironment.IS_REACT_ACT_ENVIRONMENT = wasActEnvironment;
    }
  });

  it('shows an added item in the same commit once the list is complete', async () => {
    const items = makeItems(600);
    const { container, rerender } = render(<ItemList items={items} actions={actions} onClearChecked={onClearChecked} />);
    await waitFor(() => expect(rows(container)).toBe(600), { timeout: 20_000 });
    const added = [...items, ...makeItems(1, 'New')];
    act(() => rerender(<ItemList items={added} actions={actions} onClearChecked={onClearChecked} />));
    expect(rows(container)).toBe(601);
    expect(within(row(container, 'New-0')).getByRole('checkbox', { name: 'New 0000' })).toBeInTheDocument();
  });
});

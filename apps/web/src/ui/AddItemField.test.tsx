import { configure, render, screen, waitFor } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { describe, expect, it, vi } from 'vitest';
import type { NewItem } from '@basket/list-core';
import { AddItemField, pastedLines, suggestionCountText } from './AddItemField';

// Component tests type key by key; on a loaded 2-core machine the 5 s default is too tight.
vi.setConfig({ testTimeout: 30_000 });
configure({ asyncUtilTimeout: 5_000 });

const HISTORY = ['Milk', 'Mince', 'Mint', 'Oat milk'];

function setup() {
  const added: NewItem[] = [];
  const prefixes: string[] = [];
  const suggest = (prefix: string, limit: number) => {
    prefixes.push(prefix);
    return HISTORY.filter((name) => name.toLowerCase().includes(prefix.toLowerCase())).slice(0, limit);
  };
  render(
    <AddItemField
      onAdd={(item) => {
        added.push(item);
        return 'new-row';
      }}
      suggest={suggest}
    />,
  );
  return { added, prefixes, user: userEvent.setup(), field: screen.getByRole('textbox', { name: 'Add item' }) };
}

describe('AddItemField suggestions', () => {
  it('suggests names for the typed name, leaving the quantity aside', async () => {
    const { user, field, prefixes } = setup();
    await user.type(field, '2 l mi');
    const listbox = await screen.findByRole('listbox', { name: 'Suggestions' });
    expect(field).toHaveAttribute('aria-controls', listbox.id);
    expect(screen.getAllByRole('option').map((option) => option.textContent)).toEqual([
      'Milk',
      'Mince',
      'Mint',
      'Oat milk',
    ]);
    expect(prefixes.at(-1)).toBe('mi');
  });

  it('picks a suggestion with the arrow keys and Enter, keeping quantity and unit', async () => {
    const { user, field, added } = setup();
    await user.type(field, '2 l mi');
    await screen.findByRole('listbox');
    await user.keyboard('{ArrowDown}{ArrowDown}');
    const active = screen.getByRole('option', { name: 'Mince' });
    expect(active).toHaveAttribute('aria-selected', 'true');
    expect(field).toHaveAttribute('aria-activedescendant', active.id);
    await user.keyboard('{Enter}');
    expect(added).toEqual([{ name: 'Mince', quantity: 2, unit: 'l' }]);
    expect(field).toHaveValue('');
    expect(screen.queryByRole('listbox')).toBeNull();
  });

  it('ArrowUp from the field goes to the last suggestion, and the arrows wrap around', async () => {
    const { user, field } = setup();
    await user.type(field, 'mi');
    await screen.findByRole('listbox');
    await user.keyboard('{ArrowUp}');
    expect(screen.getByRole('option', { name: 'Oat milk' })).toHaveAttribute('aria-selected', 'true');
    await user.keyboard('{ArrowDown}');
    expect(screen.getByRole('option', { name: 'Milk' })).toHaveAttribute('aria-selected', 'true');
    await user.keyboard('{ArrowUp}');
    expect(field).toHaveAttribute('aria-activedescendant', screen.getByRole('option', { name: 'Oat milk' }).id);
  });

  it('does not suggest the very name typed, only longer ones', async () => {
    const { user, field } = setup();
    await user.type(field, 'milk');
    await screen.findByRole('listbox');
    expect(screen.getAllByRole('option').map((option) => option.textContent)).toEqual(['Oat milk']);
  });

  it('adds a tapped suggestion and keeps focus in the field', async () => {
    const { user, field, added } = setup();
    await user.type(field, 'oat');
    await user.click(await screen.findByRole('option', { name: 'Oat milk' }));
    expect(added).toEqual([{ name: 'Oat milk', quantity: 1, unit: '' }]);
    expect(field).toHaveFocus();
  });

  it('closes suggestions with Escape and then adds what was typed', async () => {
    const { user, field, added } = setup();
    await user.type(field, 'mi');
    await screen.findByRole('listbox');
    await user.keyboard('{Escape}');
    expect(screen.queryByRole('listbox')).toBeNull();
    await user.keyboard('{Enter}');
    expect(added.map((item) => item.name.toLowerCase())).toEqual(['mi']);
  });

  it('announces what was added', async () => {
    const { user, field } = setup();
    await user.type(field, '3 apples{Enter}');
    expect(screen.getByText(/^Added 3 /)).toBeInTheDocument();
  });
});

describe('AddItemField paste', () => {
  it('adds one item per pasted line, each read like typed text', async () => {
    const { user, field, added } = setup();
    await user.click(field);
    await user.paste('Apples\nPears\r\n\r\n  2 l milk  \n- 3 bananas\n');
    expect(added).toEqual([
      { name: 'Apples', quantity: 1, unit: '' },
      { name: 'Pears', quantity: 1, unit: '' },
      { name: 'milk', quantity: 2, unit: 'l' },
      { name: 'bananas', quantity: 3, unit: '' },
    ]);
    expect(field).toHaveValue('');
    expect(field).toHaveFocus();
    expect(screen.getByText('Added 4 items: Apples, Pears, 2 l milk, 3 bananas')).toBeInTheDocument();
  });

  it('counts text already typed as the first line, as if the field kept line breaks', async () => {
    const { user, field, added } = setup();
    await user.type(field, 'Ban');
    await user.keyboard('{Escape}');
    await user.paste('anas\nKiwis');
    expect(added.map((item) => item.name)).toEqual(['Bananas', 'Kiwis']);
    expect(field).toHaveValue('');
  });

  it('leaves a one-line paste in the field as before, for Enter to add', async () => {
    const { user, field, added } = setup();
    await user.click(field);
    await user.paste('Apples\n');
    expect(added).toEqual([]);
    expect(field).toHaveValue('Apples');
    await user.paste(' and pears');
    expect(added).toEqual([]);
    expect(field).toHaveValue('Apples and pears');
  });
});

describe('pastedLines', () => {
  it('splits lines, drops empty ones and list markers; one line is an ordinary paste', () => {
    expect(pastedLines('• Apples\r\n☐ Pears\n[ ] Plums\n\n* Figs\n[x] Dates')).toEqual([
      'Apples',
      'Pears',
      'Plums',
      'Figs',
      'Dates',
    ]);
    expect(pastedLines('Apples')).toEqual([]);
    expect(pastedLines('\n Apples \n\n')).toEqual([]);
  });
});

describe('AddItemField announcements', () => {
  // A screen reader speaks a live region when its content changes: the same words set again
  // change nothing in the DOM, and the second "Added Milk" (Milk added, removed, added again)
  // went unsaid, as if Enter had done nothing.
  it('announces the same add twice in a row', async () => {
    const { user, field } = setup();
    await user.type(field, 'Milk{Enter}');
    const region = screen.getByText('Added Milk').closest('[aria-live]');
    expect(region).not.toBeNull();
    const changes: MutationRecord[] = [];
    const observer = new MutationObserver((records) => changes.push(...records));
    observer.observe(region!, { childList: true, subtree: true, characterData: true });
    await user.type(field, 'Milk{Enter}');
    await Promise.resolve();
    observer.disconnect();
    expect(region).toHaveTextContent('Added Milk');
    expect(changes.length, 'the region was updated').toBeGreaterThan(0);
  });
});

describe('AddItemField suggestion count', () => {
  /** The hidden polite region that says how many suggestions show (not the "Added …" one). */
  async function countRegion(text: string): Promise<HTMLElement> {
    const region = (await screen.findByText(text)).closest<HTMLElement>('[aria-live]');
    expect(region).not.toBeNull();
    return region!;
  }

  it('tells a screen reader how many suggestions show, and nothing once there are none', async () => {
    const { user, field } = setup();
    await user.type(field, 'mi');
    const region = await countRegion('4 suggestions');
    expect(region).toHaveAttribute('aria-live', 'polite');
    expect(region).toHaveClass('visually-hidden');
    // Not a status: the page has exactly one role="status" (the sync status line).
    expect(region).not.toHaveAttribute('role');
    expect(screen.getAllByRole('option')).toHaveLength(4);

    await user.type(field, 'lk');
    await waitFor(() => expect(region).toHaveTextContent(/^1 suggestion$/));
    expect(screen.getAllByRole('option')).toHaveLength(1);

    await user.keyboard('{Escape}');
    expect(screen.queryByRole('listbox')).toBeNull();
    expect(region.textContent).toBe('');

    await user.keyboard('{ArrowDown}');
    await waitFor(() => expect(region).toHaveTextContent(/^1 suggestion$/));

    await user.clear(field);
    await user.type(field, 'xyz');
    await waitFor(() => expect(region.textContent).toBe(''));
    expect(screen.queryByRole('listbox')).toBeNull();
  });

  it('says nothing after an add, while "Added …" is said in its own region', async () => {
    const { user, field } = setup();
    await user.type(field, 'mi');
    const region = await countRegion('4 suggestions');
    await user.keyboard('{Enter}');
    expect(region.textContent).toBe('');
    const added = screen.getByText('Added mi').closest('[aria-live]');
    expect(added).not.toBe(region);
  });

  it('keeps the field a text field, not a combobox (PRODUCT.md; aria-expanded on a textbox is an axe critical)', async () => {
    const { user, field } = setup();
    await user.type(field, 'mi');
    await screen.findByRole('listbox');
    expect(screen.getByRole('textbox', { name: 'Add item' })).toBe(field);
    expect(screen.queryByRole('combobox')).toBeNull();
    expect(field).not.toHaveAttribute('aria-expanded');
  });

  it('counts in words: none, one, several', () => {
    expect(suggestionCountText(0)).toBe('');
    expect(suggestionCountText(1)).toBe('1 suggestion');
    expect(suggestionCountText(6)).toBe('6 suggestions');
  });
});

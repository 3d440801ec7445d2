import { act, configure, screen, waitFor, within } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { afterEach, describe, expect, it, vi } from 'vitest';
import * as Y from 'yjs';
import { createMemorySession } from '../session';
import { renderListScreen, TEST_LIST_ID } from './test-support';

vi.setConfig({ testTimeout: 30_000 });
configure({ asyncUtilTimeout: 5_000 });

let destroy: (() => void) | null = null;
afterEach(() => {
  destroy?.();
  destroy = null;
});

/**
 * A list as stored on the device (`stored`), its cached view, and a screen whose session has
 * not loaded the stored document yet; `load()` applies it, as IndexedDB would.
 */
function coldStart() {
  const stored = createMemorySession(TEST_LIST_ID, 'Mum');
  stored.list.setTitle('Weekend');
  for (const name of ['Milk', 'Bread', 'Apples']) stored.list.addItem({ name });
  const apples = stored.list.items().find((item) => item.name === 'Apples')!;
  stored.list.setChecked(apples.id, true);
  const cachedView = { title: stored.list.title(), items: stored.list.items(), savedAt: 1 };

  let finishLoading: () => void = () => {};
  const whenLoaded = new Promise<void>((resolve) => {
    finishLoading = resolve;
  });
  const rendered = renderListScreen({ session: { cachedView, whenLoaded } });
  destroy = () => {
    rendered.unmount();
    rendered.session.destroy();
    stored.destroy();
  };
  const load = async () => {
    await act(async () => {
      Y.applyUpdate(rendered.session.doc, Y.encodeStateAsUpdate(stored.doc));
      finishLoading();
      await whenLoaded;
    });
  };
  const idOf = (name: string) => stored.list.items().find((item) => item.name === name)!.id;
  return { ...rendered, load, idOf, user: userEvent.setup() };
}

describe('cold start from the cached view', () => {
  it('paints the cached rows and title before the document is loaded, with the add field live', () => {
    const { list } = coldStart();
    expect(list.items()).toHaveLength(0);
    expect(screen.getByRole('checkbox', { name: 'Milk' })).not.toBeChecked();
    expect(screen.getByRole('checkbox', { name: 'Apples' })).toBeChecked();
    expect(screen.getByRole('heading', { level: 1 })).toHaveTextContent('Weekend');
    expect(screen.getByRole('textbox', { name: 'Add item' })).toBeEnabled();
  });

  it('shows taps on cached rows at once and applies them to the list once it is loaded', async () => {
    const { list, load, idOf, user } = coldStart();
    await user.click(screen.getByRole('checkbox', { name: 'Milk' }));
    expect(screen.getByRole('checkbox', { name: 'Milk' })).toBeChecked();
    expect(within(screen.getByRole('region', { name: 'In the cart' })).getByText('Milk')).toBeInTheDocument();
    await user.click(screen.getByRole('button', { name: 'Remove Bread' }));
    expect(screen.queryByRole('checkbox', { name: 'Bread' })).toBeNull();
    await user.type(screen.getByRole('textbox', { name: 'Add item' }), 'Eggs{Enter}');
    expect(screen.getByRole('checkbox', { name: 'Eggs' })).toBeInTheDocument();
    expect(list.item(idOf('Milk'))).toBeUndefined();

    await load();
    await waitFor(() => expect(list.item(idOf('Milk'))?.checked).toBe(true));
    expect(list.item(idOf('Bread'))?.deletedAt).toBeGreaterThan(0);
    expect(list.deletedItems().map((item) => item.name)).toEqual(['Bread']);
    expect(list.items().map((item) => item.name).sort()).toEqual(['Apples', 'Eggs', 'Milk']);
    expect(screen.getByRole('checkbox', { name: 'Milk' })).toBeChecked();
    expect(screen.queryByRole('checkbox', { name: 'Bread' })).toBeNull();
  });

  it('undo of a removal made before the load brings the item back', async () => {
    const { list, load, user } = coldStart();
    await user.click(screen.getByRole('button', { name: 'Remove Milk' }));
    await user.click(screen.getByRole('button', { name: 'Undo' }));
    expect(screen.getByRole('checkbox', { name: 'Milk' })).toBeInTheDocument();
    await load();
    await waitFor(() => expect(list.items().map((item) => item.name)).toContain('Milk'));
  });

  it('opens the editor for a cached row once the document is loaded', async () => {
    const { load, user } = coldStart();
    await user.click(screen.getByRole('button', { name: 'Edit Milk' }));
    expect(screen.queryByRole('dialog')).toBeNull();
    await load();
    expect(await screen.findByRole('dialog')).toBeInTheDocument();
  });
});

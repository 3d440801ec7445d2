/**
 * The list screen against two in-memory replicas of one list (Mum's, on
 * screen, and Dad's), exchanging updates by hand: what Mum sees after
 * concurrent edits merge.
 */
import { act, configure, screen, within } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import * as Y from 'yjs';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { createMemorySession } from '../session';
import type { MemoryListSession } from '../session';
import { renderListScreen, TEST_LIST_ID } from './test-support';

// Component tests type key by key; on a loaded 2-core machine the 5 s default is too tight.
vi.setConfig({ testTimeout: 30_000 });
configure({ asyncUtilTimeout: 5_000 });

let cleanups: (() => void)[] = [];
afterEach(() => {
  for (const cleanup of cleanups.splice(0)) cleanup();
});

function exchange(a: Y.Doc, b: Y.Doc): void {
  const toB = Y.encodeStateAsUpdate(a, Y.encodeStateVector(b));
  const toA = Y.encodeStateAsUpdate(b, Y.encodeStateVector(a));
  Y.applyUpdate(b, toB, 'remote');
  Y.applyUpdate(a, toA, 'remote');
}

/** Rule 4's story: Mum adds Butter, both phones have it; then Mum changes it while Dad removes it. */
function mumChangesButterDadRemovesIt(mum: { list: MemoryListSession['list']; session: { doc: Y.Doc } }, dad: MemoryListSession): void {
  let id = '';
  act(() => {
    id = mum.list.addItem({ name: 'Butter' });
    exchange(mum.session.doc, dad.doc);
  });
  act(() => {
    mum.list.updateItem(id, { quantity: 3 });
    dad.list.removeItem(id);
    exchange(mum.session.doc, dad.doc);
  });
}

function setup() {
  const mum = renderListScreen({ actor: 'Mum' });
  const dad: MemoryListSession = createMemorySession(TEST_LIST_ID, 'Dad');
  cleanups.push(() => {
    mum.unmount();
    mum.session.destroy();
    dad.destroy();
  });
  return { mum, dad, user: userEvent.setup() };
}

describe('after a merge', () => {
  it('shows a duplicate added on both phones once, with both contributors (rule 2)', () => {
    const { mum, dad } = setup();
    act(() => {
      mum.list.addItem({ name: 'Milk' });
      dad.list.addItem({ name: 'milk', quantity: 2 });
      exchange(mum.session.doc, dad.doc);
    });
    const checkboxes = screen.getAllByRole('checkbox');
    expect(checkboxes).toHaveLength(1);
    expect(checkboxes[0]).toHaveAccessibleDescription(/Mum \+ Dad|Dad \+ Mum/);
  });

  it('explains a merged duplicate once: once dismissed, reopening the list does not tell it again (rule 2)', async () => {
    const storedCopies = new Map<string, Uint8Array>();
    const mum = renderListScreen({ actor: 'Mum', session: { storedCopies } });
    const dad = createMemorySession(TEST_LIST_ID, 'Dad');
    cleanups.push(() => dad.destroy());
    act(() => {
      mum.list.addItem({ name: 'Milk' });
      dad.list.addItem({ name: 'milk', quantity: 2 });
      exchange(mum.session.doc, dad.doc);
    });
    expect(screen.getAllByText('Dad merged your Milk with theirs')).toHaveLength(1);
    await userEvent
      .setup()
      .click(screen.getByRole('button', { name: 'Dismiss', description: 'Dad merged your Milk with theirs' }));
    mum.unmount();
    mum.session.destroy();

    const reopened = renderListScreen({ actor: 'Mum', session: { storedCopies } });
    cleanups.push(() => {
      reopened.unmount();
      reopened.session.destroy();
    });
    expect(screen.getAllByRole('checkbox')).toHaveLength(1);
    expect(screen.queryByText('Dad merged your Milk with theirs')).toBeNull();
  });

  it('tells Mum that Dad removed the item she changed, with a one-tap Restore that keeps her change (rule 4)', async () => {
    const { mum, dad, user } = setup();
    mumChangesButterDadRemovesIt(mum, dad);
    expect(screen.queryByRole('checkbox', { name: 'Butter' })).toBeNull();
    const message = screen.getByText('Dad removed Butter that you changed');
    const restore = screen.getByRole('button', { name: 'Restore' });
    expect(restore).toHaveAccessibleDescription(message.textContent!);

    await user.click(restore);
    const butter = screen.getByRole('checkbox', { name: 'Butter' });
    expect(butter).toHaveAccessibleDescription('3');
    expect(screen.queryByText('Dad removed Butter that you changed')).toBeNull();
  });

  it('still tells Mum after a reload that Dad removed the item she changed, once, until she acts on it (rule 4)', async () => {
    const storedCopies = new Map<string, Uint8Array>();
    const mum = renderListScreen({ actor: 'Mum', session: { storedCopies } });
    const dad = createMemorySession(TEST_LIST_ID, 'Dad');
    cleanups.push(() => dad.destroy());
    mumChangesButterDadRemovesIt(mum, dad);
    expect(screen.getByText('Dad removed Butter that you changed')).toBeInTheDocument();
    // The phone discards the page before Mum looks.
    mum.unmount();
    mum.session.destroy();

    const reopen = () => {
      const page = renderListScreen({ actor: 'Mum', session: { storedCopies } });
      cleanups.push(() => {
        page.unmount();
        page.session.destroy();
      });
      return page;
    };
    const later = reopen();
    expect(screen.getAllByText('Dad removed Butter that you changed')).toHaveLength(1);
    await userEvent.setup().click(screen.getByRole('button', { name: 'Restore' }));
    expect(screen.getByRole('checkbox', { name: 'Butter' })).toHaveAccessibleDescription('3');
    expect(screen.queryByText('Dad removed Butter that you changed')).toBeNull();
    later.unmount();
    later.session.destroy();

    reopen();
    expect(screen.getByRole('checkbox', { name: 'Butter' })).toBeInTheDocument();
    expect(screen.queryByText('Dad removed Butter that you changed')).toBeNull();
  });

  it('drops a kept removal notice once the item is back, restored another way', async () => {
    const { mum, dad, user } = setup();
    mumChangesButterDadRemovesIt(mum, dad);
    expect(screen.getByText('Dad removed Butter that you changed')).toBeInTheDocument();
    await user.click(screen.getByRole('button', { name: 'Recently deleted' }));
    await user.click(screen.getByRole('button', { name: 'Restore Butter' }));
    expect(screen.queryByText('Dad removed Butter that you changed')).toBeNull();
    expect(localStorage.getItem(`basket:notices:${TEST_LIST_ID}`)).toBeNull();
  });

  it('tells Mum when Dad removes the item she is editing, and saving puts it back with her change', async () => {
    const { mum, dad, user } = setup();
    act(() => {
      mum.list.addItem({ name: 'Butter' });
      exchange(mum.session.doc, dad.doc);
    });
    await user.click(screen.getByRole('button', { name: 'Edit Butter' }));
    act(() => {
      dad.list.removeItem(dad.list.items()[0]!.id);
      exchange(mum.session.doc, dad.doc);
    });
    const dialog = screen.getByRole('dialog', { name: 'Edit Butter' });
    expect(within(dialog).getByRole('alert')).toHaveTextContent('Dad removed Butter while you were editing');
    const quantity = within(dialog).getByRole('textbox', { name: 'Quantity' });
    await user.clear(quantity);
    await user.type(quantity, '3');
    await user.click(within(dialog).getByRole('button', { name: 'Put back and save' }));

    expect(screen.getByRole('checkbox', { name: 'Butter' })).toHaveAccessibleDescription('3');
    act(() => exchange(mum.session.doc, dad.doc));
    expect(dad.list.items().map((item) => [item.name, item.quantity])).toEqual([['Butter', 3]]);
  });

  it('"Put back and save" puts the item back even when Mum changed nothing', async () => {
    const { mum, dad, user } = setup();
    act(() => {
      mum.list.addItem({ name: 'Butter' });
      exchange(mum.session.doc, dad.doc);
    });
    await user.click(screen.getByRole('button', { name: 'Edit Butter' }));
    act(() => {
      dad.list.removeItem(dad.list.items()[0]!.id);
      exchange(mum.session.doc, dad.doc);
    });
    const dialog = screen.getByRole('dialog', { name: 'Edit Butter' });
    await user.click(within(dialog).getByRole('button', { name: 'Put back and save' }));
    expect(screen.queryByRole('dialog')).toBeNull();
    expect(screen.getByRole('checkbox', { name: 'Butter' })).toBeInTheDocument();
    act(() => exchange(mum.session.doc, dad.doc));
    expect(dad.list.items().map((item) => item.name)).toEqual(['Butter']);
  });

  it("lists Dad's edits in the activity view", async () => {
    const { mum, dad, user } = setup();
    act(() => {
      dad.list.addItem({ name: 'Eggs' });
      exchange(mum.session.doc, dad.doc);
    });
    await user.click(screen.getByRole('button', { name: 'Activity' }));
    const dialog = screen.getByRole('dialog', { name: 'Activity' });
    expect(within(dialog).getByText('Dad added Eggs')).toBeInTheDocument();
  });

  it('suggests names from the list history as Mum types', async () => {
    const { mum, user } = setup();
    act(() => {
      const id = mum.list.addItem({ name: 'Parmesan' });
      mum.list.removeItem(id);
    });
    await user.type(screen.getByRole('textbox', { name: 'Add item' }), 'par');
    const option = await screen.findByRole('option', { name: 'Parmesan' });
    await user.click(option);
    expect(screen.getByRole('checkbox', { name: 'Parmesan' })).toBeInTheDocument();
  });
});

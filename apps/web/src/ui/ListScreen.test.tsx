import { act, configure, screen, waitFor, within } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { afterEach, describe, expect, it, vi } from 'vitest';
import * as Y from 'yjs';
import { createMemorySession } from '../session';
import type { MemoryListSession } from '../session';
import type { Notice } from '@basket/list-core';
import { captureEarlyTyping, dropEarlyTyping } from './early-typing';
import { focusVisibleWhileFocused, renderListScreen, TEST_LIST_ID } from './test-support';
import { TOAST_MS } from './Toast';

// Component tests type key by key; on a loaded 2-core machine the 5 s default is too tight.
vi.setConfig({ testTimeout: 30_000 });
configure({ asyncUtilTimeout: 5_000 });

let destroy: (() => void) | null = null;
afterEach(() => {
  destroy?.();
  destroy = null;
});

function setup(options?: Parameters<typeof renderListScreen>[0]) {
  const rendered = renderListScreen(options);
  destroy = () => {
    rendered.unmount();
    rendered.session.destroy();
  };
  return { ...rendered, user: userEvent.setup() };
}

function visibleNames(list: { items(): readonly { name: string }[] }): string[] {
  return list.items().map((item) => item.name);
}

describe('opening a list', () => {
  const addField = () => screen.getByRole('textbox', { name: 'Add item' });

  it('an empty list opens ready to type: keys go into "Add item" without a click', async () => {
    const { user, list } = setup();
    expect(addField()).toHaveFocus();
    await user.keyboard('Milk{Enter}');
    expect(visibleNames(list)).toEqual(['Milk']);
  });

  it('a list that opens with rows leaves the focus alone (no keyboard popping up over them)', () => {
    const stored = createMemorySession(TEST_LIST_ID, 'Mum');
    stored.list.addItem({ name: 'Bread' });
    const cachedView = { title: '', items: stored.list.items(), savedAt: 1 };
    stored.destroy();
    setup({ session: { cachedView, whenLoaded: new Promise<void>(() => {}) } });
    expect(screen.getByRole('checkbox', { name: 'Bread' })).toBeInTheDocument();
    expect(addField()).not.toHaveFocus();
  });

  it('gives the focus back when rows arrive after an empty open, unless the person started typing', async () => {
    const dad = createMemorySession(TEST_LIST_ID, 'Dad');
    dad.list.addItem({ name: 'Bread' });
    const fromDad = Y.encodeStateAsUpdate(dad.doc);
    dad.destroy();

    const untouched = setup();
    expect(addField()).toHaveFocus();
    act(() => Y.applyUpdate(untouched.session.doc, fromDad, 'relay'));
    expect(addField()).not.toHaveFocus();
    destroy?.();

    const typing = setup();
    await typing.user.keyboard('Eg');
    act(() => Y.applyUpdate(typing.session.doc, fromDad, 'relay'));
    expect(addField()).toHaveFocus();
    expect(addField()).toHaveValue('Eg');
  });
});

describe('keys typed before the list screen exists (early-typing.ts)', () => {
  const addField = () => screen.getByRole('textbox', { name: 'Add item' });
  /** Typed while nothing has focus, as right after the page's load event, before React's commit. */
  const typeOnBody = (keys: readonly string[]) => {
    (document.activeElement as HTMLElement | null)?.blur();
    for (const key of keys) document.body.dispatchEvent(new KeyboardEvent('keydown', { key, bubbles: true }));
  };
  afterEach(() => dropEarlyTyping());

  it('an empty list takes them: lines ended with Enter are added, the rest waits in the field', () => {
    captureEarlyTyping(document);
    typeOnBody(['M', 'i', 'l', 'x', 'Backspace', 'k', 'Enter', 'E', 'g', 'Shift', 'g']);
    const { list } = setup();
    expect(visibleNames(list)).toEqual(['Milk']);
    expect(addField()).toHaveFocus();
    expect(addField()).toHaveValue('Egg');
  });

  it('a list that opens with rows drops them, and a later tap into the field finds it empty', async () => {
    const stored = createMemorySession(TEST_LIST_ID, 'Mum');
    stored.list.addItem({ name: 'Bread' });
    const cachedView = { title: '', items: stored.list.items(), savedAt: 1 };
    stored.destroy();
    captureEarlyTyping(document);
    typeOnBody(['M', 'i', 'l', 'k', 'Enter', 'E', 'g']);
    const { user, list } = setup({ session: { cachedView } });
    await user.click(addField());
    expect(addField()).toHaveValue('');
    expect(visibleNames(list)).not.toContain('Milk');
  });
});

describe('adding items', () => {
  it('adds with Enter, parsing "2 l milk" into quantity, unit and name', async () => {
    const { user, list } = setup();
    const field = screen.getByRole('textbox', { name: 'Add item' });
    await user.type(field, '2 l milk{Enter}');

    expect(list.items()).toHaveLength(1);
    const added = list.items()[0]!;
    expect(added.name.toLowerCase()).toBe('milk');
    expect(added.quantity).toBe(2);
    expect(added.unit).toBe('l');

    const checkbox = screen.getByRole('checkbox', { name: added.name });
    expect(checkbox).not.toBeChecked();
    expect(checkbox).toHaveAccessibleDescription('2 l');
    expect(field).toHaveValue('');
    expect(field).toHaveFocus();
  });

  it('ignores Enter on an empty field', async () => {
    const { user, list } = setup();
    await user.type(screen.getByRole('textbox', { name: 'Add item' }), '   {Enter}');
    expect(list.items()).toHaveLength(0);
  });

  it('adds with the Add button too', async () => {
    const { user, list } = setup();
    await user.type(screen.getByRole('textbox', { name: 'Add item' }), 'Eggs');
    await user.click(screen.getByRole('button', { name: 'Add' }));
    expect(visibleNames(list)).toEqual(['Eggs']);
    // Back in the field for the next item, not left on the button.
    expect(screen.getByRole('textbox', { name: 'Add item' })).toHaveFocus();
    expect(screen.getByRole('textbox', { name: 'Add item' })).toHaveValue('');
  });

  it('says where an add went when the name is already on the list, or in the cart, instead of "Added"', async () => {
    const { user, list } = setup();
    const field = screen.getByRole('textbox', { name: 'Add item' });
    await user.type(field, 'Milk{Enter}');
    expect(screen.getByText('Added Milk')).toBeInTheDocument();
    await user.type(field, 'milks{Enter}');
    expect(visibleNames(list)).toEqual(['Milk']);
    expect(screen.getAllByRole('checkbox')).toHaveLength(1);
    expect(screen.getByText('Milk is already on the list')).toBeInTheDocument();
    expect(screen.queryByText('Added milks')).toBeNull();
    await user.type(field, '3 milk{Enter}');
    expect(screen.getByText('Milk is already on the list, now 3')).toBeInTheDocument();
    await user.click(screen.getByRole('checkbox', { name: 'Milk' }));
    await user.type(field, 'milk{Enter}');
    expect(screen.getByText(/^Milk is back on the list/)).toBeInTheDocument();
    expect(screen.getByRole('checkbox', { name: 'Milk' })).not.toBeChecked();
    await user.type(field, 'Eggs{Enter}');
    expect(screen.getByText('Added Eggs')).toBeInTheDocument();
  });
});

describe('items', () => {
  it('names each checkbox exactly after its item, details go to the description', async () => {
    const { list } = setup();
    act(() => {
      list.addItem({ name: 'Bread', quantity: 2, unit: '', note: 'wholegrain' });
    });
    const checkbox = screen.getByRole('checkbox', { name: 'Bread' });
    expect(checkbox).toHaveAccessibleName('Bread');
    expect(checkbox).toHaveAccessibleDescription('2 · wholegrain');
    expect(screen.getByRole('button', { name: 'Remove Bread' })).toBeInTheDocument();
    expect(screen.getByRole('button', { name: 'Edit Bread' })).toBeInTheDocument();
  });

  it('moves a checked item to "In the cart"', async () => {
    const { user, list } = setup();
    act(() => {
      list.addItem({ name: 'Bread' });
      list.addItem({ name: 'Eggs' });
    });
    await user.click(screen.getByRole('checkbox', { name: 'Bread' }));

    const cart = screen.getByRole('region', { name: 'In the cart' });
    expect(within(cart).getByRole('checkbox', { name: 'Bread' })).toBeChecked();
    expect(within(cart).queryByRole('checkbox', { name: 'Eggs' })).toBeNull();
    expect(list.items().find((item) => item.name === 'Bread')?.checked).toBe(true);
  });

  it('checking an item by keyboard keeps the focus on it in "In the cart"', async () => {
    const { user, list } = setup();
    act(() => {
      // Rolls stays behind in Bakery: Bread's row leaves a section that is still there.
      list.addItem({ name: 'Rolls', category: 'bakery' });
      list.addItem({ name: 'Bread', category: 'bakery' });
    });
    screen.getByRole('checkbox', { name: 'Bread' }).focus();
    await user.keyboard(' ');
    const cart = screen.getByRole('region', { name: 'In the cart' });
    await waitFor(() => expect(within(cart).getByRole('checkbox', { name: 'Bread' })).toHaveFocus());
    // Space again unchecks the same item: the person never lost their place.
    await user.keyboard(' ');
    await waitFor(() => expect(screen.getByRole('checkbox', { name: 'Bread' })).not.toBeChecked());
    expect(screen.queryByRole('region', { name: 'In the cart' })).toBeNull();
    await waitFor(() => expect(screen.getByRole('checkbox', { name: 'Bread' })).toHaveFocus());
  });

  it('removes an item, and Undo brings it back', async () => {
    const { user, list } = setup();
    act(() => {
      list.addItem({ name: 'Butter' });
    });
    await user.click(screen.getByRole('button', { name: 'Remove Butter' }));
    expect(screen.queryByRole('checkbox', { name: 'Butter' })).toBeNull();
    expect(list.deletedItems().map((item) => item.name)).toEqual(['Butter']);
    expect(screen.getByText('Removed Butter')).toBeInTheDocument();

    await user.click(screen.getByRole('button', { name: 'Undo' }));
    expect(screen.getByRole('checkbox', { name: 'Butter' })).toBeInTheDocument();
    expect(list.deletedItems()).toHaveLength(0);
    expect(screen.queryByText('Removed Butter')).toBeNull();
  });

  it('removing by keyboard the only row of a section moves focus to the next row, not back to the top', async () => {
    const { user, list } = setup();
    act(() => {
      list.addItem({ name: 'Apples', category: 'produce' });
      list.addItem({ name: 'Bread', category: 'bakery' });
      list.addItem({ name: 'Soap', category: 'household' });
    });
    const sectionOf = (name: string) => screen.getByRole('checkbox', { name }).closest('section');
    expect(sectionOf('Bread')).not.toBe(sectionOf('Soap'));
    screen.getByRole('button', { name: 'Remove Bread' }).focus();
    await user.keyboard('{Enter}');
    await waitFor(() => expect(screen.getByRole('checkbox', { name: 'Soap' })).toHaveFocus());

    // The last row of the list: the row before it.
    screen.getByRole('button', { name: 'Remove Soap' }).focus();
    await user.keyboard('{Enter}');
    await waitFor(() => expect(screen.getByRole('checkbox', { name: 'Apples' })).toHaveFocus());
  });

  it('clears checked items, and Undo restores exactly those', async () => {
    const { user, list } = setup();
    act(() => {
      list.addItem({ name: 'Bread' });
      list.addItem({ name: 'Eggs' });
      list.addItem({ name: 'Milk' });
    });
    await user.click(screen.getByRole('checkbox', { name: 'Bread' }));
    await user.click(screen.getByRole('checkbox', { name: 'Milk' }));
    await user.click(screen.getByRole('button', { name: 'Clear checked' }));

    expect(visibleNames(list)).toEqual(['Eggs']);
    expect(screen.queryByRole('region', { name: 'In the cart' })).toBeNull();
    expect(screen.queryByRole('button', { name: 'Clear checked' })).toBeNull();

    await user.click(screen.getByRole('button', { name: 'Undo' }));
    expect(visibleNames(list).sort()).toEqual(['Bread', 'Eggs', 'Milk']);
    expect(screen.getByRole('checkbox', { name: 'Bread' })).toBeChecked();
    expect(screen.getByRole('checkbox', { name: 'Milk' })).toBeChecked();
  });

  it('Undo of "Clear checked" does not bring back what was removed before', async () => {
    const { user, list } = setup();
    act(() => {
      list.addItem({ name: 'Bread' });
      list.addItem({ name: 'Eggs' });
      list.addItem({ name: 'Milk' });
    });
    await user.click(screen.getByRole('button', { name: 'Remove Eggs' }));
    await user.click(screen.getByRole('checkbox', { name: 'Bread' }));
    await user.click(screen.getByRole('button', { name: 'Clear checked' }));
    expect(visibleNames(list)).toEqual(['Milk']);

    await user.click(screen.getByRole('button', { name: 'Undo' }));
    expect(visibleNames(list).sort()).toEqual(['Bread', 'Milk']);
    expect(screen.queryByRole('checkbox', { name: 'Eggs' })).toBeNull();
    expect(list.deletedItems().map((item) => item.name)).toEqual(['Eggs']);
  });

  it('"Clear checked" pressed from the keyboard leaves the focus on "Add item", not lost on the page', async () => {
    const { user, list } = setup();
    act(() => {
      for (const name of ['Bread', 'Eggs']) list.setChecked(list.addItem({ name }), true);
      list.addItem({ name: 'Milk' });
    });
    const endKeyboardUse = focusVisibleWhileFocused();
    try {
      screen.getByRole('button', { name: 'Clear checked' }).focus();
      await user.keyboard('{Enter}');
      expect(visibleNames(list)).toEqual(['Milk']);
      await waitFor(() => expect(screen.getByRole('textbox', { name: 'Add item' })).toHaveFocus());
    } finally {
      endKeyboardUse();
    }
  });

  // The keyboard path (focus to "Add item" when the button goes) is the test above.
  it('a tap on "Clear checked" does not pop the phone\'s keyboard up over the list', async () => {
    const { user, list } = setup();
    act(() => {
      for (const name of ['Bread', 'Eggs']) list.setChecked(list.addItem({ name }), true);
    });
    await user.click(screen.getByRole('button', { name: 'Clear checked' }));
    await act(() => new Promise<void>((resolve) => requestAnimationFrame(() => resolve())));
    expect(visibleNames(list)).toEqual([]);
    expect(screen.getByRole('textbox', { name: 'Add item' })).not.toHaveFocus();
  });

  it('edits name, quantity, unit and note in a dialog, writing only changed fields', async () => {
    const { user, list } = setup();
    let id = '';
    act(() => {
      id = list.addItem({ name: 'Cheese', note: 'old note' });
    });
    await user.click(screen.getByRole('button', { name: 'Edit Cheese' }));
    const dialog = screen.getByRole('dialog', { name: 'Edit Cheese' });
    const name = within(dialog).getByRole('textbox', { name: 'Name' });
    expect(name).toHaveFocus();
    await user.clear(name);
    await user.type(name, 'Cheddar');
    await user.clear(within(dialog).getByRole('textbox', { name: 'Quantity' }));
    await user.type(within(dialog).getByRole('textbox', { name: 'Quantity' }), '0,5');
    await user.type(within(dialog).getByRole('textbox', { name: 'Unit' }), 'kg');
    await user.click(within(dialog).getByRole('button', { name: 'Save' }));

    expect(screen.queryByRole('dialog')).toBeNull();
    const edited = list.item(id)!;
    expect(edited).toMatchObject({ name: 'Cheddar', quantity: 0.5, unit: 'kg', note: 'old note' });
    expect(screen.getByRole('checkbox', { name: 'Cheddar' })).toHaveAccessibleDescription('0.5 kg · old note');
  });

  it('saves a cleared unit and a new store section', async () => {
    const { user, list } = setup();
    let id = '';
    act(() => {
      id = list.addItem({ name: 'Flour', quantity: 2, unit: 'kg', category: 'pantry' });
    });
    await user.click(screen.getByRole('button', { name: 'Edit Flour' }));
    const dialog = screen.getByRole('dialog', { name: 'Edit Flour' });
    await user.clear(within(dialog).getByRole('textbox', { name: 'Unit' }));
    await user.selectOptions(within(dialog).getByRole('combobox', { name: 'Section' }), 'Bakery');
    await user.click(within(dialog).getByRole('button', { name: 'Save' }));

    expect(list.item(id)).toMatchObject({ quantity: 2, unit: '', category: 'bakery' });
    const bakery = screen.getByRole('region', { name: 'Bakery' });
    expect(within(bakery).getByRole('checkbox', { name: 'Flour' })).toHaveAccessibleDescription('2');
  });
});

describe('recently deleted', () => {
  it('lists deleted items with "Restore <name>", and restoring brings the item back', async () => {
    const { user, list } = setup();
    act(() => {
      list.addItem({ name: 'Butter' });
      list.addItem({ name: 'Jam' });
    });
    await user.click(screen.getByRole('button', { name: 'Remove Butter' }));
    const opener = screen.getByRole('button', { name: 'Recently deleted' });
    await user.click(opener);

    const dialog = screen.getByRole('dialog', { name: 'Recently deleted' });
    expect(dialog).toContainElement(document.activeElement as HTMLElement);
    await user.click(within(dialog).getByRole('button', { name: 'Restore Butter' }));

    expect(within(dialog).queryByRole('button', { name: 'Restore Butter' })).toBeNull();
    expect(list.deletedItems()).toHaveLength(0);
    expect(screen.getByText('Restored Butter')).toBeInTheDocument();
    await user.keyboard('{Escape}');
    expect(screen.queryByRole('dialog')).toBeNull();
    expect(opener).toHaveFocus();
    expect(screen.getByRole('checkbox', { name: 'Butter' })).toBeInTheDocument();
  });

  it('restoring the last row by keyboard keeps Shift+Tab and Escape in the dialog', async () => {
    const { user, list } = setup();
    act(() => {
      list.addItem({ name: 'Butter' });
    });
    await user.click(screen.getByRole('button', { name: 'Remove Butter' }));
    const opener = screen.getByRole('button', { name: 'Recently deleted' });
    await user.click(opener);
    const dialog = screen.getByRole('dialog', { name: 'Recently deleted' });
    within(dialog).getByRole('button', { name: 'Restore Butter' }).focus();
    await user.keyboard('{Enter}');

    await user.tab({ shift: true });
    expect(dialog).toContainElement(document.activeElement as HTMLElement);
    await user.keyboard('{Escape}');
    expect(screen.queryByRole('dialog')).toBeNull();
    expect(opener).toHaveFocus();
  });

  it('restoring a row by keyboard moves the focus to the next row\'s Restore', async () => {
    const { user, list } = setup();
    act(() => {
      for (const name of ['Butter', 'Jam', 'Honey']) list.removeItem(list.addItem({ name }));
    });
    await user.click(screen.getByRole('button', { name: 'Recently deleted' }));
    const dialog = screen.getByRole('dialog', { name: 'Recently deleted' });
    const restoreButtons = () => within(dialog).getAllByRole('button', { name: /^Restore / });
    const [first, second] = restoreButtons();
    first!.focus();
    await user.keyboard('{Enter}');
    expect(restoreButtons()).toHaveLength(2);
    expect(second).toHaveFocus();
    // The last row: the one before it.
    const [before, last] = restoreButtons();
    last!.focus();
    await user.keyboard('{Enter}');
    expect(restoreButtons()).toEqual([before]);
    expect(before).toHaveFocus();
  });

  it('says so when nothing was deleted', async () => {
    const { user } = setup();
    await user.click(screen.getByRole('button', { name: 'Recently deleted' }));
    expect(screen.getByText('Nothing deleted recently.')).toBeInTheDocument();
  });
});

describe('status line', () => {
  it('is the only status element and follows the session: Offline, Syncing…, Synced', async () => {
    const { list, session } = setup();
    const status = screen.getByRole('status');
    expect(status).toHaveTextContent(/^Offline$/);

    act(() => {
      list.addItem({ name: 'Milk' });
    });
    expect(status).toHaveTextContent(/^Offline · 1 change on this phone$/);

    act(() => session.connect());
    expect(status).toHaveTextContent(/^Syncing…/);

    act(() => session.acknowledge());
    // The whole text is the contract; how long ago is shown beside the status element, not in it.
    await waitFor(() => expect(status).toHaveTextContent(/^Synced$/));
    expect(status.parentElement).toHaveTextContent(/^Synced· just now$/);
    expect(screen.getAllByRole('status')).toHaveLength(1);

    act(() => session.disconnect());
    expect(status).toHaveTextContent(/^Offline$/);
  });
});

describe('an empty list', () => {
  const OFFLINE_EMPTY = 'Nothing on this phone yet. If this list was shared with you, its items appear once you’re online.';
  const EMPTY = 'Nothing to buy yet. Type what you need above — “2 l milk” works too.';

  it('offline with nothing stored, does not claim there is nothing to buy', async () => {
    const { session, list } = setup();
    expect(await screen.findByText(OFFLINE_EMPTY)).toBeInTheDocument();
    expect(screen.queryByText(EMPTY)).toBeNull();

    act(() => session.connect());
    expect(await screen.findByText(EMPTY)).toBeInTheDocument();
    act(() => session.disconnect());
    expect(await screen.findByText(OFFLINE_EMPTY)).toBeInTheDocument();

    // Something this phone has seen (here: removed) means the list did reach it.
    act(() => {
      list.removeItem(list.addItem({ name: 'Milk' }));
    });
    expect(await screen.findByText(EMPTY)).toBeInTheDocument();
  });
});

describe('a list still loading from this phone', () => {
  it('says neither that it is empty nor that nothing is stored, until it has loaded', async () => {
    let finishLoading: () => void = () => {};
    const whenLoaded = new Promise<void>((resolve) => {
      finishLoading = resolve;
    });
    setup({ session: { whenLoaded } });
    expect(screen.queryByText(/^Nothing to buy yet/)).toBeNull();
    expect(screen.queryByText(/^Nothing on this phone yet/)).toBeNull();
    await act(async () => {
      finishLoading();
      await whenLoaded;
    });
    expect(await screen.findByText(/^Nothing on this phone yet/)).toBeInTheDocument();
  });
});

describe('title, presence, name', () => {
  it('renames the list by tapping its title', async () => {
    const { user, list } = setup();
    await user.click(screen.getByRole('button', { name: 'Shopping list, rename list' }));
    const input = screen.getByRole('textbox', { name: 'List name' });
    expect(input).toHaveFocus();
    await user.clear(input);
    await user.type(input, 'Saturday shop{Enter}');
    expect(list.title()).toBe('Saturday shop');
    expect(screen.getByRole('button', { name: 'Saturday shop, rename list' })).toHaveFocus();
    // The browser tab and the app switcher name the list too.
    expect(document.title).toBe('Saturday shop · Basket');
  });

  it('Escape while renaming keeps the old title', async () => {
    const { user, list } = setup();
    act(() => list.setTitle('Weekend'));
    await user.click(screen.getByRole('button', { name: 'Weekend, rename list' }));
    const input = screen.getByRole('textbox', { name: 'List name' });
    await user.clear(input);
    await user.type(input, 'Oops{Escape}');
    expect(list.title()).toBe('Weekend');
    expect(screen.queryByRole('textbox', { name: 'List name' })).toBeNull();
    expect(screen.getByRole('button', { name: 'Weekend, rename list' })).toHaveFocus();
  });

  it('shows who else has the list open', () => {
    const { session } = setup();
    act(() =>
      session.setPeers([
        { clientId: 1, name: 'Mum', color: '#2f7d4f', isSelf: true },
        { clientId: 2, name: 'Dad', color: '#3a86ff', isSelf: false },
        { clientId: 3, name: 'Anna Berg', color: '#e4572e', isSelf: false },
      ]),
    );
    const presence = screen.getByRole('img', { name: 'Also here: Dad and Anna Berg' });
    expect(presence).toHaveTextContent('DAB');
  });

  it('asks for a name with a dismissible banner, never a dialog', async () => {
    const names: string[] = [];
    const { user } = setup({ profile: { nameChosen: false }, props: { onChangeName: (name) => names.push(name) } });
    expect(screen.queryByRole('dialog')).toBeNull();
    const field = screen.getByRole('textbox', { name: 'What should the family call you?' });
    await user.type(field, '  Dad {Enter}');
    expect(names).toEqual(['Dad']);

    await user.click(screen.getByRole('button', { name: 'Not now' }));
    expect(screen.queryByRole('textbox', { name: 'What should the family call you?' })).toBeNull();
  });
});

describe('notices and summaries', () => {
  it('shows the "while you were offline" summary', () => {
    const { session } = setup();
    act(() =>
      session.emitReconnectSummary({ added: ['Eggs'], checked: ['Bread'], removed: ['Butter'], by: ['Dad'] }),
    );
    expect(
      screen.getByText('While you were offline, Dad added Eggs, checked Bread and removed Butter.'),
    ).toBeInTheDocument();
  });
});

describe('undo toast', () => {
  it('is read out again when the same message comes twice ("Milk is already on the list", Enter again)', async () => {
    const { user, list } = setup();
    act(() => {
      list.addItem({ name: 'Milk' });
    });
    const field = screen.getByRole('textbox', { name: 'Add item' });
    await user.type(field, 'milk{Enter}');
    const message = screen.getByText('Milk is already on the list');
    const tray = message.closest('[aria-live]');
    expect(tray).not.toBeNull();
    const changes: MutationRecord[] = [];
    const observer = new MutationObserver((records) => changes.push(...records));
    observer.observe(tray!, { childList: true, subtree: true, characterData: true });
    await user.type(field, 'milk{Enter}');
    observer.disconnect();
    expect(screen.getByText('Milk is already on the list')).toBeInTheDocument();
    // A live region is read when it changes; the same text left in place says nothing.
    expect(changes.length, 'the tray was updated').toBeGreaterThan(0);
  });


  it('undoes several quick removals at once', async () => {
    const { user, list } = setup();
    act(() => {
      list.addItem({ name: 'Bread' });
      list.addItem({ name: 'Eggs' });
      list.addItem({ name: 'Milk' });
    });
    await user.click(screen.getByRole('button', { name: 'Remove Bread' }));
    await user.click(screen.getByRole('button', { name: 'Remove Eggs' }));
    expect(screen.getByText('Removed Bread and Eggs')).toBeInTheDocument();
    await user.click(screen.getByRole('button', { name: 'Remove Milk' }));
    expect(screen.getByText('Removed 3 items')).toBeInTheDocument();
    expect(list.items()).toHaveLength(0);

    await user.click(screen.getByRole('button', { name: 'Undo' }));
    expect(visibleNames(list).sort()).toEqual(['Bread', 'Eggs', 'Milk']);
  });

  it('goes away by itself, but not while it has focus', () => {
    vi.useFakeTimers();
    try {
      const { list } = setup();
      act(() => {
        list.addItem({ name: 'Bread' });
        list.addItem({ name: 'Eggs' });
      });
      act(() => screen.getByRole('button', { name: 'Remove Bread' }).click());
      act(() => vi.advanceTimersByTime(TOAST_MS + 100));
      expect(screen.queryByText('Removed Bread')).toBeNull();

      act(() => screen.getByRole('button', { name: 'Remove Eggs' }).click());
      act(() => screen.getByRole('button', { name: 'Undo' }).focus());
      act(() => vi.advanceTimersByTime(TOAST_MS * 3));
      expect(screen.getByText('Removed Eggs')).toBeInTheDocument();
    } finally {
      vi.useRealTimers();
    }
  });
});

/**
 * A list as stored on the device (`stored`), its cached view, and a screen whose session has
 * not loaded the stored document yet; `load()` applies it, as IndexedDB would.
 */
/**
 * `prepare` may change the stored list (and this device's storage) before the page opens.
 * `storedCopyLate`: the list is shown by the load's timeout, and the stored copy comes later
 * (`applyStoredCopy()`); `load()` then only ends the wait, as the timeout does.
 */
function coldStart(prepare?: (stored: MemoryListSession) => void, { storedCopyLate = false } = {}) {
  const stored = createMemorySession(TEST_LIST_ID, 'Mum');
  stored.list.setTitle('Weekend');
  for (const name of ['Milk', 'Bread', 'Apples']) stored.list.addItem({ name });
  const apples = stored.list.items().find((item) => item.name === 'Apples')!;
  stored.list.setChecked(apples.id, true);
  prepare?.(stored);
  const cachedView = { title: stored.list.title(), items: stored.list.items(), savedAt: 1 };

  let finishLoading: () => void = () => {};
  const whenLoaded = new Promise<void>((resolve) => {
    finishLoading = resolve;
  });
  let finishApplying: () => void = () => {};
  const whenStoredCopyApplied = new Promise<void>((resolve) => {
    finishApplying = resolve;
  });
  const loadRequests: string[] = [];
  const rendered = renderListScreen({
    session: {
      cachedView,
      whenLoaded,
      ...(storedCopyLate ? { whenStoredCopyApplied } : {}),
      onLoadNow: () => loadRequests.push('now'),
    },
  });
  destroy = () => {
    rendered.unmount();
    rendered.session.destroy();
    stored.destroy();
  };
  const applyStoredCopy = () => Y.applyUpdate(rendered.session.doc, Y.encodeStateAsUpdate(stored.doc));
  const load = async () => {
    await act(async () => {
      if (!storedCopyLate) applyStoredCopy();
      finishLoading();
      await whenLoaded;
    });
  };
  const storedCopyArrives = async () => {
    await act(async () => {
      applyStoredCopy();
      finishApplying();
      await whenStoredCopyApplied;
    });
  };
  const idOf = (name: string) => [...stored.list.items(), ...stored.list.deletedItems()].find((item) => item.name === name)!.id;
  return { ...rendered, stored, load, storedCopyArrives, idOf, loadRequests, user: userEvent.setup() };
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

  it('Restore on a notice kept from the last page, tapped before the list has loaded, restores the item once it has', async () => {
    const { list, load, idOf, user } = coldStart((stored) => {
      const bread = stored.list.items().find((item) => item.name === 'Bread')!;
      stored.list.removeItem(bread.id);
      const notice: Notice = {
        id: 'n1',
        kind: 'removed-your-change',
        message: 'Dad removed Bread that you changed',
        itemId: bread.id,
        itemName: 'Bread',
        by: 'Dad',
        at: 1,
        canRestore: true,
      };
      localStorage.setItem(`basket:notices:${TEST_LIST_ID}`, JSON.stringify([notice]));
    });
    await user.click(screen.getByRole('button', { name: 'Restore', description: 'Dad removed Bread that you changed' }));
    // Answered: the notice goes at once, not only once the list has loaded.
    expect(screen.queryByText('Dad removed Bread that you changed')).toBeNull();
    await load();
    await waitFor(() => expect(list.item(idOf('Bread'))?.deletedAt).toBeUndefined());
    expect(screen.getByRole('checkbox', { name: 'Bread' })).toBeInTheDocument();
  });

  it('undo of a removal made before the load brings the item back', async () => {
    const { list, load, user } = coldStart();
    await user.click(screen.getByRole('button', { name: 'Remove Milk' }));
    await user.click(screen.getByRole('button', { name: 'Undo' }));
    expect(screen.getByRole('checkbox', { name: 'Milk' })).toBeInTheDocument();
    await load();
    await waitFor(() => expect(list.items().map((item) => item.name)).toContain('Milk'));
  });

  it('typing waits for a pause to load the document; a tap or opening Recently deleted asks for it at once', async () => {
    const { loadRequests, user } = coldStart();
    await user.type(screen.getByRole('textbox', { name: 'Add item' }), 'Te');
    expect(loadRequests).toEqual([]);
    await user.click(screen.getByRole('button', { name: 'Recently deleted' }));
    expect(loadRequests).toEqual(['now']);
    await user.keyboard('{Escape}');
    await user.click(screen.getByRole('checkbox', { name: 'Milk' }));
    expect(loadRequests).toEqual(['now', 'now']);
  });

  it('clear checked and a rename on cached rows show at once and reach the list when it loads', async () => {
    const { list, load, user } = coldStart();
    await user.click(screen.getByRole('button', { name: 'Clear checked' }));
    expect(screen.queryByRole('checkbox', { name: 'Apples' })).toBeNull();
    expect(screen.getByText('Cleared 1 item from the cart')).toBeInTheDocument();
    await user.click(screen.getByRole('button', { name: 'Weekend, rename list' }));
    const input = screen.getByRole('textbox', { name: 'List name' });
    await user.clear(input);
    await user.type(input, 'Saturday{Enter}');
    await load();
    await waitFor(() => expect(list.title()).toBe('Saturday'));
    expect(list.items().map((item) => item.name).sort()).toEqual(['Bread', 'Milk']);
    expect(list.deletedItems().map((item) => item.name)).toEqual(['Apples']);
    expect(screen.getByRole('heading', { level: 1 })).toHaveTextContent('Saturday');
  });

  it('clear checked on cached rows clears only the rows shown checked: an item checked in the stored copy since stays (rule 6)', async () => {
    const { list, stored, load, idOf, user } = coldStart();
    // The stored copy is newer than the rows painted: Milk was ticked since (another tab, the family).
    const storedMilk = idOf('Milk');
    stored.list.setChecked(storedMilk, true);
    await user.click(screen.getByRole('button', { name: 'Clear checked' }));
    expect(screen.getByText('Cleared 1 item from the cart')).toBeInTheDocument();
    await load();
    await waitFor(() => expect(list.deletedItems().map((item) => item.name)).toEqual(['Apples']));
    expect(list.item(storedMilk)?.checked).toBe(true);
  });

  it('undo of clear checked made before the load brings the items back', async () => {
    const { list, load, user } = coldStart();
    await user.click(screen.getByRole('button', { name: 'Clear checked' }));
    await user.click(screen.getByRole('button', { name: 'Undo' }));
    expect(screen.getByRole('checkbox', { name: 'Apples' })).toBeChecked();
    await load();
    await waitFor(() => expect(list.items().map((item) => item.name).sort()).toEqual(['Apples', 'Bread', 'Milk']));
  });

  it('[TAP-SYNCED] a tick on a cached row stays shown when the list is shown before its stored copy, and taps after it wait their turn', async () => {
    const { session, stored, load, storedCopyArrives, idOf, user } = coldStart(undefined, { storedCopyLate: true });
    const milk = idOf('Milk');
    await user.click(screen.getByRole('checkbox', { name: 'Milk' }));
    expect(session.status().pendingChanges).toBe(1);
    // Shown by the timeout, with what the relay brought meanwhile: Milk, unticked.
    Y.applyUpdate(session.doc, Y.encodeStateAsUpdate(stored.doc));
    await load();
    expect(session.list.item(milk)?.checked).toBe(false);
    expect(screen.getByRole('checkbox', { name: 'Milk' })).toBeChecked();
    expect(session.status().pendingChanges).toBe(1);

    // Unticked again before the stored copy came: that tap must not be undone by the first.
    await user.click(screen.getByRole('checkbox', { name: 'Milk' }));
    expect(screen.getByRole('checkbox', { name: 'Milk' })).not.toBeChecked();
    await user.click(screen.getByRole('button', { name: 'Remove Bread' }));
    expect(screen.queryByRole('checkbox', { name: 'Bread' })).toBeNull();
    expect(session.status().pendingChanges).toBe(3);

    await storedCopyArrives();
    expect(session.list.item(milk)?.checked).toBe(false);
    expect(session.list.deletedItems().map((item) => item.name)).toEqual(['Bread']);
    expect(screen.getByRole('checkbox', { name: 'Milk' })).not.toBeChecked();
    expect(screen.queryByRole('checkbox', { name: 'Bread' })).toBeNull();
    // Ticked by someone else later: the list's rows are shown as they are again.
    act(() => session.list.setChecked(milk, true));
    expect(screen.getByRole('checkbox', { name: 'Milk' })).toBeChecked();
  });

  it('opens the editor for a cached row once the document is loaded', async () => {
    const { load, user } = coldStart();
    await user.click(screen.getByRole('button', { name: 'Edit Milk' }));
    expect(screen.queryByRole('dialog')).toBeNull();
    await load();
    expect(await screen.findByRole('dialog')).toBeInTheDocument();
  });
});

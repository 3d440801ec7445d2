import { act, configure, render, screen, within } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { afterEach, describe, expect, it, vi } from 'vitest';
import * as Y from 'yjs';
import { ShoppingList } from '@basket/list-core';
import { ItemEditor, NAME_ERROR, parseQuantity, QUANTITY_ERROR } from './ItemEditor';
import { renderListScreen } from './test-support';

// Component tests type key by key; on a loaded 2-core machine the 5 s default is too tight.
vi.setConfig({ testTimeout: 30_000 });
configure({ asyncUtilTimeout: 5_000 });

const WARNING = 'Milk is already on the list — saving will merge them';

let cleanupList: (() => void) | null = null;
afterEach(() => {
  cleanupList?.();
  cleanupList = null;
});

/** The editor over a real list model, so "same item" is decided by the model's own normalization. */
function setup(names: readonly string[], editing: string, options: { checked?: readonly string[] } = {}) {
  const list = new ShoppingList(new Y.Doc(), { actor: 'Mum' });
  cleanupList = () => list.destroy();
  const ids = new Map<string, string>();
  for (const text of names) ids.set(text, list.addItem({ name: text }));
  for (const name of options.checked ?? []) list.setChecked(ids.get(name)!, true);
  const item = list.item(ids.get(editing)!)!;
  const onClose = vi.fn();
  const onSave = vi.fn((id: string, patch: Parameters<ShoppingList['updateItem']>[1]) => list.updateItem(id, patch));
  render(<ItemEditor item={item} visibleItems={() => list.items()} onSave={onSave} onClose={onClose} />);
  const dialog = screen.getByRole('dialog', { name: `Edit ${editing}` });
  return {
    list,
    id: item.id,
    onSave,
    onClose,
    dialog,
    user: userEvent.setup(),
    nameField: within(dialog).getByRole('textbox', { name: 'Name' }),
    quantityField: within(dialog).getByRole('textbox', { name: 'Quantity' }),
    names: () => list.items().map((row) => row.name),
  };
}

describe('parseQuantity', () => {
  it('reads whole numbers, decimal points and commas, and simple fractions', () => {
    expect(parseQuantity('2')).toBe(2);
    expect(parseQuantity(' 3 ')).toBe(3);
    expect(parseQuantity('1.5')).toBe(1.5);
    expect(parseQuantity('0,5')).toBe(0.5);
    expect(parseQuantity('.5')).toBe(0.5);
    expect(parseQuantity('1/2')).toBe(0.5);
    expect(parseQuantity('1 1/2')).toBe(1.5);
    expect(parseQuantity('½')).toBe(0.5);
    expect(parseQuantity('1½')).toBe(1.5);
    expect(parseQuantity('1 ¼')).toBe(1.25);
  });

  it('refuses anything that is not a number above 0', () => {
    for (const text of ['', ' ', '0', '0,0', '-1', 'abc', '1e9', 'Infinity', '0x10', '0/2', '1/0', '2 kg']) {
      expect(parseQuantity(text), JSON.stringify(text)).toBeUndefined();
    }
  });
});

describe('ItemEditor quantity', () => {
  it.each(['0', '-1', 'abc', '1e9', ''])(
    'keeps the dialog open on %j and says what is wrong next to the field',
    async (typed) => {
      const { user, quantityField, onSave, onClose, list, id } = setup(['Milk'], 'Milk');
      await user.clear(quantityField);
      if (typed !== '') await user.type(quantityField, typed);
      await user.click(screen.getByRole('button', { name: 'Save' }));

      expect(onClose).not.toHaveBeenCalled();
      expect(onSave).not.toHaveBeenCalled();
      expect(screen.getByRole('dialog', { name: 'Edit Milk' })).toBeInTheDocument();
      expect(quantityField).toHaveAttribute('aria-invalid', 'true');
      expect(quantityField).toHaveAccessibleDescription(QUANTITY_ERROR);
      expect(screen.getByRole('alert')).toHaveTextContent(QUANTITY_ERROR);
      expect(quantityField).toHaveFocus();
      expect(screen.getByText(QUANTITY_ERROR)).toBeVisible();
      expect(list.item(id)?.quantity).toBe(1);
    },
  );

  it('takes "1/2" as 0.5 once corrected, and the error goes away as soon as the text is a number', async () => {
    const { user, quantityField, onClose, list, id } = setup(['Milk'], 'Milk');
    await user.clear(quantityField);
    await user.click(screen.getByRole('button', { name: 'Save' }));
    expect(quantityField).toHaveAttribute('aria-invalid', 'true');

    await user.type(quantityField, '1/2');
    expect(quantityField).not.toHaveAttribute('aria-invalid');
    expect(quantityField).not.toHaveAccessibleDescription();
    expect(screen.queryByText(QUANTITY_ERROR)).toBeNull();
    await user.click(screen.getByRole('button', { name: 'Save' }));
    expect(onClose).toHaveBeenCalled();
    expect(list.item(id)?.quantity).toBe(0.5);
  });

  it('takes "1½" as 1.5', async () => {
    const { user, quantityField, list, id } = setup(['Flour'], 'Flour');
    await user.clear(quantityField);
    await user.type(quantityField, '1½');
    await user.click(screen.getByRole('button', { name: 'Save' }));
    expect(list.item(id)?.quantity).toBe(1.5);
  });

  it('shows no error on a valid quantity', () => {
    const { quantityField } = setup(['Milk'], 'Milk');
    expect(quantityField).not.toHaveAttribute('aria-invalid');
    expect(quantityField).not.toHaveAccessibleDescription();
  });
});

describe('ItemEditor name', () => {
  it('keeps the dialog open on a name of only spaces and says so next to the field', async () => {
    const { user, nameField, onSave, onClose, list, id } = setup(['Milk'], 'Milk');
    await user.clear(nameField);
    await user.type(nameField, '   ');
    await user.click(screen.getByRole('button', { name: 'Save' }));

    expect(onClose).not.toHaveBeenCalled();
    expect(onSave).not.toHaveBeenCalled();
    expect(nameField).toHaveAttribute('aria-invalid', 'true');
    expect(nameField).toHaveAccessibleDescription(NAME_ERROR);
    // Named by its label only; the error is its description, and read out at once.
    expect(nameField).toHaveAccessibleName('Name');
    expect(screen.getByRole('alert')).toHaveTextContent(NAME_ERROR);
    expect(nameField).toHaveFocus();
    expect(list.item(id)?.name).toBe('Milk');

    await user.type(nameField, 'Oat milk');
    expect(nameField).not.toHaveAttribute('aria-invalid');
    expect(screen.queryByText(NAME_ERROR)).toBeNull();
    await user.click(screen.getByRole('button', { name: 'Save' }));
    expect(onClose).toHaveBeenCalled();
    expect(list.item(id)?.name).toBe('Oat milk');
  });
});

describe('ItemEditor rename onto another item', () => {
  it('warns before a rename merges two items, and "Change name" goes back without saving', async () => {
    const { user, nameField, onSave, onClose, names } = setup(['Milk', 'Eggs'], 'Eggs');
    await user.clear(nameField);
    await user.type(nameField, 'milks');
    await user.click(screen.getByRole('button', { name: 'Save' }));

    expect(screen.getByRole('alert')).toHaveTextContent(WARNING);
    expect(nameField).toHaveAccessibleDescription(WARNING);
    expect(onSave).not.toHaveBeenCalled();
    expect(onClose).not.toHaveBeenCalled();
    expect(names().sort()).toEqual(['Eggs', 'Milk']);
    // The safe choice has the focus: a second Enter does not merge.
    const changeName = screen.getByRole('button', { name: 'Change name' });
    expect(changeName).toHaveFocus();

    await user.click(changeName);
    expect(screen.queryByRole('alert')).toBeNull();
    expect(nameField).toHaveFocus();
    expect(nameField).not.toHaveAccessibleDescription();
    await user.clear(nameField);
    await user.type(nameField, 'Oat milk');
    await user.click(screen.getByRole('button', { name: 'Save' }));
    expect(onClose).toHaveBeenCalled();
    expect(names().sort()).toEqual(['Milk', 'Oat milk']);
  });

  it('merges when the person chooses "Merge anyway"', async () => {
    const { user, nameField, onClose, names } = setup(['Milk', 'Eggs'], 'Eggs');
    await user.clear(nameField);
    await user.type(nameField, 'MILK');
    await user.click(screen.getByRole('button', { name: 'Save' }));
    await user.click(screen.getByRole('button', { name: 'Merge anyway' }));
    expect(onClose).toHaveBeenCalled();
    expect(names()).toHaveLength(1);
  });

  it('editing the name again asks again', async () => {
    const { user, nameField, onSave } = setup(['Milk', 'Bread', 'Eggs'], 'Eggs');
    await user.clear(nameField);
    await user.type(nameField, 'milk');
    await user.click(screen.getByRole('button', { name: 'Save' }));
    expect(screen.getByRole('alert')).toHaveTextContent(WARNING);
    await user.clear(nameField);
    expect(screen.queryByRole('alert')).toBeNull();
    await user.type(nameField, 'bread');
    await user.click(screen.getByRole('button', { name: 'Save' }));
    expect(screen.getByRole('alert')).toHaveTextContent('Bread is already on the list — saving will merge them');
    expect(onSave).not.toHaveBeenCalled();
  });

  it('says when the other item is checked off, so it does not vanish into the cart unnoticed', async () => {
    const { user, nameField, onSave } = setup(['Bread', 'Butter'], 'Butter', { checked: ['Bread'] });
    await user.clear(nameField);
    await user.type(nameField, 'bread');
    await user.click(screen.getByRole('button', { name: 'Save' }));
    expect(screen.getByRole('alert')).toHaveTextContent(
      'Bread is already on the list — saving will merge them (it’s checked off, in the cart)',
    );
    expect(onSave).not.toHaveBeenCalled();
  });

  it('does not warn when the new name is only this item spelled differently', async () => {
    const { user, nameField, onClose, list, id } = setup(['Milk', 'Eggs'], 'Eggs');
    await user.clear(nameField);
    await user.type(nameField, 'eggs');
    await user.click(screen.getByRole('button', { name: 'Save' }));
    expect(screen.queryByRole('alert')).toBeNull();
    expect(onClose).toHaveBeenCalled();
    expect(list.item(id)?.name).toBe('eggs');
  });
});

describe('the list screen opens the editor with the list’s rows', () => {
  it('warns before renaming Eggs onto Milk', async () => {
    const rendered = renderListScreen();
    cleanupList = () => {
      rendered.unmount();
      rendered.session.destroy();
    };
    const { list } = rendered;
    const user = userEvent.setup();
    act(() => {
      list.addItem({ name: 'Milk', quantity: 2, unit: 'l' });
      list.addItem({ name: 'Eggs', quantity: 6 });
    });
    await user.click(screen.getByRole('button', { name: 'Edit Eggs' }));
    const dialog = screen.getByRole('dialog', { name: 'Edit Eggs' });
    const name = within(dialog).getByRole('textbox', { name: 'Name' });
    await user.clear(name);
    await user.type(name, 'milk');
    await user.click(within(dialog).getByRole('button', { name: 'Save' }));
    expect(within(dialog).getByRole('alert')).toHaveTextContent(WARNING);
    expect(list.items().map((item) => item.name).sort()).toEqual(['Eggs', 'Milk']);
  });
});

/**
 * The item editor never fails silently (an invalid quantity keeps the dialog open and says
 * why; a rename onto another item's name asks before rule 2 merges them), and a list pasted
 * into "Add item" becomes one item per line instead of one long name.
 */
import type { Locator } from '@playwright/test';
import { expectNoSeriousViolations } from '../fixtures/accessibility.js';
import type { Phone } from '../fixtures/phone.js';
import { expect, test } from '../fixtures/test.js';

const QUANTITY_ERROR = 'Enter a number above 0';

async function openEditor(phone: Phone, name: string): Promise<Locator> {
  await phone.page.getByRole('button', { name: `Edit ${name}`, exact: true }).click();
  const dialog = phone.page.getByRole('dialog', { name: `Edit ${name}`, exact: true });
  await expect(dialog).toBeVisible();
  return dialog;
}

test('an invalid quantity keeps the editor open and says why; "1/2" and "0,5" are 0.5', async ({
  phones,
  saveScreenshot,
}) => {
  const a = await phones.create('phone-a');
  await a.open('/');
  await a.addAll(['2 l Milk', '6 Eggs']);

  const dialog = await openEditor(a, 'Milk');
  const quantity = dialog.getByLabel('Quantity', { exact: true });
  const save = dialog.getByRole('button', { name: 'Save', exact: true });
  for (const typed of ['0', '-1', 'abc', '']) {
    await quantity.fill(typed);
    await save.click();
    await expect(dialog, `"${typed}" is not saved`).toBeVisible();
    await expect(quantity).toHaveAttribute('aria-invalid', 'true');
    await expect(quantity).toHaveAccessibleDescription(QUANTITY_ERROR);
    await expect(quantity).toBeFocused();
    await expect(dialog.getByText(QUANTITY_ERROR, { exact: true })).toBeVisible();
  }
  await expectNoSeriousViolations(a.page, 'item editor with an invalid quantity');
  await saveScreenshot(a, 'edit-invalid-quantity');
  await expect(a.item('Milk')).toHaveAccessibleDescription('2 l');

  await quantity.fill('1/2');
  await expect(quantity).not.toHaveAttribute('aria-invalid', 'true');
  await save.click();
  await expect(dialog).toBeHidden();
  await expect(a.item('Milk')).toHaveAccessibleDescription('0.5 l');

  const eggs = await openEditor(a, 'Eggs');
  await eggs.getByLabel('Quantity', { exact: true }).fill('0,5');
  await eggs.getByRole('button', { name: 'Save', exact: true }).click();
  await expect(eggs).toBeHidden();
  await expect(a.item('Eggs')).toHaveAccessibleDescription('0.5');
});

test('renaming an item onto another one warns before merging; "Change name" keeps both', async ({
  phones,
  saveScreenshot,
}) => {
  const a = await phones.create('phone-a');
  await a.open('/');
  await a.addAll(['2 l Milk', '6 Eggs', 'Bread', 'Butter']);
  await a.check('Bread');

  const dialog = await openEditor(a, 'Eggs');
  const name = dialog.getByLabel('Name', { exact: true });
  await name.fill('milk');
  await dialog.getByRole('button', { name: 'Save', exact: true }).click();
  const warning = dialog.getByRole('alert');
  await expect(warning).toHaveText('Milk is already on the list — saving will merge them');
  await expect(name).toHaveAccessibleDescription('Milk is already on the list — saving will merge them');
  await expect(dialog.getByRole('button', { name: 'Change name', exact: true })).toBeFocused();
  await expectNoSeriousViolations(a.page, 'item editor warning about a merge');
  await saveScreenshot(a, 'edit-rename-merge-warning');

  await a.page.keyboard.press('Enter');
  await expect(warning).toBeHidden();
  await expect(name).toBeFocused();
  await name.fill('Duck eggs');
  await dialog.getByRole('button', { name: 'Save', exact: true }).click();
  await expect(dialog).toBeHidden();
  expect((await a.names()).sort()).toEqual(['Bread', 'Butter', 'Duck eggs', 'Milk']);

  // Onto a checked item: the person is told it is in the cart, and may still merge.
  const butter = await openEditor(a, 'Butter');
  await butter.getByLabel('Name', { exact: true }).fill('bread');
  await butter.getByRole('button', { name: 'Save', exact: true }).click();
  await expect(butter.getByRole('alert')).toHaveText(
    'Bread is already on the list — saving will merge them (it’s checked off, in the cart)',
  );
  await butter.getByRole('button', { name: 'Merge anyway', exact: true }).click();
  await expect(butter).toBeHidden();
  expect((await a.names()).sort()).toEqual(['Bread', 'Duck eggs', 'Milk']);
});

test('pasting several lines into "Add item" adds one item per line', async ({ phones }) => {
  const a = await phones.create('phone-a');
  await a.context.grantPermissions(['clipboard-read', 'clipboard-write']);
  await a.open('/');
  const paste = async (text: string) => {
    await a.page.evaluate((value) => navigator.clipboard.writeText(value), text);
    await a.addItemField.focus();
    await a.addItemField.press('ControlOrMeta+V');
  };

  await paste('Apples\nPears\n\n2 l milk\n');
  await expect(a.item('Apples')).toBeVisible();
  await expect(a.item('Pears')).toBeVisible();
  await expect(a.item('milk')).toHaveAccessibleDescription('2 l');
  await expect(a.addItemField).toHaveValue('');
  await expect(a.addItemField).toBeFocused();
  expect((await a.names()).sort()).toEqual(['Apples', 'Pears', 'milk']);

  // One line is an ordinary paste: it waits in the field for Enter, as before.
  await paste('Plums');
  await expect(a.addItemField).toHaveValue('Plums');
  await a.addItemField.press('Enter');
  await expect(a.item('Plums')).toBeVisible();
  await a.waitSynced();
});

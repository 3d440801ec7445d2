/**
 * Keyboard users keep their place: after an action removes or re-creates the control they were
 * on, focus goes to a sensible control, never to the page itself (where the next Tab starts over
 * from the top). Real Chromium, because focus heuristics (:focus-visible) are the browser's.
 */
import { expect, test } from '../fixtures/test.js';
import type { Page } from '@playwright/test';

async function focusedIsBody(page: Page): Promise<boolean> {
  return page.evaluate(() => document.activeElement === document.body || document.activeElement === null);
}

test('after editing an item into another section, and after merging it away, focus stays on the list', async ({ phones }) => {
  const a = await phones.create('phone-a');
  await a.open('/');
  await a.addAll(['Milk', 'Bread']);

  // Milk moves from Dairy to Bakery: its row is re-created in the other section.
  await a.page.getByRole('button', { name: 'Edit Milk', exact: true }).press('Enter');
  const editor = a.page.getByRole('dialog', { name: 'Edit Milk' });
  await editor.getByRole('combobox', { name: 'Section' }).selectOption('bakery');
  await editor.getByRole('button', { name: 'Save' }).press('Enter');
  await expect(editor).toBeHidden();
  await a.nextFrame();
  await expect(a.page.getByRole('button', { name: 'Edit Milk', exact: true })).toBeFocused();

  // Renamed onto Bread and merged: its row is gone.
  await a.page.getByRole('button', { name: 'Edit Milk', exact: true }).press('Enter');
  const renaming = a.page.getByRole('dialog', { name: 'Edit Milk' });
  await renaming.getByRole('textbox', { name: 'Name' }).fill('bread');
  await renaming.getByRole('textbox', { name: 'Name' }).press('Enter');
  await renaming.getByRole('button', { name: 'Merge anyway' }).press('Enter');
  await expect(renaming).toBeHidden();
  await a.nextFrame();
  expect(await focusedIsBody(a.page)).toBe(false);
  // One row is left, and focus is on it (the same control as before: its Edit button).
  await expect(a.page.getByRole('button', { name: /^Edit bread$/i })).toBeFocused();
});

test('dismissing the removal toast from the keyboard leaves focus on "Add item"', async ({ phones }) => {
  const a = await phones.create('phone-a');
  await a.open('/');
  await a.addAll(['Milk', 'Eggs']);
  await a.removeByKeyboard('Eggs');
  const dismiss = a.page.getByRole('button', { name: /^Dismiss/ });
  await dismiss.press('Enter');
  await expect(dismiss).toBeHidden();
  await a.nextFrame();
  expect(await focusedIsBody(a.page)).toBe(false);
  await expect(a.addItemField).toBeFocused();
});

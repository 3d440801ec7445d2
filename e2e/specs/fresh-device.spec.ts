/**
 * PRODUCT.md, Web app: "A fresh device opening / lands on a new empty list, ready to type", and
 * the role=status element says exactly "Synced" once the relay stored every change. Typed the
 * way a browser test written from that sentence would: no click into the field first.
 */
import { startSyncedList } from '../fixtures/family.js';
import { expect, test } from '../fixtures/test.js';

test('a fresh device opening / can type an item at once, without clicking the field', async ({ phones }) => {
  const a = await phones.create('phone-a');
  await a.page.goto('/');
  await a.page.keyboard.type('Milk');
  await a.page.keyboard.press('Enter');
  await expect(a.item('Milk')).toHaveCount(1);
  await expect(a.page.getByRole('status'), 'the whole text of the status element').toHaveText('Synced');
});

test('a list that opens with items does not take the focus (no keyboard popping up to read it)', async ({ phones }) => {
  const a = await startSyncedList(phones, ['Milk']);
  await a.coldStart(a.shareLink());
  await expect(a.item('Milk')).toBeVisible();
  await a.nextFrame();
  await expect(a.addItemField).not.toBeFocused();
});

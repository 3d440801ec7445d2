/**
 * Large text (WCAG 1.4.4, 1.4.10), measured in real Chromium: jsdom does no layout.
 *
 * Text at 200 % is set as the root font size, which is what a phone's "font size" setting
 * does to this app (app.css sizes everything in rem from the browser's default size).
 */
import { expect, test } from '../fixtures/test.js';
import type { Locator, Page } from '@playwright/test';

/** A common small Android phone. */
const PHONE = { width: 360, height: 740 };

async function textAt200Percent(page: Page): Promise<void> {
  await page.setViewportSize(PHONE);
  await page.addStyleTag({ content: 'html { font-size: 200% !important; }' });
}

/** Content wider than its box is cut off (or drawn over its neighbour). */
async function overflowsItsBox(locator: Locator): Promise<boolean> {
  return locator.evaluate((element) => element.scrollWidth > element.clientWidth + 1);
}

test('at 200 % text on a 360 px phone, the toast keeps "Undo" whole, not drawn over "Dismiss"', async ({ phones }) => {
  const a = await phones.create('phone-a');
  await a.open('/');
  await textAt200Percent(a.page);
  await a.addAll(['Milk', 'Dish soap']);
  await a.remove('Dish soap');

  const undo = a.page.locator('.toast').getByRole('button', { name: 'Undo' });
  await expect(undo).toBeVisible();
  expect(await overflowsItsBox(undo), '"Undo" fits its button').toBe(false);
});

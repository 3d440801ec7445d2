/**
 * Large text (WCAG 1.4.4, 1.4.10) and visible focus on the undo toast and the item rows (1.4.11
 * for focus indicators, 2.4.7), measured in real Chromium: jsdom does no layout and no cascade.
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

test('at 200 % text on a 360 px phone, the list title is shown whole, not cut to "Shopp…"', async ({ phones }) => {
  const a = await phones.create('phone-a');
  await a.open('/');
  await textAt200Percent(a.page);
  const title = a.page.getByRole('button', { name: /, rename list$/ });
  await expect(title).toHaveText('Shopping list');
  expect(await overflowsItsBox(title), 'the title fits its box').toBe(false);
});

/**
 * Where the button's focus ring is cut off: for every ancestor that clips what it paints
 * (overflow other than visible, paint containment, content-visibility), the sides on which the
 * ring's outer edge (border box + outline-offset + outline-width) crosses its padding box.
 */
async function focusRingClipping(button: Locator): Promise<string[]> {
  return button.evaluate((element) => {
    const style = getComputedStyle(element);
    const reach = parseFloat(style.outlineOffset) + parseFloat(style.outlineWidth);
    const box = element.getBoundingClientRect();
    const ring = { left: box.left - reach, top: box.top - reach, right: box.right + reach, bottom: box.bottom + reach };
    const clipped: string[] = [];
    for (let ancestor = element.parentElement; ancestor !== null; ancestor = ancestor.parentElement) {
      const ancestorStyle = getComputedStyle(ancestor);
      const containsPaint =
        /\b(paint|strict|content)\b/.test(ancestorStyle.contain) || ancestorStyle.contentVisibility !== 'visible';
      const clipsX = containsPaint || ancestorStyle.overflowX !== 'visible';
      const clipsY = containsPaint || ancestorStyle.overflowY !== 'visible';
      if (!clipsX && !clipsY) continue;
      const outer = ancestor.getBoundingClientRect();
      const left = outer.left + ancestor.clientLeft;
      const top = outer.top + ancestor.clientTop;
      const clip = { left, top, right: left + ancestor.clientWidth, bottom: top + ancestor.clientHeight };
      const sides = [
        clipsX && ring.left < clip.left - 0.5 ? 'left' : null,
        clipsX && ring.right > clip.right + 0.5 ? 'right' : null,
        clipsY && ring.top < clip.top - 0.5 ? 'top' : null,
        clipsY && ring.bottom > clip.bottom + 0.5 ? 'bottom' : null,
      ].filter((side) => side !== null);
      if (sides.length > 0) clipped.push(`${ancestor.tagName.toLowerCase()}.${ancestor.className}: ${sides.join(', ')}`);
    }
    return clipped;
  });
}

for (const textSize of ['100 %', '200 %'] as const) {
  test(`at ${textSize} text on a 360 px phone, an item's Remove and Edit buttons show their whole focus ring`, async ({ phones }) => {
    const a = await phones.create('phone-a');
    await a.open('/');
    if (textSize === '200 %') await textAt200Percent(a.page);
    else await a.page.setViewportSize(PHONE);
    // The first and last rows of a section: their rings meet the list's rounded, clipping box on three sides.
    await a.addAll(['Milk', 'Eggs']);
    for (const name of ['Remove Milk', 'Edit Milk', 'Remove Eggs', 'Edit Eggs']) {
      const button = a.page.getByRole('button', { name, exact: true });
      // The last input was a key press, so focus shows as keyboard focus (:focus-visible).
      await button.focus();
      const ring = await button.evaluate((element) => ({
        focusVisible: element.matches(':focus-visible'),
        width: parseFloat(getComputedStyle(element).outlineWidth),
      }));
      expect(ring.focusVisible).toBe(true);
      expect(ring.width).toBeGreaterThanOrEqual(2);
      expect(await focusRingClipping(button), `${name}: the focus ring is not cut off`).toEqual([]);
    }
  });
}

function luminance([r, g, b]: readonly number[]): number {
  const [lr, lg, lb] = [r!, g!, b!].map((channel) => {
    const c = channel / 255;
    return c <= 0.03928 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4;
  }) as [number, number, number];
  return 0.2126 * lr + 0.7152 * lg + 0.0722 * lb;
}

function contrast(a: readonly number[], b: readonly number[]): number {
  const [high, low] = [luminance(a), luminance(b)].sort((x, y) => y - x) as [number, number];
  return (high + 0.05) / (low + 0.05);
}

for (const colorScheme of ['light', 'dark'] as const) {
  test(`the focus ring on the toast's buttons stands out from the toast (${colorScheme})`, async ({ phones }) => {
    const a = await phones.create('phone-a');
    await a.page.emulateMedia({ colorScheme });
    await a.open('/');
    await a.addAll(['Milk', 'Eggs']);
    await a.removeByKeyboard('Eggs');
    const toast = a.page.locator('.toast');
    for (const name of ['Undo', 'Dismiss']) {
      const button = toast.getByRole('button', { name });
      // The last input was a key press, so focus shows as keyboard focus (:focus-visible).
      await button.focus();
      const colours = await button.evaluate((element) => {
        const rgb = (colour: string) => (colour.match(/\d+(\.\d+)?/g) ?? []).slice(0, 3).map(Number);
        const style = getComputedStyle(element);
        return {
          focusVisible: element.matches(':focus-visible'),
          ring: rgb(style.outlineColor),
          ringWidth: parseFloat(style.outlineWidth),
          toast: rgb(getComputedStyle(element.closest('.toast')!).backgroundColor),
        };
      });
      expect(colours.focusVisible).toBe(true);
      expect(colours.ringWidth).toBeGreaterThanOrEqual(2);
      expect(contrast(colours.ring, colours.toast), `${name}: focus ring against the toast, at least 3:1`).toBeGreaterThanOrEqual(3);
    }
  });
}

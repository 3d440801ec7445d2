/**
 * A reopened list paints the rows it showed last time while the stored document loads. What is
 * done to those rows in that moment must land in the list exactly as if it had loaded already,
 * and reach the family.
 */
import { converge, listOf, startSharedList } from '../fixtures/family.js';
import { expect, test } from '../fixtures/test.js';

test('taps and adds right after a cold start apply to the list and sync', async ({ phones }) => {
  const { a, b } = await startSharedList(phones, ['Bread', 'Milk', 'Apples']);
  const link = a.shareLink();
  // Let the cached view be written (it is saved shortly after the list loads).
  await a.page.waitForTimeout(800);

  await a.coldStart(link);
  // At once, without waiting for anything: these usually act on the cached rows (the document
  // loads at the first pause in input, or at the first such action). Whether they do depends on
  // timing, so the cached-row path itself is pinned down by ListScreen.coldstart.test.tsx and
  // list-session.test.ts; here the outcome must be right either way.
  await a.check('Bread');
  await a.remove('Milk');
  await a.add('Tea');
  await expect(a.item('Bread')).toBeChecked();

  expect(await converge([a, b])).toEqual(listOf(['Apples', 'Tea'], ['Bread']));
  await a.reload();
  const afterReload = (await a.readList()).sort((x, y) => x.name.localeCompare(y.name));
  expect(afterReload).toEqual(listOf(['Apples', 'Tea'], ['Bread']));
});

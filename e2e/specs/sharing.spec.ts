/**
 * Sharing: the page URL is the share link; B opens A's link, sees the list
 * and edits it with A; presence shows both phones.
 */
import { converge, listOf } from '../fixtures/family.js';
import { expect, test } from '../fixtures/test.js';

test('B opens A’s share link, sees the list, both edit it; presence shows both', async ({ phones }) => {
  const a = await phones.create('phone-a');
  await a.open('/');
  await a.setDisplayName('Anna');
  await a.addAll(['Milk', 'Bread']);
  await a.check('Bread');
  await a.waitSynced();

  const b = await phones.create('phone-b');
  await b.open(a.shareLink());
  await b.setDisplayName('Bert');
  expect(new URL(b.page.url()).pathname, 'B is on the same list').toBe(new URL(a.shareLink()).pathname);
  expect(await converge([a, b])).toEqual(listOf(['Milk'], ['Bread']));

  await b.add('Eggs');
  await a.uncheck('Bread');
  expect(await converge([a, b])).toEqual(listOf(['Bread', 'Eggs', 'Milk']));

  await expect.poll(() => a.presenceText(), { message: 'A sees Bert here' }).toBe('Also here: Bert');
  await expect.poll(() => b.presenceText(), { message: 'B sees Anna here' }).toBe('Also here: Anna');

  await b.page.close();
  await expect.poll(() => a.presenceText(), { message: 'B leaving is seen by A' }).toBe('');
});

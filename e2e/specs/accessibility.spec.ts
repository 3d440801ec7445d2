/**
 * Automated accessibility scan (axe-core) of the main views, and screenshots
 * of them saved to e2e/artifacts/ and attached to the report.
 */
import { expectNoSeriousViolations } from '../fixtures/accessibility.js';
import { converge } from '../fixtures/family.js';
import { expect, test } from '../fixtures/test.js';

test('main views: no serious or critical axe violations; screenshots saved', async ({ phones, saveScreenshot }) => {
  const a = await phones.create('phone-a');
  await a.open('/');
  await expectNoSeriousViolations(a.page, 'new empty list');
  await saveScreenshot(a, '01-new-empty-list');

  await a.addAll(['Milk', '2 l orange juice', 'Bread', 'Bananas', 'Dish soap']);
  await a.check('Bread');
  await a.remove('Dish soap');
  await a.waitSynced();
  await expectNoSeriousViolations(a.page, 'list with items and a checked item');
  await saveScreenshot(a, '02-list-with-items');

  await a.openRecentlyDeleted();
  await expect(a.recentlyDeletedDialog.getByRole('button', { name: 'Restore Dish soap' })).toBeVisible();
  await expectNoSeriousViolations(a.page, 'Recently deleted');
  await saveScreenshot(a, '03-recently-deleted');
  await a.closeRecentlyDeleted();

  await a.page.getByRole('button', { name: 'Edit Milk', exact: true }).click();
  const editor = a.page.getByRole('dialog', { name: 'Edit Milk' });
  await expect(editor).toBeVisible();
  await expectNoSeriousViolations(a.page, 'item editor');
  await saveScreenshot(a, '04-edit-item');
  await a.page.keyboard.press('Escape');
  await expect(editor).toBeHidden();

  await a.goOffline('real-loss');
  await a.waitOfflineShown();
  await a.add('Eggs');
  await expectNoSeriousViolations(a.page, 'offline with a change on this phone');
  await saveScreenshot(a, '05-offline');
  await a.goOnline();
  await a.waitSynced();

  const b = await phones.create('phone-b');
  await b.open(a.shareLink());
  await converge([a, b]);
  await expectNoSeriousViolations(b.page, 'a shared list opened from its link');
  await saveScreenshot(b, '06-shared-list-second-phone');

  await b.page.emulateMedia({ colorScheme: 'dark' });
  await expectNoSeriousViolations(b.page, 'dark mode');
  await saveScreenshot(b, '07-dark-mode');
});

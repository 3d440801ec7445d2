/**
 * Leaving a list deletes this phone's copy. Changes the relay has not stored are on no other
 * phone, so leaving would lose them for good: the confirmation says so, keeping the list is
 * the default, and once they are stored leaving loses nothing (the link brings everything back).
 */
import { expectNoSeriousViolations } from '../fixtures/accessibility.js';
import { startSyncedList } from '../fixtures/family.js';
import { expect, test } from '../fixtures/test.js';

const EVERYTHING = ['Birthday cake', 'Candles', 'Milk'];

test('leaving with changes that never reached the family warns, keeps the list by default, loses nothing', async ({
  phones,
  saveScreenshot,
}) => {
  const a = await startSyncedList(phones, ['Milk']);
  const link = a.shareLink();

  await a.goOffline('real-loss');
  await a.waitOfflineShown();
  await a.addAll(['Birthday cake', 'Candles']);
  await expect(a.status).toHaveText('Offline · 2 changes on this phone');

  const openLeave = async () => {
    await a.page.getByRole('button', { name: 'Your lists', exact: true }).click();
    await a.page.getByRole('button', { name: 'Leave this list…' }).click();
    return a.page.getByRole('group', { name: 'Leave this list?' });
  };

  const confirm = await openLeave();
  await expect(confirm).toContainText(
    '2 changes on this phone haven’t reached the family yet — they’ll be lost if you leave now.',
  );
  await expect(confirm, 'never promise the link brings back what was never sent').not.toContainText(
    'the link brings it back',
  );
  await expect(confirm.getByRole('button', { name: 'Keep it' })).toBeFocused();
  await expect(confirm.getByRole('button', { name: 'Leave list', exact: true })).toHaveCount(0);
  await expect(confirm.getByRole('button', { name: 'Leave and lose 2 changes' })).toBeVisible();
  await expectNoSeriousViolations(a.page, 'leave with unsent changes');
  await saveScreenshot(a, 'leave-unsent-changes');

  // A stray Enter keeps the list, and everything on it.
  await a.page.keyboard.press('Enter');
  await expect(confirm).toHaveCount(0);
  await a.page.keyboard.press('Escape');
  expect(a.page.url()).toBe(link);
  expect((await a.names()).sort()).toEqual(EVERYTHING);

  // Back online, once "Synced", leaving loses nothing and says so.
  await a.goOnline();
  await a.waitSynced();
  const afterSync = await openLeave();
  await expect(afterSync).toContainText('It stays for everyone else; the link brings it back.');
  await afterSync.getByRole('button', { name: 'Leave list', exact: true }).click();
  await expect.poll(() => a.page.url(), { message: 'phone A left the list' }).not.toBe(link);

  const b = await phones.create('phone-b');
  await b.open(link);
  await b.waitSynced();
  await expect.poll(async () => (await b.names()).sort(), { message: 'the family has every item' }).toEqual(EVERYTHING);
  await a.open(link);
  await expect
    .poll(async () => (await a.names()).sort(), { message: 'the link brings it back to phone A' })
    .toEqual(EVERYTHING);
  expect([...a.pageErrors, ...b.pageErrors]).toEqual([]);
});

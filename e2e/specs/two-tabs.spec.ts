/**
 * Two tabs of one phone (one browser context) on the same list. They share their edits over
 * BroadcastChannel, so the status line of each must speak for the phone: "Synced" only once
 * the relay stored every change the tab shows, whichever tab made it, and one count of changes
 * on this phone in every tab.
 */
import type { Page } from '@playwright/test';
import { converge, listOf, startSyncedList } from '../fixtures/family.js';
import { Phone } from '../fixtures/phone.js';
import { expect, test } from '../fixtures/test.js';

/** A second tab of `phone`'s browser, with the same helpers. */
async function secondTab(phone: Phone, prepare?: (page: Page) => Promise<void>): Promise<Phone> {
  const page = await phone.context.newPage();
  await prepare?.(page);
  return new Phone(`${phone.label}-tab-2`, phone.context, page, phone.network);
}

test('an edit from a tab that closes before its socket opens reaches the relay through the other tab, which says Synced only then', async ({
  phones,
  relay,
}) => {
  const a = await startSyncedList(phones, ['Milk']);
  const link = a.shareLink();

  // Tab B's socket never opens (a slow mobile handshake): it is held until the tab closes.
  const b = await secondTab(a, (page) =>
    page.routeWebSocket(/\/sync\//, () => new Promise<void>((resolve) => page.once('close', () => resolve()))),
  );
  await b.open(link);
  await expect(b.item('Milk')).toHaveCount(1);
  await a.recordStatusTexts();
  await b.add('Coffee');
  // No status check on tab B: once tab A's ack covers Coffee, tab B takes it in too (0 changes).
  await expect(a.item('Coffee'), 'tab A got it over BroadcastChannel').toHaveCount(1);
  await b.page.close();

  // Tab A counts it until the relay acknowledges it, then says Synced.
  await expect
    .poll(async () => (await a.recordedStatusTexts()).some((text) => /Syncing.*1 change/.test(text)), {
      message: 'tab A counted the change from tab B',
    })
    .toBe(true);
  await a.waitSynced();

  // "Synced" means stored: with phone A gone and the relay killed and restarted, it is there.
  await a.goOffline('real-loss');
  await relay.kill();
  await relay.restart();
  const c = await phones.create('phone-c');
  await c.open(link);
  expect(await converge([c]), 'the relay stored what tab A called Synced').toEqual(listOf(['Coffee', 'Milk']));
});

test('two tabs offline show the same count of changes on this phone', async ({ phones }) => {
  const a = await startSyncedList(phones, ['Milk']);
  const link = a.shareLink();
  const tab2 = await secondTab(a);
  await tab2.open(link);
  await expect(tab2.item('Milk')).toHaveCount(1);
  await tab2.waitSynced();

  await a.goOffline('real-loss');
  await a.waitOfflineShown();
  await tab2.waitOfflineShown();
  await a.add('Eggs');
  await tab2.add('Bread');
  await tab2.check('Milk');
  await expect(a.item('Bread')).toHaveCount(1);
  await expect(a.item('Milk')).toBeChecked();
  await expect(a.status).toHaveText('Offline · 3 changes on this phone');
  await expect(tab2.status).toHaveText('Offline · 3 changes on this phone');

  await a.goOnline();
  expect(await converge([a, tab2])).toEqual(listOf(['Bread', 'Eggs'], ['Milk']));
  const b = await phones.create('phone-b');
  await b.open(link);
  expect(await converge([b]), 'the relay has every change of both tabs').toEqual(listOf(['Bread', 'Eggs'], ['Milk']));
});

test('leaving the list in one tab closes it in the other, which says so and keeps nothing of it on the phone', async ({
  phones,
}) => {
  const a = await startSyncedList(phones, ['Milk']);
  const link = a.shareLink();
  const listId = new URL(link).pathname.split('/').pop()!;
  const tab2 = await secondTab(a);
  await tab2.open(link);
  await expect(tab2.item('Milk')).toHaveCount(1);
  await tab2.waitSynced();

  await a.page.getByRole('button', { name: 'Your lists', exact: true }).click();
  await a.page.getByRole('button', { name: 'Leave this list…' }).click();
  await a.page.getByRole('button', { name: 'Leave list', exact: true }).click();
  await expect.poll(() => a.page.url(), { message: 'tab A left the list' }).not.toBe(link);

  // Tab 2 no longer takes edits that no copy on the phone would keep: it says the list was left.
  await expect(tab2.page.getByRole('heading', { level: 1, name: 'You left this list on this phone' })).toBeVisible();
  await expect(tab2.addItemField).toHaveCount(0);
  expect(tab2.page.url(), 'the address is still the list’s link').toBe(link);
  // Nothing of it is left on the phone: no IndexedDB copy, no localStorage entry (what tab 2
  // saved while closing is deleted again).
  await expect
    .poll(
      () =>
        tab2.page.evaluate(async (id) => {
          const databases = (await indexedDB.databases()).map((database) => database.name ?? '');
          return [...databases, ...Object.keys(localStorage)].filter((name) => name.includes(id));
        }, listId),
      { message: 'the phone keeps nothing of the left list' },
    )
    .toEqual([]);

  // The link brings it back, from the family.
  await tab2.page.getByRole('button', { name: 'Open it again' }).click();
  await expect(tab2.item('Milk')).toHaveCount(1);
  await tab2.waitSynced();
});

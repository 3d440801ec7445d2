/**
 * A phone reloads, and cold-starts, in airplane mode: the service worker
 * serves the app, IndexedDB the list; offline edits survive, the status still counts them
 * ("Offline · N changes on this phone"), editing goes on,
 * and everything merges on reconnect.
 */
import { converge, listOf, startSharedList } from '../fixtures/family.js';
import { offlineModes } from '../fixtures/network.js';
import { expect, test } from '../fixtures/test.js';

for (const mode of offlineModes) {
  test(`reload and cold start in airplane mode keep the list and offline edits [${mode}]`, async ({ phones }) => {
    const { a, b } = await startSharedList(phones, ['Bread']);
    await a.waitServiceWorkerInControl();
    const shareLink = a.shareLink();

    await a.goOffline(mode);
    await a.waitOfflineShown();
    await a.add('Milk');
    await a.check('Bread');
    await expect(a.status).toHaveText('Offline · 2 changes on this phone');

    await a.reload();
    expect(await a.readList(), 'after an offline reload').toEqual(
      expect.arrayContaining([
        { name: 'Milk', checked: false },
        { name: 'Bread', checked: true },
      ]),
    );
    await expect(a.status, 'the changes still only on this phone, after an offline reload').toHaveText(
      'Offline · 2 changes on this phone',
    );
    await a.add('Eggs');

    await a.coldStart(shareLink);
    expect(await a.names(), 'after an offline cold start').toEqual(expect.arrayContaining(['Bread', 'Eggs', 'Milk']));
    await expect(a.status, 'the changes still only on this phone, after an offline cold start').toHaveText(
      'Offline · 3 changes on this phone',
    );
    await a.add('Tea');
    await expect(a.status).toHaveText('Offline · 4 changes on this phone');

    // Opened from its home-screen icon (the manifest's start_url, "/"), still in airplane mode.
    await a.coldStart('/');
    expect(a.shareLink(), 'the app opens the list this phone had open').toBe(shareLink);
    expect(await a.names(), 'after an offline start from "/"').toEqual(expect.arrayContaining(['Bread', 'Eggs', 'Milk', 'Tea']));
    await expect(a.status).toHaveText('Offline · 4 changes on this phone');
    await b.add('Coffee');

    await a.goOnline();
    expect(await converge([a, b])).toEqual(listOf(['Coffee', 'Eggs', 'Milk', 'Tea'], ['Bread']));
  });
}

/**
 * A phone reloads, and cold-starts, in airplane mode: the service worker
 * serves the app, IndexedDB the list; offline edits survive, editing goes on,
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

    await a.reload();
    expect(await a.readList(), 'after an offline reload').toEqual(
      expect.arrayContaining([
        { name: 'Milk', checked: false },
        { name: 'Bread', checked: true },
      ]),
    );
    await a.waitOfflineShown();
    await a.add('Eggs');

    await a.coldStart(shareLink);
    expect(await a.names(), 'after an offline cold start').toEqual(expect.arrayContaining(['Bread', 'Eggs', 'Milk']));
    await a.waitOfflineShown();
    await a.add('Tea');
    await b.add('Coffee');

    await a.goOnline();
    expect(await converge([a, b])).toEqual(listOf(['Coffee', 'Eggs', 'Milk', 'Tea'], ['Bread']));
  });
}

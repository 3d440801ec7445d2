/**
 * The shared-shopping-list challenge checklist: A adds Milk and checks Bread,
 * B adds Eggs and removes Butter, both offline; back online: Milk and Eggs to
 * buy, Bread checked, Butter gone and restorable.
 */
import { allOffline, allOnline, converge, listOf, startSharedList } from '../fixtures/family.js';
import { offlineModes } from '../fixtures/network.js';
import { expect, test } from '../fixtures/test.js';

for (const mode of offlineModes) {
  test(`challenge checklist: two phones offline, then back [${mode}]`, async ({ phones }) => {
    const { a, b } = await startSharedList(phones, ['Bread', 'Butter']);

    await allOffline([a, b], mode);
    await a.add('Milk');
    await a.check('Bread');
    await b.add('Eggs');
    await b.remove('Butter');
    await Promise.all([a.waitOfflineShown(), b.waitOfflineShown()]);
    expect(await a.names(), "A does not see B's edits while offline").toEqual(
      expect.arrayContaining(['Butter', 'Milk']),
    );
    expect(await b.readList(), "B does not see A's check while offline").toContainEqual({
      name: 'Bread',
      checked: false,
    });

    await allOnline([a, b]);
    expect(await converge([a, b])).toEqual(listOf(['Eggs', 'Milk'], ['Bread']));
    expect(await a.recentlyDeleted(), 'Butter is restorable on A').toContain('Butter');
    expect(await b.recentlyDeleted(), 'Butter is restorable on B').toContain('Butter');

    await a.restore('Butter');
    expect(await converge([a, b])).toEqual(listOf(['Butter', 'Eggs', 'Milk'], ['Bread']));
  });
}

/**
 * Merge rules 1–8 of PRODUCT.md, end to end: two phones on one list, both
 * offline at once, each edits, both come back; the lists must be identical on
 * both phones and match the rule. Every rule runs with both kinds of offline.
 */
import { allOffline, allOnline, converge, expectNoDuplicates, listOf, startSharedList } from '../fixtures/family.js';
import { offlineModes, type OfflineMode } from '../fixtures/network.js';
import type { Phone } from '../fixtures/phone.js';
import { expect, test } from '../fixtures/test.js';

/** Tombstone retention of the model (PRODUCT.md); the clock jumps past it for rule 8. */
const tombstoneRetentionMs = 30 * 24 * 60 * 60 * 1000;
const oneDayMs = 24 * 60 * 60 * 1000;

/** Both phones show "Offline" before anything else is checked: the test really is offline. */
async function bothShowOffline(a: Phone, b: Phone): Promise<void> {
  await Promise.all([a.waitOfflineShown(), b.waitOfflineShown()]);
}

/**
 * Rule 4: `phone` shows exactly one "… removed <name> that you changed" notice, once per removed
 * row however many duplicates in it held the change (not the "while you were offline" summary).
 */
async function expectToldOnce(phone: Phone, name: string): Promise<void> {
  const told = phone.page.getByText(new RegExp(`removed ${name} that you changed`));
  await expect(told.first(), `${phone.label} is told that the other phone removed ${name} that it changed`).toBeVisible();
  await expect(told, `${phone.label} is told once`).toHaveCount(1);
}

/**
 * Rule 4's ending once both are back: Butter is deleted, A (only) is told once, and restoring it
 * brings back A's `quantity`.
 */
async function expectButterRemovedAndRestorable(a: Phone, b: Phone, quantity: number): Promise<void> {
  expect(await converge([a, b])).toEqual(listOf(['Eggs']));
  await expectToldOnce(a, 'Butter');
  await expect(b.page.getByText(/that you changed/), 'B is told nothing').toHaveCount(0);

  await a.restore('Butter');
  expect(await converge([a, b])).toEqual(listOf(['Butter', 'Eggs']));
  for (const phone of [a, b]) {
    await expect(phone.item('Butter'), `${phone.label}: A's quantity kept`).toHaveAccessibleDescription(new RegExp(`^${quantity}\\b`));
  }
}

/**
 * B, offline, adds Butter; A adds Butter online and goes offline; B comes back, folds A's Butter
 * into its own older one, and goes offline again. A never hears of B's Butter.
 */
async function bFoldsAsButterUnseenByA(a: Phone, b: Phone, mode: OfflineMode): Promise<void> {
  await b.goOffline(mode);
  await b.waitOfflineShown();
  // B's Butter is the older one, so B's row keeps it and takes A's in.
  await b.add('Butter');
  await a.add('Butter');
  await a.waitSynced();
  await a.goOffline(mode);
  await a.waitOfflineShown();
  await b.goOnline();
  await b.waitSynced();
  await expect(b.item('Butter'), 'B: one row, both contributors').toHaveAccessibleDescription(/^.+ \+ .+$/);
  await b.goOffline(mode);
  await b.waitOfflineShown();
}

for (const mode of offlineModes) {
  test.describe(`both phones offline (${mode})`, () => {
    test(`rule 1: A adds Milk, B adds Eggs → both items [${mode}]`, async ({ phones }) => {
      const { a, b } = await startSharedList(phones, ['Bread']);
      await allOffline([a, b], mode);
      await a.add('Milk');
      await b.add('Eggs');
      await bothShowOffline(a, b);
      expect(await a.names(), 'A cannot see B while offline').not.toContain('Eggs');
      expect(await b.names(), 'B cannot see A while offline').not.toContain('Milk');

      await allOnline([a, b]);
      expect(await converge([a, b])).toEqual(listOf(['Bread', 'Eggs', 'Milk']));
    });

    test(`rule 2: A and B both add Milk → one Milk, larger quantity, stays one [${mode}]`, async ({ phones }) => {
      const { a, b } = await startSharedList(phones, ['Bread']);
      await allOffline([a, b], mode);
      // The larger quantity comes from B for Milk and from A for Eggs (each added after A's).
      await a.add('Milk');
      await a.add('3 eggs');
      await b.add('2 milk');
      await b.add('egg');
      await bothShowOffline(a, b);

      await allOnline([a, b]);
      const merged = await converge([a, b]);
      const milks = merged.filter((item) => /^milk$/i.test(item.name));
      expect(milks, 'one visible Milk').toHaveLength(1);
      const eggs = merged.filter((item) => /^eggs?$/i.test(item.name));
      expect(eggs, 'one visible Eggs').toHaveLength(1);
      expectNoDuplicates(merged);
      const milkName = milks[0]?.name ?? 'Milk';
      for (const phone of [a, b]) {
        // The row's description: "2 · <A's name> + <B's name>".
        await expect(phone.item(milkName), `${phone.label}: larger quantity, both contributors`).toHaveAccessibleDescription(
          /^2 · .+ \+ .+$/,
        );
        await expect(phone.item(eggs[0]?.name ?? 'Eggs'), `${phone.label}: larger quantity, both contributors`).toHaveAccessibleDescription(
          /^3 · .+ \+ .+$/,
        );
      }

      // Another round trip and a cold reload must not split it again.
      await allOffline([a, b], mode);
      await a.check(milkName);
      await allOnline([a, b]);
      await converge([a, b]);
      await Promise.all([a.reload(), b.reload()]);
      const again = await converge([a, b]);
      expect(again.filter((item) => /^milk$/i.test(item.name))).toEqual([{ name: milkName, checked: true }]);
    });

    test(`rule 3: A checks Bread, B removes Bread → deleted, restores checked [${mode}]`, async ({ phones }) => {
      const { a, b } = await startSharedList(phones, ['Bread', 'Eggs']);
      await allOffline([a, b], mode);
      await a.check('Bread');
      await b.remove('Bread');
      await bothShowOffline(a, b);

      await allOnline([a, b]);
      expect(await converge([a, b])).toEqual(listOf(['Eggs']));
      expect(await a.recentlyDeleted()).toContain('Bread');
      expect(await b.recentlyDeleted()).toContain('Bread');

      await a.restore('Bread');
      expect(await converge([a, b])).toEqual(listOf(['Eggs'], ['Bread']));
    });

    test(`rule 4: A changes Butter's quantity, B removes Butter → deleted, A told, restore keeps quantity [${mode}]`, async ({
      phones,
    }) => {
      const { a, b } = await startSharedList(phones, ['Butter', 'Eggs']);
      await allOffline([a, b], mode);
      await a.edit('Butter', { quantity: 3 });
      await b.remove('Butter');
      await bothShowOffline(a, b);

      await allOnline([a, b]);
      expect(await converge([a, b])).toEqual(listOf(['Eggs']));
      await expect(
        // The notice itself, not the "while you were offline" summary that also mentions it.
        a.page.getByText(/removed Butter that you changed/),
        'A is told that B removed Butter that A changed',
      ).toBeVisible();
      expect(await b.recentlyDeleted()).toContain('Butter');

      await a.restore('Butter');
      expect(await converge([a, b])).toEqual(listOf(['Butter', 'Eggs']));
      for (const phone of [a, b]) {
        await expect(phone.item('Butter'), `${phone.label}: A's quantity kept`).toHaveAccessibleDescription(/^3\b/);
      }
    });

    test(`rule 4 on a merged row: both added Butter, then A changes its quantity while B removes the row → deleted, A told once, restore keeps A's quantity [${mode}]`, async ({
      phones,
    }) => {
      const { a, b } = await startSharedList(phones, ['Eggs']);
      await allOffline([a, b], mode);
      await a.add('Butter');
      await b.add('Butter');
      await bothShowOffline(a, b);
      await allOnline([a, b]);
      expect(await converge([a, b])).toEqual(listOf(['Butter', 'Eggs']));

      await allOffline([a, b], mode);
      await a.edit('Butter', { quantity: 3 });
      await b.remove('Butter');
      await bothShowOffline(a, b);

      await allOnline([a, b]);
      await expectButterRemovedAndRestorable(a, b, 3);
    });

    test(`rule 4, A's change on a duplicate B had folded into B's Butter: A, not having seen B's, changes its quantity while B removes the row → deleted, A told once, restore keeps A's quantity [${mode}]`, async ({
      phones,
    }) => {
      // The model's "B folds A's Butter into B's own …" (list-core test/merge-rules.test.ts):
      // A's change lands on A's own Butter, which B's removal deletes as a member of B's row.
      const { a, b } = await startSharedList(phones, ['Eggs']);
      await bFoldsAsButterUnseenByA(a, b, mode);
      await expect(a.item('Butter'), 'A: only its own Butter').toHaveAccessibleDescription('');

      await a.edit('Butter', { quantity: 3 });
      await b.remove('Butter');
      await bothShowOffline(a, b);

      await allOnline([a, b]);
      await expectButterRemovedAndRestorable(a, b, 3);
    });

    test(`rule 4, A changed its own Butter, which B had folded into B's, and then the merged row: B removes the row → deleted, A told once, not once per duplicate, restore keeps A's last quantity [${mode}]`, async ({
      phones,
    }) => {
      // The model's "A changed both the row B removed and the duplicate B had folded into it",
      // with two phones: B's removal meets A's changes on both of the row's items.
      const { a, b } = await startSharedList(phones, ['Eggs']);
      await bFoldsAsButterUnseenByA(a, b, mode);

      // A changes its own Butter, then hears of B's row (B, offline, hears nothing of A's change)
      // and changes the row too.
      await a.edit('Butter', { quantity: 3 });
      await a.goOnline();
      await a.waitSynced();
      await expect(a.item('Butter'), 'A: one row, both contributors').toHaveAccessibleDescription(/^3 · .+ \+ .+$/);
      await a.goOffline(mode);
      await a.waitOfflineShown();
      await a.edit('Butter', { quantity: 4 });
      await b.remove('Butter');
      await bothShowOffline(a, b);

      await allOnline([a, b]);
      await expectButterRemovedAndRestorable(a, b, 4);
    });

    test(`rule 5: A and B rename, and re-quantify, the same item → one value wins everywhere, the other is in the activity log [${mode}]`, async ({
      phones,
    }) => {
      const { a, b } = await startSharedList(phones, ['Bread', 'Eggs']);
      await allOffline([a, b], mode);
      await a.edit('Bread', { name: 'Rye bread' });
      await b.edit('Bread', { name: 'White bread' });
      await a.edit('Eggs', { quantity: 2 });
      await b.edit('Eggs', { quantity: 5 });
      await bothShowOffline(a, b);

      await allOnline([a, b]);
      const merged = await converge([a, b]);
      expect(merged).toHaveLength(2);
      const winner = merged.find((item) => item.name !== 'Eggs')?.name;
      expect(['Rye bread', 'White bread'], 'one of the two names wins').toContain(winner);
      const loser = winner === 'Rye bread' ? 'White bread' : 'Rye bread';
      const overwrittenQuantities = new Set<string>();
      for (const phone of [a, b]) {
        const entries = await phone.activityEntries();
        const overwritten = entries.filter((entry) => entry.includes(loser) && /replaced/i.test(entry));
        expect(overwritten, `${phone.label}: the overwritten name is in the activity log, marked replaced`).toHaveLength(1);
        const quantities = entries
          .filter((entry) => entry.includes("Eggs's quantity") && /replaced/i.test(entry))
          .map((entry) => /from 1 to (\d+)/.exec(entry)?.[1] ?? entry);
        expect(quantities, `${phone.label}: the overwritten quantity is in the activity log, marked replaced`).toHaveLength(1);
        overwrittenQuantities.add(quantities[0] ?? '');
      }
      expect([...overwrittenQuantities], 'the same quantity lost on both phones').toHaveLength(1);
      const lostQuantity = [...overwrittenQuantities][0];
      expect(['2', '5'], 'one of the two quantities lost').toContain(lostQuantity);
      const wonQuantity = lostQuantity === '2' ? '5' : '2';
      for (const phone of [a, b]) {
        await expect(phone.item('Eggs'), `${phone.label}: the winning quantity`).toHaveAccessibleDescription(
          new RegExp(`^${wonQuantity}\\b`),
        );
      }
    });

    test(`rule 6: A clears checked while B checks Eggs → only what A saw checked is removed [${mode}]`, async ({
      phones,
    }) => {
      const { a, b } = await startSharedList(phones, ['Milk', 'Eggs', 'Bread']);
      await a.check('Milk');
      expect(await converge([a, b])).toEqual(listOf(['Bread', 'Eggs'], ['Milk']));

      await allOffline([a, b], mode);
      await a.clearChecked();
      await expect(a.item('Milk')).toHaveCount(0);
      await b.check('Eggs');
      await bothShowOffline(a, b);

      await allOnline([a, b]);
      expect(await converge([a, b])).toEqual(listOf(['Bread'], ['Eggs']));
      const deletedOnB = await b.recentlyDeleted();
      expect(deletedOnB).toContain('Milk');
      expect(deletedOnB).not.toContain('Eggs');
    });

    test(`rule 7: A removes Milk, B adds Milk again later → one Milk (B's), old one in Recently deleted [${mode}]`, async ({
      phones,
    }) => {
      const { a, b } = await startSharedList(phones, ['Milk', 'Bread']);
      await a.remove('Milk');
      expect(await converge([a, b])).toEqual(listOf(['Bread']));

      await allOffline([a, b], mode);
      await b.add('Milk');
      await a.add('Tea');
      await bothShowOffline(a, b);

      await allOnline([a, b]);
      const merged = await converge([a, b]);
      expect(merged).toEqual(listOf(['Bread', 'Milk', 'Tea']));
      expectNoDuplicates(merged);
      expect(await a.recentlyDeleted(), 'the old Milk stays deleted').toContain('Milk');
      expect(await b.recentlyDeleted(), 'the old Milk stays deleted').toContain('Milk');
    });

    test(`rule 7, B had not heard of the removal: A removes Milk, then B adds Milk again → one Milk (B's), old one in Recently deleted [${mode}]`, async ({
      phones,
    }) => {
      const { a, b } = await startSharedList(phones, ['Milk', 'Bread']);
      await allOffline([a, b], mode);
      await a.remove('Milk');
      // B still shows Milk and types it again: one more request for it, made after the removal.
      await b.add('Milk');
      await bothShowOffline(a, b);
      expect(await b.names(), 'B cannot see the removal while offline').toContain('Milk');

      await allOnline([a, b]);
      const merged = await converge([a, b]);
      expect(merged).toEqual(listOf(['Bread', 'Milk']));
      expectNoDuplicates(merged);
      expect(await a.recentlyDeleted(), 'the old Milk stays deleted').toContain('Milk');
      expect(await b.recentlyDeleted(), 'the old Milk stays deleted').toContain('Milk');
    });

    test(`rule 8: A edits an item purged while A was offline → no crash, no resurrection, A told [${mode}]`, async ({
      phones,
    }) => {
      const { a, b } = await startSharedList(phones, ['Butter', 'Bread']);
      await a.goOffline(mode);
      await a.waitOfflineShown();

      // B removes Butter, then B's clock runs past the retention period; the
      // app purges old tombstones when it opens a list, so B reopens it.
      await b.remove('Butter');
      await b.waitSynced();
      await b.page.clock.setFixedTime(Date.now() + tombstoneRetentionMs + oneDayMs);
      await b.reload();
      await b.waitSynced();
      expect(await b.recentlyDeleted(), 'B purged the Butter tombstone').not.toContain('Butter');

      // A, offline all along, still sees Butter and edits it.
      await a.check('Butter');
      await a.edit('Butter', { quantity: 4 });

      await a.goOnline();
      expect(await converge([a, b])).toEqual(listOf(['Bread']));
      await expect(
        a.page.getByText(/Butter.*removed|removed.*Butter/).first(),
        'A is told Butter was removed',
      ).toBeVisible();
      await a.reload();
      expect(await converge([a, b]), 'Butter does not come back after a reload').toEqual(listOf(['Bread']));
      expect(a.pageErrors, 'no crash on A').toEqual([]);
      expect(b.pageErrors, 'no crash on B').toEqual([]);
    });
  });
}

/**
 * Long absence: one phone makes 300 edits offline while the other keeps
 * editing online; once back, the two merge within seconds.
 */
import { converge, expectNoDuplicates, listOf, startSharedList } from '../fixtures/family.js';
import { itemNames } from '../fixtures/item-names.js';
import { expect, test } from '../fixtures/test.js';

/** "Merge within seconds" (issue 5): from network back to both phones Synced and identical. */
const mergeBudgetMs = 10_000;

test('long absence: 300 offline edits on B while A edits, merged within seconds', async ({ phones }, testInfo) => {
  // Typing 300 edits through the UI takes about 3 minutes here on its own; what is under test is
  // the merge's 10 s budget below, not the typing, which a busier machine slows past 4 minutes.
  test.setTimeout(360_000);
  const { a, b } = await startSharedList(phones, ['Bread', 'Eggs']);

  await b.goOffline('real-loss');
  await b.waitOfflineShown();
  // 200 adds + 60 checks + 40 removes = 300 edits.
  const added = itemNames('Bert', 200);
  const checked = added.slice(0, 60);
  const removed = added.slice(160);
  const offlineEditsStartedAt = Date.now();
  await b.typeMany(added);
  for (const name of checked) await b.toggleByKeyboard(name);
  for (const name of removed) await b.removeByKeyboard(name);
  testInfo.annotations.push({
    type: 'offline edit time',
    description: `${Date.now() - offlineEditsStartedAt} ms for 300 edits through the UI`,
  });
  await expect(b.status).toContainText(/Offline · \d+ changes on this phone/);

  const addedByA = itemNames('Anna', 20);
  await a.typeMany(addedByA);
  await a.check('Bread');
  await a.remove('Eggs');
  await a.waitSynced();

  const backOnlineAt = Date.now();
  await b.goOnline();
  const merged = await converge([a, b], 30_000);
  const mergeMs = Date.now() - backOnlineAt;
  testInfo.annotations.push({ type: 'merge time', description: `${mergeMs} ms for 300 offline edits` });
  console.log(`[long absence] merge after 300 offline edits took ${mergeMs} ms`);

  expectNoDuplicates(merged);
  const toBuy = [...addedByA, ...added.slice(60, 160)];
  expect(merged).toEqual(listOf(toBuy, [...checked, 'Bread']));
  expect(mergeMs, 'merge within seconds').toBeLessThan(mergeBudgetMs);
});

/**
 * The relay dies (SIGKILL) while both phones are editing, then restarts on the
 * same port and DATA_DIR. Nothing a phone showed as "Synced" may be lost, and
 * the phones that kept editing converge.
 */
import { allOffline, allOnline, converge, expectNoDuplicates, listOf, startSharedList } from '../fixtures/family.js';
import { itemNames } from '../fixtures/item-names.js';
import type { Phone } from '../fixtures/phone.js';
import { expect, test } from '../fixtures/test.js';

/**
 * Adds `names` one by one; after each add, when the phone says "Synced",
 * everything added so far counts as acknowledged by the relay. (The new item
 * and the status line render in the same React commit, so a "Synced" read
 * after the item is visible already accounts for it.)
 */
async function addWatchingStatus(phone: Phone, names: readonly string[], acknowledged: Set<string>): Promise<void> {
  for (const [index, name] of names.entries()) {
    await phone.add(name);
    await expect(phone.item(name)).toHaveCount(1);
    if ((await phone.syncState()) === 'synced') {
      for (const earlier of names.slice(0, index + 1)) acknowledged.add(earlier);
    }
  }
}

test('relay SIGKILL while phones edit: nothing shown as Synced is lost, phones converge', async ({
  phones,
  relay,
}) => {
  const { a, b } = await startSharedList(phones, ['Bread']);
  const acknowledged = new Set<string>(['Bread']);
  const beforeCrashA = itemNames('Anna', 8);
  const beforeCrashB = itemNames('Bert', 8);
  const afterCrashA = itemNames('Cleo', 6);
  const afterCrashB = itemNames('Dora', 6);

  // A edits and waits for "Synced" a few times, so some edits are surely acknowledged.
  for (const name of beforeCrashA.slice(0, 3)) {
    await a.add(name);
    await a.waitSynced();
    acknowledged.add(name);
  }
  // Both phones edit at full speed; the relay is killed in the middle of it.
  await Promise.all([
    addWatchingStatus(a, beforeCrashA.slice(3), acknowledged).then(() => undefined),
    addWatchingStatus(b, beforeCrashB, acknowledged),
    (async () => {
      await expect(b.item(beforeCrashB[2] ?? '')).toHaveCount(1);
      await relay.kill();
    })(),
  ]);
  expect(relay.isRunning).toBe(false);
  // The phones keep editing while the relay is down.
  await a.addAll(afterCrashA);
  await b.addAll(afterCrashB);
  await Promise.all([a.waitOfflineShown(20_000), b.waitOfflineShown(20_000)]);

  // Keep the phones away while the relay restarts, so a fresh phone sees only
  // what the relay itself kept on disk.
  await allOffline([a, b], 'real-loss');
  await relay.restart();
  const c = await phones.create('phone-c');
  await c.open(a.shareLink());
  const stored = await converge([c]);
  const storedNames = stored.map((item) => item.name);
  expect(storedNames, 'every edit a phone showed as Synced is on the relay').toEqual(
    expect.arrayContaining([...acknowledged]),
  );

  await allOnline([a, b]);
  const merged = await converge([a, b, c], 30_000);
  expectNoDuplicates(merged);
  expect(merged).toEqual(listOf(['Bread', ...beforeCrashA, ...beforeCrashB, ...afterCrashA, ...afterCrashB]));
});

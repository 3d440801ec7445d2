/**
 * Store Wi-Fi that comes and goes: each phone's connection toggles every few
 * hundred milliseconds (randomly Lie-Fi or a real cut) while both phones add
 * and check items. Afterwards: identical lists, no duplicates, nothing lost.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { allOnline, converge, expectNoDuplicates, listOf, startSharedList } from '../fixtures/family.js';
import { itemNames } from '../fixtures/item-names.js';
import { offlineModes } from '../fixtures/network.js';
import type { Phone } from '../fixtures/phone.js';
import { seedFromEnv, seededRandom, type Random } from '../fixtures/random.js';
import { expect, test } from '../fixtures/test.js';

const itemsPerPhone = 24;

/** Toggles the phone's network at random intervals until `stop` says so; returns how many toggles. */
async function flap(phone: Phone, random: Random, stop: { done: boolean }): Promise<number> {
  let toggles = 0;
  while (!stop.done) {
    await sleep(random.int(150, 450));
    if (stop.done) break;
    if (phone.network.isOnline) await phone.goOffline(random.pick(offlineModes));
    else await phone.goOnline();
    toggles += 1;
  }
  return toggles;
}

/** Adds `names`, checking every third one as soon as it is added. Returns the checked ones. */
async function shop(phone: Phone, names: readonly string[]): Promise<string[]> {
  const checked: string[] = [];
  for (const [index, name] of names.entries()) {
    await phone.add(name);
    if (index % 3 === 0) {
      await phone.check(name);
      checked.push(name);
    }
  }
  return checked;
}

test('flapping network while both phones add and check items', async ({ phones }, testInfo) => {
  const seed = seedFromEnv();
  testInfo.annotations.push({ type: 'seed', description: `replay with E2E_SEED=${seed}` });
  const { a, b } = await startSharedList(phones, ['Bread', 'Eggs']);
  const namesOfA = itemNames('Anna', itemsPerPhone);
  const namesOfB = itemNames('Bert', itemsPerPhone);

  const stop = { done: false };
  const flappers = Promise.all([flap(a, seededRandom(seed), stop), flap(b, seededRandom(seed + 1), stop)]);
  let checkedByA: string[] = [];
  let checkedByB: string[] = [];
  try {
    [checkedByA, checkedByB] = await Promise.all([
      shop(a, namesOfA).then(async (checked) => {
        await a.check('Bread');
        return [...checked, 'Bread'];
      }),
      shop(b, namesOfB).then(async (checked) => {
        await b.check('Eggs');
        return [...checked, 'Eggs'];
      }),
    ]);
  } finally {
    stop.done = true;
  }
  const toggles = await flappers;
  testInfo.annotations.push({ type: 'network toggles', description: `A ${toggles[0]}, B ${toggles[1]}` });
  expect(toggles[0] + toggles[1], 'the network really flapped').toBeGreaterThan(4);

  await allOnline([a, b]);
  const merged = await converge([a, b], 30_000);
  expectNoDuplicates(merged);
  const checked = [...checkedByA, ...checkedByB];
  const everything = ['Bread', 'Eggs', ...namesOfA, ...namesOfB];
  expect(merged).toEqual(
    listOf(
      everything.filter((name) => !checked.includes(name)),
      checked,
    ),
  );
});

import { startSharedList } from '../fixtures/family.js';
import { itemNames } from '../fixtures/item-names.js';
import { test } from '../fixtures/test.js';
test('debug speed', async ({ phones }) => {
  test.setTimeout(300_000);
  const { a, b } = await startSharedList(phones, ['Bread', 'Eggs']);
  const names = itemNames('Bert', 120);
  let t = Date.now();
  for (const [i, n] of names.slice(0, 60).entries()) { await b.add(n); if (i % 20 === 19) { console.log('online add', i, Date.now() - t); t = Date.now(); } }
  await b.goOffline('real-loss');
  t = Date.now();
  for (const [i, n] of names.slice(60).entries()) { await b.add(n); if (i % 20 === 19) { console.log('offline add', i, Date.now() - t); t = Date.now(); } }
  t = Date.now();
  for (const n of names.slice(0, 10)) await b.check(n);
  console.log('10 checks', Date.now() - t);
  t = Date.now();
  for (const n of names.slice(10, 20)) { await b.item(n).press('Space'); }
  console.log('10 space checks', Date.now() - t);
  void a;
});

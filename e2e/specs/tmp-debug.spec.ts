import { converge } from '../fixtures/family.js';
import { expect, test } from '../fixtures/test.js';
test('debug presence', async ({ phones, relay }) => {
  const a = await phones.create('phone-a');
  await a.open('/');
  await a.setDisplayName('Anna');
  await a.addAll(['Milk', 'Bread']);
  await a.check('Bread');
  await a.waitSynced();
  const b = await phones.create('phone-b');
  await b.open(a.shareLink());
  await b.setDisplayName('Bert');
  await converge([a, b]);
  await b.add('Eggs');
  await a.uncheck('Bread');
  await converge([a, b]);
  await expect.poll(() => a.presenceText()).toBe('Also here: Bert');
  await expect.poll(() => b.presenceText()).toBe('Also here: Anna');
  const t0 = Date.now();
  await b.page.close();
  for (let i = 0; i < 40; i++) {
    const p = await a.presenceText();
    const h = await (await fetch(relay.url + '/healthz')).text();
    if (p === '' ) { console.log('cleared after', Date.now() - t0, h); break; }
    if (i % 4 === 0) console.log(Date.now() - t0, p, h);
    await new Promise((r) => setTimeout(r, 500));
  }
});

/**
 * Share links that arrive damaged. One that names no list says so instead of opening another
 * list (where everything added would be "Synced" to a list the family never sees); one with an
 * unambiguous slip (`/L/`, punctuation pasted with it) opens its list; working links keep working.
 */
import { expect, test } from '../fixtures/test.js';
import { expectNoSeriousViolations } from '../fixtures/accessibility.js';
import type { Phone } from '../fixtures/phone.js';

const BROKEN_TITLE = 'This link doesn’t point to a list';

async function familyList(phone: Phone): Promise<{ link: string; id: string }> {
  await phone.open('/');
  await phone.add('Milk');
  await phone.waitSynced();
  const link = phone.shareLink();
  return { link, id: new URL(link).pathname.split('/')[2]! };
}

async function expectBrokenLinkPage(phone: Phone, href: string): Promise<void> {
  await expect(phone.page.getByRole('heading', { level: 1, name: BROKEN_TITLE })).toBeVisible();
  await expect(phone.page.getByText(/check it was copied whole/i)).toBeVisible();
  await expect(phone.addItemField, 'no list is opened in its place').toHaveCount(0);
  await expect(phone.page.getByRole('status')).toHaveCount(0);
  expect(phone.page.url(), 'the address stays as it came').toBe(href);
}

test('a fresh phone opening a link that names no list is told so, and can start a new list', async ({
  phones,
  saveScreenshot,
}) => {
  const a = await phones.create('phone-a');
  const { link, id } = await familyList(a);
  const origin = new URL(link).origin;

  for (const broken of [link.slice(0, -8), `${origin}/L/${id.slice(0, 12)})`, `${origin}/l/`]) {
    const b = await phones.create(`fresh-${phones.all.length}`);
    await b.page.goto(broken);
    await expectBrokenLinkPage(b, broken);
    await b.context.close();
  }

  const c = await phones.create('phone-c');
  const cut = link.slice(0, -8);
  await c.page.goto(cut);
  await expectBrokenLinkPage(c, cut);
  await expectNoSeriousViolations(c.page, 'broken link');
  await saveScreenshot(c, 'broken-link');
  await c.page.getByRole('button', { name: 'Start a new list' }).click();
  await expect(c.addItemField).toBeVisible();
  expect(c.shareLink()).not.toBe(link);
  await c.add('Bread');
  await c.waitSynced();
  expect(await c.names()).toEqual(['Bread']);
  expect(await a.names(), 'the family list is untouched').toEqual(['Milk']);
});

test('links with an unambiguous slip open their list; working links keep working', async ({ phones }) => {
  const a = await phones.create('phone-a');
  const { link, id } = await familyList(a);
  const origin = new URL(link).origin;

  // `/L/<id>.` on a phone that never opened the app: the relay must give the app, not a 404 ([ST2]).
  const repaired = [`${origin}/L/${id}`, `${link})`, `${link},`, `${origin}/L/${id})`, `${origin}/L/${id}.`];
  const working = [`${link}/`, `${link}?utm_source=whatsapp`, `${link}#x`];
  for (const variant of [...repaired, ...working]) {
    const b = await phones.create(`phone-${phones.all.length}`);
    await b.page.goto(variant);
    await expect(b.addItemField, variant).toBeVisible();
    const path = new URL(b.page.url()).pathname;
    // A repaired link is rewritten to the share link; a working one is left as it was.
    expect(path, variant).toBe(repaired.includes(variant) ? `/l/${id}` : new URL(variant).pathname);
    await expect.poll(() => b.names(), { message: `${variant} shows the family list` }).toEqual(['Milk']);
    await b.waitSynced();
    await b.context.close();
  }
});

test('offline, a phone that knows a list does not open it for a broken link; a trailing "." is dropped', async ({
  phones,
  saveScreenshot,
}) => {
  const a = await phones.create('phone-a');
  const { link, id } = await familyList(a);
  await a.waitServiceWorkerInControl();

  await a.goOffline('real-loss');
  const cut = link.slice(0, -8);
  await a.page.goto(cut);
  await expectBrokenLinkPage(a, cut);
  const toFamilyList = a.page.getByRole('link', { name: /Shopping list/ });
  await expect(toFamilyList).toHaveAttribute('href', `/l/${id}`);
  await saveScreenshot(a, 'broken-link-known-lists');

  // Served by the service worker here; see the README for a fresh phone (the relay answers 404).
  await a.page.goto(`${link}.`);
  await expect(a.addItemField).toBeVisible();
  expect(new URL(a.page.url()).pathname).toBe(`/l/${id}`);
  expect(await a.names()).toEqual(['Milk']);

  await a.page.goto(cut);
  await expectBrokenLinkPage(a, cut);
  await toFamilyList.click();
  await expect(a.addItemField).toBeVisible();
  expect(a.page.url()).toBe(link);
  expect(a.pageErrors).toEqual([]);
});

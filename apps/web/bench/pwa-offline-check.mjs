#!/usr/bin/env node
/**
 * Manual end-to-end check of the offline promises against the built relay
 * (run `pnpm build` at the root first):
 *
 *   node apps/web/bench/pwa-offline-check.mjs
 *
 * 1. first visit online: `/` lands on a new list, the service worker installs;
 *    an item is added and the status reaches "Synced";
 * 2. airplane mode (context offline): the status says "Offline", an edit is
 *    counted as a change on this phone;
 * 3. reload while offline, and a cold start (new tab) while offline: the list
 *    shows, the pending count survived, edits are accepted;
 * 4. back online: "Synced", and the relay has every item (checked from a
 *    second, fresh browser context).
 * Prints one line per step and exits non-zero on the first failure.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

const webDir = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const relayMain = path.resolve(webDir, '../relay/dist/main.js');
const screenshotDir = process.env.SCREENSHOT_DIR;

const port = 19000 + Math.floor(Math.random() * 500);
const dataDir = mkdtempSync(path.join(os.tmpdir(), 'basket-offline-'));
const relay = spawn(process.execPath, [relayMain], {
  env: { ...process.env, PORT: String(port), HOST: '127.0.0.1', DATA_DIR: dataDir, STATIC_DIR: path.join(webDir, 'dist'), LOG_LEVEL: 'warn' },
  stdio: ['ignore', 'ignore', 'inherit'],
});
const origin = `http://127.0.0.1:${port}`;
for (let i = 0; ; i++) {
  try {
    if ((await fetch(`${origin}/healthz`)).ok) break;
  } catch {
    if (i > 100) throw new Error('relay did not start');
  }
  await new Promise((resolve) => setTimeout(resolve, 100));
}

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
  args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update'],
});
let failed = false;
const step = (name, ok, detail = '') => {
  console.log(`${ok ? 'ok  ' : 'FAIL'} ${name}${detail ? ` — ${detail}` : ''}`);
  if (!ok) failed = true;
};
const status = (page) => page.getByRole('status').first().textContent({ timeout: 5000 });
const waitStatus = async (page, pattern, timeout = 15000) => {
  try {
    await page.getByRole('status').filter({ hasText: pattern }).first().waitFor({ timeout });
    return true;
  } catch {
    return false;
  }
};
const shot = async (page, name) => {
  if (screenshotDir) await page.screenshot({ path: path.join(screenshotDir, `${name}.png`), fullPage: true });
};

try {
  const context = await browser.newContext({ viewport: { width: 412, height: 915 } });
  const page = await context.newPage();
  await page.goto(`${origin}/`);
  await page.waitForURL(/\/l\/[A-Za-z0-9_-]{22}$/);
  const listUrl = page.url();
  step('`/` lands on a new list', true, listUrl);
  const field = page.getByRole('textbox', { name: 'Add item' });
  await field.fill('Milk');
  await field.press('Enter');
  step('an item can be added', await page.getByRole('checkbox', { name: 'Milk' }).isVisible());
  step('status reaches Synced', await waitStatus(page, /Synced/), await status(page));
  await page.evaluate(() => navigator.serviceWorker.ready);
  await page.waitForFunction(() => navigator.serviceWorker.controller !== null, undefined, { timeout: 10000 }).catch(() => {});
  step('service worker controls the page', await page.evaluate(() => navigator.serviceWorker.controller !== null));
  await shot(page, '1-online-synced');

  await context.setOffline(true);
  step('airplane mode: status says Offline', await waitStatus(page, /Offline/, 10000), await status(page));
  await field.fill('Eggs');
  await field.press('Enter');
  step('offline edit accepted and counted', await waitStatus(page, /1 change/, 5000), await status(page));
  await shot(page, '2-offline');

  await page.reload();
  await page.getByRole('checkbox', { name: 'Eggs' }).waitFor({ timeout: 10000 });
  step('reload while offline shows the list', await page.getByRole('checkbox', { name: 'Milk' }).isVisible());
  step('pending count survived the reload', await waitStatus(page, /Offline.*1 change/, 5000), await status(page));

  const cold = await context.newPage();
  await cold.goto(listUrl);
  await cold.getByRole('checkbox', { name: 'Eggs' }).waitFor({ timeout: 10000 });
  const coldField = cold.getByRole('textbox', { name: 'Add item' });
  await coldField.fill('Bread');
  await coldField.press('Enter');
  step('cold start while offline: list shown, edit accepted', await cold.getByRole('checkbox', { name: 'Bread' }).isVisible());
  await shot(cold, '3-offline-cold-start');
  await cold.close();

  await context.setOffline(false);
  step('back online: Synced', await waitStatus(page, /Synced/, 20000), await status(page));
  await shot(page, '4-back-online');

  const other = await browser.newContext();
  const otherPage = await other.newPage();
  await otherPage.goto(listUrl);
  let allThere = true;
  for (const name of ['Milk', 'Eggs', 'Bread']) {
    try {
      await otherPage.getByRole('checkbox', { name }).waitFor({ timeout: 15000 });
    } catch {
      allThere = false;
    }
  }
  step('another device opening the link sees every item', allThere);
  await other.close();
  await context.close();
} catch (error) {
  step('unexpected error', false, String(error));
} finally {
  await browser.close();
  relay.kill('SIGTERM');
  await new Promise((resolve) => (relay.exitCode !== null ? resolve() : relay.once('exit', resolve)));
  rmSync(dataDir, { recursive: true, force: true });
}
process.exit(failed ? 1 : 0);

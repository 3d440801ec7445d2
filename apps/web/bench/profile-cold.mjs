#!/usr/bin/env node
/**
 * Profiling aid for the cold start (not part of `pnpm bench`): seeds the 5,000-item /
 * 100k-edit list like web-bench.mjs, opens it once while recording a CPU profile over
 * CDP, and prints the heaviest functions by self time plus the session's phase marks.
 *   BENCH_DIST_DIR=/tmp/dist-unminified node bench/profile-cold.mjs [out.cpuprofile]
 */
import { readFileSync, existsSync, statSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';
import { buildListUpdate, randomListId, seedIndexedDb } from './seed-list.mjs';

const webDir = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const distDir = process.env.BENCH_DIST_DIR ?? path.join(webDir, 'dist');
const port = Number(process.env.BENCH_PORT ?? 19477);
const ITEMS = Number(process.env.PROFILE_ITEMS ?? 5000);
const EDITS = Number(process.env.PROFILE_EDITS ?? 100000);
const MIME = { '.html': 'text/html', '.js': 'text/javascript', '.css': 'text/css' };

const server = createServer((request, response) => {
  const url = new URL(request.url ?? '/', 'http://x');
  let file = path.join(distDir, path.normalize(url.pathname));
  if (!existsSync(file) || statSync(file).isDirectory()) file = path.join(distDir, 'index.html');
  response.writeHead(200, { 'content-type': MIME[path.extname(file)] ?? 'application/octet-stream' });
  response.end(readFileSync(file));
});
await new Promise((resolve) => server.listen(port, '127.0.0.1', resolve));

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
  args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update'],
});
try {
  const context = await browser.newContext({ viewport: { width: 412, height: 915 } });
  const page = await context.newPage();
  const origin = `http://127.0.0.1:${port}`;
  await page.goto(`${origin}/`);
  const id = randomListId();
  await seedIndexedDb(page, id, buildListUpdate(ITEMS, EDITS));
  const fresh = await context.newPage();
  const cdp = await context.newCDPSession(fresh);
  await cdp.send('Profiler.enable');
  await cdp.send('Profiler.setSamplingInterval', { interval: 200 });
  await cdp.send('Profiler.start');
  await fresh.goto(`${origin}/l/${id}`, { waitUntil: 'commit' });
  const handle = await fresh.waitForFunction(() => {
    const field = document.querySelector('input[aria-label="Add item"]');
    if (!field || field.disabled) return false;
    if (!document.querySelector('input[type="checkbox"][aria-label^="Item "]')) return false;
    return performance.now();
  }, undefined, { polling: 'raf', timeout: 30000 });
  const interactive = await handle.jsonValue();
  await fresh.waitForTimeout(3000);
  const { profile } = await cdp.send('Profiler.stop');
  const marks = await fresh.evaluate(() => performance.getEntriesByType('mark').map((m) => [m.name, Math.round(m.startTime)]));
  const rows = await fresh.evaluate(() => document.querySelectorAll('li.item-row').length);
  console.log({ interactive: Math.round(interactive), marks, rowsAfter3s: rows });
  if (process.argv[2]) writeFileSync(process.argv[2], JSON.stringify(profile));
  const self = new Map();
  const byId = new Map(profile.nodes.map((node) => [node.id, node]));
  const dt = profile.timeDeltas;
  profile.samples.forEach((sampleId, index) => {
    const node = byId.get(sampleId);
    const key = `${node.callFrame.functionName || '(anon)'} ${path.basename(node.callFrame.url)}:${node.callFrame.lineNumber}`;
    self.set(key, (self.get(key) ?? 0) + (dt[index] ?? 0) / 1000);
  });
  for (const [key, ms] of [...self].sort((a, b) => b[1] - a[1]).slice(0, 30)) console.log(ms.toFixed(1).padStart(8), key);
} finally {
  await browser.close();
  server.close();
}

import { readFileSync, existsSync, statSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import path from 'node:path';
import { chromium } from 'playwright-core';
import * as Y from 'yjs';
import { ShoppingList } from '@basket/list-core';
const distDir = process.env.BENCH_DIST_DIR;
const port = 19478;
const MIME = { '.html': 'text/html', '.js': 'text/javascript', '.css': 'text/css' };
const server = createServer((request, response) => {
  const url = new URL(request.url ?? '/', 'http://x');
  let file = path.join(distDir, path.normalize(url.pathname));
  if (!existsSync(file) || statSync(file).isDirectory()) file = path.join(distDir, 'index.html');
  response.writeHead(200, { 'content-type': MIME[path.extname(file)] ?? 'application/octet-stream' });
  response.end(readFileSync(file));
});
await new Promise((r) => server.listen(port, '127.0.0.1', r));
const doc = new Y.Doc(); let clock = 1; const list = new ShoppingList(doc, { actor: 'S', now: () => clock++ });
for (let i = 0; i < 1000; i++) list.addItem({ name: `Item ${String(i).padStart(5, '0')}` });
const update = Y.encodeStateAsUpdate(doc);
const browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update'] });
const context = await browser.newContext({ viewport: { width: 412, height: 915 } });
const page = await context.newPage();
await page.goto(`http://127.0.0.1:${port}/`);
const id = 'profileaddlist000001';
await page.evaluate(async ({ name, bytes }) => {
  const db = await new Promise((res) => { const rq = indexedDB.open(name); rq.onupgradeneeded = () => { rq.result.createObjectStore('updates', { autoIncrement: true }); rq.result.createObjectStore('custom'); }; rq.onsuccess = () => res(rq.result); });
  await new Promise((res) => { const tx = db.transaction(['updates'], 'readwrite'); tx.objectStore('updates').add(new Uint8Array(bytes)); tx.oncomplete = res; });
  db.close();
}, { name: `basket-list-${id}`, bytes: Array.from(update) });
await page.goto(`http://127.0.0.1:${port}/l/${id}`);
await page.waitForFunction(() => document.querySelectorAll('li.item-row').length >= 1000);
await page.waitForTimeout(1000);
const cdp = await context.newCDPSession(page);
await cdp.send('Profiler.enable'); await cdp.send('Profiler.setSamplingInterval', { interval: 100 }); await cdp.send('Profiler.start');
if (process.env.TRACE) await context.tracing?.start?.({});
const lat = [];
for (let i = 0; i < 40; i++) {
  const name = `Bench x${i}`;
  await page.getByRole('textbox', { name: 'Add item' }).fill(name);
  await page.evaluate((itemName) => {
    const input = document.querySelector('input[aria-label="Add item"]');
    window.__l = new Promise((resolve) => {
      let start = 0; let mut = 0;
      input.addEventListener('keydown', (e) => { if (e.key === 'Enter') start = performance.now(); }, { once: true, capture: true });
      const o = new MutationObserver(() => { if (!document.querySelector(`input[type="checkbox"][aria-label="${itemName}"]`)) return; o.disconnect(); mut = performance.now(); requestAnimationFrame(() => resolve([mut - start, performance.now() - start])); });
      o.observe(document.body, { childList: true, subtree: true });
    });
  }, name);
  await page.keyboard.press('Enter');
  lat.push(await page.evaluate(() => window.__l));
}
const { profile } = await cdp.send('Profiler.stop');
writeFileSync(process.argv[2], JSON.stringify(profile));
const toMut = lat.map((l) => l[0]).sort((a, b) => a - b); const toRaf = lat.map((l) => l[1]).sort((a, b) => a - b);
console.log('keydown→mutation p50/p95', toMut[20].toFixed(1), toMut[37].toFixed(1), ' keydown→rAF p50/p95', toRaf[20].toFixed(1), toRaf[37].toFixed(1));
await browser.close(); server.close();

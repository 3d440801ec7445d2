// Lists of middling size (a 50 kB snapshot and 40 kB of 1 kB log records each) opened at once after
// a start: how long until every one has been greeted? SETUP_ONLY=1 writes LISTS lists into dataDir
// (with the built relay's storage); then each run copies dataDir and starts the relay on the copy.
// Usage: SETUP_ONLY=1 node bench/mid-lists-load.mjs - <dataDir>; node bench/mid-lists-load.mjs <distDir> <dataDir>
import { spawn } from 'node:child_process';
import { cpSync, rmSync } from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import WebSocket from 'ws';
import * as Y from 'yjs';
const [dist, dataDir] = process.argv.slice(2);
const N = Number(process.env.LISTS ?? 300);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const ids = Array.from({ length: N }, (_, i) => `midLoadList${String(i).padStart(5, '0')}x`);
if (process.env.SETUP_ONLY) {
  const { DiskListStorage } = await import('../dist/storage/disk-storage.js');
  const storage = new DiskListStorage({ dataDir });
  for (const id of ids) {
    const doc = new Y.Doc(); const items = doc.getMap('items');
    doc.transact(() => { for (let i = 0; i < 600; i++) { const m = new Y.Map(); items.set(`item-${i}`, m); m.set('name', `Item ${i} for ${id}`); m.set('checked', false); } });
    await storage.append(id, [Y.encodeStateAsUpdate(doc)]);
    await storage.compact(id, Y.encodeStateAsUpdate(doc));
    const log = []; doc.on('update', (u) => log.push(u));
    for (let i = 0; i < 40; i++) items.get(`item-${i}`).set('name', `Renamed ${i} ${'x'.repeat(900)}`);
    await storage.append(id, log);
  }
  await storage.close();
  console.log('stored', N, 'lists in', dataDir); process.exit(0);
}
const work = dataDir + '-run'; rmSync(work, { recursive: true, force: true }); cpSync(dataDir, work, { recursive: true });
const port = 19000 + Math.floor(Math.random() * 1000);
const child = spawn(process.execPath, [path.join(dist, 'main.js')], { env: { ...process.env, PORT: String(port), HOST: '127.0.0.1', DATA_DIR: work, LOG_LEVEL: 'error', UV_THREADPOOL_SIZE: '64', MAX_CONNECTIONS_PER_IP: '100000', SHUTDOWN_COMPACT_MS: '0' }, stdio: ['ignore', 'ignore', 'inherit'] });
function get(p) { return new Promise((resolve, reject) => { const req = http.get({ host: '127.0.0.1', port, path: p, agent: false }, (res) => { let b = ''; res.on('data', (c) => (b += c)); res.on('end', () => resolve(b)); }); req.on('error', reject); }); }
for (let i = 0; i < 200; i++) { try { await get('/healthz'); break; } catch { await sleep(50); } }
const started = performance.now();
const sockets = [];
const outcomes = await Promise.all(ids.map((id, i) => new Promise((resolve) => {
  const ws = new WebSocket(`ws://127.0.0.1:${port}/sync/${id}`, { localAddress: `127.0.4.${(i % 50) + 1}` });
  sockets.push(ws); ws.on('error', () => {});
  ws.once('message', () => resolve('ok')); ws.once('close', (c) => resolve('closed ' + c)); ws.once('unexpected-response', (_q, r) => resolve('http ' + r.statusCode));
})));
const ms = Math.round(performance.now() - started);
const metrics = await get('/metrics');
const sliced = /^basket_relay_sliced_loads_total (\S+)/m.exec(metrics)?.[1];
console.log(JSON.stringify({ dist: path.basename(dist), ms, ok: outcomes.filter((o) => o === 'ok').length, sliced }));
for (const ws of sockets) ws.terminate();
child.kill('SIGTERM'); await new Promise((r) => child.once('exit', r));
rmSync(work, { recursive: true, force: true });

// Lists of subdocuments (far more heap than stored bytes) opened at once after a restart with a
// small heap: does the relay stay up, and within MAX_LOADED_LIST_BYTES? Stores LISTS lists of SUBDOCS
// subdocuments each through a relay with a 4 GB heap (a few minutes), then restarts it with HEAP_MB
// of heap and opens every list at once, from ADDRESSES addresses (127.0.3.x). Runs the built relay.
// Usage: [LISTS=8] [SUBDOCS=60000] [ADDRESSES=8] [HEAP_MB=1024] [KEEP_DIR=dir] node bench/heavy-lists-at-once.mjs [distDir]
// (KEEP_DIR: reuse lists stored by an earlier run, printed as "stored ... in <dir>".)
import { spawn } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import http from 'node:http';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import WebSocket from 'ws';
import * as Y from 'yjs';
import * as encoding from 'lib0/encoding';

const dist = process.argv[2] ?? fileURLToPath(new URL('../dist', import.meta.url));
const LISTS = Number(process.env.LISTS ?? 8);
const SUBDOCS = Number(process.env.SUBDOCS ?? 60000);
const ADDRESSES = Number(process.env.ADDRESSES ?? LISTS);
const HEAP_MB = process.env.HEAP_MB ?? '1024';
const dataDir = process.env.KEEP_DIR ?? mkdtempSync(path.join(tmpdir(), 'subdoc-load-'));
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const port = 19000 + Math.floor(Math.random() * 1000);
function startRelay(heapMb, env) {
  const child = spawn(process.execPath, [`--max-old-space-size=${heapMb}`, path.join(dist, 'main.js')], {
    env: { ...process.env, PORT: String(port), HOST: '127.0.0.1', DATA_DIR: dataDir, LOG_LEVEL: 'error', MAX_LOOP_MS_PER_IP_PER_SECOND: '1000000', MAX_MESSAGES_PER_SECOND: '100000', MAX_BYTES_PER_SECOND: String(2 ** 30), ...env },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = ''; child.stderr.on('data', (c) => (stderr += c));
  child.stderrText = () => stderr;
  return child;
}
function get(p) { return new Promise((resolve, reject) => { const req = http.get({ host: '127.0.0.1', port, path: p, agent: false, localAddress: '127.0.1.1' }, (res) => { let b = ''; res.on('data', (c) => (b += c)); res.on('end', () => resolve(b)); }); req.on('error', reject); }); }
async function waitHealthy() { for (let i = 0; i < 200; i++) { try { await get('/healthz'); return; } catch { await sleep(50); } } throw new Error('relay not up'); }
function syncUpdate(update) { const e = encoding.createEncoder(); encoding.writeVarUint(e, 0); encoding.writeVarUint(e, 2); encoding.writeVarUint8Array(e, update); return encoding.toUint8Array(e); }
const listIds = Array.from({ length: LISTS }, (_, i) => `subdocLoadList${String(i).padStart(4, '0')}xx`);

if (process.env.KEEP_DIR === undefined) {
  const setup = startRelay(4096, { MAX_STORED_BYTES_PER_IP_PER_HOUR: String(2 ** 40), IDLE_UNLOAD_MS: '100', MAX_LOADED_LIST_BYTES: String(2 ** 30) });
  await waitHealthy();
  const doc = new Y.Doc();
  const frames = [];
  for (let n = 0; n < SUBDOCS; ) {
    const before = Y.encodeStateVector(doc);
    doc.transact(() => { for (let i = 0; i < 2000 && n < SUBDOCS; i++, n++) doc.getMap('docs').set(n.toString(36), new Y.Doc({ guid: `g${n}` })); });
    frames.push(syncUpdate(Y.encodeStateAsUpdate(doc, before)));
  }
  for (const [i, listId] of listIds.entries()) {
    const ws = new WebSocket(`ws://127.0.0.1:${port}/sync/${listId}`, { localAddress: `127.0.2.${i + 1}` });
    ws.on('error', () => {});
    await new Promise((r, j) => { ws.once('open', r); ws.once('error', j); });
    let closed = null; ws.once('close', (c) => (closed = c));
    let acks = 0; ws.on('message', (m) => { if (m[0] === 100) acks++; });
    for (const f of frames) { ws.send(f); await sleep(5); }
    for (let t = 0; t < 400 && acks < frames.length && !closed; t++) await sleep(50);
    if (closed) console.log('setup closed', closed);
    ws.close(); await sleep(200);
  }
  setup.kill('SIGTERM'); await new Promise((r) => setup.once('exit', r));
  console.log('stored', LISTS, 'lists of', SUBDOCS, 'subdocs in', dataDir);
}

const relay = startRelay(HEAP_MB, {});
let exited = null; relay.once('exit', (code, signal) => (exited = { code, signal }));
await waitHealthy();
const held = [];
const outcomes = await Promise.all(listIds.map((listId, i) => new Promise((r) => {
  const ws = new WebSocket(`ws://127.0.0.1:${port}/sync/${listId}`, { localAddress: `127.0.3.${(i % ADDRESSES) + 1}` });
  ws.on('error', () => {});
  ws.once('open', () => { held.push(ws); ws.once('message', () => r('synced')); ws.once('close', (code) => r('closed ' + code)); setTimeout(() => r('timeout'), 60000); });
  ws.once('unexpected-response', (_req, res) => r('http ' + res.statusCode));
})));
console.log('outcomes', JSON.stringify(outcomes.reduce((m, o) => ((m[o] = (m[o] ?? 0) + 1), m), {})));
await sleep(3000);
let metrics = null;
if (!exited) { try { metrics = await get('/metrics'); } catch {} }
const gauge = (name) => (metrics ? (new RegExp(`^${name} (\\S+)`, 'm').exec(metrics)?.[1] ?? 'n/a') : 'n/a');
console.log(JSON.stringify({ heapMb: HEAP_MB, lists: LISTS, addresses: ADDRESSES, exited, loadedLists: gauge('basket_relay_loaded_lists'), loadedBytes: gauge('basket_relay_loaded_list_bytes'), rssMb: metrics ? (Number(gauge('basket_relay_rss_bytes')) / 1e6).toFixed(0) : 'n/a', oom: /heap out of memory/i.test(relay.stderrText()) }));
for (const ws of held) ws.terminate();
if (!exited) { relay.kill('SIGTERM'); await new Promise((r) => relay.once('exit', r)); }

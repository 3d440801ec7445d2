// Phones joining large lists at once after a restart, watched as the web app watches its socket
// (apps/web/src/session/connection-watch.ts): each probes with a presence query every 3 s and
// reconnects, asking for the list again, after 8 s with nothing received; a refused phone (1013,
// or HTTP 503 while the loaded lists are at their bound) tries again after 1 s, as y-websocket does.
// Stores LISTS lists of ITEMS items (a note of NOTE_BYTES each; the defaults make 6 MB lists, near
// MAX_LIST_BYTES) with the built relay's storage, starts the built relay on them, and opens
// PHONES_PER_LIST phones on each list, each from its own address. Prints, per phone and in all: the
// time until its list was whole, the longest silence it saw, and its silent reconnects and retries.
// RELAY_CPUS (a taskset list) pins the relay, e.g. beside busy loops, to stand in for slower hardware.
// Usage: [LISTS=4] [ITEMS=20000] [NOTE_BYTES=200] [PHONES_PER_LIST=1] [RELAY_CPUS=0] [KEEP_DIR=dir] node bench/large-lists-joined.mjs [distDir]
import { spawn } from 'node:child_process';
import { mkdtempSync, statSync } from 'node:fs';
import http from 'node:http';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import * as decoding from 'lib0/decoding';
import * as encoding from 'lib0/encoding';
import WebSocket from 'ws';
import * as Y from 'yjs';

const dist = process.argv[2] ?? fileURLToPath(new URL('../dist', import.meta.url));
const LISTS = Number(process.env.LISTS ?? 4);
const ITEMS = Number(process.env.ITEMS ?? 20000);
const NOTE_BYTES = Number(process.env.NOTE_BYTES ?? 200);
const PHONES_PER_LIST = Number(process.env.PHONES_PER_LIST ?? 1);
const PROBE_MS = 3000;
const SILENT_AFTER_MS = 8000;
const dataDir = process.env.KEEP_DIR ?? mkdtempSync(path.join(tmpdir(), 'large-lists-joined-'));
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
const port = 20000 + Math.floor(Math.random() * 1000);
const listIds = Array.from({ length: LISTS }, (_, i) => `largeJoinList${String(i).padStart(4, '0')}x`);

if (process.env.KEEP_DIR === undefined) {
  const { DiskListStorage } = await import(path.join(dist, 'storage/disk-storage.js'));
  const storage = new DiskListStorage({ dataDir });
  for (const listId of listIds) {
    const doc = new Y.Doc();
    const items = doc.getMap('items');
    doc.transact(() => {
      for (let i = 0; i < ITEMS; i++) {
        const item = new Y.Map();
        items.set(`${listId}-item-${i}`, item);
        item.set('name', `Item ${i}`);
        item.set('note', `${i} `.padEnd(NOTE_BYTES, 'n'));
        item.set('checked', i % 3 === 0);
      }
    });
    const whole = Y.encodeStateAsUpdate(doc);
    await storage.append(listId, [whole]);
    await storage.compact(listId, whole);
  }
  await storage.close();
  console.log(`stored ${LISTS} lists of ${ITEMS} items (${(statSync(path.join(dataDir, `${listIds[0]}.snapshot`)).size / 1e6).toFixed(1)} MB each) in ${dataDir}`);
}

const relayCommand = [process.execPath, path.join(dist, 'main.js')];
if (process.env.RELAY_CPUS !== undefined) relayCommand.unshift('taskset', '-c', process.env.RELAY_CPUS);
const relay = spawn(relayCommand[0], relayCommand.slice(1), {
  env: { ...process.env, PORT: String(port), HOST: '127.0.0.1', DATA_DIR: dataDir, LOG_LEVEL: process.env.RELAY_LOG_LEVEL ?? 'error' },
  stdio: ['ignore', 'ignore', 'inherit'],
});
const get = (p) =>
  new Promise((resolve, reject) => {
    const request = http.get({ host: '127.0.0.1', port, path: p, agent: false }, (response) => {
      let body = '';
      response.on('data', (chunk) => (body += chunk));
      response.on('end', () => resolve(body));
    });
    request.on('error', reject);
  });
for (let i = 0; ; i++) {
  try {
    await get('/healthz');
    break;
  } catch {
    if (i > 200) throw new Error('relay not up');
    await sleep(50);
  }
}

function message(...parts) {
  const encoder = encoding.createEncoder();
  for (const part of parts) {
    if (typeof part === 'number') encoding.writeVarUint(encoder, part);
    else encoding.writeVarUint8Array(encoder, part);
  }
  return encoding.toUint8Array(encoder);
}

/**
 * One phone: connects, asks for the whole list, probes every 3 s, and after 8 s with nothing
 * received reconnects as the web app does (a new socket, asking again); resolves with what it saw.
 */
function phone(listId, address) {
  return new Promise((resolve) => {
    const startedAt = performance.now();
    let longestSilence = { ms: 0, endedAt: 0 };
    let reconnects = 0;
    let retries = 0;
    let done = false;
    let ws;
    const finish = (outcome) => {
      if (done) return;
      done = true;
      clearInterval(probe);
      clearTimeout(timeout);
      ws.terminate();
      resolve({ listId, outcome, msToWhole: Math.round(performance.now() - startedAt), longestSilenceMs: longestSilence.ms, silenceEndedAtMs: longestSilence.endedAt, reconnects, retries });
    };
    let lastHeard = startedAt;
    const heard = () => {
      const now = performance.now();
      if (now - lastHeard > longestSilence.ms) longestSilence = { ms: Math.round(now - lastHeard), endedAt: Math.round(now - startedAt) };
      lastHeard = now;
    };
    const connect = () => {
      const doc = new Y.Doc();
      const socket = new WebSocket(`ws://127.0.0.1:${port}/sync/${listId}`, { localAddress: address });
      ws = socket;
      socket.on('error', () => undefined);
      socket.once('open', () => {
        heard();
        socket.send(message(0, 0, Y.encodeStateVector(doc)));
      });
      socket.on('message', (data) => {
        if (socket !== ws) return;
        heard();
        const decoder = decoding.createDecoder(new Uint8Array(data));
        if (decoding.readVarUint(decoder) !== 0) return;
        const kind = decoding.readVarUint(decoder);
        if (kind === 1 || kind === 2) Y.applyUpdate(doc, decoding.readVarUint8Array(decoder));
        if (doc.getMap('items').size === ITEMS) finish('whole');
      });
      // Refused (1013, or HTTP 503 at the upgrade while the loaded lists are at their bound): y-websocket tries again.
      socket.once('close', () => {
        if (socket !== ws || done) return;
        retries += 1;
        setTimeout(() => {
          if (ws === socket) reconnect(false);
        }, 1000);
      });
    };
    const reconnect = (silent) => {
      if (done) return;
      if (silent) reconnects += 1;
      // The silence that ended in this reconnect counts too; the new socket's starts now.
      heard();
      const old = ws;
      connect();
      old.terminate();
    };
    const probe = setInterval(() => {
      if (performance.now() - lastHeard > SILENT_AFTER_MS) reconnect(true);
      else if (ws.readyState === WebSocket.OPEN) ws.send(message(3));
    }, PROBE_MS);
    const timeout = setTimeout(() => finish('timeout'), Number(process.env.TIMEOUT_MS ?? 120_000));
    connect();
  });
}

const phones = listIds.flatMap((listId, i) => Array.from({ length: PHONES_PER_LIST }, (_, j) => phone(listId, `127.0.4.${i * PHONES_PER_LIST + j + 1}`)));
const results = await Promise.all(phones);
for (const result of results) console.log(JSON.stringify(result));
console.log(
  JSON.stringify({
    lists: LISTS,
    items: ITEMS,
    phonesPerList: PHONES_PER_LIST,
    slowestMsToWhole: Math.max(...results.map((r) => r.msToWhole)),
    longestSilenceMs: Math.max(...results.map((r) => r.longestSilenceMs)),
    reconnects: results.reduce((sum, r) => sum + r.reconnects, 0),
    retriesAfterRefusal: results.reduce((sum, r) => sum + r.retries, 0),
    outcomes: results.reduce((counts, r) => ({ ...counts, [r.outcome]: (counts[r.outcome] ?? 0) + 1 }), {}),
  }),
);
relay.kill('SIGTERM');
await new Promise((resolve) => relay.once('exit', resolve));

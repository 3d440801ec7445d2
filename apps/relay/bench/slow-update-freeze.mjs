/**
 * What one valid but slow update costs the built relay: `node bench/slow-update-freeze.mjs`
 * (after `pnpm build`), with MAX_LIST_BYTES taken from the environment like the relay's own.
 * The update is the largest message the relay accepts, made of one-clock GC structs (2 bytes
 * each, stored as a few bytes, so the list-size limit never sees them) and sent as a sync step 2.
 * `SHAPE=map-chain ITEMS=80000` sends instead that many values of one map key with no origin,
 * which Yjs integrates in quadratic time (the relay refuses them: MAX_UNANCHORED_VALUES_PER_KEY).
 * `SHAPE=deleted-run` sends one client's one-clock deleted items, each after the one before: the
 * densest items there are, and the shape of an honest list's many deletions.
 * `SHAPE=interleaved-deleted` sends as many deleted items of two clients, each after the other
 * client's last: nothing in it can be joined, in the update or in the list.
 * Two shapes of array content, each sending a run of values as one-value pieces that Yjs joins
 * from the right in quadratic time and memory (the relay refuses them since the twenty-first
 * session: MAX_ARRAY_RUN_JOIN_COPIES): `SHAPE=right-to-left` (one client's array items, each after
 * the one before but naming the second item as its right neighbour) and `SHAPE=two-client-array`
 * (one client's run of array items, and as many of another client's, each following the run's
 * first item). Before, at ITEMS=40000 either one exhausted the relay's heap and the process died.
 * While the relay works on it, /healthz is asked every 50 ms; the longest answer is how long every
 * other list waited. Prints that and the relay's peak RSS (VmHWM). With `RELOAD=1` the relay is
 * then stopped (SIGTERM: it compacts the list into one snapshot), started again and the list
 * opened: the same for loading what was stored; `RELOAD=kill` stops it with SIGKILL instead, so
 * the list is loaded from its log.
 */
import { spawn } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import * as encoding from 'lib0/encoding';
import WebSocket from 'ws';
import { configFromEnvironment } from '../dist/config.js';

const relayDir = path.dirname(path.dirname(fileURLToPath(import.meta.url)));
const { maxMessageBytes, maxListBytes } = configFromEnvironment(process.env);
const port = 20_000 + Math.floor(Math.random() * 20_000);
const CLIENT = 424242;
const dataDir = await mkdtemp(path.join(tmpdir(), 'basket-freeze-'));

/** A sync step 2 holding one client's run of GC structs, as large as the relay accepts. */
function gcFloodMessage(messageBytes) {
  const structs = Math.floor((messageBytes - 32) / 2);
  const update = structRun(structs, (encoder) => {
    encoding.writeUint8(encoder, 0); // a GC struct…
    encoding.writeVarUint(encoder, 1); // …one clock long
  });
  return { structs, bytes: syncStep2(update) };
}

/** A sync step 2 holding `items` values of the root map `items`'s key "k", none with an origin. */
function mapChainMessage(items) {
  let value = 0;
  const update = structRun(items, (encoder) => {
    encoding.writeUint8(encoder, 8 | 0x20); // ContentAny, a map key, no origins
    encoding.writeVarUint(encoder, 1); // the parent is a root type, by name
    encoding.writeVarString(encoder, 'items');
    encoding.writeVarString(encoder, 'k');
    encoding.writeVarUint(encoder, 1);
    encoding.writeAny(encoder, value++);
  });
  return { structs: items, bytes: syncStep2(update) };
}

/**
 * A sync step 2 as large as the relay accepts of one client's one-clock deleted items, each after
 * the one before: the densest items there are (about 8 bytes each, against 2 for a GC struct),
 * and what an honest list with many deletions is made of.
 */
function deletedRunMessage(messageBytes) {
  const structs = Math.floor((messageBytes - 64) / 8);
  let i = 0;
  const update = structRun(structs, (encoder) => {
    if (i === 0) {
      writeRootArrayStart(encoder, 1); // ContentDeleted
    } else {
      encoding.writeUint8(encoder, 1 | 0x80); // after the item before
      writeId(encoder, CLIENT, i - 1);
    }
    encoding.writeVarUint(encoder, 1);
    i++;
  });
  return { structs, bytes: syncStep2(update) };
}

/**
 * A sync step 2 as large as the relay accepts of two clients' one-clock deleted items, each after
 * the other client's last one: no two of them can be one item, so Yjs keeps every one, and
 * applying it in slices needs the two clients in turn (a cycle-free chain across them).
 */
function interleavedDeletedMessage(messageBytes) {
  const perClient = Math.floor((messageBytes - 64) / 2 / 8);
  const update = encoding.createEncoder();
  encoding.writeVarUint(update, 2); // two clients
  for (const client of [CLIENT + 1, CLIENT]) {
    encoding.writeVarUint(update, perClient);
    writeId(update, client, 0);
    for (let i = 0; i < perClient; i++) {
      if (client === CLIENT && i === 0) {
        writeRootArrayStart(update, 1); // ContentDeleted
      } else {
        encoding.writeUint8(update, 1 | 0x80); // after the other client's last item
        if (client === CLIENT) writeId(update, CLIENT + 1, i - 1);
        else writeId(update, CLIENT, i);
      }
      encoding.writeVarUint(update, 1);
    }
  }
  encoding.writeVarUint(update, 0);
  return { structs: 2 * perClient, bytes: syncStep2(encoding.toUint8Array(update)) };
}

function craftedMessage(shape, items) {
  if (shape === 'gc') return gcFloodMessage(maxMessageBytes);
  if (shape === 'deleted-run') return deletedRunMessage(maxMessageBytes);
  if (shape === 'interleaved-deleted') return interleavedDeletedMessage(maxMessageBytes);
  if (shape === 'map-chain') return mapChainMessage(items);
  if (shape === 'right-to-left') return rightToLeftMessage(items);
  if (shape === 'two-client-array') return twoClientArrayMessage(items);
  throw new Error(`unknown SHAPE ${shape}`);
}

/** An item's info byte and parent with no neighbours: the start of the root array "items". */
function writeRootArrayStart(encoder, contentRef) {
  encoding.writeUint8(encoder, contentRef);
  encoding.writeVarUint(encoder, 1); // the parent is a root type, by name
  encoding.writeVarString(encoder, 'items');
}

/** Writes a struct's id (client, clock). */
function writeId(encoder, client, clock) {
  encoding.writeVarUint(encoder, client);
  encoding.writeVarUint(encoder, clock);
}

/** One any-value as an item's content. */
function writeValue(encoder, value) {
  encoding.writeVarUint(encoder, 1);
  encoding.writeAny(encoder, value);
}

function rightToLeftMessage(items) {
  let i = 0;
  const update = structRun(items, (encoder) => {
    if (i === 0) {
      writeRootArrayStart(encoder, 8); // ContentAny
    } else if (i === 1) {
      encoding.writeUint8(encoder, 8 | 0x80);
      writeId(encoder, CLIENT, 0);
    } else {
      encoding.writeUint8(encoder, 8 | 0x80 | 0x40); // origin: the item before; right: the second
      writeId(encoder, CLIENT, i - 1);
      writeId(encoder, CLIENT, 1);
    }
    writeValue(encoder, i++);
  });
  return { structs: items, bytes: syncStep2(update) };
}

function twoClientArrayMessage(items) {
  const update = encoding.createEncoder();
  encoding.writeVarUint(update, 2); // two clients, the higher id first as Yjs writes them
  encoding.writeVarUint(update, items);
  writeId(update, CLIENT + 1, 0);
  for (let i = 0; i < items; i++) {
    encoding.writeUint8(update, 8 | 0x80); // each following the other client's first item
    writeId(update, CLIENT, 0);
    writeValue(update, i);
  }
  encoding.writeVarUint(update, items);
  writeId(update, CLIENT, 0);
  for (let i = 0; i < items; i++) {
    if (i === 0) {
      writeRootArrayStart(update, 8); // ContentAny
    } else {
      encoding.writeUint8(update, 8 | 0x80); // a run, each after the one before
      writeId(update, CLIENT, i - 1);
    }
    writeValue(update, i);
  }
  encoding.writeVarUint(update, 0);
  return { structs: 2 * items, bytes: syncStep2(encoding.toUint8Array(update)) };
}

/** An update of one client's `count` structs from clock 0, each written by `writeStruct`. */
function structRun(count, writeStruct) {
  const update = encoding.createEncoder();
  encoding.writeVarUint(update, 1); // one client
  encoding.writeVarUint(update, count);
  encoding.writeVarUint(update, CLIENT); // its client id
  encoding.writeVarUint(update, 0); // first clock
  for (let i = 0; i < count; i++) writeStruct(update);
  encoding.writeVarUint(update, 0); // empty delete set
  return encoding.toUint8Array(update);
}

function syncStep2(update) {
  const message = encoding.createEncoder();
  encoding.writeVarUint(message, 0); // sync
  encoding.writeVarUint(message, 1); // step 2
  encoding.writeVarUint8Array(message, update);
  return encoding.toUint8Array(message);
}

async function healthy(timeoutMs) {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    try {
      if ((await fetch(`http://127.0.0.1:${port}/healthz`)).ok) return;
    } catch {
      // not listening yet
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error('relay did not start');
}

function startRelay() {
  return spawn(process.execPath, ['dist/main.js'], {
    cwd: relayDir,
    env: { ...process.env, PORT: String(port), HOST: '127.0.0.1', DATA_DIR: dataDir, LOG_LEVEL: 'warn' },
    stdio: ['ignore', 'ignore', 'inherit'],
  });
}

/**
 * Asks `/healthz` every 50 ms until `stop()`; `worst()` is the longest answer so far (a reset
 * connection counts too: its wait was part of the freeze).
 */
function pollHealthz() {
  let worstMs = 0;
  const failures = [];
  let polling = true;
  const done = (async () => {
    while (polling) {
      const asked = performance.now();
      await fetch(`http://127.0.0.1:${port}/healthz`).catch((error) => failures.push(String(error.cause ?? error)));
      worstMs = Math.max(worstMs, performance.now() - asked);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  })();
  return {
    worst: () => worstMs,
    failures,
    stop: async () => {
      polling = false;
      await done;
    },
  };
}

/** Waits until the worst `/healthz` answer has not grown for 2 s (the relay is done). */
async function untilQuiet(health) {
  const started = performance.now();
  let quietSince = performance.now();
  let seenWorst = 0;
  while (performance.now() - quietSince < 2_000 && performance.now() - started < 120_000) {
    await new Promise((resolve) => setTimeout(resolve, 100));
    if (health.worst() > seenWorst) {
      seenWorst = health.worst();
      quietSince = performance.now();
    }
  }
}

/** The relay's peak RSS; none for a relay that died (out of memory). */
async function peakRssMb(relay) {
  const status = await readFile(`/proc/${relay.pid}/status`, 'utf8').catch(() => '');
  return Math.round(Number(/VmHWM:\s+(\d+)/.exec(status)?.[1] ?? 0) / 1024);
}

/**
 * The relay stopped with `signal` and started again, and a phone opens the list, which loads it:
 * how long until the relay greets it (after the load), and the longest `/healthz` wait meanwhile.
 */
async function measureReload(relay, listUrl, signal) {
  relay.kill(signal);
  await new Promise((resolve) => relay.once('exit', resolve));
  const again = startRelay();
  try {
    await healthy(10_000);
    const health = pollHealthz();
    await new Promise((resolve) => setTimeout(resolve, 300));
    const opened = performance.now();
    const socket = new WebSocket(listUrl);
    await new Promise((resolve, reject) => socket.once('message', resolve).once('error', reject));
    const loadMs = performance.now() - opened;
    await untilQuiet(health);
    await health.stop();
    socket.terminate();
    return { loadMs: Math.round(loadMs), worstHealthzMs: Math.round(health.worst()), peakRssMb: await peakRssMb(again) };
  } finally {
    again.kill('SIGKILL');
  }
}

const relay = startRelay();
try {
  await healthy(10_000);
  const { structs, bytes } = craftedMessage(process.env['SHAPE'] ?? 'gc', Number(process.env['ITEMS'] ?? 80_000));
  const listUrl = `ws://127.0.0.1:${port}/sync/freeze-measure-0000001`;
  const socket = new WebSocket(listUrl);
  await new Promise((resolve, reject) => socket.once('open', resolve).once('error', reject));
  let closeCode;
  socket.on('close', (code) => (closeCode = code));
  const health = pollHealthz();
  await new Promise((resolve) => setTimeout(resolve, 300));
  socket.send(bytes);
  await untilQuiet(health);
  await health.stop();
  const sent = {
    maxListMiB: +(maxListBytes / 1024 / 1024).toFixed(2),
    messageMiB: +(bytes.length / 1024 / 1024).toFixed(2),
    structs,
    worstHealthzMs: Math.round(health.worst()),
    peakRssMb: await peakRssMb(relay),
    closeCode: closeCode ?? 'open',
    relayExit: relay.exitCode ?? relay.signalCode ?? 'running',
    healthzFailures: health.failures.length === 0 ? undefined : health.failures.slice(0, 3),
  };
  socket.terminate();
  const reloadAfter = { 1: 'SIGTERM', kill: 'SIGKILL' }[process.env['RELOAD'] ?? ''];
  // Once the update is durable: it is acknowledged within a few seconds of the relay's quiet.
  if (reloadAfter === 'SIGKILL') await new Promise((resolve) => setTimeout(resolve, 3_000));
  const reload = reloadAfter !== undefined && relay.exitCode === null ? { reload: await measureReload(relay, listUrl, reloadAfter) } : {};
  console.log(JSON.stringify({ ...sent, ...reload }));
} finally {
  relay.kill('SIGKILL');
  await rm(dataDir, { recursive: true, force: true });
}

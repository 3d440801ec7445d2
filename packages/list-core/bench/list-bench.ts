/**
 * list-core benchmark: a list of 5,000 items with 100,000 historical edits.
 *
 *   pnpm --filter @basket/list-core bench
 *
 * Prints: time to open the document (apply the stored state to a fresh Y.Doc,
 * construct ShoppingList, first items()), items() on the open list, the time
 * to update the view after one remote change (apply the update + items()),
 * and the document size. Targets: one-change update ≤ 1 ms, items() ≤ 10 ms.
 * The last line is JSON with every figure.
 */
import { writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as Y from 'yjs';
import { ShoppingList } from '../src/index.js';

const ITEM_COUNT = Number(process.env.BENCH_ITEMS ?? 5_000);
const EDIT_COUNT = Number(process.env.BENCH_EDITS ?? 100_000);
const REMOTE_CHANGES = 300;
const OPEN_RUNS = 7;

function seeded(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = Math.imul(state ^ (state >>> 15), state | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] ?? 0;
}

function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))] ?? 0;
}

const gc = (globalThis as { gc?: () => void }).gc;
const random = seeded(2026);
let clock = 1_700_000_000_000;
const now = () => (clock += 1_000);

// ---- build the history (in a function, so the builders' memory is freed) -----------
/** Three people, 5,000 items, then random checks, quantity/note/name edits, removes and restores. */
function buildHistory(): { stored: Uint8Array; ids: string[] } {
  const actors = ['Mum', 'Dad', 'Sam'];
  const docs = actors.map(() => new Y.Doc());
  const lists = docs.map((doc, index) => new ShoppingList(doc, { actor: actors[index]!, now }));
  const syncAll = () => {
    for (const from of docs) for (const to of docs) if (from !== to) Y.applyUpdate(to, Y.encodeStateAsUpdate(from, Y.encodeStateVector(to)));
  };
  const ids: string[] = [];
  for (let index = 0; index < ITEM_COUNT; index++) {
    const list = lists[index % lists.length]!;
    ids.push(list.addItem({ name: `Item ${index}`, quantity: 1 + (index % 4) }));
  }
  syncAll();
  let edits = ITEM_COUNT;
  while (edits < EDIT_COUNT) {
    for (let step = 0; step < 2_000 && edits < EDIT_COUNT; step++, edits++) {
      const list = lists[Math.floor(random() * lists.length)]!;
      const id = ids[Math.floor(random() * ids.length)]!;
      const roll = random();
      if (roll < 0.4) list.setChecked(id, !(list.item(id)?.checked ?? false));
      else if (roll < 0.7) list.updateItem(id, { quantity: 1 + Math.floor(random() * 9) });
      else if (roll < 0.85) list.updateItem(id, { note: `note ${Math.floor(random() * 1000)}` });
      else if (roll < 0.95) {
        if (list.item(id)?.deletedAt === undefined) list.removeItem(id);
        else list.restoreItem(id);
      } else list.updateItem(id, { name: `Item ${ids.indexOf(id)} v${Math.floor(random() * 100)}` });
    }
    syncAll();
  }
  // Leave the list with every item visible, as a family's big list would be.
  lists[0]!.restoreItems(lists[0]!.deletedItems().map((item) => item.id));
  syncAll();
  const stored = Y.encodeStateAsUpdate(docs[0]!);
  for (const list of lists) list.destroy();
  return { stored, ids };
}
const buildStarted = performance.now();
const { stored, ids } = buildHistory();
const buildMs = performance.now() - buildStarted;
if (process.env.BENCH_DUMP) writeFileSync(process.env.BENCH_DUMP, stored);
gc?.();

// ---- open ----------------------------------------------------------------------
const openTimes: number[] = [];
const buildViewTimes: number[] = [];
const openCpuTimes: number[] = [];
let opened: { doc: Y.Doc; list: ShoppingList } | undefined;
for (let run = 0; run < OPEN_RUNS; run++) {
  gc?.();
  const cpuStarted = process.cpuUsage();
  const started = performance.now();
  const doc = new Y.Doc();
  Y.applyUpdate(doc, stored);
  const applied = performance.now();
  const list = new ShoppingList(doc, { actor: 'Bench', now });
  list.items();
  const done = performance.now();
  openTimes.push(done - started);
  const cpu = process.cpuUsage(cpuStarted);
  openCpuTimes.push((cpu.user + cpu.system) / 1000);
  buildViewTimes.push(done - applied);
  if (opened) opened.list.destroy();
  opened = { doc, list };
}
const target = opened!;
const visibleCount = target.list.items().length;

// ---- items() on the open list ------------------------------------------------------
const itemsTimes: number[] = [];
for (let run = 0; run < 1_000; run++) {
  const started = performance.now();
  target.list.items();
  itemsTimes.push(performance.now() - started);
}

// ---- one remote change -------------------------------------------------------------
const peerDoc = new Y.Doc();
Y.applyUpdate(peerDoc, stored);
const peer = new ShoppingList(peerDoc, { actor: 'Peer', now });
const pendingUpdates: Uint8Array[] = [];
peerDoc.on('update', (update: Uint8Array) => pendingUpdates.push(update));
const remoteTimes: number[] = [];
const remoteCpuTimes: number[] = [];
let identityKept = true;
gc?.();
for (let run = 0; run < REMOTE_CHANGES; run++) {
  const id = ids[Math.floor(random() * ids.length)]!;
  if (run % 3 === 0) peer.setChecked(id, !(peer.item(id)?.checked ?? false));
  else if (run % 3 === 1) peer.updateItem(id, { quantity: 1 + (run % 9) });
  else peer.addItem({ name: `New thing ${run}` });
  const updates = pendingUpdates.splice(0);
  const before = target.list.items();
  const cpuStarted = process.cpuUsage();
  const started = performance.now();
  for (const update of updates) Y.applyUpdate(target.doc, update);
  const after = target.list.items();
  remoteTimes.push(performance.now() - started);
  const cpu = process.cpuUsage(cpuStarted);
  remoteCpuTimes.push((cpu.user + cpu.system) / 1000);
  const untouched = before.find((item) => item.id !== id && !item.name.startsWith('New thing'));
  if (untouched && !after.includes(untouched)) identityKept = false;
}

const figures = {
  items: ITEM_COUNT,
  historicalEdits: EDIT_COUNT,
  visibleItems: visibleCount,
  documentBytes: stored.byteLength,
  buildHistoryMs: round(buildMs),
  openMs: round(median(openTimes)),
  openMinMs: round(Math.min(...openTimes)),
  openCpuMedianMs: round(median(openCpuTimes)),
  openViewBuildMs: round(median(buildViewTimes)),
  openViewBuildMinMs: round(Math.min(...buildViewTimes)),
  itemsCachedMs: round(median(itemsTimes), 4),
  remoteChangeMedianMs: round(median(remoteTimes), 3),
  remoteChangeP95Ms: round(percentile(remoteTimes, 0.95), 3),
  remoteChangeCpuMedianMs: round(median(remoteCpuTimes), 3),
  remoteChangeCpuP95Ms: round(percentile(remoteCpuTimes, 0.95), 3),
  loadAverage: round(os.loadavg()[0] ?? 0, 1),
  cpus: os.cpus().length,
  unchangedRowsKeepIdentity: identityKept,
  heapUsedMb: round(process.memoryUsage().heapUsed / 1_048_576, 1),
};

function round(value: number, digits = 2): number {
  const factor = 10 ** digits;
  return Math.round(value * factor) / factor;
}

const rows: [string, string, string][] = [
  ['document size', `${figures.documentBytes.toLocaleString('en')} bytes`, ''],
  ['open (apply state + construct + first items()), median', `${figures.openMs} ms`, ''],
  ['open, best of runs / CPU time (median)', `${figures.openMinMs} / ${figures.openCpuMedianMs} ms`, ''],
  ['  of which view build (construct + first items())', `${figures.openViewBuildMs} ms`, `best ${figures.openViewBuildMinMs} ms`],
  ['items() on the open list (cached)', `${figures.itemsCachedMs} ms`, '≤ 10 ms'],
  ['view update after one remote change (median)', `${figures.remoteChangeMedianMs} ms`, '≤ 1 ms'],
  ['view update after one remote change (p95)', `${figures.remoteChangeP95Ms} ms`, '≤ 1 ms'],
  ['  CPU time of one remote change (median / p95)', `${figures.remoteChangeCpuMedianMs} / ${figures.remoteChangeCpuP95Ms} ms`, '≤ 1 ms'],
  ['unchanged rows keep identity', String(figures.unchangedRowsKeepIdentity), 'true'],
];
console.log(`list-core bench: ${ITEM_COUNT} items, ${EDIT_COUNT} historical edits (built in ${Math.round(buildMs)} ms), ${visibleCount} visible`);
console.log(`machine: ${figures.cpus} CPUs, load average ${figures.loadAverage} (wall-clock figures inflate under load)`);
console.log(`${'measure'.padEnd(52)}${'value'.padStart(18)}  target`);
for (const [label, value, goal] of rows) console.log(`${label.padEnd(52)}${value.padStart(18)}  ${goal}`);
console.log(JSON.stringify(figures));

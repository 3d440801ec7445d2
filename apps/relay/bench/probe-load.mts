import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import * as Y from 'yjs';
import { DiskListStorage } from '../src/storage/disk-storage.js';

const dir = mkdtempSync(path.join(tmpdir(), 'relay-perf-load-'));
const lists = 1000;
const id = (i: number) => `benchList_${String(i).padStart(6, '0')}`;
const writer = new DiskListStorage({ dataDir: dir });
await Promise.all(Array.from({ length: lists }, async (_, i) => {
  const docs = Array.from({ length: 5 }, () => new Y.Doc());
  for (let k = 0; k < 30; k++) {
    const d = docs[k % 5]!;
    let u: Uint8Array | undefined;
    d.once('update', (x: Uint8Array) => { u = x; });
    d.getMap('items').set(`i${k}`, { name: `Item ${k}`, quantity: 1, checked: false });
    await writer.append(id(i), [u!]);
  }
}));
await writer.close();
for (let round = 0; round < 3; round++) {
  const reader = new DiskListStorage({ dataDir: dir });
  const t0 = performance.now();
  let applyMs = 0;
  await Promise.all(Array.from({ length: lists }, async (_, i) => {
    const stored = await reader.load(id(i));
    const a = performance.now();
    const doc = new Y.Doc();
    Y.transact(doc, () => { for (const u of stored.updates) Y.applyUpdate(doc, u); });
    Y.encodeStateVector(doc);
    applyMs += performance.now() - a;
  }));
  console.log(JSON.stringify({ threadpool: process.env.UV_THREADPOOL_SIZE ?? 4, totalMs: Math.round(performance.now() - t0), applyMs: Math.round(applyMs) }));
  await reader.close();
}
rmSync(dir, { recursive: true, force: true });

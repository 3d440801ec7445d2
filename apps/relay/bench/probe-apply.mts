import * as Y from 'yjs';
const lists = 300;
const stores: Uint8Array[][] = [];
for (let i = 0; i < lists; i++) {
  const docs = Array.from({ length: 5 }, () => new Y.Doc());
  const ups: Uint8Array[] = [];
  for (let k = 0; k < 30; k++) {
    const d = docs[k % 5]!;
    d.once('update', (x: Uint8Array) => ups.push(x));
    d.getMap('items').set(`i${k}`, { name: `Item ${k}`, quantity: 1, checked: false });
  }
  stores.push(ups);
}
const variants: Record<string, (u: Uint8Array[]) => void> = {
  transactEach: (ups) => { const doc = new Y.Doc(); Y.transact(doc, () => { for (const u of ups) Y.applyUpdate(doc, u); }); Y.encodeStateVector(doc); },
  mergeThenApply: (ups) => { const doc = new Y.Doc(); Y.applyUpdate(doc, Y.mergeUpdates(ups)); Y.encodeStateVector(doc); },
  snapshotOnly: (() => { const snaps = stores.map((ups) => Y.mergeUpdates(ups)); let j = 0; return () => { const doc = new Y.Doc(); Y.applyUpdate(doc, snaps[j++ % lists]!); Y.encodeStateVector(doc); }; })(),
  docOnly: () => { const doc = new Y.Doc(); Y.encodeStateVector(doc); },
};
for (let r = 0; r < 3; r++) for (const [name, fn] of Object.entries(variants)) {
  const t = performance.now();
  for (const ups of stores) fn(ups);
  console.log(name, ((performance.now() - t) / lists).toFixed(3), 'ms/list');
}

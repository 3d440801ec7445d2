// Heap Yjs takes per stored byte for ordinary and crafted list shapes, against the relay's estimate
// (src/sync/heap-estimate.ts, built to dist/ by `pnpm build`): every estimate should be at or above
// what was measured. Three copies of each list are loaded and measured after a full collection.
// Usage: node --expose-gc bench/heap-per-shape.mjs [items]
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import * as Y from 'yjs';
import { estimatedDocHeapBytes, HEAP_BYTES_PER_LIST_BYTE } from '../dist/sync/heap-estimate.js';

const random = (() => {
  let seed = 1;
  return () => (seed = (seed * 16807) % 2147483647) / 2147483647;
})();
const shapes = {
  basketItems: (doc, n) => {
    const items = doc.getMap('items');
    for (let batch = 0; batch < n; batch += 500)
      doc.transact(() => {
        for (let i = batch; i < batch + 500; i++) {
          const item = new Y.Map();
          items.set(`item-${i}`, item);
          item.set('name', `Item number ${i} with a name`);
          item.set('quantity', i % 7);
          item.set('checked', i % 2 === 0);
          item.set('checked', i % 3 === 0);
        }
      });
  },
  mapNumbers: (doc, n) => doc.transact(() => { for (let i = 0; i < n; i++) doc.getMap('items').set(`k${i}`, i); }),
  mapNumbersManyClients: (doc, n) => { for (let i = 0; i < n; i++) { doc.clientID = i + 1; doc.getMap('items').set(i.toString(36), i); } },
  mapStrings: (doc, n) => doc.transact(() => { for (let i = 0; i < n; i++) doc.getMap('items').set(`k${i}`, `value number ${i} with some text`); }),
  mapOverwrites: (doc, n) => { for (let i = 0; i < n; i++) doc.getMap('items').set(`k${i % 100}`, i); },
  textAtRandomPlaces: (doc, n) => { const text = doc.getText('t'); for (let i = 0; i < n / 2; i++) text.insert(Math.floor(random() * (text.length + 1)), 'ab'); },
  arrayAtRandomPlaces: (doc, n) => { const array = doc.getArray('a'); for (let i = 0; i < n / 2; i++) array.insert(Math.floor(random() * (array.length + 1)), [i]); },
  nestedMapsShortKeys: (doc, n) => doc.transact(() => { for (let i = 0; i < n; i++) doc.getMap('items').set(i.toString(36), new Y.Map()); }),
  emptyTextsInArray: (doc, n) => doc.transact(() => { for (let i = 0; i < n; i++) doc.getArray('a').push([new Y.Text()]); }),
  emptyTextsInArraySmallClient: (doc, n) => { doc.clientID = 1; doc.transact(() => { for (let i = 0; i < n; i++) doc.getArray('a').push([new Y.Text()]); }); },
  xmlElements: (doc, n) => doc.transact(() => { for (let i = 0; i < n; i++) doc.getXmlFragment('x').push([new Y.XmlElement('p')]); }),
  subdocsInArray: (doc, n) => doc.transact(() => { for (let i = 0; i < n; i++) doc.getArray('a').push([new Y.Doc({ guid: i.toString(36) })]); }),
  subdocsInMap: (doc, n) => doc.transact(() => { for (let i = 0; i < n; i++) doc.getMap('m').set(i.toString(36), new Y.Doc({ guid: i.toString(36) })); }),
};

const items = Number(process.argv[2] ?? 40_000);
const only = process.argv[3];

/** One shape measured in this process: earlier shapes' garbage would blur the heap figures. */
function measure(name) {
  const source = new Y.Doc();
  shapes[name](source, items);
  const update = Y.encodeStateAsUpdate(source);
  source.destroy();
  global.gc();
  const before = process.memoryUsage().heapUsed;
  const copies = [0, 1, 2].map(() => {
    const doc = new Y.Doc();
    Y.applyUpdate(doc, update);
    return doc;
  });
  global.gc();
  const heap = (process.memoryUsage().heapUsed - before) / copies.length;
  const estimate = estimatedDocHeapBytes(copies[0]);
  return { name, stored: update.length, heap, estimate, size: Math.max(update.length, Math.ceil(estimate / HEAP_BYTES_PER_LIST_BYTE)) };
}

if (only !== undefined) {
  console.log(JSON.stringify(measure(only)));
} else {
  console.log('shape                          stored kB  heap MB  heap/stored  estimate MB  estimate/heap  size/stored  heap/size');
  for (const name of Object.keys(shapes)) {
    const output = execFileSync(process.execPath, ['--expose-gc', fileURLToPath(import.meta.url), String(items), name], { encoding: 'utf8' });
    const { stored, heap, estimate, size } = JSON.parse(output);
    const cells = [(stored / 1024).toFixed(0).padStart(9), (heap / 1e6).toFixed(1).padStart(7), (heap / stored).toFixed(1).padStart(11), (estimate / 1e6).toFixed(1).padStart(11), (estimate / heap).toFixed(2).padStart(13), (size / stored).toFixed(2).padStart(11), (heap / size).toFixed(1).padStart(9)];
    console.log(`${name.padEnd(30)} ${cells.join('  ')}`);
  }
}

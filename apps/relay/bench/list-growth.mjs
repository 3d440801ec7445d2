/**
 * How large an honestly used list grows, which is what MAX_LIST_BYTES must leave room for:
 * `node bench/list-growth.mjs [itemsPerWeek] [years]` (after `pnpm build` at the root).
 * Two phones share one list through the real model (packages/list-core): each week one adds the
 * shopping, some of it edited, the other ticks it off in the shop and clears the ticked items;
 * tombstones are purged after the model's 30-day retention, as the app does.
 */
import * as Y from 'yjs';
import { ShoppingList } from '../../../packages/list-core/dist/index.js';

const itemsPerWeek = Number(process.argv[2] ?? 40);
const years = Number(process.argv[3] ?? 3);
const DAY = 24 * 60 * 60 * 1000;
// A family's shopping repeats: most weeks' items come from a few hundred names.
const NAMES = Array.from({ length: 300 }, (_, i) => `grocery ${i} ${'abcdefghij'.slice(0, 3 + (i % 8))}`);

let clock = Date.UTC(2026, 0, 1);
const now = () => clock;
const homeDoc = new Y.Doc();
const shopDoc = new Y.Doc();
const home = new ShoppingList(homeDoc, { actor: 'Sam', now });
const shop = new ShoppingList(shopDoc, { actor: 'Alex', now });
function sync() {
  Y.applyUpdate(shopDoc, Y.encodeStateAsUpdate(homeDoc, Y.encodeStateVector(shopDoc)));
  Y.applyUpdate(homeDoc, Y.encodeStateAsUpdate(shopDoc, Y.encodeStateVector(homeDoc)));
}

let pick = 1;
for (let week = 1; week <= years * 52; week++) {
  for (let i = 0; i < itemsPerWeek; i++) {
    pick = (pick * 48271) % 2147483647;
    const id = home.addItem({ name: NAMES[pick % NAMES.length], quantity: 1 + (pick % 3) });
    if (pick % 4 === 0) home.updateItem(id, { quantity: 2 + (pick % 5), note: 'the big one' });
    clock += (3 * DAY) / itemsPerWeek;
  }
  sync();
  for (const item of shop.items()) {
    shop.setChecked(item.id, true);
    clock += 30_000;
  }
  shop.clearChecked();
  clock += 4 * DAY - shop.items().length * 30_000;
  home.purgeTombstones();
  sync();
  if (week % 52 === 0) {
    const update = Y.encodeStateAsUpdate(homeDoc);
    const started = performance.now();
    Y.applyUpdate(new Y.Doc(), update);
    const applyMs = performance.now() - started;
    console.log(JSON.stringify({ years: week / 52, itemsPerWeek, listKiB: Math.round(update.length / 1024), applyMs: Math.round(applyMs) }));
  }
}

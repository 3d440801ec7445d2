import * as Y from 'yjs';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ShoppingList, normalizeName } from '../src/index.js';
import type { Item, ItemPatch } from '../src/index.js';

/**
 * 2–4 devices, each its own Y.Doc, ShoppingList and clock: clocks start skewed, may jump
 * ahead past the tombstone retention, and ops without a tick share one millisecond. Random
 * adds (names that are and are not the same item), field edits, ticks, removes, restores,
 * clears, purges, and pairwise state-vector syncs while some devices stay offline; then a
 * full sync. Besides convergence this checks what a person expects (PRODUCT.md rules):
 * - nothing removed comes back unless a restore made after that removal brought it (3, 6, 7);
 * - an add nobody removed is on the list, or in Recently deleted under a concurrent removal (7),
 *   or its person was told it went with an item purged before it got through (8);
 * - every field's value is the one its stamp's activity event wrote; every other edit of that
 *   field is on the winning chain, or marked overwritten unless it wrote the same value (5);
 * - notices are never about the person's own actions, also from their other device under the
 *   same name; unknown fields survive; nothing throws.
 *
 * `runDevices` returns the violations found instead of asserting, so a failing case can be
 * read whole; fast-check prints the seed and the operations.
 */

const NAMES = ['Milk', 'milk', ' Milks ', 'MILK', 'Eggs', 'egg', 'Bread', 'Butter', 'Buttermilk', 'Milk chocolate'];
const UNITS = ['', '', 'l', 'ml', 'pack'];
const NOTES = ['', 'organic', 'big pack'];
const CATEGORIES = ['dairy', 'bakery', 'other'];
export const RETENTION_MS = 1_000;

export type DeviceOp =
  | { kind: 'add'; dev: number; name: number; quantity: number; unit: number; note: number }
  | { kind: 'update'; dev: number; pick: number; deleted: boolean; field: 'name' | 'quantity' | 'unit' | 'note' | 'category'; value: number }
  | { kind: 'check' | 'remove' | 'restore' | 'extra'; dev: number; pick: number }
  | { kind: 'clear' | 'purge' | 'toggleOnline'; dev: number }
  | { kind: 'sync'; from: number; to: number }
  | { kind: 'tick'; ms: number }
  | { kind: 'jump'; dev: number; ms: number };

const dev = fc.nat({ max: 3 });
/**
 * `nameCount`: how many of NAMES adds draw from (4: only spellings of Milk, the same item).
 * `crowded`: fewer kinds of edit and more removes, purges and clock jumps on one name: the
 * mix that found the two-removal and purge cases (merge-rules, rules 7 and 8).
 */
export const deviceOps = (nameCount = NAMES.length, crowded = false): fc.Arbitrary<DeviceOp> => fc.oneof(
  { weight: 5, arbitrary: fc.record({ kind: fc.constant('add' as const), dev, name: fc.nat({ max: nameCount - 1 }), quantity: fc.integer({ min: 1, max: 4 }), unit: fc.nat({ max: crowded ? 0 : UNITS.length - 1 }), note: fc.nat({ max: NOTES.length - 1 }) }) },
  { weight: crowded ? 3 : 4, arbitrary: fc.record({ kind: fc.constant('update' as const), dev, pick: fc.nat({ max: crowded ? 3 : 20 }), deleted: fc.boolean(), field: crowded ? fc.constantFrom('name' as const, 'quantity' as const, 'note' as const) : fc.constantFrom('name' as const, 'quantity' as const, 'unit' as const, 'note' as const, 'category' as const), value: fc.nat({ max: 9 }) }) },
  { weight: 5, arbitrary: fc.record({ kind: crowded ? fc.constantFrom('check' as const, 'remove' as const, 'restore' as const) : fc.constantFrom('check' as const, 'remove' as const, 'restore' as const, 'extra' as const), dev, pick: fc.nat({ max: crowded ? 3 : 20 }) }) },
  { weight: crowded ? 3 : 2, arbitrary: fc.record({ kind: fc.constantFrom('clear' as const, 'purge' as const, 'toggleOnline' as const), dev }) },
  { weight: crowded ? 6 : 8, arbitrary: fc.record({ kind: fc.constant('sync' as const), from: dev, to: dev }) },
  { weight: 3, arbitrary: fc.record({ kind: fc.constant('tick' as const), ms: crowded ? fc.constantFrom(1, 5, 300, 700, 2_000) : fc.constantFrom(1, 5, 300, 700) }) },
  { weight: crowded ? 2 : 1, arbitrary: fc.record({ kind: fc.constant('jump' as const), dev, ms: fc.constantFrom(900, 1_500, 5_000) }) },
);
export const skews = fc.array(fc.constantFrom(0, 0, -1, 1, -400, 400, -2_000, 2_000), { minLength: 4, maxLength: 4 });

interface Removal {
  op: number;
  dev: number;
  /** Item ids shown in the removed row on the remover's device. */
  ids: Set<string>;
  /** The removed row's id (its canonical item) there. */
  row: string;
}

const REMOTE = Symbol('remote');

/** `sharedActor`: device 1 is P0's second device (a phone and a laptop under one name). */
export function runDevices(count: number, skew: readonly number[], ops: readonly DeviceOp[], sharedActor = false): string[] {
  const violations: string[] = [];
  let realTime = 1_700_000_000_000;
  const offsets = skew.slice(0, count);
  const docs: Y.Doc[] = [];
  const lists: ShoppingList[] = [];
  for (let index = 0; index < count; index++) {
    const doc = new Y.Doc();
    doc.clientID = index + 1;
    docs.push(doc);
    lists.push(
      new ShoppingList(doc, { actor: `P${sharedActor && index === 1 ? 0 : index}`, now: () => realTime + (offsets[index] ?? 0), tombstoneRetentionMs: RETENTION_MS }),
    );
  }
  const online = lists.map(() => true);
  /** Per device, the op numbers it knows of (its own and what syncs brought). */
  const known = lists.map(() => new Set<number>());
  const removals: Removal[] = [];
  /** Item id → ops that restored a row showing it, with what the restorer knew then. */
  const restores = new Map<string, { op: number; knew: Set<number> }[]>();
  /** Item id → the op that created it and on which device. */
  const added = new Map<string, { op: number; dev: number }>();
  const extras: { id: string; key: string }[] = [];

  const itemsOf = (index: number) => docs[index]!.getMap('items');
  /** Ids of the items a row shows on a device: the row id and everything resolving to it. */
  const idsInRow = (index: number, rowId: string): Set<string> => {
    const ids = new Set<string>();
    for (const id of itemsOf(index).keys()) if (lists[index]!.item(id)?.id === rowId) ids.add(id);
    return ids;
  };
  const pick = (rows: readonly Item[], n: number): Item | undefined => (rows.length === 0 ? undefined : rows[n % rows.length]);
  const sync = (from: number, to: number): void => {
    Y.applyUpdate(docs[to]!, Y.encodeStateAsUpdate(docs[from]!, Y.encodeStateVector(docs[to]!)), REMOTE);
    for (const op of known[from]!) known[to]!.add(op);
  };

  ops.forEach((op, number) => {
    if ('dev' in op && op.dev >= count) return;
    const list = 'dev' in op ? lists[op.dev]! : undefined;
    const mine = (): void => {
      if ('dev' in op) known[op.dev]!.add(number);
    };
    try {
      switch (op.kind) {
        case 'add': {
          const before = new Set(itemsOf(op.dev).keys());
          list!.addItem({ name: NAMES[op.name]!, quantity: op.quantity, unit: UNITS[op.unit]!, note: NOTES[op.note]! });
          for (const id of itemsOf(op.dev).keys()) if (!before.has(id)) added.set(id, { op: number, dev: op.dev });
          mine();
          break;
        }
        case 'update': {
          const row = pick(op.deleted ? list!.deletedItems() : list!.items(), op.pick);
          if (!row) break;
          const patch: ItemPatch =
            op.field === 'name' ? { name: NAMES[op.value % NAMES.length]! }
            : op.field === 'quantity' ? { quantity: op.value + 1 }
            : op.field === 'unit' ? { unit: UNITS[op.value % UNITS.length]! }
            : op.field === 'note' ? { note: `note ${op.value}` }
            : { category: CATEGORIES[op.value % CATEGORIES.length]! };
          list!.updateItem(row.id, patch);
          mine();
          break;
        }
        case 'check': {
          const row = pick(list!.items(), op.pick);
          if (row) list!.setChecked(row.id, !row.checked);
          mine();
          break;
        }
        case 'remove': {
          const row = pick(list!.items(), op.pick);
          if (!row) break;
          const ids = idsInRow(op.dev, row.id);
          list!.removeItem(row.id);
          mine();
          removals.push({ op: number, dev: op.dev, ids, row: row.id });
          break;
        }
        case 'clear': {
          const rows = list!.items().filter((item) => item.checked).map((item) => [item.id, idsInRow(op.dev, item.id)] as const);
          const cleared = list!.clearChecked();
          mine();
          for (const [rowId, ids] of rows) if (cleared.includes(rowId)) removals.push({ op: number, dev: op.dev, ids, row: rowId });
          break;
        }
        case 'restore': {
          const row = pick(list!.deletedItems(), op.pick);
          if (!row) break;
          const ids = idsInRow(op.dev, row.id);
          list!.restoreItem(row.id);
          mine();
          const knew = new Set(known[op.dev]);
          for (const id of ids) {
            if (!restores.has(id)) restores.set(id, []);
            restores.get(id)!.push({ op: number, knew });
          }
          break;
        }
        case 'purge':
          list!.purgeTombstones();
          mine();
          break;
        case 'extra': {
          const keys = Array.from(itemsOf(op.dev).keys()).sort();
          const id = keys[op.pick % Math.max(1, keys.length)];
          const map = id === undefined ? undefined : itemsOf(op.dev).get(id);
          if (id === undefined || !(map instanceof Y.Map)) break;
          const key = `x-extra-${number}`;
          map.set(key, number);
          extras.push({ id, key });
          mine();
          break;
        }
        case 'toggleOnline':
          online[op.dev] = !online[op.dev];
          break;
        case 'sync':
          if (op.from < count && op.to < count && op.from !== op.to && online[op.from] && online[op.to]) sync(op.from, op.to);
          break;
        case 'tick':
          realTime += op.ms;
          break;
        case 'jump':
          offsets[op.dev] = (offsets[op.dev] ?? 0) + op.ms;
          break;
      }
    } catch (error) {
      violations.push(`op ${number} ${JSON.stringify(op)} threw: ${String(error)}`);
    }
    for (const [index, each] of lists.entries()) {
      const keys = each.items().map((item) => normalizeName(item.name));
      if (new Set(keys).size !== keys.length) violations.push(`after op ${number}: P${index} shows a name twice`);
    }
  });

  // Final full sync, until nothing moves (a sync can write merges and detachments).
  for (let round = 0; ; round++) {
    if (round > 10) {
      violations.push('no convergence after 10 rounds');
      break;
    }
    const before = docs.map((doc) => Y.encodeStateVector(doc).join());
    for (let from = 0; from < count; from++) for (let to = 0; to < count; to++) if (from !== to) sync(from, to);
    if (docs.every((doc, index) => Y.encodeStateVector(doc).join() === before[index])) break;
  }

  const state = (list: ShoppingList) => ({ items: list.items(), deleted: list.deletedItems(), activity: list.activity() });
  const expected = state(lists[0]!);
  for (const [index, list] of lists.entries()) {
    try {
      expect(state(list)).toEqual(expected);
    } catch {
      violations.push(`P${index} differs from P0 after the full sync`);
    }
    const fresh = new ShoppingList(new Y.Doc(), { actor: 'fresh', now: () => realTime });
    Y.applyUpdate(fresh.doc, Y.encodeStateAsUpdate(docs[index]!));
    try {
      expect(state(fresh)).toEqual(state(list));
    } catch {
      violations.push(`P${index}'s incremental view differs from one built from scratch`);
    }
    for (const notice of list.notices()) {
      if (notice.by === list.actor) violations.push(`P${index} told about their own action: ${notice.message}`);
    }
  }

  const list = lists[0]!;
  const items = itemsOf(0);
  const visibleRows = new Set(list.items().map((item) => item.id));
  const deletedRows = new Set(list.deletedItems().map((item) => item.id));
  const shownLive = (id: string): boolean => visibleRows.has(list.item(id)?.id ?? '');

  // Rules 3, 6, 7: a removed item is back only by a restore made after that removal.
  for (const removal of removals) {
    for (const id of removal.ids) {
      if (!shownLive(id)) continue;
      const justified = (restores.get(id) ?? []).some((restore) => restore.knew.has(removal.op));
      if (!justified) {
        violations.push(
          `${id === removal.row ? '' : 'member '}item ${id} removed by op ${removal.op} (P${removal.dev}) is visible again without a later restore`,
        );
      }
    }
  }
  // Rule 7 / nothing lost: an add no removal covered is visible, or in Recently deleted under a removal that had not seen it.
  const covered = new Set(removals.flatMap((removal) => Array.from(removal.ids)));
  for (const [id, origin] of added) {
    if (covered.has(id) || shownLive(id)) continue;
    const row = list.item(id);
    if (row !== undefined && deletedRows.has(row.id)) continue;
    // Rule 8: folded into an item purged before the add got through: no resurrection, but told.
    if (lists[origin.dev]!.notices().some((notice) => notice.kind === 'edited-purged' && notice.message.includes('which you added'))) continue;
    violations.push(
      `item ${id} (${String((items.get(id) as Y.Map<unknown> | undefined)?.get('name') ?? 'purged')}) added by P${origin.dev} at op ${origin.op}, never removed, is ${items.has(id) ? 'hidden' : 'gone'}`,
    );
  }
  // Rule 5: each field holds its stamp's event's value; other edits are on the winning chain or overwritten.
  const activity = list.activity();
  const events = new Map(activity.map((event) => [event.id, event]));
  for (const [id, value] of items.entries()) {
    if (!(value instanceof Y.Map)) continue;
    for (const field of ['name', 'quantity', 'unit', 'note', 'category']) {
      const stamp = value.get(`stamp.${field}`);
      if (typeof stamp !== 'string') continue;
      const event = events.get(stamp.slice(0, stamp.indexOf('.')));
      if (event === undefined) violations.push(`${id}.${field}: stamp names no event`);
      else if (event.to !== value.get(field)) violations.push(`${id}.${field} = ${String(value.get(field))} but its stamp's event wrote ${String(event.to)}`);
      if (event?.overwrittenBy !== undefined) violations.push(`${id}.${field}: the winning event is marked overwritten`);
    }
  }
  // Rule 5: an edit of a field is on the chain of `prev` links from the field's stamp, or overwritten.
  const stored = new Map<string, { id: string; itemId: string; field?: string; prev?: string }>();
  for (const value of docs[0]!.getMap('activity').values()) {
    const event = value as { id: string; itemId: string; field?: string; prev?: string };
    stored.set(event.id, event);
  }
  for (const event of activity) {
    if (event.field === undefined || (event.kind !== 'updated' && event.kind !== 'renamed') || event.overwrittenBy !== undefined) continue;
    const map = items.get(event.itemId);
    const stamp = map instanceof Y.Map ? map.get(`stamp.${event.field}`) : undefined;
    if (typeof stamp !== 'string') continue;
    let onChain = false;
    let sameValueOnChain = false;
    for (let current: string | undefined = stamp.slice(0, stamp.indexOf('.')), guard = 0; current && guard < 1000; guard++) {
      if (current === event.id) onChain = true;
      if (events.get(current)?.to === event.to) sameValueOnChain = true;
      current = stored.get(current)?.prev;
    }
    // A concurrent edit that wrote the same value replaced nothing (activity-log.ts).
    if (!onChain && !sameValueOnChain) violations.push(`${event.itemId}.${event.field}: ${event.actor}'s edit to ${String(event.to)} lost without being marked overwritten`);
  }
  // Unknown fields survive on every device while the item exists.
  for (const { id, key } of extras) {
    for (const [index] of docs.entries()) {
      const map = itemsOf(index).get(id);
      if (map instanceof Y.Map && !map.has(key)) violations.push(`P${index}: ${key} on ${id} was lost`);
    }
  }
  for (const each of lists) each.destroy();
  return violations;
}

const NUM_RUNS = Number(process.env.BASKET_PROPERTY_RUNS ?? 300);

describe('devices with their own clocks (property)', () => {
  it.each([
    ['names that are and are not the same item', NAMES.length, false, 4, 40],
    ['crowded with spellings of Milk', 2, true, 3, 30],
  ] as const)(`2–4 devices, skewed and jumping clocks, partial syncs, %s: converge and keep every rule (${NUM_RUNS} cases)`, (_, names, crowded, devices, length) => {
    fc.assert(
      fc.property(fc.integer({ min: 2, max: devices }), skews, fc.array(deviceOps(names, crowded), { minLength: 1, maxLength: length }), fc.boolean(), (count, skew, ops, shared) => {
        expect(runDevices(count, skew, ops, shared)).toEqual([]);
      }),
      { numRuns: NUM_RUNS },
    );
  }, Math.max(60_000, NUM_RUNS * 60));
});

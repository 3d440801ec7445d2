import * as Y from 'yjs';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ShoppingList, normalizeName } from '../src/index.js';
import { FakeClock } from './support/test-network.js';

/**
 * Random operation sequences on 3–5 replicas with random partial, reordered
 * and duplicated update delivery. After a full exchange every replica must
 * show the same items, deleted items and activity; nothing deleted is
 * visible; no normalized name is visible twice; and the incrementally
 * maintained view equals one computed from scratch.
 *
 * fast-check prints the seed and counterexample path on failure; keep a
 * failing seed below as a named regression test.
 */

const NAMES = ['Milk', 'milk ', 'Milks', 'tomato', 'Tomatoes', 'berry', 'berries', 'Eggs', 'Bread', 'Butter'];
const NOTES = ['', '', 'organic', 'big pack', 'lactose free'];
const RETENTION_MS = 1_000;

type Op =
  | { kind: 'add'; replica: number; name: number; quantity: number; note: number }
  | { kind: 'check' | 'remove' | 'restore' | 'requantify' | 'rename'; replica: number; pick: number; value: number }
  | { kind: 'clear' | 'purge'; replica: number }
  | { kind: 'deliver' | 'duplicate'; pick: number }
  | { kind: 'disconnect' | 'connect'; replica: number }
  | { kind: 'tick'; ms: number };

const replicaIndex = fc.nat({ max: 4 });
const opArbitrary: fc.Arbitrary<Op> = fc.oneof(
  { weight: 5, arbitrary: fc.record({ kind: fc.constant('add' as const), replica: replicaIndex, name: fc.nat({ max: NAMES.length - 1 }), quantity: fc.integer({ min: 1, max: 5 }), note: fc.nat({ max: NOTES.length - 1 }) }) },
  { weight: 6, arbitrary: fc.record({ kind: fc.constantFrom('check' as const, 'remove' as const, 'restore' as const, 'requantify' as const, 'rename' as const), replica: replicaIndex, pick: fc.nat({ max: 20 }), value: fc.nat({ max: NAMES.length - 1 }) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constantFrom('clear' as const, 'purge' as const), replica: replicaIndex }) },
  { weight: 8, arbitrary: fc.record({ kind: fc.constantFrom('deliver' as const, 'duplicate' as const), pick: fc.nat({ max: 1000 }) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constantFrom('disconnect' as const, 'connect' as const), replica: replicaIndex }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('tick' as const), ms: fc.integer({ min: 1, max: 700 }) }) },
);

interface Message {
  to: number;
  update: Uint8Array;
}

export function runScenario(replicaCount: number, ops: readonly Op[]): void {
  const clock = new FakeClock();
  const remote = Symbol('remote');
  const docs: Y.Doc[] = [];
  const lists: ShoppingList[] = [];
  const online: boolean[] = [];
  let queue: Message[] = [];
  const delivered: Message[] = [];
  for (let index = 0; index < replicaCount; index++) {
    const doc = new Y.Doc();
    doc.on('update', (update: Uint8Array, origin: unknown) => {
      if (origin === remote || !online[index]) return;
      for (let peer = 0; peer < replicaCount; peer++) if (peer !== index) queue.push({ to: peer, update });
    });
    docs.push(doc);
    online.push(true);
    lists.push(new ShoppingList(doc, { actor: `P${index}`, now: clock.now, tombstoneRetentionMs: RETENTION_MS }));
  }
  const apply = (message: Message): void => {
    if (online[message.to]) Y.applyUpdate(docs[message.to]!, message.update, remote);
  };
  const pickRow = (list: ShoppingList, pick: number, includeDeleted: boolean) => {
    const rows = includeDeleted ? list.deletedItems() : list.items();
    return rows.length === 0 ? undefined : rows[pick % rows.length];
  };
  for (const op of ops) {
    if ('replica' in op && op.replica >= replicaCount) continue;
    switch (op.kind) {
      case 'add':
        lists[op.replica]!.addItem({ name: NAMES[op.name]!, quantity: op.quantity, note: NOTES[op.note]! });
        break;
      case 'check': {
        const row = pickRow(lists[op.replica]!, op.pick, false);
        if (row) lists[op.replica]!.setChecked(row.id, !row.checked);
        break;
      }
      case 'remove': {
        const row = pickRow(lists[op.replica]!, op.pick, false);
        if (row) lists[op.replica]!.removeItem(row.id);
        break;
      }
      case 'restore': {
        const row = pickRow(lists[op.replica]!, op.pick, true);
        if (row) lists[op.replica]!.restoreItem(row.id);
        break;
      }
      case 'requantify': {
        const row = pickRow(lists[op.replica]!, op.pick, op.value % 4 === 0);
        if (row) lists[op.replica]!.updateItem(row.id, { quantity: op.value + 1 });
        break;
      }
      case 'rename': {
        const row = pickRow(lists[op.replica]!, op.pick, false);
        if (row) lists[op.replica]!.updateItem(row.id, { name: NAMES[op.value]! });
        break;
      }
      case 'clear':
        lists[op.replica]!.clearChecked();
        break;
      case 'purge':
        lists[op.replica]!.purgeTombstones();
        break;
      case 'deliver': {
        if (queue.length === 0) break;
        const [message] = queue.splice(op.pick % queue.length, 1);
        apply(message!);
        delivered.push(message!);
        break;
      }
      case 'duplicate':
        if (delivered.length > 0) apply(delivered[op.pick % delivered.length]!);
        break;
      case 'disconnect':
        online[op.replica] = false;
        queue = queue.filter((message) => message.to !== op.replica);
        break;
      case 'connect':
        online[op.replica] = true;
        break;
      case 'tick':
        clock.advance(op.ms);
        break;
    }
    for (const list of lists) expectNoNameTwice(list);
  }
  online.fill(true);
  for (let round = 0; ; round++) {
    if (round > 10) throw new Error('no convergence after 10 full exchange rounds');
    const before = docs.map((doc) => Y.encodeStateVector(doc).join());
    for (const from of docs) {
      for (const to of docs) {
        if (from !== to) Y.applyUpdate(to, Y.encodeStateAsUpdate(from, Y.encodeStateVector(to)), remote);
      }
    }
    if (docs.every((doc, index) => Y.encodeStateVector(doc).join() === before[index])) break;
  }
  const expected = snapshot(lists[0]!);
  for (const list of lists) {
    expect(snapshot(list)).toEqual(expected);
    expectNoNameTwice(list);
    const deletedIds = new Set(list.deletedItems().map((item) => item.id));
    for (const item of list.items()) {
      expect(item.deletedAt).toBeUndefined();
      expect(deletedIds.has(item.id)).toBe(false);
    }
  }
  const fresh = new Y.Doc();
  Y.applyUpdate(fresh, Y.encodeStateAsUpdate(docs[0]!));
  expect(snapshot(new ShoppingList(fresh, { actor: 'fresh', now: clock.now }))).toEqual(expected);
  for (const list of lists) list.destroy();
}

function snapshot(list: ShoppingList) {
  return { items: list.items(), deleted: list.deletedItems(), activity: list.activity() };
}

function expectNoNameTwice(list: ShoppingList): void {
  const keys = list.items().map((item) => normalizeName(item.name));
  expect(new Set(keys).size).toBe(keys.length);
}

const NUM_RUNS = Number(process.env.BASKET_PROPERTY_RUNS ?? 2000);
const MAX_OPS = Number(process.env.BASKET_PROPERTY_OPS ?? 40);

describe('convergence (property)', () => {
  it(`random ops on 3–5 replicas with partial, reordered, duplicated delivery converge (${NUM_RUNS} cases)`, () => {
    const started = performance.now();
    fc.assert(
      fc.property(fc.integer({ min: 3, max: 5 }), fc.array(opArbitrary, { minLength: 1, maxLength: MAX_OPS }), (replicas, ops) => {
        runScenario(replicas, ops);
      }),
      { numRuns: NUM_RUNS },
    );
    console.log(`convergence property: ${NUM_RUNS} cases in ${Math.round(performance.now() - started)} ms`);
  }, Math.max(120_000, NUM_RUNS * 60));
});

/**
 * A property run in its own process (crafted-structure.test.ts [P3] starts it with a time limit):
 * a crafted update that never ends in a check would hang the test runner instead of failing.
 *
 * Updates are built struct by struct, with ids, neighbours, parents and lengths drawn from a few
 * small values, so that they name each other and a small document's items: cycles, references
 * forward, lengths of 0, parents that are no type. Each one the relay's decoding accepts (with
 * the main thread's options, and with the decode worker's, slices included) must apply to the
 * document without Yjs throwing, and the result must encode and load again, as a list's next
 * load from disk would. A refusal is fine: no honest Yjs writes these.
 *
 * Usage: node --import tsx test/fuzz/crafted-updates.ts <seed> <runs>. Exit 0 when every run
 * holds; 1 with the counterexample on stderr.
 */
import fc from 'fast-check';
import * as Y from 'yjs';
import type { DecodeOptions } from '../../src/sync/protocol.js';
import type { CraftedStruct, CraftedUpdate, Parent, Ref } from './crafted-update-encoding.js';
import { encodeCrafted } from './crafted-update-encoding.js';
import { decodeIncomingMessage, encodeSyncUpdate, ProtocolError } from '../../src/sync/protocol.js';

/** Clients 1 and 2 wrote the document below; 3 and 4 are new. */
const client = fc.integer({ min: 1, max: 4 });
const clock = fc.integer({ min: 0, max: 8 });
const ref: fc.Arbitrary<Ref> = fc.record({ client, clock });
const parent: fc.Arbitrary<Parent> = fc.oneof(fc.record({ root: fc.constantFrom('items', 'arr', 'text') }), ref);
const struct: fc.Arbitrary<CraftedStruct> = fc.record({
  kind: fc.constantFrom('any', 'deleted', 'string', 'map', 'array', 'gc', 'skip'),
  length: fc.integer({ min: 0, max: 3 }),
  origin: fc.option(ref, { nil: null }),
  rightOrigin: fc.option(ref, { nil: null }),
  parent,
  key: fc.option(fc.constantFrom('a', 'b'), { nil: null }),
});
const craftedUpdate: fc.Arbitrary<CraftedUpdate> = fc.record({
  blocks: fc.uniqueArray(fc.record({ client, clock: fc.constantFrom(0, 1, 2, 3, 6), structs: fc.array(struct, { minLength: 1, maxLength: 4 }) }), {
    minLength: 1,
    maxLength: 3,
    selector: (block) => block.client,
  }),
  deletions: fc.array(fc.record({ client, ranges: fc.array(fc.tuple(clock, fc.integer({ min: 0, max: 3 })), { maxLength: 2 }) }), { maxLength: 2 }),
});

/** A small list written by clients 1 and 2: map values, a nested map, array and text runs, deletions. */
function baseline(): Uint8Array {
  const first = new Y.Doc();
  first.clientID = 1;
  const items = first.getMap<unknown>('items');
  items.set('a', 1);
  const nested = new Y.Map<unknown>();
  items.set('b', nested);
  nested.set('a', 'x');
  first.getArray<number>('arr').insert(0, [1, 2, 3]);
  first.getText('text').insert(0, 'milk');
  const second = new Y.Doc();
  second.clientID = 2;
  Y.applyUpdate(second, Y.encodeStateAsUpdate(first));
  second.getMap<unknown>('items').set('a', 2);
  second.getArray<number>('arr').delete(1, 1);
  second.getText('text').insert(2, 'XY');
  return Y.encodeStateAsUpdate(second);
}

const MAIN_THREAD: DecodeOptions = {};
/** As the decode worker checks large frames (decode-worker.ts), slices of two structs to cut most updates. */
const DECODE_WORKER: DecodeOptions = { joinGcRuns: true, sliceStructs: 2 };

/** The updates the list would apply for `frame`, or undefined when the relay refuses it. */
function accepted(frame: Uint8Array, options: DecodeOptions): readonly Uint8Array[] | undefined {
  try {
    const message = decodeIncomingMessage(frame, options);
    if (message.kind !== 'sync-update') throw new Error(`decoded as ${message.kind}`);
    return message.sliced?.slices ?? [message.update];
  } catch (error) {
    if (error instanceof ProtocolError) return undefined;
    throw error;
  }
}

/** Updates accepted and applied: a run where the relay refused nearly all would test little. */
let appliedCount = 0;

function holds(update: CraftedUpdate, stored: Uint8Array): void {
  const frame = encodeSyncUpdate(encodeCrafted(update));
  for (const options of [MAIN_THREAD, DECODE_WORKER]) {
    const updates = accepted(frame, options);
    if (updates === undefined) continue;
    appliedCount += 1;
    const doc = new Y.Doc();
    Y.applyUpdate(doc, stored);
    for (const slice of updates) Y.applyUpdate(doc, slice);
    // The list's next load: what is stored, replayed into a fresh document.
    const reloaded = new Y.Doc();
    Y.applyUpdate(reloaded, Y.encodeStateAsUpdate(doc));
    doc.destroy();
    reloaded.destroy();
  }
}

const [seedArgument, runsArgument] = process.argv.slice(2);
const seed = Number(seedArgument ?? Date.now() % 2 ** 31);
const numRuns = Number(runsArgument ?? 2000);
const stored = baseline();
const result = fc.check(
  fc.property(craftedUpdate, (update) => holds(update, stored)),
  { seed, numRuns },
);
if (result.failed) {
  process.stderr.write(`${fc.defaultReportMessage(result) ?? 'failed'}\n`);
  process.exit(1);
}
process.stdout.write(`${JSON.stringify({ seed, runs: result.numRuns, applied: appliedCount })}\n`);

import * as Y from 'yjs';
import { estimatedUpdateHeapBytes } from './heap-estimate.js';
import type { DecodedUpdate, DeleteSet, Struct } from './v1-update.js';
import { clientBlocks, holdsFormatting, writeV1Update } from './v1-update.js';

/**
 * Structs per slice of a large update. Yjs alone applies 5,000 of the densest items (one-clock
 * deleted items) in under 1 ms; in the relay, between its collections, slices of 10,000 took
 * 3–24 ms: short enough that every other list is served between two slices.
 */
export const STRUCTS_PER_SLICE = 5_000;

/**
 * A large update cut into updates of at most `maxStructs` structs (the first ones fewer), to be applied one per
 * event-loop turn: as one, Yjs holds the event loop for all of it (a million one-clock deleted
 * items, 8 MiB, about 1 s, every list on the relay waiting).
 *
 * The slices are in an order Yjs can integrate each of them in whole: every struct comes after
 * the structs of this update it builds on (its left and right neighbours, its parent), whichever
 * client wrote them. Out of that order, a slice would hold back what builds on a later one, and
 * Yjs would merge and retry those held-back updates at every later slice. The delete set goes in
 * the last slice, as Yjs applies it after the structs. Applying the slices one after the other
 * gives the same document as the update in one go: Yjs places an item by its neighbours, not by
 * when it arrives.
 *
 * What follows a gap in a client's clocks (a Skip: an honest phone's own held-back updates look
 * like this), and whatever builds on it, waits for the gap, which the list may or may not have:
 * it goes in the last slice, as it is, and Yjs integrates it or holds it back as it would in one
 * go. Says 'cycle' instead when two clients each build on a later struct of the other: Yjs could
 * never integrate those structs, whatever arrives later, and no honest update has one.
 */
export function updateSlices(blocks: readonly (readonly Struct[])[], ds: DeleteSet, maxStructs: number): Uint8Array[] | 'cycle' {
  const ordered = inIntegrationOrder(blocks);
  if (ordered === 'cycle') return ordered;
  const { order, rest } = ordered;
  const slices: Uint8Array[] = [];
  // The first slices smaller: Yjs's code for what they hold may not be compiled yet, and run
  // interpreted the first slice of 5,000 one-clock deleted items took 20–47 ms (a sixteenth
  // first, doubling: the longest wait for other lists 14–19 ms against 46–59 ms).
  let size = Math.max(1, maxStructs >> 4);
  for (let start = 0; start < order.length; start += size, size = Math.min(maxStructs, size * 2)) {
    const end = Math.min(order.length, start + size);
    slices.push(writeV1Update(blocksOf(order, start, end), end === order.length && rest.length === 0 ? ds : undefined));
  }
  if (rest.length > 0 || slices.length === 0) slices.push(writeV1Update(rest, ds));
  return slices;
}

/** An update's structs in an order Yjs can integrate them (see updateSlices), and what waits for a gap. */
export interface OrderedStructs {
  /** Each struct after the structs of the update it builds on; each client's in clock order. */
  readonly order: Struct[];
  /** Per client, its structs from the first one that waits for a gap in clocks (its own or of what it builds on) on. */
  readonly rest: Struct[][];
}

/**
 * The structs of `blocks` (one per client, as clientBlocks gives them) in integration order, up to
 * the gaps; 'cycle' when two clients each build on a later struct of the other (see updateSlices).
 */
export function inIntegrationOrder(blocks: readonly (readonly Struct[])[]): OrderedStructs | 'cycle' {
  const runs = clientRuns(blocks);
  const order = integrationOrder(runs);
  if (order === 'cycle') return order;
  const rest = [...runs.values()].map((run) => run.structs.slice(run.next)).filter((block) => block.length > 0);
  return { order, rest };
}

/**
 * A stored update (a list's snapshot or a logged update) cut into slices for a sliced load;
 * undefined when it has no more than `maxStructs` structs, holds formatting, or cannot be cut. Stored updates were
 * integrated before they were stored: they have no gap and no cycle, and their array runs are
 * joined, so no slice makes Yjs join one piece by piece.
 */
export function storedUpdateSlices(update: Uint8Array, maxStructs: number): Uint8Array[] | undefined {
  return slicesOfDecoded(Y.decodeUpdate(update), maxStructs);
}

/** A stored list readied for a load in turns (cutStoredList). */
export interface StoredListCut {
  /** Per stored update, in order: its slices, or undefined when it is applied whole. */
  readonly slices: ReadonlyArray<readonly Uint8Array[] | undefined>;
  /** The heap its structs would take once integrated: an upper estimate (heap-estimate.ts). */
  readonly heapBytes: number;
}

/**
 * A stored list's updates, each of `minBytes` or more cut into slices (storedUpdateSlices), and
 * the heap all of them would take: the relay admits the list by that before it replays it. Its
 * stored bytes alone let lists of subdocuments (176 times their stored bytes in heap) be admitted
 * side by side, and together they took the relay past its heap. An update that cannot be read
 * counts for nothing, as the replay skips it.
 */
export function cutStoredList(updates: readonly Uint8Array[], minBytes: number, maxStructs: number): StoredListCut {
  let heapBytes = 0;
  const slices = updates.map((update) => {
    let decoded: DecodedUpdate;
    try {
      decoded = Y.decodeUpdate(update);
    } catch {
      return undefined;
    }
    heapBytes += estimatedUpdateHeapBytes(decoded.structs);
    return update.length < minBytes ? undefined : slicesOfDecoded(decoded, maxStructs);
  });
  return { slices, heapBytes };
}

function slicesOfDecoded({ structs, ds }: DecodedUpdate, maxStructs: number): Uint8Array[] | undefined {
  if (structs.length <= maxStructs || holdsFormatting(structs)) return undefined;
  const slices = updateSlices(clientBlocks(structs), ds, maxStructs);
  return Array.isArray(slices) ? slices : undefined;
}

/** One client's structs in the update, and how many of them the order holds so far. */
interface ClientRun {
  readonly structs: readonly Struct[];
  readonly firstClock: number;
  readonly endClock: number;
  next: number;
  /** Its next struct waits for a gap (its own, or one of what it builds on): it goes no further. */
  blocked: boolean;
}

function clientRuns(blocks: readonly (readonly Struct[])[]): Map<number, ClientRun> {
  const runs = new Map<number, ClientRun>();
  for (const structs of blocks) {
    const first = structs[0];
    const last = structs[structs.length - 1];
    if (first === undefined || last === undefined) continue;
    runs.set(first.id.client, { structs, firstClock: first.id.clock, endClock: last.id.clock + last.length, next: 0, blocked: false });
  }
  return runs;
}

/** A client the order works on, until its struct holding `untilClock` is in the order. */
interface Goal {
  readonly run: ClientRun;
  readonly untilClock: number;
}

/**
 * The structs of `runs` each after the structs of other clients it builds on, each client's in
 * clock order, up to the gaps: each run's `next` is then where what waits for a gap starts.
 * Linear: every step either adds a struct, stops a run, or switches to the client of a missing
 * dependency, which is then added (or found waiting for a gap) before switching back.
 */
function integrationOrder(runs: ReadonlyMap<number, ClientRun>): Struct[] | 'cycle' {
  const order: Struct[] = [];
  const working = new Set<ClientRun>();
  for (const start of runs.values()) {
    const goals: Goal[] = [{ run: start, untilClock: Infinity }];
    working.add(start);
    while (goals.length > 0) {
      const { run, untilClock } = goals[goals.length - 1] as Goal;
      const struct = run.structs[run.next];
      if (struct instanceof Y.Skip) run.blocked = true;
      if (struct === undefined || struct.id.clock > untilClock || run.blocked) {
        goals.pop();
        working.delete(run);
        continue;
      }
      const needed = missingDependency(struct, runs);
      if (needed === undefined) {
        order.push(struct);
        run.next += 1;
        continue;
      }
      const { dependency, clock } = needed;
      if (dependency.blocked) {
        run.blocked = true;
        continue;
      }
      // That client is already waiting for something that waits for it.
      if (working.has(dependency)) return 'cycle';
      working.add(dependency);
      goals.push({ run: dependency, untilClock: clock });
    }
  }
  return order;
}

/**
 * A struct of another client in this update that `struct` builds on and the order lacks so far.
 * A dependency outside the update's clocks is the document's business: Yjs finds it there, or
 * holds `struct` back as it would anyway. One on the same client is earlier in its clocks.
 */
function missingDependency(struct: Struct, runs: ReadonlyMap<number, ClientRun>): { dependency: ClientRun; clock: number } | undefined {
  if (!(struct instanceof Y.Item)) return undefined;
  for (const id of [struct.origin, struct.rightOrigin, struct.parent instanceof Y.ID ? struct.parent : null]) {
    if (id === null || id.client === struct.id.client) continue;
    const run = runs.get(id.client);
    if (run === undefined || id.clock < run.firstClock || id.clock >= run.endClock) continue;
    const added = run.structs[run.next];
    if (added === undefined || id.clock < added.id.clock) continue;
    return { dependency: run, clock: id.clock };
  }
  return undefined;
}

/**
 * order[start, end) as one block per client. A client's structs there are contiguous in its
 * clocks: the order holds each client's structs in clock order, so any between two of them in
 * the order lie between them in the slice too.
 */
export function blocksOf(order: readonly Struct[], start: number, end: number): Struct[][] {
  const byClient = new Map<number, Struct[]>();
  for (let i = start; i < end; i++) {
    const struct = order[i] as Struct;
    const block = byClient.get(struct.id.client);
    if (block === undefined) byClient.set(struct.id.client, [struct]);
    else block.push(struct);
  }
  return [...byClient.values()];
}

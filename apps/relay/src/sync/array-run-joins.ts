import * as Y from 'yjs';

import type { DeleteSet, Struct } from './v1-update.js';
import { follows } from './v1-update.js';

/**
 * Values Yjs may copy, beyond once, joining one update's pieces of array runs. Yjs keeps values
 * a client inserted one after another as one item, and joins pieces that arrive as separate
 * items when the transaction ends, from the right, each join copying the value array built so
 * far (ContentAny and ContentJSON concatenate arrays). A run sent as n one-value pieces therefore
 * costs n²/2 copies: 10,000 pieces (120 kB) took 0.5 s and 0.4 GB, and 40,000 (0.59 MB)
 * exhausted the heap and aborted the relay. Yjs itself never sends a run in pieces (a
 * document's updates and its state hold runs joined); `Y.mergeUpdates` of one-value updates
 * does, and at this bound a merge of 1,448 one-value pushes still passes, taking Yjs about 25 ms
 * to join.
 */
export const MAX_ARRAY_RUN_JOIN_COPIES = 1 << 20;

/**
 * How many times MAX_ARRAY_RUN_JOIN_COPIES the joins may cost should Yjs place none of the items
 * that the update alone cannot show it places between two pieces (see separations): about 2,900
 * one-value pieces of one run, which Yjs joins in 20–120 ms. Such items keep the pieces of an
 * honest run apart when another phone wrote rows among them ([S2]), but Yjs skips one whose
 * clock the list already holds (whatever that clock holds there), holds one back behind a gap
 * or a missing neighbour of an earlier item of its client, and reads only the last of a
 * client's blocks: a crafted update whose pieces they alone kept apart would be joined whole.
 */
export const UNPLACED_SEPARATOR_ALLOWANCE = 4;

/** What joining an update's array pieces costs, read from the update alone. */
export interface ArrayRunJoins {
  /**
   * The copies beyond once that joining its split runs makes, to be held to
   * MAX_ARRAY_RUN_JOIN_COPIES: the larger of those if Yjs places every item that lands between
   * two pieces, and those if it places only the ones it surely does, divided by
   * UNPLACED_SEPARATOR_ALLOWANCE. For a run of pieces p1…pL (L ≥ 2) the joins, from the right,
   * copy piece j min(j, L−1) times.
   */
  readonly copies: number;
  /**
   * Values of its pieces that follow the same client's previous clock, and so may join the run
   * before them, in this update or an earlier one (every piece of a split run but its first is
   * one): what a held-back update adds to the runs held back with it.
   */
  readonly joiningValues: number;
}

/**
 * One walk over the update's structs for both figures (two when some run is split): every sync
 * message goes through here. `deletions`: those Yjs applies in the transaction that integrates
 * the structs (see DeletedClocks), whose items are no pieces.
 */
export function arrayRunJoins(structs: readonly Struct[], deletions?: DeleteSet): ArrayRunJoins {
  const deleted = new DeletedClocks(deletions);
  let joiningValues = 0;
  // The runs as Yjs joins them if it places every separator, and if it places only the sure ones.
  const ifPlaced = new RunJoins();
  const ifSkipped = new RunJoins();
  let previous: Y.Item | undefined;
  let separated: Separations | undefined;
  for (const struct of structs) {
    const piece = struct instanceof Y.Item && copiesOnJoin(struct) && !deleted.covers(struct) ? struct : undefined;
    if (piece !== undefined && followsOwnPreviousClock(piece)) joiningValues += piece.length;
    if (piece !== undefined && previous !== undefined && continuesRun(previous, piece)) {
      separated ??= separations(structs);
      ifSkipped.add(piece.length, !separated.surely.has(piece));
      ifPlaced.add(piece.length, !separated.named.get(piece.id.client)?.has(piece.id.clock));
    } else {
      ifSkipped.add(piece?.length ?? 0, false);
      ifPlaced.add(piece?.length ?? 0, false);
    }
    previous = piece;
  }
  const copies = Math.max(ifPlaced.end(), Math.ceil(ifSkipped.end() / UNPLACED_SEPARATOR_ALLOWANCE));
  return { copies, joiningValues };
}

/**
 * Clocks that deletions Yjs applies in the same transaction as an update's structs delete: an
 * item of the update there costs nothing to join. Yjs applies an update's delete set right after
 * its structs, holding back with them the deletions of structs it holds back (and applying those
 * in the transaction that integrates them, after them), and at a transaction's end replaces the
 * content of every item deleted in it with ContentDeleted (the list's document collects garbage
 * and keeps no item for an undo manager) before it joins any: joining those adds lengths, and
 * Yjs never joins a deleted item with one that is not.
 *
 * [HN1]: Y.mergeUpdates of a phone's offline updates holds the values of a map key it set in
 * consecutive transactions (a title, a "last seen" stamp) as pieces of one run, as it does an
 * array's one-value pushes (in a v1 update a value that follows another names no key), and
 * deletes all but the last: 1,449 such writes, which Yjs applies in 12–29 ms, were refused. A
 * run whose head names a key is no proof that its pieces are map values: Yjs takes an item's
 * parent and key from the item its origin names as the list holds it, and skips the update's
 * items at clocks the list already holds, so in a list holding the head's clock as an array value
 * such a run is joined as an array run (10,000 pieces: 1 s).
 */
class DeletedClocks {
  /** Per client, the starts and ends of the deleted clock ranges, sorted and joined; built when first asked. */
  private ranges: Map<number, { starts: number[]; ends: number[] }> | undefined;

  constructor(private readonly deletions: DeleteSet | undefined) {}

  /** Whether every clock of `item` is deleted (a part left would be joined as it is). */
  covers({ id, length }: Y.Item): boolean {
    if (this.deletions === undefined || this.deletions.clients.size === 0) return false;
    this.ranges ??= sortedRanges(this.deletions);
    const ranges = this.ranges.get(id.client);
    if (ranges === undefined) return false;
    // The last range starting at or before the item's clock.
    let low = 0;
    let high = ranges.starts.length;
    while (low < high) {
      const middle = (low + high) >>> 1;
      if ((ranges.starts[middle] as number) <= id.clock) low = middle + 1;
      else high = middle;
    }
    return low > 0 && (ranges.ends[low - 1] as number) >= id.clock + length;
  }
}

function sortedRanges(deletions: DeleteSet): Map<number, { starts: number[]; ends: number[] }> {
  const ranges = new Map<number, { starts: number[]; ends: number[] }>();
  for (const [client, items] of deletions.clients) {
    const starts: number[] = [];
    const ends: number[] = [];
    for (const { clock, len } of [...items].sort((a, b) => a.clock - b.clock)) {
      const last = ends.length - 1;
      if (last >= 0 && clock <= (ends[last] as number)) ends[last] = Math.max(ends[last] as number, clock + len);
      else if (len > 0) {
        starts.push(clock);
        ends.push(clock + len);
      }
    }
    ranges.set(client, { starts, ends });
  }
  return ranges;
}

/** The copies of the joins of runs fed to it piece by piece, each piece continuing the run before or starting one. */
class RunJoins {
  private copies = 0;
  private position = 0;
  private lastLength = 0;

  /** A piece of `length` values (0: a struct that is no piece), continuing the run before or not. */
  add(length: number, continues: boolean): void {
    if (continues) {
      this.position += 1;
      this.copies += length * (this.position - 1);
    } else {
      this.endRun();
      this.position = length === 0 ? 0 : 1;
    }
    this.lastLength = length;
  }

  end(): number {
    this.endRun();
    return this.copies;
  }

  private endRun(): void {
    // Its last piece is copied one time fewer than its position says.
    if (this.position >= 2) this.copies -= this.lastLength;
    this.position = 0;
  }
}

/** Items of an update that land between two pieces of a run, and so keep Yjs from joining them. */
interface Separations {
  /** Right pieces that an item Yjs surely places whenever it integrates them lands in front of. */
  readonly surely: ReadonlySet<Y.Item>;
  /** Per client, the first clocks of the right pieces that any item of the update names as its neighbours. */
  readonly named: ReadonlyMap<number, ReadonlySet<number>>;
}

/**
 * An item whose origin is one piece's last value and whose right neighbour the next piece's
 * first lands between the two, whatever else the update holds, once Yjs places it, and stays
 * there deleted or not: Yjs never joins pieces that are no neighbours. A run one phone inserted,
 * then wrote rows into the middle of ([HP3]), or another phone did ([S2]), is stored in pieces
 * with those rows between them, and a list's whole state was refused as a split run.
 *
 * Yjs surely places such an item whenever it integrates the right piece when the item is of
 * their client, later in the same block, and no item of the block between them builds on another
 * client: it integrates a block in clock order, and holds back its rest only at an item whose
 * neighbour or parent of another client is missing. Any other such item (another client's, or
 * one held back with the rest of the block) Yjs may not place: see UNPLACED_SEPARATOR_ALLOWANCE.
 */
function separations(structs: readonly Struct[]): Separations {
  const surely = new Set<Y.Item>();
  const named = new Map<number, Set<number>>();
  // The block so far (a client's structs, contiguous in its clocks, until a gap): its items by
  // clock, and the clock of the last one that builds on another client.
  const blockItems = new Map<number, Y.Item>();
  let lastBuildingOnOther = -1;
  let previous: Struct | undefined;
  for (const struct of structs) {
    if (previous === undefined || !follows(previous, struct) || struct instanceof Y.Skip) {
      blockItems.clear();
      lastBuildingOnOther = -1;
    }
    previous = struct instanceof Y.Skip ? undefined : struct;
    if (!(struct instanceof Y.Item)) continue;
    blockItems.set(struct.id.clock, struct);
    if (buildsOnOtherClient(struct)) lastBuildingOnOther = struct.id.clock;
    const { origin, rightOrigin, id } = struct;
    if (origin === null || rightOrigin === null || rightOrigin.client !== origin.client || rightOrigin.clock !== origin.clock + 1) continue;
    let clocks = named.get(rightOrigin.client);
    if (clocks === undefined) named.set(rightOrigin.client, (clocks = new Set()));
    clocks.add(rightOrigin.clock);
    const right = origin.client === id.client && rightOrigin.clock < id.clock ? blockItems.get(rightOrigin.clock) : undefined;
    if (right !== undefined && lastBuildingOnOther <= rightOrigin.clock) surely.add(right);
  }
  return { surely, named };
}

function buildsOnOtherClient({ origin, rightOrigin, parent, id }: Y.Item): boolean {
  return (
    (origin !== null && origin.client !== id.client) ||
    (rightOrigin !== null && rightOrigin.client !== id.client) ||
    (parent instanceof Y.ID && parent.client !== id.client)
  );
}

function followsOwnPreviousClock({ origin, id }: Y.Item): boolean {
  return origin !== null && origin.client === id.client && origin.clock === id.clock - 1;
}

function copiesOnJoin(item: Y.Item): boolean {
  return item.content instanceof Y.ContentAny || item.content instanceof Y.ContentJSON;
}

/** As Yjs's Item.mergeWith would join them, as far as the update alone tells. */
function continuesRun(left: Y.Item, right: Y.Item): boolean {
  return (
    right.id.client === left.id.client &&
    right.id.clock === left.id.clock + left.length &&
    right.content.constructor === left.content.constructor &&
    followsOwnPreviousClock(right) &&
    sameId(left.rightOrigin, right.rightOrigin)
  );
}

function sameId(a: Y.ID | null, b: Y.ID | null): boolean {
  return a === null || b === null ? a === b : a.client === b.client && a.clock === b.clock;
}

/**
 * Held-back values that may join a run, below which held-back updates need no count of their
 * joins: v such values cost at most v² copies, within MAX_ARRAY_RUN_JOIN_COPIES.
 */
export const HELD_BACK_JOINING_VALUES_UNCHECKED = Math.floor(Math.sqrt(MAX_ARRAY_RUN_JOIN_COPIES));

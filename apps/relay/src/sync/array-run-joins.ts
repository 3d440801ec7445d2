import * as Y from 'yjs';

import type { Struct } from './v1-update.js';
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

/** What joining an update's array pieces costs, read from the update alone. */
export interface ArrayRunJoins {
  /**
   * The copies beyond once that joining its split runs makes: for a run of pieces p1…pL (L ≥ 2)
   * the joins, from the right, copy piece j min(j, L−1) times.
   */
  readonly copies: number;
  /**
   * Values of its pieces that follow the same client's previous clock, and so may join the run
   * before them, in this update or an earlier one (every piece of a split run but its first is
   * one): what a held-back update adds to the runs held back with it.
   */
  readonly joiningValues: number;
}

/** One walk over the update's structs for both figures (two when some run is split): every sync message goes through here. */
export function arrayRunJoins(structs: readonly Struct[]): ArrayRunJoins {
  let copies = 0;
  let joiningValues = 0;
  let previous: Y.Item | undefined;
  let position = 0;
  let lastLength = 0;
  let separated: ReadonlySet<Y.Item> | undefined;
  for (const struct of structs) {
    const piece = struct instanceof Y.Item && copiesOnJoin(struct) ? struct : undefined;
    if (piece !== undefined && followsOwnPreviousClock(piece)) joiningValues += piece.length;
    if (piece !== undefined && previous !== undefined && continuesRun(previous, piece) && !(separated ??= separatedPieces(structs)).has(piece)) {
      position += 1;
      copies += piece.length * (position - 1);
    } else {
      // The run before ended: its last piece is copied one time fewer than its position says.
      if (position >= 2) copies -= lastLength;
      position = piece === undefined ? 0 : 1;
    }
    previous = piece;
    lastLength = piece?.length ?? 0;
  }
  if (position >= 2) copies -= lastLength;
  return { copies, joiningValues };
}

/**
 * The pieces of a split run that a later item of the same block sits in front of: Yjs never joins
 * them, as they are no neighbours. A run one phone inserted, then wrote rows into the middle of,
 * is stored in pieces with those rows between them, and its whole state (a list built offline,
 * synced for the first time) was refused as a split run ([HP3]). Only an item that must land
 * between the pieces counts: of their client, later in the same block (so integrated whenever
 * the pieces are, never held back without them), between the left piece's last value (its
 * origin) and the right piece's first (its right neighbour). Yjs places an item between those
 * two, whatever else the update holds.
 */
function separatedPieces(structs: readonly Struct[]): ReadonlySet<Y.Item> {
  // Per block (a client's structs, contiguous in its clocks, until a gap): the clocks of the
  // right pieces that a later item of the block separates from the piece before.
  const separatedAt = new Set<number>();
  const separated = new Set<Y.Item>();
  const blockPieces = new Map<number, Y.Item>();
  let previous: Struct | undefined;
  const closeBlock = (): void => {
    for (const [clock, piece] of blockPieces) if (separatedAt.has(clock)) separated.add(piece);
    blockPieces.clear();
    separatedAt.clear();
  };
  for (const struct of structs) {
    if (previous === undefined || !follows(previous, struct) || struct instanceof Y.Skip) closeBlock();
    previous = struct instanceof Y.Skip ? undefined : struct;
    if (!(struct instanceof Y.Item)) continue;
    blockPieces.set(struct.id.clock, struct);
    const { origin, rightOrigin, id } = struct;
    if (origin !== null && rightOrigin !== null && origin.client === id.client && rightOrigin.client === id.client && rightOrigin.clock === origin.clock + 1) {
      separatedAt.add(rightOrigin.clock);
    }
  }
  closeBlock();
  return separated;
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

import * as Y from 'yjs';

type Struct = ReturnType<typeof Y.decodeUpdate>['structs'][number];

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
 * The copies beyond once that joining `structs`' split runs makes: for a run of pieces p1…pL
 * (L ≥ 2) the joins, from the right, copy piece j min(j, L−1) times. Stops counting at the end
 * of a run once past `limit`.
 */
export function arrayRunJoinCopies(structs: readonly Struct[], limit = MAX_ARRAY_RUN_JOIN_COPIES): number {
  let total = 0;
  let previous: Y.Item | undefined;
  let position = 0;
  let lastLength = 0;
  for (const struct of structs) {
    const piece = struct instanceof Y.Item && copiesOnJoin(struct) ? struct : undefined;
    if (piece !== undefined && previous !== undefined && continuesRun(previous, piece)) {
      position += 1;
      total += piece.length * (position - 1);
    } else {
      // The run before ended: its last piece is copied one time fewer than its position says.
      if (position >= 2) total -= lastLength;
      if (total > limit) return total;
      position = piece === undefined ? 0 : 1;
    }
    previous = piece;
    lastLength = piece?.length ?? 0;
  }
  if (position >= 2) total -= lastLength;
  return total;
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
    right.origin !== null &&
    right.origin.client === left.id.client &&
    right.origin.clock === left.id.clock + left.length - 1 &&
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

/**
 * Values of `structs`' array pieces that follow the same client's previous clock, and so may join
 * the run before them, in this update or an earlier one. Every piece of a split run but its first
 * is one.
 */
export function joiningValues(structs: readonly Struct[]): number {
  let values = 0;
  for (const struct of structs) {
    if (!(struct instanceof Y.Item) || !copiesOnJoin(struct)) continue;
    const { origin, id } = struct;
    if (origin !== null && origin.client === id.client && origin.clock === id.clock - 1) values += struct.length;
  }
  return values;
}

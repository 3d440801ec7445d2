import * as Y from 'yjs';
import type { Struct } from './v1-update.js';

/**
 * `item` as `count` or more items of the same clocks, each holding about an equal share of its
 * content, when that content is a string or a run of values (what Yjs splits itself when an edit
 * lands inside an item); undefined for any other content, or an item of one clock.
 *
 * Each piece after the first builds on the clock before it, as Yjs writes an item from an offset
 * (Item.write): integrated one after the other they stand where the item stood, and Yjs joins
 * them again into one item. A text typed by one phone in one go is a single item in its list, as
 * large as the text, and could otherwise not be sent in parts (see sync-answer-parts.ts). Each
 * piece is shorter than the item, so cutting pieces again ends.
 */
export function itemPieces(item: Struct, count: number): Y.Item[] | undefined {
  if (!(item instanceof Y.Item) || item.length < 2) return undefined;
  const { content } = item;
  let slice: (start: number, end: number) => Y.Item['content'];
  if (content instanceof Y.ContentString) slice = (start, end) => new Y.ContentString(content.str.slice(start, end));
  else if (content instanceof Y.ContentAny) slice = (start, end) => new Y.ContentAny(content.arr.slice(start, end));
  else return undefined;
  const cuts = pieceCuts(item, Math.min(count, item.length));
  // One piece (a lone surrogate pair): the item cannot be cut. Returned as its own piece, a caller
  // cutting pieces until they fit went on for ever, and every answer of the list threw ([SA6]).
  if (cuts.length < 3) return undefined;
  const pieces: Y.Item[] = [];
  for (let i = 0; i + 1 < cuts.length; i++) {
    const start = cuts[i] as number;
    const { client, clock } = item.id;
    const origin = start === 0 ? item.origin : Y.createID(client, clock + start - 1);
    pieces.push(new Y.Item(Y.createID(client, clock + start), null, origin, null, item.rightOrigin, item.parent, item.parentSub, slice(start, cuts[i + 1] as number)));
  }
  return pieces;
}

/**
 * Offsets from 0 to the item's length cutting it into `count` pieces of about equal length. A
 * string is never cut between the two halves of a surrogate pair: Yjs would write each half as
 * U+FFFD (ContentString.splice does, on purpose), and the phone would get another text.
 */
function pieceCuts(item: Y.Item, count: number): number[] {
  const { length, content } = item;
  const text = content instanceof Y.ContentString ? content.str : undefined;
  const cuts = [0];
  for (let i = 1; i < count; i++) {
    let cut = Math.floor((length * i) / count);
    if (text !== undefined && isHighSurrogate(text.charCodeAt(cut - 1)) && isLowSurrogate(text.charCodeAt(cut))) cut += 1;
    if (cut > (cuts[cuts.length - 1] as number) && cut < length) cuts.push(cut);
  }
  cuts.push(length);
  return cuts;
}

function isHighSurrogate(code: number): boolean {
  return code >= 0xd800 && code <= 0xdbff;
}

function isLowSurrogate(code: number): boolean {
  return code >= 0xdc00 && code <= 0xdfff;
}

import * as encoding from 'lib0/encoding';
import * as Y from 'yjs';
import { itemPieces } from './item-pieces.js';
import type { RoomPeer } from './list-room.js';
import { encodeSyncStep2, encodeSyncUpdate } from './protocol.js';
import { varUintLength } from './state-vector.js';
import { blocksOf, inIntegrationOrder } from './update-slices.js';
import type { DeleteSet, Struct } from './v1-update.js';
import { clientBlocks, holdsFormatting, writeV1Update } from './v1-update.js';

/**
 * The largest answer to a sync request sent as one message, and the most each part of a larger
 * one holds. A phone counts a message only once it has arrived whole: the web app replaces a
 * socket after 8 s without one (connection-watch.ts), unmodified y-websocket after 30 s
 * (`messageReconnectTimeout`). At 20 kB/s (one bar in a store's basement) a ~200 kB list sent as
 * one message took ~10 s, the phone dropped the socket while it was still arriving, and every
 * retry started it over: it never synced ([RR1]). A 64 KiB part takes ~3 s there. Large enough
 * that a list at MAX_LIST_BYTES (8 MiB) is 128 parts, and the lists most phones open (well under
 * it) go as one message, as before.
 */
export const SYNC_ANSWER_PART_BYTES = 64 * 1024;

/**
 * Cuts a sync answer into the messages sending it (syncAnswerMessages) elsewhere than on the
 * event loop; `requester` is the phone it is for (the decode worker takes its address's turn).
 */
export interface SyncAnswerCutter {
  cut(answer: Uint8Array, maxPartBytes: number, requester: RoomPeer): Promise<{ readonly messages: readonly Uint8Array[]; readonly ms: number }>;
}

/** The most a v1 update takes besides its blocks and delete set: its count of blocks, and of deleting clients (≤ 5 each). */
const UPDATE_HEADER_BYTES = 10;
/** The most a block's header takes: its count of structs (≤ 5), its client (≤ 5, 32 bits) and first clock (≤ 8, 53 bits). */
const BLOCK_HEADER_BYTES = 18;
/** The most a deleting client's header takes: its client and count of ranges (≤ 5 each). */
const DELETE_CLIENT_HEADER_BYTES = 10;
/** Items larger than a part over this are cut into pieces (itemPieces) this much smaller, so parts are filled well. */
const PIECES_PER_PART = 4;
/** The encoder that measures structs is started again past this: it would otherwise hold a second copy of the answer. */
const MEASURE_ENCODER_BYTES = 1 << 20;

/**
 * The messages answering a sync request with `answer` (the update the phone lacks), to be sent
 * in order on one socket: one sync step 2 when it is at most `maxPartBytes`, else sync updates
 * (y-protocols messageYjsUpdate) of at most about `maxPartBytes` each, the last part a sync step
 * 2, so y-websocket marks the phone synced only once all of it has arrived (a socket keeps order).
 */
export function syncAnswerMessages(answer: Uint8Array, maxPartBytes = SYNC_ANSWER_PART_BYTES): Uint8Array[] {
  if (answer.length <= maxPartBytes) return [encodeSyncStep2(answer)];
  const parts = syncAnswerParts(answer, maxPartBytes);
  return parts.map((part, i) => (i === parts.length - 1 ? encodeSyncStep2(part) : encodeSyncUpdate(part)));
}

/**
 * `answer` cut into Yjs v1 updates of at most `maxPartBytes` each (but a struct larger than that
 * which cannot be cut: content of one clock, a 1 MB binary, goes alone; and an answer holding
 * formatted text is not cut at all), which applied in order
 * give the same document as `answer` in one go. They are in integration order (updateSlices):
 * every struct comes after the structs of the answer it builds on, so a phone integrates each
 * part as it arrives instead of holding parts back and merging them again at every later one.
 * Large strings and runs of values are cut into pieces (itemPieces). What waits for a gap in
 * clocks (updates the relay holds back, which Y.encodeStateAsUpdate sends with the rest) comes
 * after the ordered structs, and the deletions last: Yjs holds back a deletion of a struct it
 * does not have yet. Any block of structs of one client in that sequence is contiguous in its
 * clocks (see blocksOf; what waits for a gap starts where a client's ordered structs end), so
 * each part is written as one block per client.
 */
export function syncAnswerParts(answer: Uint8Array, maxPartBytes: number): Uint8Array[] {
  const { structs, ds } = Y.decodeUpdate(answer);
  if (holdsFormatting(structs)) return [answer];
  const ordered = inIntegrationOrder(clientBlocks(structs));
  // Not from a list (the relay refuses such structure, and no document holds it): sent as it is.
  if (ordered === 'cycle') return [answer];
  const sequence = measuredStructs([...ordered.order, ...ordered.rest.flat()], Math.floor(maxPartBytes / PIECES_PER_PART));
  const parts: Uint8Array[] = [];
  const cut = cutByBytes(sequence, maxPartBytes);
  const last = cut.ranges.pop() ?? { start: 0, end: 0 };
  for (const { start, end } of cut.ranges) parts.push(writeV1Update(blocksOf(sequence.structs, start, end), undefined));
  const deletions = deleteSetPieces(ds, maxPartBytes - UPDATE_HEADER_BYTES);
  const [onlyDeletions] = deletions;
  if (deletions.length === 1 && onlyDeletions !== undefined && cut.lastBytes + onlyDeletions.bytes <= maxPartBytes) {
    parts.push(writeV1Update(blocksOf(sequence.structs, last.start, last.end), onlyDeletions.ds));
    return parts;
  }
  if (last.end > last.start) parts.push(writeV1Update(blocksOf(sequence.structs, last.start, last.end), undefined));
  for (const piece of deletions) parts.push(writeV1Update([], piece.ds));
  return parts;
}

/** Structs and the bytes each takes written (v1 writes each struct the same wherever it stands). */
interface MeasuredStructs {
  readonly structs: Struct[];
  readonly bytes: number[];
}

/**
 * The structs of `sequence` with their encoded sizes, an item over `maxStructBytes` replaced by
 * its pieces when its content can be cut. Each is written once to be measured: an answer pays
 * this only when it is over SYNC_ANSWER_PART_BYTES.
 */
function measuredStructs(sequence: readonly Struct[], maxStructBytes: number): MeasuredStructs {
  const measured: MeasuredStructs = { structs: [], bytes: [] };
  let encoder = new Y.UpdateEncoderV1();
  const add = (struct: Struct): void => {
    if (encoding.length(encoder.restEncoder) > MEASURE_ENCODER_BYTES) encoder = new Y.UpdateEncoderV1();
    const before = encoding.length(encoder.restEncoder);
    struct.write(encoder, 0);
    const bytes = encoding.length(encoder.restEncoder) - before;
    const pieces = bytes > maxStructBytes ? itemPieces(struct, Math.ceil(bytes / maxStructBytes)) : undefined;
    if (pieces === undefined) {
      measured.structs.push(struct);
      measured.bytes.push(bytes);
      return;
    }
    // A piece can still be too large (the content is not even: a few long values among short ones).
    for (const piece of pieces) add(piece);
  };
  for (const struct of sequence) add(struct);
  return measured;
}

/**
 * Cuts the sequence, in order, into ranges written in at most `maxBytes` each (a struct larger
 * than that alone in its own); `lastBytes`: the most the last range takes.
 */
function cutByBytes({ structs, bytes }: MeasuredStructs, maxBytes: number): { ranges: Array<{ start: number; end: number }>; lastBytes: number } {
  const ranges: Array<{ start: number; end: number }> = [];
  const clients = new Set<number>();
  let start = 0;
  let rangeBytes = UPDATE_HEADER_BYTES;
  for (let i = 0; i < structs.length; i++) {
    const { client } = (structs[i] as Struct).id;
    let added = (bytes[i] as number) + (clients.has(client) ? 0 : BLOCK_HEADER_BYTES);
    if (i > start && rangeBytes + added > maxBytes) {
      ranges.push({ start, end: i });
      start = i;
      rangeBytes = UPDATE_HEADER_BYTES;
      clients.clear();
      added = (bytes[i] as number) + BLOCK_HEADER_BYTES;
    }
    rangeBytes += added;
    clients.add(client);
  }
  ranges.push({ start, end: structs.length });
  return { ranges, lastBytes: rangeBytes };
}

/**
 * The delete set cut into delete sets written in at most `maxBytes` each (at least one, maybe
 * empty), each client's ranges in clock order as Yjs writes them.
 */
function deleteSetPieces(ds: DeleteSet, maxBytes: number): Array<{ ds: DeleteSet; bytes: number }> {
  const pieces: Array<{ ds: DeleteSet; bytes: number }> = [];
  let piece = { ds: Y.createDeleteSet(), bytes: 0 };
  for (const [client, ranges] of ds.clients) {
    let from = 0;
    for (let i = 0; i < ranges.length; i++) {
      const { clock, len } = ranges[i] as (typeof ranges)[number];
      let added = varUintLength(clock) + varUintLength(len) + (i === from ? DELETE_CLIENT_HEADER_BYTES : 0);
      if (piece.bytes > 0 && piece.bytes + added > maxBytes) {
        if (i > from) piece.ds.clients.set(client, ranges.slice(from, i));
        pieces.push(piece);
        piece = { ds: Y.createDeleteSet(), bytes: 0 };
        if (i > from) added += DELETE_CLIENT_HEADER_BYTES;
        from = i;
      }
      piece.bytes += added;
    }
    if (ranges.length > from) piece.ds.clients.set(client, from === 0 ? ranges : ranges.slice(from));
  }
  pieces.push(piece);
  return pieces;
}

import { crc32 } from 'node:zlib';

/**
 * One record on disk: [u32 LE payload length][u32 LE CRC32 of (length bytes + payload)][payload].
 * The CRC covers the length too, so a flipped length is detected rather than followed.
 */
export const RECORD_HEADER_BYTES = 8;
/** Anything longer is a corrupt length field, not a real record. */
export const MAX_RECORD_BYTES = 256 * 1024 * 1024;

/** Throws for a payload too large to read back as a record (it would read as damage), before anything is written or allocated. */
export function checkRecordFits(payloadBytes: number): void {
  if (payloadBytes > MAX_RECORD_BYTES) {
    throw new RangeError(`a record of ${payloadBytes} bytes is over the ${MAX_RECORD_BYTES} a record may hold`);
  }
}

export function frameRecord(payload: Uint8Array): Buffer {
  checkRecordFits(payload.length);
  const record = Buffer.allocUnsafe(RECORD_HEADER_BYTES + payload.length);
  frameInto(record, 0, payload);
  return record;
}

/** Writes `payload` framed into `target` at `offset`, which must have room; returns the bytes written. */
export function frameInto(target: Buffer, offset: number, payload: Uint8Array): number {
  checkRecordFits(payload.length);
  target.writeUInt32LE(payload.length, offset);
  target.writeUInt32LE(recordChecksum(target.subarray(offset, offset + 4), payload), offset + 4);
  target.set(payload, offset + RECORD_HEADER_BYTES);
  return RECORD_HEADER_BYTES + payload.length;
}

function recordChecksum(lengthBytes: Uint8Array, payload: Uint8Array): number {
  return crc32(payload, crc32(lengthBytes));
}

export type RecordScan =
  /** Every byte belongs to a valid record. */
  | { kind: 'complete'; records: Uint8Array[]; validBytes: number }
  /** The last record is incomplete (a write cut short by a crash): safe to cut off. */
  | { kind: 'torn'; records: Uint8Array[]; validBytes: number }
  /** A record in the middle is damaged: the file needs a human, keep it aside. */
  | { kind: 'corrupt'; records: Uint8Array[]; validBytes: number; offset: number };

export function scanRecords(bytes: Uint8Array): RecordScan {
  const records: Uint8Array[] = [];
  const view = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let offset = 0;
  while (offset < view.length) {
    const payload = recordAt(view, offset);
    if (payload === undefined) return unreadable(view, records, offset);
    records.push(new Uint8Array(payload));
    offset += RECORD_HEADER_BYTES + payload.length;
  }
  return { kind: 'complete', records, validBytes: offset };
}

/** The payload of the record at `offset`, if it is whole and its checksum matches. */
function recordAt(view: Buffer, offset: number): Buffer | undefined {
  if (view.length - offset < RECORD_HEADER_BYTES) return undefined;
  const length = view.readUInt32LE(offset);
  const end = offset + RECORD_HEADER_BYTES + length;
  if (length > MAX_RECORD_BYTES || end > view.length) return undefined;
  const payload = view.subarray(offset + RECORD_HEADER_BYTES, end);
  return recordChecksum(view.subarray(offset, offset + 4), payload) === view.readUInt32LE(offset + 4) ? payload : undefined;
}

/**
 * A crash during an append damages only the end of the file: the last record runs to or past
 * the end (a short write, or a bad checksum on data that did not all reach the disk), or the
 * file size reached the disk before the data did (zeros). That is torn. Anything else is
 * corrupt, and so is a record that looks cut short but has a valid record after it: a flipped
 * bit in an older record's length points past the end just like a short write, and cutting
 * there would drop every intact record after it.
 */
function unreadable(view: Buffer, records: Uint8Array[], offset: number): RecordScan {
  const torn: RecordScan = { kind: 'torn', records, validBytes: offset };
  // Zeros hold no valid record (see EMPTY_RECORD_CHECKSUM): no search needed.
  if (view.subarray(offset).every((b) => b === 0)) return torn;
  if (reachesEnd(view, offset) && !validRecordAfter(view, offset)) return torn;
  return { kind: 'corrupt', records, validBytes: offset, offset };
}

/** Whether the record at `offset` (possibly only part of its header) claims to end at or past the end of the file. */
function reachesEnd(view: Buffer, offset: number): boolean {
  if (view.length - offset < RECORD_HEADER_BYTES) return true;
  const length = view.readUInt32LE(offset);
  return length <= MAX_RECORD_BYTES && offset + RECORD_HEADER_BYTES + length >= view.length;
}

/**
 * Checksum work the search for a valid record after a damaged one may do, in bytes (each
 * checksum call also counts CHECKSUM_CALL_COST_BYTES, about its fixed cost): ~20 ms. Unbounded,
 * a large tail full of lengths that fit would cost time quadratic in its size.
 */
const SEARCH_BUDGET_BYTES = 64 * 1024 * 1024;
const CHECKSUM_CALL_COST_BYTES = 1024;
/** The checksum of a record with an empty payload. Never 0, so zero-filled bytes are never a record. */
const EMPTY_RECORD_CHECKSUM = recordChecksum(new Uint8Array(4), new Uint8Array(0));

/**
 * Whether a valid record starts anywhere after `offset`. True also when the budget runs out
 * first: not knowing, the caller keeps the file (corrupt) rather than cutting records it could
 * not rule out.
 */
function validRecordAfter(view: Buffer, offset: number): boolean {
  let budget = SEARCH_BUDGET_BYTES;
  for (let candidate = offset + 1; candidate + RECORD_HEADER_BYTES <= view.length; candidate++) {
    const length = view.readUInt32LE(candidate);
    // Most candidates end here, before any checksum: their length does not fit in the file.
    if (candidate + RECORD_HEADER_BYTES + length > view.length) continue;
    // Runs of zeros (a tail the data never reached) would otherwise cost a call per byte.
    if (length === 0 && view.readUInt32LE(candidate + 4) !== EMPTY_RECORD_CHECKSUM) continue;
    budget -= CHECKSUM_CALL_COST_BYTES + length;
    if (budget < 0) return true;
    if (recordAt(view, candidate) !== undefined) return true;
  }
  return false;
}

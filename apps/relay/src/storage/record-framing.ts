import { crc32 } from 'node:zlib';

/**
 * One record on disk: [u32 LE payload length][u32 LE CRC32 of (length bytes + payload)][payload].
 * The CRC covers the length too, so a flipped length is detected rather than followed.
 */
export const RECORD_HEADER_BYTES = 8;
/** Anything longer is a corrupt length field, not a real record. */
export const MAX_RECORD_BYTES = 256 * 1024 * 1024;

export function frameRecord(payload: Uint8Array): Buffer {
  const record = Buffer.allocUnsafe(RECORD_HEADER_BYTES + payload.length);
  record.writeUInt32LE(payload.length, 0);
  record.writeUInt32LE(recordChecksum(record.subarray(0, 4), payload), 4);
  record.set(payload, RECORD_HEADER_BYTES);
  return record;
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
    const remaining = view.length - offset;
    if (remaining < RECORD_HEADER_BYTES) {
      return { kind: 'torn', records, validBytes: offset };
    }
    const length = view.readUInt32LE(offset);
    const storedChecksum = view.readUInt32LE(offset + 4);
    const end = offset + RECORD_HEADER_BYTES + length;
    if (length > MAX_RECORD_BYTES) {
      return damaged(view, records, offset);
    }
    if (end > view.length) {
      // A length that points past the end is what a torn append looks like; a flipped length
      // in an older record would also land here, but then the CRC of later data cannot be
      // checked anyway and cutting keeps every intact record before it.
      return { kind: 'torn', records, validBytes: offset };
    }
    const payload = view.subarray(offset + RECORD_HEADER_BYTES, end);
    if (recordChecksum(view.subarray(offset, offset + 4), payload) !== storedChecksum) {
      return damaged(view, records, offset);
    }
    records.push(new Uint8Array(payload));
    offset = end;
  }
  return { kind: 'complete', records, validBytes: offset };
}

/**
 * A bad checksum on the last record, or followed only by zeros (file size extended before the
 * data reached the disk), is a torn write; anything else is corruption.
 */
function damaged(view: Buffer, records: Uint8Array[], offset: number): RecordScan {
  const lengthField = view.readUInt32LE(offset);
  const end = offset + RECORD_HEADER_BYTES + lengthField;
  const isLastRecord = end === view.length;
  const restIsZero = view.subarray(offset).every((b) => b === 0);
  if (isLastRecord || restIsZero) return { kind: 'torn', records, validBytes: offset };
  return { kind: 'corrupt', records, validBytes: offset, offset };
}

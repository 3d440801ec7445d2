import { constants as fsConstants, promises as fs, write as writeCallback } from 'node:fs';
import type { FileHandle } from 'node:fs/promises';
import path from 'node:path';
import { isValidListId } from '../list-id.js';
import { removeIfExists } from './file-ops.js';
import { checkRecordFits, frameRecord, RECORD_HEADER_BYTES, scanRecords } from './record-framing.js';

/**
 * The write-ahead journal: one file that every list's updates are appended to, so one O_DSYNC
 * write makes a whole batch of updates from many lists durable (group commit across lists).
 * Per-list O_DSYNC writes cost ten times the system CPU for the same load and a longer fsync
 * tail (bench/fsync-patterns.mjs). The journal is a buffer in front of the per-list logs: its
 * contents are copied into them at checkpoints, and a segment is deleted only after that copy
 * is durable, so at any moment every acknowledged update is in a list log or in a segment.
 *
 * A segment file is `journal.<sequence>.wal`; each record is framed like a list log record
 * (length, CRC32) around [list id length: u8][list id: ASCII][Yjs update].
 */
const JOURNAL_PREFIX = 'journal.';
const JOURNAL_SUFFIX = '.wal';
const SEGMENT_NAME = /^journal\.(\d{1,15})\.wal$/;

export interface JournalRecord {
  readonly listId: string;
  readonly update: Uint8Array;
}

export function segmentSequence(name: string): number | undefined {
  const match = SEGMENT_NAME.exec(name);
  return match === null ? undefined : Number(match[1]);
}

function segmentName(sequence: number): string {
  return `${JOURNAL_PREFIX}${sequence}${JOURNAL_SUFFIX}`;
}

export function encodeJournalRecord(listId: string, update: Uint8Array): Buffer {
  checkRecordFits(1 + listId.length + update.length);
  const payload = Buffer.allocUnsafe(1 + listId.length + update.length);
  payload[0] = listId.length;
  payload.write(listId, 1, 'latin1');
  payload.set(update, 1 + listId.length);
  return frameRecord(payload);
}

export type SegmentScan =
  | { kind: 'complete' | 'torn'; records: JournalRecord[]; cutBytes: number }
  /** A damaged record (bad checksum, or fields that do not fit it or name no list): the records before it are kept. */
  | { kind: 'corrupt'; records: JournalRecord[]; offset: number };

export function decodeSegment(bytes: Uint8Array): SegmentScan {
  const scan = scanRecords(bytes);
  const records: JournalRecord[] = [];
  let offset = 0;
  for (const payload of scan.records) {
    const record = decodeRecord(payload);
    if (record === undefined) return { kind: 'corrupt', records, offset };
    records.push(record);
    offset += RECORD_HEADER_BYTES + payload.length;
  }
  if (scan.kind === 'corrupt') return { kind: 'corrupt', records, offset: scan.offset };
  return { kind: scan.kind, records, cutBytes: bytes.length - scan.validBytes };
}

/**
 * The journal record a payload holds, or undefined when its fields do not fit it. A checksum
 * only says the bytes are those written, not that they are a journal record (an empty payload
 * has a valid one too): each length is checked against the bytes there before it is used, so a
 * record that does not add up is damage to set aside, not an exception that fails the replay of
 * every list.
 */
function decodeRecord(payload: Uint8Array): JournalRecord | undefined {
  const idLength = payload[0];
  if (idLength === undefined || payload.length < 1 + idLength) return undefined;
  const listId = Buffer.from(payload.buffer, payload.byteOffset + 1, idLength).toString('latin1');
  if (!isValidListId(listId)) return undefined;
  return { listId, update: payload.subarray(1 + idLength) };
}

interface Waiter {
  resolve(): void;
  reject(error: unknown): void;
}

/**
 * One segment being written. Records queue while a write is in flight and all go out in the next
 * one. The first write after a pause starts once the current task and its microtasks are done
 * (process.nextTick from an append), not at once: the lists that cut a batch in the same turn
 * append from one task's microtasks (see sync/turn-batch.ts), and all share it. Started at once,
 * it carried only the first list's records and every other list waited for it: half the writes of
 * the benchmark held one record. Deferred to the next turn (setImmediate), it would wait for that
 * turn's I/O callbacks first.
 */
export class JournalSegment {
  private handle: FileHandle | undefined;
  private position = 0;
  private queued: Buffer[] = [];
  private waiters: Waiter[] = [];
  private writing = false;
  private failure: unknown;
  private readonly opened: Promise<void>;
  private drainResolvers: Array<() => void> = [];
  /** Bytes accepted into this segment (written or queued). */
  bytes = 0;

  /** `create` makes the file (exclusively) and makes its directory entry durable. */
  constructor(
    readonly filePath: string,
    create: (filePath: string) => Promise<FileHandle>,
    private readonly onWritten: (records: number, seconds: number) => void = () => undefined,
  ) {
    this.opened = create(filePath).then(
      (handle) => {
        this.handle = handle;
      },
      (error: unknown) => {
        this.failure = error;
      },
    );
  }

  /** Resolves once the records are on disk (written with O_DSYNC). */
  append(records: readonly Buffer[]): Promise<void> {
    if (this.failure !== undefined) return Promise.reject(asError(this.failure));
    for (const record of records) {
      this.queued.push(record);
      this.bytes += record.length;
    }
    return new Promise((resolve, reject) => {
      this.waiters.push({ resolve, reject });
      if (!this.writing) {
        this.writing = true;
        process.nextTick(() => void this.pump());
      }
    });
  }

  /** True once a write failed: later appends are refused, the segment must be replaced. */
  get failed(): boolean {
    return this.failure !== undefined;
  }

  /** Resolves when nothing is queued or in flight (whether the writes succeeded or not). */
  drained(): Promise<void> {
    if (!this.writing && this.queued.length === 0) return Promise.resolve();
    return new Promise<void>((resolve) => this.drainResolvers.push(resolve)).then(() => this.drained());
  }

  async closeFile(): Promise<void> {
    await this.opened;
    const handle = this.handle;
    this.handle = undefined;
    await handle?.close();
  }

  /** Closes the file and deletes it: once its records are in the list logs, or it holds nothing acknowledged. */
  async deleteFile(): Promise<void> {
    await this.closeFile();
    await removeIfExists(this.filePath);
  }

  private async pump(): Promise<void> {
    await this.opened;
    while (this.queued.length > 0 && this.failure === undefined) {
      const batch = Buffer.concat(this.queued);
      const records = this.queued.length;
      const waiters = this.waiters;
      this.queued = [];
      this.waiters = [];
      try {
        const handle = this.handle;
        if (handle === undefined) throw new Error('journal segment is closed');
        const started = performance.now();
        let written = 0;
        while (written < batch.length) {
          written += await writeAt(handle.fd, batch, written, this.position + written);
        }
        this.position += batch.length;
        this.onWritten(records, (performance.now() - started) / 1000);
        for (const waiter of waiters) waiter.resolve();
      } catch (error) {
        this.failure = error;
        for (const waiter of waiters) waiter.reject(error);
      }
    }
    if (this.failure !== undefined) {
      for (const waiter of this.waiters.splice(0)) waiter.reject(asError(this.failure));
      this.queued = [];
    }
    this.writing = false;
    for (const resolve of this.drainResolvers.splice(0)) resolve();
  }
}

/** Opens a new segment file: exclusive create, O_DSYNC so each write returns once durable. */
export function openSegmentFile(filePath: string): Promise<FileHandle> {
  return fs.open(filePath, fsConstants.O_RDWR | fsConstants.O_CREAT | fsConstants.O_EXCL | fsConstants.O_DSYNC, 0o644);
}

export function segmentPath(dataDir: string, sequence: number): string {
  return path.join(dataDir, segmentName(sequence));
}

/** The callback API: one request object per write instead of FileHandle's promise machinery. */
export function writeAt(fd: number, buffer: Buffer, offset: number, position: number): Promise<number> {
  return new Promise((resolve, reject) => {
    writeCallback(fd, buffer, offset, buffer.length - offset, position, (error, bytesWritten) =>
      error ? reject(error) : resolve(bytesWritten),
    );
  });
}

function asError(error: unknown): Error {
  return error instanceof Error ? error : new Error(String(error));
}

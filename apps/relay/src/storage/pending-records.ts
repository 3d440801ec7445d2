import { RECORD_HEADER_BYTES, frameInto, scanRecords } from './record-framing.js';

const INITIAL_BYTES = 1024;

/**
 * One list's journal records not yet copied into its log, framed as the log stores them, in one
 * growing buffer whose bytes live outside the JavaScript heap. They live until the next
 * checkpoint, seconds away: held as an array of updates, each one's few small objects survived two
 * young-generation collections and were copied by both. Under the benchmark's load each
 * collection copied 6–22 % less this way (docs/benchmark-history.md, "Sixteenth session").
 */
export class PendingRecords {
  private buffer = Buffer.allocUnsafe(INITIAL_BYTES);
  private used = 0;

  get byteLength(): number {
    return this.used;
  }

  /** Appends `updates`; returns where they start, for `truncate` should their journal write fail. */
  push(updates: readonly Uint8Array[]): number {
    const start = this.used;
    for (const update of updates) {
      this.reserve(RECORD_HEADER_BYTES + update.length);
      this.used += frameInto(this.buffer, this.used, update);
    }
    return start;
  }

  /** Forgets every record from `offset` on (a failed journal write and those queued after it). */
  truncate(offset: number): void {
    this.used = Math.min(this.used, offset);
  }

  /** The records, framed: what a list log appends as is. A view: valid until the next change. */
  framed(): Buffer {
    return this.buffer.subarray(0, this.used);
  }

  /** The updates, each a copy. */
  updates(): Uint8Array[] {
    return scanRecords(this.framed()).records;
  }

  private reserve(bytes: number): void {
    if (this.used + bytes <= this.buffer.length) return;
    const grown = Buffer.allocUnsafe(Math.max(this.buffer.length * 2, this.used + bytes));
    this.buffer.copy(grown, 0, 0, this.used);
    this.buffer = grown;
  }
}

import { describe, expect, it } from 'vitest';
import { PendingRecords } from '../src/storage/pending-records.js';
import { frameRecord, scanRecords } from '../src/storage/record-framing.js';

const update = (byte: number, length: number): Uint8Array => new Uint8Array(length).fill(byte);

describe('pending records (a list\'s journal records awaiting the checkpoint)', () => {
  it('[PR1] holds the records framed as the log stores them, in order, past many growths', () => {
    const pending = new PendingRecords();
    const updates = Array.from({ length: 300 }, (_, i) => update(i % 256, 1 + (i % 97)));
    for (let i = 0; i < updates.length; i += 3) pending.push(updates.slice(i, i + 3));
    expect(pending.framed()).toEqual(Buffer.concat(updates.map(frameRecord)));
    expect(pending.updates().map((u) => [...u])).toEqual(updates.map((u) => [...u]));
    expect(scanRecords(pending.framed()).kind).toBe('complete');
  });

  it('[PR2] truncate forgets the records from a push on (a failed journal write), and later pushes follow the kept ones', () => {
    const pending = new PendingRecords();
    pending.push([update(1, 10)]);
    const failed = pending.push([update(2, 2000), update(3, 5)]);
    pending.push([update(4, 7)]);
    pending.truncate(failed);
    expect(pending.updates().map((u) => [...u])).toEqual([[...update(1, 10)]]);
    // A write queued behind the failed one fails too and truncates to its own, later start: no effect.
    pending.truncate(failed + 2008);
    expect(pending.byteLength).toBe(18);
    pending.push([update(5, 3)]);
    expect(pending.updates().map((u) => [...u])).toEqual([[...update(1, 10)], [...update(5, 3)]]);
  });

  it('[PR3] the updates it returns are copies: later pushes do not change them', () => {
    const pending = new PendingRecords();
    pending.push([update(7, 4)]);
    const [first] = pending.updates();
    pending.truncate(0);
    pending.push([update(9, 4)]);
    expect([...(first ?? [])]).toEqual([7, 7, 7, 7]);
  });
});

import { open as openFile, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { decodeSegment, encodeJournalRecord, JournalSegment, openSegmentFile } from '../src/storage/journal.js';
import { frameRecord } from '../src/storage/record-framing.js';
import { directoryPerTest } from './helpers.js';

const LIST = 'journalListId00001';

describe('journal segment', () => {
  const directory = directoryPerTest('basket-segment-');

  it('[JS1] concurrent appends are all written, in call order, before they resolve', async () => {
    const segment = new JournalSegment(path.join(directory(), 'journal.1.wal'), openSegmentFile);
    const records = Array.from({ length: 20 }, (_, i) => encodeJournalRecord(LIST, new Uint8Array([i, i, i])));
    await Promise.all(records.map((record) => segment.append([record])));
    await segment.drained();
    await segment.closeFile();
    const scan = decodeSegment(await readFile(path.join(directory(), 'journal.1.wal')));
    expect(scan.kind).toBe('complete');
    expect(scan.records.map((r) => [...r.update])).toEqual(records.map((_, i) => [i, i, i]));
    expect(scan.records.every((r) => r.listId === LIST)).toBe(true);
  });

  it('[JS2] a segment whose file cannot be created refuses appends (nothing is acknowledged)', async () => {
    const segment = new JournalSegment(path.join(directory(), 'missing-dir', 'journal.1.wal'), openSegmentFile);
    await expect(segment.append([encodeJournalRecord(LIST, new Uint8Array([1]))])).rejects.toThrow(/ENOENT/);
    expect(segment.failed).toBe(true);
    await expect(segment.drained()).resolves.toBeUndefined();
  });

  it('[JS3] a failed write rejects its appends and every later one', async () => {
    const filePath = path.join(directory(), 'journal.1.wal');
    await writeFile(filePath, '');
    // Read-only: the write fails the way a full or broken disk would.
    const segment = new JournalSegment(filePath, (p) => openFile(p, 'r'));
    await expect(segment.append([encodeJournalRecord(LIST, new Uint8Array([1]))])).rejects.toThrow();
    expect(segment.failed).toBe(true);
    await expect(segment.append([encodeJournalRecord(LIST, new Uint8Array([2]))])).rejects.toThrow();
    await segment.closeFile();
  });

  it('[JS5] appends made in the microtasks of one task share one write', async () => {
    const writes: number[] = [];
    const segment = new JournalSegment(path.join(directory(), 'journal.1.wal'), openSegmentFile, (records) => void writes.push(records));
    await segment.append([encodeJournalRecord(LIST, new Uint8Array([0]))]);
    writes.length = 0;
    // As the relay's storage appends: each list's from a promise callback of the same task.
    const appended = await new Promise<Array<Promise<void>>>((resolve) => {
      setImmediate(() => {
        const appends: Array<Promise<void>> = [];
        for (let i = 1; i <= 3; i++) {
          void Promise.resolve().then(() => appends.push(segment.append([encodeJournalRecord(LIST, new Uint8Array([i]))])));
        }
        void Promise.resolve().then(() => resolve(appends));
      });
    });
    await Promise.all(appended);
    expect(writes).toEqual([3]);
    await segment.closeFile();
  });

  it('[JS4] a record whose list id is not a valid id is damage, not a list to write to', () => {
    const good = encodeJournalRecord(LIST, new Uint8Array([1]));
    const payload = Buffer.concat([Buffer.from([5]), Buffer.from('../..'), Buffer.from([9])]);
    const scan = decodeSegment(Buffer.concat([good, frameRecord(payload), good]));
    expect(scan.kind).toBe('corrupt');
    expect(scan.records).toHaveLength(1);
  });

  it('[JS6] a checksum-valid record too short for its own fields is damage, not an exception: an empty payload, or a list id running past the end', () => {
    const good = encodeJournalRecord(LIST, new Uint8Array([1]));
    const idPastTheEnd = Buffer.concat([Buffer.from([LIST.length]), Buffer.from(LIST.slice(0, 5), 'latin1')]);
    for (const payload of [new Uint8Array(0), idPastTheEnd]) {
      const scan = decodeSegment(Buffer.concat([good, frameRecord(payload), good]));
      expect(scan).toMatchObject({ kind: 'corrupt', offset: good.length });
      expect(scan.records).toHaveLength(1);
    }
  });
});

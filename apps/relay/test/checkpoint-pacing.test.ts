import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { forEachConcurrently, Pacer } from '../src/storage/concurrency.js';
import type { DiskStorageOptions } from '../src/storage/disk-storage.js';
import { DiskListStorage } from '../src/storage/disk-storage.js';
import { writeAt } from '../src/storage/journal.js';
import { scanRecords } from '../src/storage/record-framing.js';
import { directoryPerTest } from './helpers.js';

const recordsInLog = async (dir: string, listId: string): Promise<number> => scanRecords(await readFile(path.join(dir, `${listId}.log`))).records.length;

const listIds = ['pacedList00000001', 'pacedList00000002', 'pacedList00000003', 'pacedList00000004'];

describe('pacer', () => {
  it('[CP1] makes steps due evenly over its spread, and wakes every waiting step when hurried', async () => {
    const pacer = new Pacer(300, 3);
    const started = performance.now();
    await pacer.nextStep();
    await pacer.nextStep();
    expect(performance.now() - started).toBeGreaterThanOrEqual(90);
    // Hurrying is told apart by a spread far beyond any scheduling delay, not by a tight bound.
    const slow = new Pacer(60_000, 3);
    await slow.nextStep();
    const second = slow.nextStep();
    slow.hurry();
    await second;
    await slow.nextStep();
    expect(performance.now() - started).toBeLessThan(10_000);
  });

  it('[CP7] a loop widened by a promise runs one task at a time until it resolves, then up to its limit; never resolved, it still finishes', async () => {
    let inFlight = 0;
    const peaks: number[] = [];
    const task = async (): Promise<void> => {
      peaks.push(++inFlight);
      await new Promise((resolve) => setTimeout(resolve, 5));
      inFlight -= 1;
    };
    let widen!: () => void;
    const widened = new Promise<void>((resolve) => (widen = resolve));
    const items = Array.from({ length: 12 }, (_, i) => i);
    const loop = forEachConcurrently(items, 3, async (item) => {
      if (item === 4) widen();
      await task();
    }, widened);
    await loop;
    expect(Math.max(...peaks.slice(0, 4))).toBe(1);
    expect(Math.max(...peaks)).toBe(3);

    peaks.length = 0;
    await forEachConcurrently(items, 3, task, new Promise<void>(() => undefined));
    expect(peaks).toHaveLength(items.length);
    expect(Math.max(...peaks)).toBe(1);
  });
});

describe('checkpoints on the timer', () => {
  const directory = directoryPerTest('basket-pacing-');

  /** A storage with checkpoints every `intervalMs` (copies spread over half of it) that notes when each list log write starts. */
  const openTimed = (intervalMs: number): { storage: DiskListStorage; writeStarts: number[]; maxInFlight: () => number } => {
    const writeStarts: number[] = [];
    let inFlight = 0;
    let maxInFlight = 0;
    const storage = new DiskListStorage({
      dataDir: directory(),
      checkpointIntervalMs: intervalMs,
      writeLogBytes: async (fd, buffer, offset, position) => {
        writeStarts.push(performance.now());
        maxInFlight = Math.max(maxInFlight, ++inFlight);
        try {
          return await writeAt(fd, buffer, offset, position);
        } finally {
          inFlight -= 1;
        }
      },
    });
    return { storage, writeStarts, maxInFlight: () => maxInFlight };
  };


  it('[CP2] copy one list at a time, spread over half the interval, instead of in one burst', async () => {
    const { storage, writeStarts, maxInFlight } = openTimed(2000);
    await Promise.all(listIds.map((listId, i) => storage.append(listId, [new Uint8Array([i])])));
    // The checkpoint starts at 2 s; the last copy is due 750 ms later.
    const giveUpAt = performance.now() + 10_000;
    while (writeStarts.length < listIds.length && performance.now() < giveUpAt) await new Promise((resolve) => setTimeout(resolve, 20));
    expect(writeStarts).toHaveLength(listIds.length);
    // Due at 0, 250, 500 and 750 ms after the checkpoint starts.
    // (The first copy may start late, creating its log: a margin, far above a burst's few ms.)
    expect((writeStarts.at(-1) as number) - (writeStarts[0] as number)).toBeGreaterThanOrEqual(500);
    // Closing waits for the last copy, which may still be in flight.
    await storage.close();
    expect(maxInFlight()).toBe(1);
    for (const listId of listIds) expect(await recordsInLog(directory(), listId)).toBe(1);
  });

  it('[CP3] a shutdown during a spread checkpoint does not wait out its pacing', async () => {
    const { storage, writeStarts } = openTimed(4000);
    await Promise.all(listIds.map((listId, i) => storage.append(listId, [new Uint8Array([i])])));
    while (writeStarts.length === 0) await new Promise((resolve) => setTimeout(resolve, 5));
    const closing = performance.now();
    await storage.close();
    // Paced, the last copy would start 1.5 s after the first.
    expect(performance.now() - closing).toBeLessThan(1000);
    for (const listId of listIds) expect(await recordsInLog(directory(), listId)).toBe(1);
  });

  it('[CP6] a shutdown during a spread checkpoint copies the lists left two at a time, not one', async () => {
    const many = Array.from({ length: 40 }, (_, i) => `hurriedList${String(i).padStart(6, '0')}`);
    let inFlight = 0;
    let maxInFlightWhileClosing = 0;
    let closing = false;
    let writes = 0;
    const storage = new DiskListStorage({
      dataDir: directory(),
      checkpointIntervalMs: 4000,
      writeLogBytes: async (fd, buffer, offset, position) => {
        writes += 1;
        inFlight += 1;
        if (closing) maxInFlightWhileClosing = Math.max(maxInFlightWhileClosing, inFlight);
        try {
          // A loaded disk: each copy takes a while, so copies overlap if anything lets them.
          await new Promise((resolve) => setTimeout(resolve, 20));
          return await writeAt(fd, buffer, offset, position);
        } finally {
          inFlight -= 1;
        }
      },
    });
    await Promise.all(many.map((listId, i) => storage.append(listId, [new Uint8Array([i])])));
    while (writes === 0) await new Promise((resolve) => setTimeout(resolve, 5));
    closing = true;
    await storage.close();
    expect(maxInFlightWhileClosing).toBe(2);
    for (const listId of many) expect(await recordsInLog(directory(), listId)).toBe(1);
  });
});

describe('hurrying a spread checkpoint', () => {
  const directory = directoryPerTest('basket-pacing-hurry-');
  const waitFor = async (condition: () => boolean): Promise<void> => {
    const giveUpAt = performance.now() + 15_000;
    while (!condition() && performance.now() < giveUpAt) await new Promise((resolve) => setTimeout(resolve, 5));
    expect(condition()).toBe(true);
  };
  /** A storage whose first list log write waits until `release()` (a copy stuck on a loaded disk); notes when each write starts. */
  const openWithFirstCopyHeld = (options: Partial<DiskStorageOptions>): { storage: DiskListStorage; writeStarts: number[]; release: () => void } => {
    let release!: () => void;
    const held = new Promise<void>((resolve) => (release = resolve));
    const writeStarts: number[] = [];
    const storage = new DiskListStorage({
      dataDir: directory(),
      ...options,
      writeLogBytes: async (fd, buffer, offset, position) => {
        writeStarts.push(performance.now());
        if (writeStarts.length === 1) await held;
        return writeAt(fd, buffer, offset, position);
      },
    });
    return { storage, writeStarts, release };
  };

  it('[CP4] a shutdown hurries every generation of a spread checkpoint, not only the one being copied', async () => {
    let failing = true;
    const writeStarts: number[] = [];
    const storage = new DiskListStorage({
      dataDir: directory(),
      checkpointIntervalMs: 4000,
      writeLogBytes: async (fd, buffer, offset, position) => {
        if (failing) throw new Error('disk full');
        writeStarts.push(performance.now());
        return writeAt(fd, buffer, offset, position);
      },
    });
    const older = listIds;
    const newer = listIds.map((id) => id.replace('paced', 'later'));
    await Promise.all(older.map((listId, i) => storage.append(listId, [new Uint8Array([i])])));
    // A checkpoint that fails (a full disk) leaves its generation for the next one.
    await expect(storage.checkpoint()).rejects.toThrow(/disk full/);
    failing = false;
    await Promise.all(newer.map((listId, i) => storage.append(listId, [new Uint8Array([i])])));
    // The timer's checkpoint copies both generations, spread out.
    await waitFor(() => writeStarts.length > 0);
    const closing = performance.now();
    await storage.close();
    // Paced, the second generation's last copy would start 1.5 s after its first.
    expect(performance.now() - closing).toBeLessThan(1000);
    for (const listId of [...older, ...newer]) expect(await recordsInLog(directory(), listId)).toBe(1);
  });

  it('[CP8] a caller that asks for a checkpoint just as the timer starts one gets its own run unspread', async () => {
    // The timer's run is held at its first copy until the phones below have written.
    const { storage, writeStarts, release } = openWithFirstCopyHeld({ checkpointIntervalMs: 4000 });
    await Promise.all(listIds.map((listId, i) => storage.append(listId, [new Uint8Array([i])])));
    // The timer's run has started but not reached its copy (it waits a microtask for the
    // startup replay) when the caller asks: the caller waits for the run queued after it.
    const timerRun = (storage as unknown as { runCheckpoint: (pace: 'spread' | 'now') => Promise<void> }).runCheckpoint('spread');
    const asked = storage.checkpoint();
    await waitFor(() => writeStarts.length >= 1);
    // Phones keep writing: the queued run has lists of its own to copy.
    const later = listIds.map((id) => id.replace('paced', 'asked'));
    await Promise.all(later.map((listId, i) => storage.append(listId, [new Uint8Array([i])])));
    const waiting = performance.now();
    release();
    await Promise.all([timerRun, asked]);
    // Spread, the queued run's four copies would start over 1.5 s.
    expect(performance.now() - waiting).toBeLessThan(1000);
    for (const listId of [...listIds, ...later]) expect(await recordsInLog(directory(), listId)).toBe(1);
    await storage.close();
  });

  it('[CP5] a full segment hurries a spread checkpoint even when the timer has already queued the next one', async () => {
    // The first copy is slow (a loaded disk): the timer fires again while it runs.
    const { storage, writeStarts, release } = openWithFirstCopyHeld({ checkpointIntervalMs: 2000, journalSegmentBytes: 512 });
    await storage.append('slowList000000001', [new Uint8Array([1])]);
    await waitFor(() => writeStarts.length === 1);
    const checkpoints = (storage as unknown as { checkpoints: { hasQueuedRun: boolean } }).checkpoints;
    await waitFor(() => checkpoints.hasQueuedRun);
    // Fills the segment: the checkpoint that follows must copy at once, not spread out.
    await Promise.all(listIds.map((listId) => storage.append(listId, [new Uint8Array(200)])));
    release();
    await waitFor(() => writeStarts.length === 1 + listIds.length);
    // Spread, they would start over 750 ms.
    expect((writeStarts.at(-1) as number) - (writeStarts[1] as number)).toBeLessThan(400);
    await storage.close();
  });
});

import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { DataDirLock } from '../src/storage/data-dir-lock.js';
import { LOCK_FILE_NAME, lockDataDir } from '../src/storage/data-dir-lock.js';
import { killLockHelper, temporaryDirectory } from './helpers.js';

describe('one relay per DATA_DIR', () => {
  const cleanups: Array<() => Promise<void>> = [];
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  });

  async function acquired(dataDir: string): Promise<DataDirLock> {
    const outcome = await lockDataDir(dataDir, { waitMs: 0 });
    if (outcome.kind !== 'acquired') throw new Error(`expected the lock, got ${outcome.kind}`);
    cleanups.push(() => outcome.lock.release());
    return outcome.lock;
  }

  it('[L1] refuses a second holder, naming the first, and lets it in once the first releases', async () => {
    const { dir, remove } = await temporaryDirectory('basket-lock-');
    cleanups.push(remove);
    const dataDir = path.join(dir, 'not-yet-created');
    const first = await acquired(dataDir);
    const owner = JSON.parse(await readFile(path.join(dataDir, LOCK_FILE_NAME), 'utf8')) as { pid: number };
    expect(owner.pid).toBe(process.pid);

    const started = performance.now();
    const second = await lockDataDir(dataDir, { waitMs: 300 });
    expect(second.kind).toBe('held');
    if (second.kind === 'held') expect(second.owner?.pid).toBe(process.pid);
    // It waited for the holder to go away before giving up.
    expect(performance.now() - started).toBeGreaterThanOrEqual(250);

    const waiting = lockDataDir(dataDir, { waitMs: 5000 });
    await new Promise((resolve) => setTimeout(resolve, 100));
    await first.release();
    const third = await waiting;
    expect(third.kind).toBe('acquired');
    if (third.kind === 'acquired') await third.lock.release();
  });

  it('[L2] reports a lost lock when its helper dies, and not after a release', async () => {
    const { dir, remove } = await temporaryDirectory('basket-lock-');
    cleanups.push(remove);
    const released = await acquired(path.join(dir, 'released'));
    await released.release();
    const lock = await acquired(dir);
    killLockHelper(dir);
    await expect(lock.lost).resolves.toMatch(/lock helper exited/);
    const afterRelease = await Promise.race([released.lost.then(() => 'lost'), new Promise((resolve) => setTimeout(() => resolve('quiet'), 100))]);
    expect(afterRelease).toBe('quiet');
  });

  it('[L3] runs unlocked, and says so, where there is no flock command', async () => {
    const { dir, remove } = await temporaryDirectory('basket-lock-');
    cleanups.push(remove);
    const outcome = await lockDataDir(dir, { waitMs: 0, flockCommand: path.join(dir, 'no-such-flock') });
    expect(outcome).toEqual({ kind: 'unavailable', reason: 'no flock command on this system' });
  });
});

import { describe, expect, it } from 'vitest';
import { DiskListStorage } from '../src/storage/disk-storage.js';
import { GroupCommit } from '../src/sync/group-commit.js';
import { directoryPerTest } from './helpers.js';

/** A write whose completion the test controls. */
function controllableWrites() {
  const calls: Array<{ updates: readonly Uint8Array[]; finish: () => void; fail: (e: Error) => void }> = [];
  const write = (updates: readonly Uint8Array[]): Promise<void> =>
    new Promise((resolve, reject) => calls.push({ updates, finish: resolve, fail: reject }));
  return { calls, write };
}

const tick = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));
const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** A commit whose state vector is `v<version>`, recording each acknowledgement. */
function recordingCommit(write: (updates: readonly Uint8Array[]) => Promise<void>) {
  const state = { version: 0 };
  const acks: Array<{ vector: string; waiters: string[] }> = [];
  const commit = new GroupCommit<string>({
    write,
    readStateVector: () => new TextEncoder().encode(`v${state.version}`),
    onDurable: (vector, waiters) => acks.push({ vector: new TextDecoder().decode(vector), waiters: [...waiters.keys()] }),
    onWriteFailed: () => undefined,
  });
  return { commit, acks, state };
}

describe('group commit', () => {
  it('[G8] an acknowledgement that throws still lets the next batch be cut: updates that arrived during the write are written, and whenIdle resolves', async () => {
    const { calls, write } = controllableWrites();
    const acks: string[][] = [];
    const commit = new GroupCommit<string>({
      write,
      readStateVector: () => new Uint8Array([0]),
      onDurable: (_vector, waiters) => {
        acks.push([...waiters.keys()]);
        if (waiters.has('broken')) throw new Error('socket gone wrong');
      },
      onWriteFailed: () => undefined,
    });
    const unhandled: unknown[] = [];
    const onUnhandled = (reason: unknown): void => void unhandled.push(reason);
    process.on('unhandledRejection', onUnhandled);
    try {
      commit.add(new Uint8Array([1]));
      commit.addWaiter('broken', 0);
      await tick();
      // Arrives while the first write is in flight: it waits for the next batch.
      commit.add(new Uint8Array([2]));
      commit.addWaiter('dad', 0);
      calls[0]?.finish();
      await tick();
      await tick();
      expect(calls).toHaveLength(2);
      calls[1]?.finish();
      expect(await Promise.race([commit.whenIdle().then(() => 'idle'), sleep(1000).then(() => 'stuck')])).toBe('idle');
      expect(acks).toEqual([['broken'], ['dad']]);
      // Thrown on, not swallowed: the relay logs it (relay.unhandled_rejection).
      expect(unhandled).toHaveLength(1);
    } finally {
      process.off('unhandledRejection', onUnhandled);
    }
  });

  it('[G1] updates arriving during a write share the next write, and acks carry the vector read at the cut', async () => {
    const { calls, write } = controllableWrites();
    const { commit, acks, state } = recordingCommit(write);
    state.version = 1;
    commit.add(new Uint8Array([1]));
    commit.addWaiter('alice', 0);
    await tick();
    expect(calls).toHaveLength(1);
    state.version = 2;
    commit.add(new Uint8Array([2]));
    commit.addWaiter('bob', 0);
    state.version = 3;
    commit.add(new Uint8Array([3]));
    commit.addWaiter('carol', 0);
    await tick();
    expect(calls).toHaveLength(1);
    expect(acks).toEqual([]);
    calls[0]?.finish();
    await tick();
    await tick();
    expect(acks).toEqual([{ vector: 'v1', waiters: ['alice'] }]);
    expect(calls).toHaveLength(2);
    expect(calls[1]?.updates).toEqual([new Uint8Array([2]), new Uint8Array([3])]);
    state.version = 4;
    calls[1]?.finish();
    await tick();
    expect(acks.at(-1)).toEqual({ vector: 'v3', waiters: ['bob', 'carol'] });
    await commit.whenIdle();
  });

  it('[G2] a waiter with nothing new is acknowledged without a write once earlier writes are durable', async () => {
    const { calls, write } = controllableWrites();
    const acked: string[] = [];
    const commit = new GroupCommit<string>({
      write,
      readStateVector: () => new Uint8Array(),
      onDurable: (_v, waiters) => acked.push(...waiters.keys()),
      onWriteFailed: () => undefined,
    });
    commit.add(new Uint8Array([1]));
    await tick();
    commit.addWaiter('idle-phone', 0);
    await tick();
    expect(acked).toEqual([]);
    calls[0]?.finish();
    await tick();
    await tick();
    expect(acked).toEqual(['idle-phone']);
    expect(calls).toHaveLength(1);
  });

  it('[G3] a failed write acknowledges nobody; it is written again later with what came meanwhile, then everyone is acknowledged', async () => {
    const { calls, write } = controllableWrites();
    const acks: Array<{ vector: string; waiters: string[] }> = [];
    const retryDelays: Array<number | undefined> = [];
    let version = 0;
    const commit = new GroupCommit<string>({
      write,
      readStateVector: () => new TextEncoder().encode(`v${version}`),
      onDurable: (vector, waiters) => acks.push({ vector: new TextDecoder().decode(vector), waiters: [...waiters.keys()] }),
      onWriteFailed: (_error, retryInMs) => retryDelays.push(retryInMs),
      firstRetryDelayMs: 20,
      maxRetryDelayMs: 30,
    });
    version = 1;
    commit.add(new Uint8Array([1]));
    commit.addWaiter('alice', 0);
    await tick();
    version = 2;
    commit.add(new Uint8Array([2]));
    commit.addWaiter('bob', 0);
    calls[0]?.fail(new Error('disk full'));
    await tick();
    expect(retryDelays).toEqual([20]);
    expect(commit.pendingBytes).toBe(2);
    expect(calls).toHaveLength(1);
    await sleep(40);
    expect(calls[1]?.updates).toEqual([new Uint8Array([1]), new Uint8Array([2])]);
    calls[1]?.fail(new Error('still full'));
    await tick();
    expect(retryDelays).toEqual([20, 30]);
    await sleep(50);
    expect(acks).toEqual([]);
    calls[2]?.finish();
    await commit.whenIdle();
    expect(acks).toEqual([{ vector: 'v2', waiters: ['alice', 'bob'] }]);
  });

  it('[G9] a waiter removed while its batch is written is not brought back when that write fails ([LK1])', async () => {
    const { calls, write } = controllableWrites();
    const { commit, acks } = recordingCommit(write);
    commit.add(new Uint8Array([1]));
    commit.addWaiter('alice', 0);
    commit.addWaiter('bob', 0);
    await tick();
    // Bob's phone leaves while the write of his update is in flight; the write then fails.
    commit.removeWaiter('bob');
    calls[0]?.fail(new Error('disk full'));
    await tick();
    await sleep(600);
    calls[1]?.finish();
    await commit.whenIdle();
    // Put back with the failed batch, Bob was held (and acknowledged) until a write succeeded.
    expect(acks).toEqual([{ vector: 'v0', waiters: ['alice'] }]);
  });

  it('[G5] close() while a write waits for its retry tries once more at once, and gives up if that fails too', async () => {
    const { calls, write } = controllableWrites();
    const acked: string[] = [];
    const retryDelays: Array<number | undefined> = [];
    const commit = new GroupCommit<string>({
      write,
      readStateVector: () => new Uint8Array(),
      onDurable: (_v, waiters) => acked.push(...waiters.keys()),
      onWriteFailed: (_error, retryInMs) => retryDelays.push(retryInMs),
      firstRetryDelayMs: 60_000,
      maxRetryDelayMs: 60_000,
    });
    commit.add(new Uint8Array([1]));
    commit.addWaiter('alice', 0);
    await tick();
    calls[0]?.fail(new Error('disk full'));
    await tick();
    const closed = commit.close();
    await tick();
    expect(calls).toHaveLength(2);
    calls[1]?.fail(new Error('still full'));
    await closed;
    expect(acked).toEqual([]);
    expect(retryDelays).toEqual([60_000, undefined]);
  });

  it('[G6] after a write given up at close, nothing is acknowledged: later vectors would cover the lost updates', async () => {
    const { calls, write } = controllableWrites();
    const { commit, acks, state } = recordingCommit(write);
    state.version = 1;
    commit.add(new Uint8Array([1]));
    commit.addWaiter('alice', 0);
    await tick();
    const closed = commit.close();
    // Arrive while the last write is in flight (phones stay attached until the flush ends).
    commit.addWaiter('bob', 0);
    state.version = 2;
    commit.add(new Uint8Array([2]));
    commit.addWaiter('carol', 0);
    calls[0]?.fail(new Error('disk full'));
    await tick();
    await tick();
    // Whatever is still written, its vector (v2) covers update 1, which is not stored.
    for (const call of calls.slice(1)) call.finish();
    await closed;
    await tick();
    expect(acks).toEqual([]);
  });

  it('[G4] an exclusive task (compaction) runs between writes, never during one', async () => {
    const { calls, write } = controllableWrites();
    const events: string[] = [];
    const commit = new GroupCommit<string>({
      write: (updates) => {
        events.push(`write ${updates.length}`);
        return write(updates);
      },
      readStateVector: () => new Uint8Array(),
      onDurable: () => events.push('durable'),
      onWriteFailed: () => undefined,
    });
    commit.add(new Uint8Array([1]));
    await tick();
    const exclusive = commit.runExclusive(async () => {
      events.push('compaction');
    });
    commit.add(new Uint8Array([2]));
    await tick();
    expect(events).toEqual(['write 1']);
    calls[0]?.finish();
    await exclusive;
    await tick();
    await tick();
    expect(events.slice(0, 4)).toEqual(['write 1', 'durable', 'compaction', 'write 1']);
    calls[1]?.finish();
    await commit.whenIdle();
  });

  describe('with the disk storage', () => {
    const directory = directoryPerTest('basket-group-commit-');

    it('[G7] the batches of lists that receive updates in the same turn reach the journal in one write', async () => {
      const journalWrites: number[] = [];
      const storage = new DiskListStorage({
        dataDir: directory(),
        checkpointIntervalMs: 0,
        observer: { journalWritten: (records) => void journalWrites.push(records), checkpointed: () => undefined, failed: () => undefined },
      });
      const listIds = ['turnList000000001', 'turnList000000002', 'turnList000000003'];
      const commits = listIds.map((listId) => recordingCommit((updates) => storage.append(listId, updates)));
      await storage.append('turnList000000000', [new Uint8Array([0])]);
      journalWrites.length = 0;
      // One I/O callback, as when the messages of several phones on different lists are read in one turn.
      await new Promise<void>((resolve) =>
        setTimeout(() => {
          for (const { commit } of commits) {
            commit.add(new Uint8Array([1]));
            commit.addWaiter('phone', 0);
          }
          resolve();
        }, 0),
      );
      await Promise.all(commits.map(({ commit }) => commit.whenIdle()));
      expect(commits.map(({ acks }) => acks.length)).toEqual([1, 1, 1]);
      expect(journalWrites).toEqual([3]);
      await storage.close();
    });
  });
});

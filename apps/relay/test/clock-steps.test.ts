/**
 * The wall clock stepping under a running relay (an NTP correction, a VM resumed from suspend, an
 * operator fixing the date), backwards or forwards by an hour. The tests step Date.now itself and
 * leave every clock option at its default, while real time (and the monotonic clocks: timers,
 * performance.now) goes on as before. Whatever measures an interval (a back-off, an idle time, a
 * latency, a budget, a presence's age) must not change its behaviour with the step.
 */
import { mkdir, rmdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import * as encoding from 'lib0/encoding';
import * as Y from 'yjs';
import { afterEach, describe, expect, it, vi } from 'vitest';
import type WebSocket from 'ws';
import type { LogFields, Logger } from '../src/log.js';
import { DiskListStorage } from '../src/storage/disk-storage.js';
import { encodeJournalRecord, writeAt } from '../src/storage/journal.js';
import { isNewListsPaused } from '../src/storage/new-list-reserve.js';
import { MemoryListStorage } from '../src/storage/memory-storage.js';
import { Presence } from '../src/sync/presence.js';
import type { IncomingMessage } from '../src/sync/protocol.js';
import { decodeIncomingMessage, encodeAwarenessMessage } from '../src/sync/protocol.js';
import type { Phone, RunningRelay } from './helpers.js';
import { connectPhone, directoryPerTest, GatedStorage, newListId, openRawSocket, startRelay, waitFor } from './helpers.js';
import { fakePeer } from './room-fakes.js';

/**
 * The process's wall clock, steppable. Installed before any module is loaded: y-protocols (through
 * lib0/time) keeps its own reference to Date.now, so only a Date.now replaced this early is the one
 * it reads. Monotonic clocks (performance.now, hrtime, timers) are untouched, as in a real step.
 */
const wall = vi.hoisted(() => {
  const nativeNow = Date.now.bind(Date);
  const state = { offsetMs: 0 };
  Date.now = () => nativeNow() + state.offsetMs;
  return {
    /** Steps the wall clock by `ms` (negative: backwards), as NTP or an operator would. */
    step(ms: number): void {
      state.offsetMs += ms;
    },
    reset(): void {
      state.offsetMs = 0;
    },
  };
});

const HOUR = 3_600_000;
const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** A logger keeping every line, with its fields. */
function recordingLogger(): { logger: Logger; lines: Array<{ event: string; fields: LogFields }> } {
  const lines: Array<{ event: string; fields: LogFields }> = [];
  const keep = (event: string, fields?: LogFields): void => {
    lines.push({ event, fields: fields ?? {} });
  };
  return { lines, logger: { debug: keep, info: keep, warn: keep, error: keep } };
}

function updateSetting(key: string): Uint8Array {
  const doc = new Y.Doc();
  doc.getMap('items').set(key, { checked: false });
  return Y.encodeStateAsUpdate(doc);
}

/** A histogram's `_sum` and `_count` as /metrics renders them. */
function histogramTotals(rendered: string, name: string): { sum: number; count: number } {
  const read = (suffix: string): number => Number(new RegExp(`^${name}_${suffix} (\\S+)$`, 'm').exec(rendered)?.[1] ?? NaN);
  return { sum: read('sum'), count: read('count') };
}

const cleanups: Array<() => unknown> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  vi.useRealTimers();
  wall.reset();
});

describe('the wall clock stepping under the storage', () => {
  const dataDir = directoryPerTest('basket-clock-');
  const LIST = 'clockStepList0001';

  it('[CLK1] after a failed journal replay, a clock stepped back an hour keeps every list refused (and /healthz not ready) for that hour, though the disk was fixed and the back-off is 50 ms', async () => {
    // A journal segment that cannot be read (EISDIR): the replay fails, and so does every call.
    const segmentPath = path.join(dataDir(), 'journal.1.wal');
    await mkdir(segmentPath, { recursive: true });
    const storage = new DiskListStorage({ dataDir: dataDir(), journalReplayRetryMs: 50, checkpointIntervalMs: 0 });
    cleanups.push(() => storage.close().catch(() => undefined));
    await expect(storage.load(LIST)).rejects.toThrow('EISDIR');

    wall.step(-HOUR);
    // The operator fixes the disk; the segment now holds one readable record.
    await rmdir(segmentPath);
    await writeFile(segmentPath, encodeJournalRecord(LIST, updateSetting('milk')));
    // Well past the back-off (50 ms, at most 32 times that after failures in a row: none here).
    await sleep(300);

    const outcome = await storage.load(LIST).then(
      (loaded) => `loaded, ${loaded.updates.length} update(s)`,
      (error: unknown) => `refused with the replay error of before the step: ${String(error)}`,
    );
    expect(outcome, 'the list loads once the disk is fixed and the back-off is over').toBe('loaded, 1 update(s)');
    expect(storage.ready).toBe(true);
  });

  it('[CLK2] a clock stepped back an hour keeps the free-space reading of before the step for that hour: a family\'s new list stays refused (paused for the reserve) long after the operator made room', async () => {
    const MiB = 1024 * 1024;
    let free = 10 * MiB;
    const storage = new DiskListStorage({ dataDir: dataDir(), newListReserveBytes: 64 * MiB, freeBytes: async () => free, checkpointIntervalMs: 0 });
    cleanups.push(() => storage.close().catch(() => undefined));
    const fresh = newListId();
    await storage.load(fresh);
    await expect(storage.append(fresh, [updateSetting('eggs')])).rejects.toSatisfy(isNewListsPaused);

    wall.step(-HOUR);
    free = 500 * MiB;
    // The reading is reused for a second (maxAgeMs): after that the disk is read again.
    await sleep(1_300);

    const stored = await storage.append(fresh, [updateSetting('eggs')]).then(
      () => 'stored',
      (error: unknown) => (isNewListsPaused(error) ? 'refused: new lists paused' : String(error)),
    );
    expect(stored, 'the new list once the disk has room again (500 MiB free, 64 MiB reserve)').toBe('stored');
  });

  it('[CLK8] a clock stepped back while the journal is replayed at startup makes storage.journal_replayed report a negative duration (an hour the other way when stepped forward)', async () => {
    await mkdir(dataDir(), { recursive: true });
    await writeFile(path.join(dataDir(), 'journal.1.wal'), encodeJournalRecord(LIST, updateSetting('milk')));
    const { logger, lines } = recordingLogger();
    let stepped = false;
    const storage = new DiskListStorage({
      dataDir: dataDir(),
      logger,
      checkpointIntervalMs: 0,
      // The step comes while the replayed records are copied into the list logs.
      writeLogBytes: (fd, buffer, offset, position) => {
        if (!stepped) {
          stepped = true;
          wall.step(-HOUR);
        }
        return writeAt(fd, buffer, offset, position);
      },
    });
    cleanups.push(() => storage.close().catch(() => undefined));
    expect((await storage.load(LIST)).updates).toHaveLength(1);
    expect(stepped).toBe(true);

    const replayed = lines.find((line) => line.event === 'storage.journal_replayed');
    expect(replayed, 'the replay is logged').toBeDefined();
    const ms = replayed?.fields['ms'] as number;
    expect(ms, 'storage.journal_replayed ms: the replay took milliseconds').toBeGreaterThanOrEqual(0);
    expect(ms).toBeLessThan(60_000);
  });
});

describe('the wall clock stepping under the relay', () => {
  async function relay(options: Parameters<typeof startRelay>[0]): Promise<RunningRelay> {
    const running = await startRelay(options);
    cleanups.push(() => running.close());
    return running;
  }

  async function socketOn(running: RunningRelay, listId: string): Promise<WebSocket> {
    const socket = await openRawSocket(running.syncUrl, listId);
    cleanups.push(() => socket.terminate());
    await waitFor(() => running.relay.registry.get(listId)?.isReady === true, 3000, `list ${listId} loaded`);
    return socket;
  }

  /** Connects to `listId`, waits for it to load, then leaves it (no phone left on it). */
  async function visitAndLeave(running: RunningRelay, listId: string): Promise<void> {
    const socket = await socketOn(running, listId);
    socket.close();
    await waitFor(() => running.relay.registry.get(listId)?.peerCount === 0, 3000, `last phone left ${listId}`);
  }

  function phoneOn(running: RunningRelay, listId: string): Phone {
    const phone = connectPhone(running.syncUrl, listId);
    cleanups.push(() => phone.destroy());
    return phone;
  }

  it('[CLK3] after a failed compaction (a full disk, since given room), a clock stepped back an hour stops every compaction of the list for that hour instead of 10 s: its log grows with each write', async () => {
    class FullDiskOnce extends MemoryListStorage {
      compactions = 0;
      override compact(listId: string, snapshot: Uint8Array): Promise<void> {
        this.compactions += 1;
        if (this.compactions === 1) return Promise.reject(new Error('ENOSPC: no space left on device, write'));
        return super.compact(listId, snapshot);
      }
    }
    // Monotonic time is faked so that 10 s can pass at once; the wall clock is stepped with it.
    vi.useFakeTimers({ toFake: ['performance', 'hrtime'] });
    const passTime = (ms: number): void => {
      wall.step(ms);
      vi.advanceTimersByTime(ms);
    };
    const storage = new FullDiskOnce();
    const running = await relay({ storage, limits: { compactLogBytes: 1 } });
    const listId = newListId();
    const phone = phoneOn(running, listId);
    const write = async (item: string): Promise<void> => {
      phone.doc.getMap('items').set(item, item);
      await waitFor(() => phone.isFullyStored(), 3000, `${item} acknowledged`);
    };
    await write('milk');
    await waitFor(() => storage.compactions === 1, 3000, 'the first compaction (failing)');

    wall.step(-HOUR);
    // The retry delay (10 s) is over: the next write past the threshold compacts.
    passTime(10_001);
    await write('eggs');
    await waitFor(() => storage.compactions >= 2, 1_000).catch(() => undefined);
    expect(storage.compactions, 'compactions tried once 10 s have passed since the failed one').toBe(2);
  });

  it('[CLK4] a clock stepped back an hour keeps a list its family just left loaded for that hour: idle lists are not unloaded after IDLE_UNLOAD_MS', async () => {
    const running = await relay({ limits: { idleUnloadMs: 300 } });
    const listId = newListId();
    await visitAndLeave(running, listId);

    wall.step(-HOUR);
    // The sweep runs every 300 ms here: 300 ms idle, the list goes at the next one.
    const stillLoaded = (): boolean => running.relay.registry.get(listId) !== undefined;
    await waitFor(() => !stillLoaded(), 2_000).catch(() => undefined);
    expect(stillLoaded(), 'the list is still loaded 2 s after its last phone left (IDLE_UNLOAD_MS 300 ms)').toBe(false);
  });

  it('[CLK5] after a clock stepped back an hour, a list needing room evicts the idle list its family left a moment ago rather than the one idle longest (least recently used inverted)', async () => {
    const running = await relay({ limits: { maxLoadedLists: 2, idleUnloadMs: 60_000 } });
    const [longIdle, justLeft, next] = [newListId(), newListId(), newListId()];
    await visitAndLeave(running, longIdle);
    await sleep(50);

    wall.step(-HOUR);
    await visitAndLeave(running, justLeft);
    await sleep(50);
    // Two lists loaded, both idle: the third takes the place of the one left longest ago.
    await socketOn(running, next);
    await running.relay.registry.whenUnloaded();

    expect(running.relay.registry.get(justLeft), 'the list left a moment ago is still loaded').toBeDefined();
    expect(running.relay.registry.get(longIdle), 'the list idle longest was evicted').toBeUndefined();
  });

  it('[CLK6] a clock stepped forward an hour while an update waits for its write puts an hour-long acknowledgement into basket_relay_ack_seconds (an alert on ack latency fires for a write that took milliseconds)', async () => {
    const storage = new GatedStorage();
    const running = await relay({ storage });
    const phone = phoneOn(running, newListId());
    // Synced (its first, empty, acknowledgement) before the update the test times.
    await waitFor(() => phone.acks.length > 0, 3000, 'the phone synced');
    storage.holdAppends();
    const appendsBefore = storage.appendsStarted;
    phone.doc.getMap('items').set('milk', 'Milk');
    await waitFor(() => storage.appendsStarted > appendsBefore, 3000, 'the write started');

    wall.step(HOUR);
    storage.releaseAppends();
    await waitFor(() => phone.isFullyStored(), 3000, 'milk acknowledged');

    const { sum, count } = histogramTotals(running.relay.metrics.render(), 'basket_relay_ack_seconds');
    expect(count).toBeGreaterThanOrEqual(2);
    // Every acknowledgement here came within a second or so of its update.
    expect(sum, 'basket_relay_ack_seconds_sum (seconds, all acks together)').toBeLessThan(60);
  });

  it('[CLK7] a clock stepped back an hour during the shutdown compactions lifts SHUTDOWN_COMPACT_MS: the relay goes on compacting every loaded list, and the restart waits for it', async () => {
    const COMPACTION_MS = 150;
    class SlowCompaction extends MemoryListStorage {
      compactions = 0;
      override async compact(listId: string, snapshot: Uint8Array): Promise<void> {
        this.compactions += 1;
        if (this.compactions === 1) wall.step(-HOUR);
        await sleep(COMPACTION_MS);
        return super.compact(listId, snapshot);
      }
    }
    const storage = new SlowCompaction();
    // 48 lists with a log each: the shutdown compacts 32 at a time (SHUTDOWN_COMPACTION_CONCURRENCY).
    const lists = Array.from({ length: 48 }, () => newListId());
    for (const listId of lists) await storage.append(listId, [updateSetting(listId)]);
    // A budget shorter than one compaction: the 32 begun at once are the only ones.
    const running = await relay({ storage, limits: { shutdownCompactMs: 100 } });
    await Promise.all(lists.map((listId) => socketOn(running, listId)));

    await running.close();
    expect(storage.compactions, 'compactions begun within the 100 ms shutdown budget').toBeLessThanOrEqual(32);
  });
});

describe('the wall clock stepping under presence', () => {
  /** An awareness message as a y-websocket client sends it, decoded by the relay. */
  function presenceMessage(entries: ReadonlyArray<{ clientId: number; clock: number; state: unknown }>): Extract<IncomingMessage, { kind: 'awareness' }> {
    const update = encoding.createEncoder();
    encoding.writeVarUint(update, entries.length);
    for (const { clientId, clock, state } of entries) {
      encoding.writeVarUint(update, clientId);
      encoding.writeVarUint(update, clock);
      encoding.writeVarString(update, JSON.stringify(state));
    }
    const message = decodeIncomingMessage(encodeAwarenessMessage(encoding.toUint8Array(update)));
    if (message.kind !== 'awareness') throw new Error('not an awareness message');
    return message;
  }

  /** Presence on a list, with fake timers and monotonic clocks; `passTime` moves them and the wall clock together. */
  function presenceWithFakeTime(): { presence: Presence<object>; passTime: (ms: number) => void } {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'setInterval', 'clearInterval', 'performance', 'hrtime'] });
    const doc = new Y.Doc();
    const presence = new Presence<object>(doc, () => undefined);
    cleanups.push(() => {
      presence.destroy();
      doc.destroy();
    });
    const passTime = (ms: number): void => {
      for (let passed = 0; passed < ms; passed += 500) {
        wall.step(500);
        vi.advanceTimersByTime(500);
      }
    };
    return { presence, passTime };
  }

  it('[CLK9] a clock stepped forward an hour drops every phone present on a list within 3 s as timed out, though each renewed its presence seconds ago', () => {
    const { presence, passTime } = presenceWithFakeTime();
    const [mum, dad] = [fakePeer(1), fakePeer(2)];
    const hello = (clientId: number, name: string): Extract<IncomingMessage, { kind: 'awareness' }> => presenceMessage([{ clientId, clock: 1, state: { name } }]);
    presence.apply(mum, hello(1, 'Mum').entries);
    presence.apply(dad, hello(2, 'Dad').entries);
    passTime(5_000);

    wall.step(HOUR);
    // One of y-protocols' checks (every 3 s); both renewed 5 s ago and renew every 15 s.
    passTime(3_500);
    expect([presence.hasState(1), presence.hasState(2)], 'Mum and Dad still present').toEqual([true, true]);
  });

  it('[CLK10] a clock stepped back an hour keeps a presence nobody renews (a tab that crashed, passed along by another) for that hour instead of timing it out after 30 s', () => {
    const { presence, passTime } = presenceWithFakeTime();
    const mum = fakePeer(1);
    // Mum's connection carries her phone's state (client 1) and her second tab's (client 3).
    const both = presenceMessage([
      { clientId: 1, clock: 1, state: { name: 'Mum' } },
      { clientId: 3, clock: 1, state: { name: 'Mum (tab)' } },
    ]);
    presence.apply(mum, both.entries);

    wall.step(-HOUR);
    // The tab is gone: only the phone renews, every 15 s.
    for (const clock of [2, 3]) {
      passTime(15_000);
      const renewal = presenceMessage([{ clientId: 1, clock, state: { name: 'Mum' } }]);
      presence.apply(mum, renewal.entries);
    }
    passTime(4_000);
    expect(presence.hasState(1), 'the phone renewing stays').toBe(true);
    expect(presence.hasState(3), 'the tab not renewed for 34 s is timed out').toBe(false);
  });
});

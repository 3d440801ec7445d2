import { existsSync, fstatSync, readdirSync, readlinkSync, statSync } from 'node:fs';
import type { FileHandle } from 'node:fs/promises';
import path from 'node:path';
import * as Y from 'yjs';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { listLogsWithinFileLimit, openFileLimit } from '../src/file-limit.js';
import type { DiskStorageOptions } from '../src/storage/disk-storage.js';
import { DiskListStorage } from '../src/storage/disk-storage.js';
import { OpenLogs } from '../src/storage/open-logs.js';
import { writeAt } from '../src/storage/journal.js';
import { encodeSyncUpdate, MESSAGE_DURABLE_ACK } from '../src/sync/protocol.js';
import { openRawSocket, startRelay, temporaryDirectory, waitFor } from './helpers.js';

/**
 * The disk storage's open files are bounded whatever the number of loaded lists: list logs (an
 * LRU of `maxOpenLogs` handles), compactions, journal segments. A relay that kept every loaded
 * list's log open ran out of descriptors with a few hundred idle lists (EMFILE), failing
 * checkpoints, loads and accepts. Open files are counted through /proc (Linux).
 */
describe.runIf(existsSync('/proc/self/fd'))('open files of the disk storage', () => {
  let dir: string;
  let remove: () => Promise<void>;
  const storages: DiskListStorage[] = [];
  const open = (options: Partial<DiskStorageOptions> = {}): DiskListStorage => {
    const storage = new DiskListStorage({ dataDir: dir, checkpointIntervalMs: 0, ...options });
    storages.push(storage);
    return storage;
  };
  /** The files of DATA_DIR this process has open, by descriptor. */
  const openFilesOnce = (): Map<string, string> => {
    const targets = new Map<string, string>();
    for (const fd of readdirSync('/proc/self/fd')) {
      try {
        const target = readlinkSync(`/proc/self/fd/${fd}`);
        if (target.startsWith(dir + path.sep)) targets.set(fd, target);
      } catch {
        // closed since the listing
      }
    }
    return targets;
  };
  /**
   * Descriptors of this process open on files of DATA_DIR whose names end with one of `suffixes`.
   * One pass over /proc is not a snapshot: a descriptor read early can be closed and its file
   * replaced by one opened under a number read later, counting a file that is already closed.
   * Two passes that agree are one moment.
   */
  const openFilesEndingWith = (...suffixes: string[]): number => {
    for (let attempt = 0; ; attempt++) {
      const first = openFilesOnce();
      const second = openFilesOnce();
      const agree = first.size === second.size && [...first].every(([fd, target]) => second.get(fd) === target);
      if (agree || attempt === 20) return [...second.values()].filter((target) => suffixes.some((suffix) => target.endsWith(suffix))).length;
    }
  };
  /** One update per call, each adding `key` to the list's map. */
  const docs = new Map<string, Y.Doc>();
  const update = (listId: string, key: string): Uint8Array => {
    let doc = docs.get(listId);
    if (doc === undefined) {
      doc = new Y.Doc();
      docs.set(listId, doc);
    }
    const before = Y.encodeStateVector(doc);
    doc.getMap('items').set(key, `${listId}/${key}`);
    return Y.encodeStateAsUpdate(doc, before);
  };
  const itemsOf = (updates: readonly Uint8Array[]): unknown => {
    const doc = new Y.Doc();
    for (const u of updates) Y.applyUpdate(doc, u);
    return doc.getMap('items').toJSON();
  };
  const listIds = (count: number, prefix: string): string[] => Array.from({ length: count }, (_, i) => `${prefix}${String(i).padStart(4, '0')}`);

  beforeEach(async () => {
    ({ dir, remove } = await temporaryDirectory('basket-open-files-'));
    docs.clear();
  });
  afterEach(async () => {
    await Promise.all(storages.splice(0).map((s) => s.close()));
    await remove();
  });

  it('[O1] lists loaded with nobody writing keep at most maxOpenLogs logs open through checkpoints and compactions (plus one file per compaction running); every acknowledged update survives a restart', async () => {
    const cap = 4;
    const compactionSlots = 2;
    let peakFiles = 0;
    let peakLogs = 0;
    const sample = (): void => {
      // A compaction holds its temp snapshot, then (if the log is not among the open ones) the
      // log it truncates: its own budget, beside the logs held open (file-limit.ts).
      peakFiles = Math.max(peakFiles, openFilesEndingWith('.log', '.tmp'));
      peakLogs = Math.max(peakLogs, storage.openLogCount);
    };
    const storage = open({
      maxOpenLogs: cap,
      maxConcurrentCompactions: compactionSlots,
      // Sampled at every write into a list log, while the copies of a checkpoint are in flight.
      writeLogBytes: (fd, buffer, offset, position) => {
        sample();
        return writeAt(fd, buffer, offset, position);
      },
    });
    // Loaded (as by a phone that then left) and never released: the idle lists of the outage.
    const lists = listIds(24, 'openLogsList');
    for (const listId of lists) await storage.load(listId);
    for (let round = 0; round < 3; round++) {
      await Promise.all(lists.map((listId) => storage.append(listId, [update(listId, `round${round}`)])));
      if (round === 1) {
        // Compactions of some lists while a checkpoint copies the others.
        const compactions = lists.slice(0, 6).map((listId) => storage.compact(listId, Y.encodeStateAsUpdate(docs.get(listId) as Y.Doc)));
        await Promise.all([storage.checkpoint(), ...compactions]);
      } else {
        await storage.checkpoint();
      }
      sample();
    }
    expect(peakFiles).toBeGreaterThan(0);
    expect(peakLogs).toBeLessThanOrEqual(cap);
    expect(peakFiles).toBeLessThanOrEqual(cap + compactionSlots);
    expect(openFilesEndingWith('.log', '.tmp')).toBeLessThanOrEqual(cap);

    // A restart reads every list back from its files alone.
    await storage.close();
    const restarted = open({ maxOpenLogs: cap });
    for (const listId of lists) {
      expect(itemsOf((await restarted.load(listId)).updates)).toEqual(docs.get(listId)?.getMap('items').toJSON());
    }
  });

  it('[O2] by default the cap is the share of the open-file limit that file-limit.ts budgets for list logs', () => {
    expect(open().maxOpenLogs).toBe(listLogsWithinFileLimit(openFileLimit()));
    expect(listLogsWithinFileLimit(300)).toBe(75);
  });

  it('[O6] a relay whose lists stay loaded after their phones leave keeps at most maxOpenLogs logs open; every acknowledged item survives', async () => {
    const cap = 6;
    // Checkpoints every 20 ms; lists stay loaded (IDLE_UNLOAD_MS: 30 s) once their phone left.
    const running = await startRelay({ storage: new DiskListStorage({ dataDir: dir, checkpointIntervalMs: 20, maxOpenLogs: cap }) });
    const lists = listIds(30, 'relayIdleList');
    let peak = 0;
    try {
      for (const [i, listId] of lists.entries()) {
        // One phone at a time, as in the outage: connect, write one item, wait for its ack, leave.
        const socket = await openRawSocket(running.syncUrl, listId);
        let acked = false;
        socket.on('message', (data: Buffer) => {
          if (data[0] === MESSAGE_DURABLE_ACK) acked = true;
        });
        socket.send(encodeSyncUpdate(update(listId, `item${i}`)));
        await waitFor(() => acked, 5000, `ack on ${listId}`);
        socket.terminate();
        peak = Math.max(peak, openFilesEndingWith('.log'));
      }
      // Let the last checkpoints copy everything.
      await new Promise((resolve) => setTimeout(resolve, 100));
      peak = Math.max(peak, openFilesEndingWith('.log'));
      expect(running.relay.registry.loadedCount).toBe(lists.length);
    } finally {
      await running.close();
    }
    expect(peak).toBeGreaterThan(0);
    expect(peak).toBeLessThanOrEqual(cap);
    const restarted = open();
    for (const [i, listId] of lists.entries()) {
      expect(itemsOf((await restarted.load(listId)).updates)).toEqual({ [`item${i}`]: `${listId}/item${i}` });
    }
  });

  it('[O3] a log is never closed under a write in flight: with every slot taken, copies and compactions wait their turn', async () => {
    const wrongFile: string[] = [];
    const slowInodes = new Set<number>();
    const storage = open({
      maxOpenLogs: 2,
      // The checkpoint copies two lists at once. Writes into every other list are slow, so the
      // copy of the next list asks for a slot while the least recently opened log is still being
      // written: it must close the other one (idle) or wait, never that one. The descriptor must
      // still be this list's log when the write runs (not closed, not reused for another file).
      writeLogBytes: async (fd, buffer, offset, position) => {
        const inode = fstatSync(fd).ino;
        await new Promise((resolve) => setTimeout(resolve, slowInodes.has(inode) ? 8 : 1));
        const still = fstatSync(fd).ino;
        if (still !== inode) wrongFile.push(`fd ${fd} changed file during a write`);
        return writeAt(fd, buffer, offset, position);
      },
    });
    const lists = listIds(8, 'twoSlotsLogList');
    for (const listId of lists) await storage.load(listId);
    for (let round = 0; round < 3; round++) {
      await Promise.all(lists.map((listId) => storage.append(listId, [update(listId, `round${round}`)])));
      // The logs exist from the first checkpoint on: from then, even lists write slowly.
      for (const [i, listId] of lists.entries()) {
        const log = path.join(dir, `${listId}.log`);
        if (i % 2 === 0 && existsSync(log)) slowInodes.add(statSync(log).ino);
      }
      const compactions = lists.slice(4).map((listId) => storage.compact(listId, Y.encodeStateAsUpdate(docs.get(listId) as Y.Doc)));
      await Promise.all([storage.checkpoint(), ...compactions]);
      expect(openFilesEndingWith('.log')).toBeLessThanOrEqual(2);
    }
    expect(wrongFile).toEqual([]);
    for (const listId of lists) {
      expect(itemsOf((await storage.load(listId)).updates)).toEqual(docs.get(listId)?.getMap('items').toJSON());
    }
    await storage.close();
    const restarted = open();
    for (const listId of lists) {
      expect(itemsOf((await restarted.load(listId)).updates)).toEqual(docs.get(listId)?.getMap('items').toJSON());
    }
  });

  it('[O4] compactions run at most maxConcurrentCompactions at once (each holds a file), however many lists unload together', async () => {
    let running = 0;
    let peak = 0;
    const storage = open({
      maxConcurrentCompactions: 2,
      afterCompactionStep: (step) => {
        if (step === 'temp-written') peak = Math.max(peak, ++running);
        if (step === 'log-truncated') running -= 1;
      },
    });
    const lists = listIds(10, 'compactingList');
    for (const listId of lists) await storage.append(listId, [update(listId, 'one')]);
    await storage.checkpoint();
    await Promise.all(lists.map((listId) => storage.compact(listId, Y.encodeStateAsUpdate(docs.get(listId) as Y.Doc))));
    expect(peak).toBeGreaterThan(0);
    expect(peak).toBeLessThanOrEqual(2);
    for (const listId of lists) expect(itemsOf((await storage.load(listId)).updates)).toEqual({ one: `${listId}/one` });
  });

  it('[O5] checkpoints failing one after another (a full disk) do not keep a journal segment open each', async () => {
    let full = true;
    const storage = open({
      writeLogBytes: (fd, buffer, offset, position) =>
        full ? Promise.reject(Object.assign(new Error('ENOSPC: no space left on device, write'), { code: 'ENOSPC' })) : writeAt(fd, buffer, offset, position),
    });
    const listId = 'fullDiskJournalList';
    for (let attempt = 0; attempt < 5; attempt++) {
      await storage.append(listId, [update(listId, `attempt${attempt}`)]);
      await expect(storage.checkpoint()).rejects.toThrow('ENOSPC');
    }
    // Closing a rotated segment waits for its writes in flight: give it a moment.
    for (let i = 0; i < 50 && openFilesEndingWith('.wal') > 1; i++) await new Promise((resolve) => setTimeout(resolve, 10));
    expect(openFilesEndingWith('.wal')).toBeLessThanOrEqual(1);
    full = false;
    await storage.checkpoint();
    expect(readdirSync(dir).filter((name) => name.endsWith('.wal'))).toEqual([]);
    expect(Object.keys(itemsOf((await storage.load(listId)).updates) as object)).toHaveLength(5);
  });
});

describe('OpenLogs (the cache of list log handles)', () => {
  /** Handles that only record their closing; `opened` counts opens by list. */
  const fakeLogs = (limit: number, failing = new Set<string>()): { logs: OpenLogs; events: string[]; peak: () => number } => {
    const events: string[] = [];
    let open = 0;
    let peak = 0;
    const logs = new OpenLogs(limit, async (listId) => {
      await new Promise((resolve) => setImmediate(resolve));
      if (failing.has(listId)) throw new Error(`EMFILE opening ${listId}`);
      open += 1;
      peak = Math.max(peak, open);
      events.push(`open ${listId}`);
      const handle = {
        close: async () => {
          await new Promise((resolve) => setImmediate(resolve));
          open -= 1;
          events.push(`close ${listId}`);
        },
      } as unknown as FileHandle;
      return { handle, bytes: 0 };
    });
    return { logs, events, peak: () => peak };
  };
  const gate = (): { wait: Promise<void>; open: () => void } => {
    let open = (): void => undefined;
    const wait = new Promise<void>((resolve) => {
      open = resolve;
    });
    return { wait, open };
  };

  it('[O7] past the limit the least recently used idle log is closed; when all are in use the next waits, and none is closed under its task', async () => {
    const { logs, events, peak } = fakeLogs(2);
    const a = gate();
    const b = gate();
    const usingA = logs.use('a', async () => {
      events.push('a writing');
      await a.wait;
      events.push('a written');
    });
    const usingB = logs.use('b', async () => {
      await b.wait;
    });
    let cRan = false;
    const usingC = logs.use('c', async () => {
      cRan = true;
    });
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(cRan).toBe(false); // both slots in use: c waits
    expect(logs.fileCount).toBe(2);
    a.open();
    await usingA;
    await usingC;
    expect(cRan).toBe(true);
    // a was closed only after its write returned, to make room for c; b (in use) was not touched.
    expect(events.indexOf('close a')).toBeGreaterThan(events.indexOf('a written'));
    expect(events).not.toContain('close b');
    b.open();
    await usingB;
    // d takes b's slot (b is now the least recently used idle log; c was used after it).
    await logs.use('d', async () => undefined);
    expect(events.at(-2)).toBe('close b');
    expect(peak()).toBeLessThanOrEqual(2);
    await logs.closeAll();
    expect(logs.fileCount).toBe(0);
  });

  it('[O8] a failed open gives its slot back; a log discarded by its own task is closed once the task is done', async () => {
    const { logs, events } = fakeLogs(1, new Set(['broken']));
    await expect(logs.use('broken', async () => undefined)).rejects.toThrow('EMFILE');
    expect(logs.fileCount).toBe(0);
    await expect(
      logs.use('x', async () => {
        await logs.discard('x');
        events.push('x still writing');
        throw new Error('write failed');
      }),
    ).rejects.toThrow('write failed');
    expect(events).toEqual(['open x', 'x still writing', 'close x']);
    expect(logs.fileCount).toBe(0);
    expect(logs.has('x')).toBe(false);
  });
});

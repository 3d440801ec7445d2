import { appendFile, readdir, readFile, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import * as Y from 'yjs';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { CompactionStep } from '../src/storage/disk-storage.js';
import { DiskListStorage } from '../src/storage/disk-storage.js';
import { frameRecord, scanRecords } from '../src/storage/record-framing.js';
import { temporaryDirectory } from './helpers.js';

const LIST = 'recoveryListId0001';

function itemsOf(updates: readonly Uint8Array[]): unknown {
  const doc = new Y.Doc();
  for (const update of updates) Y.applyUpdate(doc, update);
  return doc.getMap('items').toJSON();
}

function makeUpdates(count: number, source = new Y.Doc()): { source: Y.Doc; updates: Uint8Array[] } {
  const updates: Uint8Array[] = [];
  source.on('update', (u: Uint8Array) => updates.push(u));
  for (let i = 0; i < count; i++) source.getMap('items').set(`item${i}`, `value ${i}`);
  return { source, updates };
}

describe('record framing', () => {
  it('round-trips records and reports a complete file', () => {
    const payloads = [new Uint8Array([1, 2, 3]), new Uint8Array(0), new Uint8Array(1000).fill(7)];
    const scan = scanRecords(Buffer.concat(payloads.map(frameRecord)));
    expect(scan.kind).toBe('complete');
    expect(scan.records).toEqual(payloads);
  });

  it('treats a cut-off last record as torn at every cut point', () => {
    const file = Buffer.concat([frameRecord(new Uint8Array([1, 2, 3])), frameRecord(new Uint8Array([4, 5, 6, 7]))]);
    const firstEnd = 8 + 3;
    for (let cut = firstEnd + 1; cut < file.length; cut++) {
      const scan = scanRecords(file.subarray(0, cut));
      expect(scan.kind).toBe('torn');
      expect(scan.validBytes).toBe(firstEnd);
      expect(scan.records).toEqual([new Uint8Array([1, 2, 3])]);
    }
  });

  it('reports a flipped byte in a middle record as corrupt, keeping the records before it', () => {
    const records = [new Uint8Array([1, 2, 3]), new Uint8Array([4, 5, 6]), new Uint8Array([7, 8, 9])];
    const file = Buffer.concat(records.map(frameRecord));
    file[11 + 9] = (file[11 + 9] as number) ^ 0xff;
    const scan = scanRecords(file);
    expect(scan.kind).toBe('corrupt');
    expect(scan.records).toEqual([records[0]]);
  });

  it('treats a zero-filled tail as torn', () => {
    const file = Buffer.concat([frameRecord(new Uint8Array([1])), Buffer.alloc(64)]);
    const scan = scanRecords(file);
    expect(scan.kind).toBe('torn');
    expect(scan.records).toHaveLength(1);
  });
});

describe('disk storage recovery', () => {
  let dir: string;
  let remove: () => Promise<void>;
  const storages: DiskListStorage[] = [];
  const open = (afterCompactionStep?: (step: CompactionStep) => void): DiskListStorage => {
    const storage = new DiskListStorage({ dataDir: dir, afterCompactionStep, now: () => 1234 });
    storages.push(storage);
    return storage;
  };

  beforeEach(async () => {
    ({ dir, remove } = await temporaryDirectory('basket-recovery-'));
  });
  afterEach(async () => {
    await Promise.all(storages.splice(0).map((s) => s.close()));
    await remove();
  });

  it('creates no files for a list that is only loaded', async () => {
    const storage = open();
    await storage.load(LIST);
    await storage.release(LIST);
    expect(await readdir(dir).catch(() => [])).toEqual([]);
  });

  it('cuts a torn log tail, keeps every complete record, and appends after it', async () => {
    const { source, updates } = makeUpdates(3);
    await open().append(LIST, updates);
    const logPath = path.join(dir, `${LIST}.log`);
    const torn = frameRecord(new Uint8Array(50).fill(9)).subarray(0, 30);
    await appendFile(logPath, torn);
    const reopened = open();
    const stored = await reopened.load(LIST);
    expect(itemsOf(stored.updates)).toEqual(source.getMap('items').toJSON());
    expect(stored.updates).toHaveLength(3);
    const more = makeUpdates(1, source).updates;
    await reopened.append(LIST, more);
    const again = await open().load(LIST);
    expect(again.updates).toHaveLength(4);
  });

  it('quarantines a log corrupted in the middle and keeps the intact prefix', async () => {
    const { updates } = makeUpdates(3);
    await open().append(LIST, updates);
    const logPath = path.join(dir, `${LIST}.log`);
    const bytes = await readFile(logPath);
    const secondRecordPayload = 8 + (updates[0] as Uint8Array).length + 8;
    bytes[secondRecordPayload] = (bytes[secondRecordPayload] as number) ^ 0xff;
    await writeFile(logPath, bytes);
    const stored = await open().load(LIST);
    expect(stored.updates).toEqual([updates[0]]);
    const quarantined = await readdir(path.join(dir, 'quarantine'));
    expect(quarantined).toEqual([`${LIST}.log.1234`]);
    expect(await readFile(path.join(dir, 'quarantine', quarantined[0] as string))).toEqual(bytes);
    // The rewritten log holds the intact prefix, so the next load sees no corruption.
    expect((await open().load(LIST)).updates).toEqual([updates[0]]);
  });

  it('quarantines a corrupt snapshot instead of overwriting it', async () => {
    const { source, updates } = makeUpdates(2);
    const storage = open();
    await storage.append(LIST, updates);
    await storage.compact(LIST, Y.encodeStateAsUpdate(source));
    const snapshotPath = path.join(dir, `${LIST}.snapshot`);
    const bytes = await readFile(snapshotPath);
    bytes[bytes.length - 1] = (bytes[bytes.length - 1] as number) ^ 0x01;
    await writeFile(snapshotPath, bytes);
    const stored = await open().load(LIST);
    expect(stored.updates).toEqual([]);
    expect(await readdir(path.join(dir, 'quarantine'))).toEqual([`${LIST}.snapshot.1234`]);
  });

  const steps: CompactionStep[] = ['temp-written', 'temp-synced', 'renamed', 'directory-synced', 'log-truncated'];
  for (const step of steps) {
    it(`keeps every update when compaction is interrupted after "${step}"`, async () => {
      const { source, updates } = makeUpdates(6);
      const crashing = open((reached) => {
        if (reached === step) throw new Error(`simulated crash after ${step}`);
      });
      await crashing.append(LIST, updates.slice(0, 4));
      // The snapshot holds more than the log: accepted-but-unwritten updates may be included.
      const compaction = crashing.compact(LIST, Y.encodeStateAsUpdate(source));
      await expect(compaction).rejects.toThrow('simulated crash');
      const stored = await open().load(LIST);
      const recovered = itemsOf(stored.updates) as Record<string, string>;
      for (let i = 0; i < 4; i++) expect(recovered[`item${i}`]).toBe(`value ${i}`);
      expect(await readdir(dir)).not.toContain(`${LIST}.snapshot.tmp`);
    });
  }

  it('a finished compaction leaves one snapshot and an empty log', async () => {
    const { source, updates } = makeUpdates(4);
    const storage = open();
    await storage.append(LIST, updates);
    await storage.compact(LIST, Y.encodeStateAsUpdate(source));
    expect((await stat(path.join(dir, `${LIST}.log`))).size).toBe(0);
    const stored = await open().load(LIST);
    expect(stored.updates).toHaveLength(1);
    expect(itemsOf(stored.updates)).toEqual(source.getMap('items').toJSON());
  });

  it('refuses list ids that could escape DATA_DIR', async () => {
    const storage = open();
    for (const id of ['../../etc/passwd', '..', 'a/b/c/d/e/f/g/h/i/j', 'short', '']) {
      await expect(storage.append(id, [new Uint8Array([0, 0])])).rejects.toThrow('invalid list id');
    }
    expect(await readdir(dir).catch(() => [])).toEqual([]);
  });
});

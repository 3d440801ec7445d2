import type { ChildProcess } from 'node:child_process';
import { spawn } from 'node:child_process';
import { constants as fsConstants, promises as fs } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import * as Y from 'yjs';
import { describe, expect, it, vi } from 'vitest';
import { recordInventory } from '../src/backup/inventory.js';
import { BACKUP_MANIFEST, BackupError, copyLiveDataDir, listIdsIn } from '../src/backup/live-copy.js';
import { verifyCopy } from '../src/backup/verify-copy.js';
import { DamagedBackup, restoreDataDir } from '../src/backup/restore.js';
import { unfinishedRestores, writeSwap } from '../src/backup/restore-progress.js';
import type { LogFields, Logger } from '../src/log.js';
import { LOCK_FILE_NAME, lockDataDir } from '../src/storage/data-dir-lock.js';
import { DiskListStorage } from '../src/storage/disk-storage.js';
import { readIfExists } from '../src/storage/file-ops.js';
import { frameRecord, RECORD_HEADER_BYTES, scanRecords } from '../src/storage/record-framing.js';
import { encodeJournalRecord } from '../src/storage/journal.js';
import { AcknowledgedWriter } from './acknowledged-writer.js';
import { connectPhone, directoryPerTest, startRelay, waitFor, whenListening } from './helpers.js';

const relayRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

/** A list's next update: one new item, as a phone would send it. */
function addItem(doc: Y.Doc, key: string): Uint8Array {
  const before = Y.encodeStateVector(doc);
  doc.getMap('items').set(key, key);
  return Y.encodeStateAsUpdate(doc, before);
}

/** The items a DATA_DIR holds for a list, read as the relay reads them at its start. */
async function itemsIn(dataDir: string, listId: string): Promise<string[]> {
  const storage = new DiskListStorage({ dataDir, checkpointIntervalMs: 0 });
  try {
    const doc = new Y.Doc();
    for (const update of (await storage.load(listId)).updates) Y.applyUpdate(doc, update);
    return [...doc.getMap('items').keys()].sort();
  } finally {
    await storage.close();
  }
}

/** Stores each list's updates in `dataDir` as the relay does (in its journal), then closes the storage. */
async function storeLists(dataDir: string, updatesByList: Record<string, Uint8Array[]>): Promise<void> {
  const storage = new DiskListStorage({ dataDir, checkpointIntervalMs: 0 });
  for (const [listId, updates] of Object.entries(updatesByList)) await storage.append(listId, updates);
  await storage.close();
}

interface CommandOutput {
  readonly status: number | null;
  readonly stdout: string;
  readonly lines: Record<string, unknown>[];
}

/** Runs the backup command (from source) on `dataDir`, without blocking this process's event loop. */
function runCommand(args: readonly string[], dataDir: string, options: { umask?: string } = {}): Promise<CommandOutput> {
  return startCommand(args, dataDir, options).output;
}

function startCommand(args: readonly string[], dataDir: string, { umask = '022' }: { umask?: string } = {}): { child: ChildProcess; output: Promise<CommandOutput> } {
  const command = [process.execPath, '--import', 'tsx', 'src/backup/main.ts', ...args];
  const child = spawn('/bin/sh', ['-c', `umask ${umask} && exec "$@"`, 'backup-command', ...command], {
    cwd: relayRoot,
    env: { ...process.env, DATA_DIR: dataDir, LOG_LEVEL: 'info' },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  let stdout = '';
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
    stdout += chunk;
  });
  const output = new Promise<CommandOutput>((resolve) =>
    child.once('close', (status) => {
      const lines = stdout.split('\n').filter((line) => line.startsWith('{')).map((line) => JSON.parse(line) as Record<string, unknown>);
      resolve({ status, stdout, lines });
    }),
  );
  return { child, output };
}

/** Waits until `count` names in `dir` start with `prefix`. */
async function untilNameIn(dir: string, prefix: string, count = 1): Promise<void> {
  const deadline = performance.now() + 20_000;
  while ((await fs.readdir(dir)).filter((name) => name.startsWith(prefix)).length < count) {
    if (performance.now() > deadline) throw new Error(`timed out waiting for ${prefix}* in ${dir}`);
    await new Promise((resolve) => setTimeout(resolve, 2));
  }
}

/** A logger that keeps its lines' events. */
function recordingLogger(): { logger: Logger; events: string[] } {
  const events: string[] = [];
  const keep = (event: string, _fields?: LogFields): void => {
    events.push(event);
  };
  return { events, logger: { debug: keep, info: keep, warn: keep, error: keep } };
}

/** A DATA_DIR holding `count` lists of one item each, written as a relay's checkpoint leaves them (quickly: nothing synced). */
async function manyLists(dataDir: string, count: number): Promise<void> {
  await fs.mkdir(dataDir, { recursive: true });
  for (let index = 0; index < count; index++) {
    const listId = `backupManyLists${String(index).padStart(5, '0')}`;
    await fs.writeFile(path.join(dataDir, `${listId}.log`), frameRecord(addItem(new Y.Doc(), listId)));
  }
}

describe('backups of a running relay', () => {
  const directory = directoryPerTest('basket-backup-');

  it('[BK1] records moving journal → log → snapshot between the backup\'s reads are all in it', async () => {
    const dataDir = path.join(directory(), 'data');
    const storage = new DiskListStorage({ dataDir, checkpointIntervalMs: 0 });
    const docs = { inJournal: new Y.Doc(), inLog: new Y.Doc(), compacted: new Y.Doc() };
    const ids = { inJournal: 'backupListInJournal1', inLog: 'backupListInLogFile1', compacted: 'backupListCompacted1' };
    await storage.append(ids.compacted, [addItem(docs.compacted, 'c1')]);
    await storage.compact(ids.compacted, Y.encodeStateAsUpdate(docs.compacted));
    await storage.append(ids.compacted, [addItem(docs.compacted, 'c2')]);
    await storage.append(ids.inLog, [addItem(docs.inLog, 'l1')]);
    await storage.checkpoint();
    await storage.append(ids.inLog, [addItem(docs.inLog, 'l2')]);
    await storage.append(ids.inJournal, [addItem(docs.inJournal, 'j1')]);
    const steps: string[] = [];
    const destination = path.join(directory(), 'backup');
    await copyLiveDataDir(dataDir, destination, {
      afterStep: async (step) => {
        steps.push(step);
        // What the copy read next has moved on by then: a copy reading in any other order misses it.
        if (step === 'journal-copied') await storage.checkpoint();
        else for (const key of Object.keys(ids) as (keyof typeof ids)[]) await storage.compact(ids[key], Y.encodeStateAsUpdate(docs[key]));
      },
    });
    await storage.close();
    expect(steps).toEqual(['journal-copied', 'logs-copied']);
    expect(await itemsIn(destination, ids.inJournal)).toEqual(['j1']);
    expect(await itemsIn(destination, ids.inLog)).toEqual(['l1', 'l2']);
    expect(await itemsIn(destination, ids.compacted)).toEqual(['c1', 'c2']);
  });

  it('[BK2] backups taken while phones write hold every update acknowledged before they started', async () => {
    const dataDir = path.join(directory(), 'data');
    // Checkpoints and compactions every few writes, so backups run across both.
    const running = await startRelay({ storage: new DiskListStorage({ dataDir, checkpointIntervalMs: 30 }), limits: { compactLogBytes: 2048 } });
    const writers = [
      new AcknowledgedWriter('alice', 'backupWhileWriting1'),
      new AcknowledgedWriter('bob', 'backupWhileWriting1'),
      new AcknowledgedWriter('carol', 'backupWhileWriting2'),
    ];
    const backups: { destination: string; acknowledged: Map<AcknowledgedWriter, string[]>; rereads: number }[] = [];
    try {
      for (const writer of writers) writer.start(running.syncUrl);
      // This relay takes no DATA_DIR lock, which would make DATA_DIR at its start: the first write does.
      await waitFor(() => writers.every((writer) => writer.acknowledged.size > 0), 10_000, 'first acks');
      for (let taken = 0; taken < 8; taken++) {
        await new Promise((resolve) => setTimeout(resolve, 60 + taken * 20));
        const acknowledged = new Map(writers.map((writer) => [writer, [...writer.acknowledged]]));
        const destination = path.join(directory(), `backup-${taken}`);
        const { rereads } = await copyLiveDataDir(dataDir, destination);
        backups.push({ destination, acknowledged, rereads });
      }
    } finally {
      for (const writer of writers) writer.stop();
      await running.close();
    }
    for (const [index, { destination, acknowledged }] of backups.entries()) {
      expect(await verifyCopy(destination), `backup ${index}`).toMatchObject({ failures: [], incomplete: [] });
      for (const [writer, keys] of acknowledged) {
        const items = new Set(await itemsIn(destination, writer.listId));
        expect(keys.filter((key) => !items.has(key)), `backup ${index}: acknowledged before it started, missing`).toEqual([]);
      }
    }
    const lastAcknowledged = [...(backups.at(-1)?.acknowledged.values() ?? [])].flat();
    expect(lastAcknowledged.length).toBeGreaterThan(50);
  }, 60_000);

  it('[BK3] a backup never replaces anything, never lands in DATA_DIR, and leaves nothing when it fails', async () => {
    const dataDir = path.join(directory(), 'data');
    await storeLists(dataDir, { backupRefusalsList1: [addItem(new Y.Doc(), 'a')] });
    const existing = path.join(directory(), 'existing');
    await fs.mkdir(existing);
    await fs.writeFile(path.join(existing, 'keep'), 'mine');
    await expect(copyLiveDataDir(dataDir, existing)).rejects.toThrow(/exists already/);
    expect(await fs.readdir(existing)).toEqual(['keep']);
    await expect(copyLiveDataDir(dataDir, path.join(dataDir, 'backup'))).rejects.toBeInstanceOf(BackupError);
    await fs.symlink(dataDir, path.join(directory(), 'link'));
    await expect(copyLiveDataDir(dataDir, path.join(directory(), 'link', 'sub', 'backup'))).rejects.toThrow(/must be outside DATA_DIR/);
    expect(await fs.readdir(dataDir)).not.toContain('sub');
    await fs.unlink(path.join(directory(), 'link'));
    await expect(copyLiveDataDir(path.join(directory(), 'nothing'), path.join(directory(), 'b'))).rejects.toThrow(/does not exist/);
    // A file it cannot read (a directory where a log should be): the copy fails, and takes its partial directory with it.
    await fs.mkdir(path.join(dataDir, 'backupUnreadableLog1.log'));
    await expect(copyLiveDataDir(dataDir, path.join(directory(), 'failed'))).rejects.toThrow(/EISDIR/);
    expect((await fs.readdir(directory())).sort()).toEqual(['data', 'existing']);
  });

  it('[BK4] the copy holds the lists and what was quarantined, not the lock or temp files', async () => {
    const dataDir = path.join(directory(), 'data');
    const storage = new DiskListStorage({ dataDir, checkpointIntervalMs: 0 });
    await storage.append('backupKeptFilesList1', [addItem(new Y.Doc(), 'a')]);
    await storage.checkpoint();
    await storage.append('backupKeptFilesList1', [addItem(new Y.Doc(), 'b')]);
    await fs.writeFile(path.join(dataDir, LOCK_FILE_NAME), '{}');
    await fs.writeFile(path.join(dataDir, 'backupKeptFilesList1.snapshot.tmp'), 'half a snapshot');
    await fs.mkdir(path.join(dataDir, 'quarantine'));
    await fs.writeFile(path.join(dataDir, 'quarantine', 'backupKeptFilesList1.log.1700000000000'), frameRecord(new Uint8Array([1, 2])));
    const destination = path.join(directory(), 'backup');
    const copied = await copyLiveDataDir(dataDir, destination);
    await storage.close();
    const names = (await fs.readdir(destination)).sort();
    expect(names.filter((name) => !name.startsWith('journal.'))).toEqual(['backupKeptFilesList1.log', BACKUP_MANIFEST, 'quarantine']);
    expect(names.some((name) => name.startsWith('journal.'))).toBe(true);
    expect(await fs.readdir(path.join(destination, 'quarantine'))).toEqual(['backupKeptFilesList1.log.1700000000000']);
    // Every file but the manifest, and one in quarantine/.
    expect(copied).toMatchObject({ lists: 1, files: names.length - 1 });
    expect(await itemsIn(destination, 'backupKeptFilesList1')).toEqual(['a', 'b']);
  });

  it('[BK6] a log read while a compaction emptied and refilled it is read again; one damaged on disk is copied as it is', async () => {
    const dataDir = path.join(directory(), 'data');
    const storage = new DiskListStorage({ dataDir, checkpointIntervalMs: 0 });
    const doc = new Y.Doc();
    await storage.append('backupRereadLogList1', [addItem(doc, 'a'), addItem(doc, 'b')]);
    await storage.append('backupDamagedLogList', [addItem(new Y.Doc(), 'x'), addItem(new Y.Doc(), 'y')]);
    await storage.close();
    const rereadPath = path.join(dataDir, 'backupRereadLogList1.log');
    const damagedPath = path.join(dataDir, 'backupDamagedLogList.log');
    const whole = await fs.readFile(rereadPath);
    // The old log's first bytes, then the refilled log's from the same offset on.
    const refilled = Buffer.concat([frameRecord(addItem(doc, 'c')), frameRecord(addItem(doc, 'd'))]);
    const mixed = Buffer.concat([whole.subarray(0, 20), refilled.subarray(20)]);
    const damaged = await fs.readFile(damagedPath);
    damaged[10] = (damaged[10] as number) ^ 0xff;
    await fs.writeFile(damagedPath, damaged);
    const reads = new Map<string, number>();
    const copied = await copyLiveDataDir(dataDir, path.join(directory(), 'backup'), {
      readFile: async (filePath) => {
        reads.set(filePath, (reads.get(filePath) ?? 0) + 1);
        return filePath === rereadPath && reads.get(filePath) === 1 ? mixed : readIfExists(filePath);
      },
    });
    expect(reads.get(rereadPath)).toBe(2);
    expect(await fs.readFile(path.join(directory(), 'backup', 'backupRereadLogList1.log'))).toEqual(whole);
    expect(reads.get(damagedPath)).toBe(5);
    expect(await fs.readFile(path.join(directory(), 'backup', 'backupDamagedLogList.log'))).toEqual(damaged);
    expect(copied.rereads).toBe(1 + 4);
  });

  it('[BK8] a restore is refused while a relay holds DATA_DIR; then it sets the old files aside and the relay serves the backup', async () => {
    const dataDir = path.join(directory(), 'data');
    const backupDir = path.join(directory(), 'backup');
    const storage = new DiskListStorage({ dataDir, checkpointIntervalMs: 0 });
    const doc = new Y.Doc();
    await storage.append('backupRestoredList01', [addItem(doc, 'bread')]);
    await storage.checkpoint();
    await copyLiveDataDir(dataDir, backupDir);
    await storage.append('backupRestoredList01', [addItem(doc, 'eggs')]);
    await storage.close();
    const held = await lockDataDir(dataDir, { waitMs: 0 });
    if (held.kind !== 'acquired') throw new Error(`test setup: ${held.kind}`);
    await expect(restoreDataDir(backupDir, dataDir)).rejects.toThrow(/a relay \(or another restore\) is running on .*: stop it first/);
    await held.lock.release();
    expect(await itemsIn(dataDir, 'backupRestoredList01')).toEqual(['bread', 'eggs']);

    const restored = await restoreDataDir(backupDir, dataDir, { wallClock: () => Date.UTC(2026, 10, 24, 20, 0, 0) });
    expect(restored.setAside).toBe(path.join(dataDir, 'before-restore-2026-11-24T20-00-00-000Z'));
    expect(restored.verified).toMatchObject({ lists: 1, failures: [], incomplete: [] });
    expect(await itemsIn(path.join(dataDir, 'before-restore-2026-11-24T20-00-00-000Z'), 'backupRestoredList01')).toEqual(['bread', 'eggs']);
    const running = await startRelay({ storage: new DiskListStorage({ dataDir }) });
    const phone = connectPhone(running.syncUrl, 'backupRestoredList01');
    try {
      await waitFor(() => phone.provider.synced, 5000, 'sync');
      expect([...phone.doc.getMap('items').keys()]).toEqual(['bread']);
      // The phone that added eggs after the backup still holds them, and gives them back.
      const writer = connectPhone(running.syncUrl, 'backupRestoredList01', doc);
      await waitFor(() => writer.isFullyStored(), 5000, 'the later edit stored again');
      await waitFor(() => phone.doc.getMap('items').has('eggs'), 5000, 'the later edit relayed');
      writer.destroy();
    } finally {
      phone.destroy();
      await running.close();
    }
    expect(await itemsIn(dataDir, 'backupRestoredList01')).toEqual(['bread', 'eggs']);
    await expect(restoreDataDir(path.join(directory(), 'nothing'), dataDir)).rejects.toThrow(/does not exist/);
    await expect(restoreDataDir(dataDir, dataDir)).rejects.toThrow(/must not hold one another/);
    await fs.mkdir(path.join(dataDir, 'saved'));
    await fs.cp(backupDir, path.join(dataDir, 'saved'), { recursive: true });
    await expect(restoreDataDir(path.join(dataDir, 'saved'), dataDir)).rejects.toThrow(/must not hold one another/);
    await fs.rm(path.join(dataDir, 'saved'), { recursive: true });
    // What else is in DATA_DIR (a volume's lost+found) stays where it is.
    await fs.mkdir(path.join(dataDir, 'lost+found'));
    // One it cannot read whole: DATA_DIR is left as it was.
    const broken = path.join(directory(), 'broken');
    await fs.mkdir(path.join(broken, 'backupBrokenRestore1.log'), { recursive: true });
    await fs.writeFile(path.join(broken, 'backupBrokenRestore2.log'), frameRecord(addItem(new Y.Doc(), 'x')));
    const namesBefore = await fs.readdir(dataDir);
    await expect(restoreDataDir(broken, dataDir)).rejects.toThrow(/could not be read whole .*EISDIR.*DATA_DIR is as it was/);
    expect(await fs.readdir(dataDir)).toEqual(namesBefore);
    expect(await itemsIn(dataDir, 'backupRestoredList01')).toEqual(['bread', 'eggs']);
    // An earlier restore's set-aside directory, restored, undoes it.
    const undone = await restoreDataDir(path.join(dataDir, 'before-restore-2026-11-24T20-00-00-000Z'), dataDir, { wallClock: () => Date.UTC(2026, 10, 24, 21, 0, 0) });
    expect(undone.verified).toMatchObject({ lists: 1, failures: [], incomplete: [] });
    expect(await itemsIn(dataDir, 'backupRestoredList01')).toEqual(['bread', 'eggs']);
    expect(await fs.readdir(dataDir)).toContain('lost+found');
  });

  it('[BK9] the command backs up a relay process while phones write, and each backup holds what was acknowledged before it', async () => {
    const dataDir = path.join(directory(), 'data');
    const relay = spawn(process.execPath, ['--import', 'tsx', path.join(relayRoot, 'src/main.ts')], {
      env: { ...process.env, PORT: '0', HOST: '127.0.0.1', DATA_DIR: dataDir, STATIC_DIR: path.join(dataDir, 'no-web-app'), COMPACT_LOG_BYTES: '2048', CHECKPOINT_INTERVAL_MS: '40', LOG_LEVEL: 'info' },
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    const writers = [new AcknowledgedWriter('dan', 'backupOfAProcess001'), new AcknowledgedWriter('eve', 'backupOfAProcess002')];
    const backups: { destination: string; acknowledged: Map<AcknowledgedWriter, string[]>; lastLine: Record<string, unknown> | undefined }[] = [];
    try {
      const { port } = await whenListening(relay);
      for (const writer of writers) writer.start(`ws://127.0.0.1:${port}/sync`);
      await waitFor(() => writers.every((writer) => writer.acknowledged.size > 0), 10_000, 'first acks');
      for (let taken = 0; taken < 4; taken++) {
        const acknowledged = new Map(writers.map((writer) => [writer, [...writer.acknowledged]]));
        const destination = path.join(directory(), `backup-${taken}`);
        const output = await runCommand(['backup', destination], dataDir);
        expect(output.status, output.stdout).toBe(0);
        backups.push({ destination, acknowledged, lastLine: output.lines.at(-1) });
      }
    } finally {
      for (const writer of writers) writer.stop();
      const exited = new Promise((resolve) => relay.once('exit', resolve));
      relay.kill('SIGTERM');
      await exited;
    }
    for (const [index, { destination, acknowledged, lastLine }] of backups.entries()) {
      expect(lastLine).toMatchObject({ event: 'backup.done', verified: { lists: 2, failures: [], incomplete: [] } });
      for (const [writer, keys] of acknowledged) {
        const items = new Set(await itemsIn(destination, writer.listId));
        expect(keys.filter((key) => !items.has(key)), `backup ${index}: acknowledged before it started, missing`).toEqual([]);
      }
    }
    expect([...(backups.at(-1)?.acknowledged.values() ?? [])].flat().length).toBeGreaterThan(50);
  }, 60_000);

  it('[BK7] the verification names a list whose updates build on one it lacks', async () => {
    const dataDir = path.join(directory(), 'data');
    const doc = new Y.Doc();
    addItem(doc, 'milk');
    const before = Y.encodeStateVector(doc);
    doc.getMap('items').set('milk', 'oat milk');
    await storeLists(dataDir, { backupLacksOneUpdate: [Y.encodeStateAsUpdate(doc, before)], backupHoldsItAll0001: [Y.encodeStateAsUpdate(doc)] });
    expect(await verifyCopy(dataDir)).toEqual({ lists: 2, updates: 2, failures: [], incomplete: ['backupLacksOneUpdate'], tornTails: [] });
  });

  it('[BK5] the command: exit 0 with a summary, 2 for a destination that exists, 1 for a backup holding damage', async () => {
    const dataDir = path.join(directory(), 'data');
    const run = (...args: string[]): Promise<CommandOutput> => runCommand(args, dataDir);
    const doc = new Y.Doc();
    await storeLists(dataDir, { backupCommandList01: [addItem(doc, 'a'), addItem(doc, 'b')] });
    const first = await run('backup', path.join(directory(), 'first'));
    expect(first.status).toBe(0);
    expect(first.lines.at(-1)).toMatchObject({ event: 'backup.done', lists: 1, verified: { lists: 1, updates: 2, failures: [], incomplete: [] } });
    const again = await run('backup', path.join(directory(), 'first'));
    expect(again.status).toBe(2);
    expect(again.lines.at(-1)).toMatchObject({ event: 'backup.refused', reason: expect.stringMatching(/exists already/) });
    // A log damaged in the middle: the backup is made, and says what it found.
    const logPath = path.join(dataDir, 'backupCommandList01.log');
    const log = await fs.readFile(logPath);
    log[10] = (log[10] as number) ^ 0xff;
    await fs.writeFile(logPath, Buffer.concat([log, frameRecord(new Uint8Array([0]))]));
    const damaged = await run('backup', path.join(directory(), 'damaged'));
    expect(damaged.status).toBe(1);
    expect(damaged.lines.at(-1)).toMatchObject({ event: 'backup.damaged', verified: { failures: ['file_quarantined'] } });
    expect(await fs.readdir(path.join(directory(), 'damaged', 'quarantine'))).toHaveLength(1);
    // The first backup back in place of the damaged list.
    const restored = await run('restore', path.join(directory(), 'first'));
    expect(restored.status).toBe(0);
    expect(restored.lines.at(-1)).toMatchObject({ event: 'restore.done', verified: { lists: 1, updates: 2, failures: [], incomplete: [] } });
    expect(await itemsIn(dataDir, 'backupCommandList01')).toEqual(['a', 'b']);
    expect((await run('restore', path.join(directory(), 'missing'))).status).toBe(2);
    expect((await run('backup')).status).toBe(2);
  }, 60_000);
  it('[BK10] a backup names itself in a manifest: one of a relay with no lists restores to an empty DATA_DIR, a folder with neither is refused', async () => {
    const emptyDataDir = path.join(directory(), 'empty');
    await fs.mkdir(emptyDataDir);
    const backupDir = path.join(directory(), 'backup');
    const copied = await copyLiveDataDir(emptyDataDir, backupDir, { wallClock: () => Date.UTC(2026, 10, 24, 22, 0, 0) });
    expect(await fs.readdir(backupDir)).toEqual([BACKUP_MANIFEST]);
    expect(JSON.parse(await fs.readFile(path.join(backupDir, BACKUP_MANIFEST), 'utf8'))).toEqual({
      basketBackup: 1,
      createdAt: '2026-11-24T22:00:00.000Z',
      dataDir: emptyDataDir,
      ...copied,
    });
    // The command asks whether DATA_DIR is right.
    const byCommand = await runCommand(['backup', path.join(directory(), 'by-command')], emptyDataDir);
    expect(byCommand.lines.at(-1)).toMatchObject({ event: 'backup.done', warning: 'no lists: is DATA_DIR right?' });
    const dataDir = path.join(directory(), 'data');
    await storeLists(dataDir, { backupEmptiedList001: [addItem(new Y.Doc(), 'tea')] });
    const notABackup = path.join(directory(), 'photos');
    await fs.mkdir(notABackup);
    await fs.writeFile(path.join(notABackup, 'cat.jpg'), 'meow');
    await expect(restoreDataDir(notABackup, dataDir)).rejects.toThrow(/neither lists nor basket-backup.json: not a Basket backup/);
    expect(await itemsIn(dataDir, 'backupEmptiedList001')).toEqual(['tea']);

    const restored = await restoreDataDir(backupDir, dataDir, { wallClock: () => Date.UTC(2026, 10, 24, 22, 30, 0) });
    expect(restored).toMatchObject({ setAside: path.join(dataDir, 'before-restore-2026-11-24T22-30-00-000Z'), verified: { lists: 0, failures: [] } });
    expect((await fs.readdir(dataDir)).filter((name) => name !== LOCK_FILE_NAME)).toEqual(['before-restore-2026-11-24T22-30-00-000Z']);
    expect(await itemsIn(dataDir, 'backupEmptiedList001')).toEqual([]);
  });

  it('[BK11] Ctrl-C stops a backup, which removes its partial copy, and a restore, which leaves DATA_DIR as it was', async () => {
    const dataDir = path.join(directory(), 'data');
    await manyLists(dataDir, 2000);
    const interrupt = new AbortController();
    const read: string[] = [];
    const stopped = copyLiveDataDir(dataDir, path.join(directory(), 'stopped'), {
      signal: interrupt.signal,
      afterStep: () => interrupt.abort(),
      readFile: (filePath) => {
        read.push(filePath);
        return readIfExists(filePath);
      },
    });
    await expect(stopped).rejects.toThrow(/aborted/);
    expect(await fs.readdir(directory())).toEqual(['data']);
    // Stopped at the next file, not at the end of the copy.
    expect(read).toHaveLength(1);

    // The command, with so many lists that the copy is under way when Ctrl-C comes.
    const backup = startCommand(['backup', path.join(directory(), 'interrupted')], dataDir);
    await untilNameIn(directory(), '.interrupted.partial-');
    backup.child.kill('SIGINT');
    const backedUp = await backup.output;
    expect(backedUp.status).toBe(1);
    expect(backedUp.lines.map((line) => line['event'])).toEqual(['backup.stopping', 'backup.interrupted']);
    expect(await fs.readdir(directory())).toEqual(['data']);

    const backupDir = path.join(directory(), 'backup');
    await copyLiveDataDir(dataDir, backupDir);
    await storeLists(dataDir, { backupWrittenAfter01: [addItem(new Y.Doc(), 'later')] });
    const relayFiles = async (): Promise<string[]> => (await fs.readdir(dataDir)).filter((name) => name !== LOCK_FILE_NAME).sort();
    const before = await relayFiles();

    // Ctrl-C while the restore copies the backup: DATA_DIR is as it was.
    const restore = startCommand(['restore', backupDir], dataDir);
    await untilNameIn(dataDir, '.restore-');
    restore.child.kill('SIGINT');
    const interrupted = await restore.output;
    expect(interrupted.status).toBe(1);
    // A backup copyLiveDataDir made alone has no inventory (the command writes it once the backup reads back).
    expect(interrupted.lines.map((line) => line['event'])).toEqual(['restore.unchecked', 'restore.stopping', 'restore.interrupted']);
    expect(await relayFiles()).toEqual(before);

    // Twice: stopped at once, its staging copy left, DATA_DIR untouched; the next restore clears it away and is whole.
    const twice = startCommand(['restore', backupDir], dataDir);
    await untilNameIn(dataDir, '.restore-');
    // Two signals of one kind may arrive as one; of two kinds, never.
    twice.child.kill('SIGINT');
    twice.child.kill('SIGTERM');
    const stoppedAtOnce = await twice.output;
    expect(stoppedAtOnce.status).toBe(1);
    expect(stoppedAtOnce.lines.map((line) => line['event'])).toEqual(['restore.unchecked', 'restore.stopping', 'restore.stopped']);
    expect(await unfinishedRestores(dataDir)).toEqual([]);
    expect(await itemsIn(dataDir, 'backupWrittenAfter01')).toEqual(['later']);
    const again = await runCommand(['restore', backupDir], dataDir);
    expect(again.status).toBe(0);
    expect(again.lines.at(-1)).toMatchObject({ event: 'restore.done', verified: { lists: 2000, updates: 2000, failures: [], incomplete: [] } });
    expect((await relayFiles()).filter((name) => name.startsWith('.restore-') || name === 'backupWrittenAfter01.log')).toEqual([]);
    expect(await itemsIn(again.lines.at(-1)?.['setAside'] as string, 'backupWrittenAfter01')).toEqual(['later']);
  }, 60_000);

  it('[BK12] a destination through a file is refused; the directories made for a backup are synced into their parents', async () => {
    const dataDir = path.join(directory(), 'data');
    await manyLists(dataDir, 1);
    await fs.writeFile(path.join(directory(), 'a-file'), '');
    await expect(copyLiveDataDir(dataDir, path.join(directory(), 'a-file', 'backup'))).rejects.toThrow(BackupError);
    await expect(copyLiveDataDir(dataDir, path.join(directory(), 'a-file', 'deeper', 'backup'))).rejects.toThrow(/part of its path is a file/);
    expect((await runCommand(['backup', path.join(directory(), 'a-file', 'backup')], dataDir)).status).toBe(2);

    const opened = vi.spyOn(fs, 'open');
    try {
      await copyLiveDataDir(dataDir, path.join(directory(), 'new', 'nested', 'backup'));
      const synced = opened.mock.calls.filter(([, flags]) => flags === fsConstants.O_RDONLY).map(([dir]) => String(dir));
      expect(synced).toEqual(expect.arrayContaining([directory(), path.join(directory(), 'new'), path.join(directory(), 'new', 'nested')]));
    } finally {
      opened.mockRestore();
    }
  });
  it('[BK13] a restore killed while it swaps files is finished by the next one, and the relay will not start on the half-swapped DATA_DIR', async () => {
    const dataDir = path.join(directory(), 'data');
    const backupDir = path.join(directory(), 'backup');
    await manyLists(backupDir, 6);
    const oldLists = ['backupOldListNumber1', 'backupOldListNumber2', 'backupOldListNumber3'];
    const killed = new Error('killed');
    for (const [step, killAt] of [['setting-aside', 2], ['moving-in', 5]] as const) {
      await fs.rm(dataDir, { recursive: true, force: true });
      const old = new DiskListStorage({ dataDir, checkpointIntervalMs: 0 });
      for (const listId of oldLists) await old.append(listId, [addItem(new Y.Doc(), listId)]);
      await old.checkpoint();
      await old.close();
      let moves = 0;
      const stopped = restoreDataDir(backupDir, dataDir, {
        wallClock: () => Date.UTC(2026, 10, 25, step === 'setting-aside' ? 8 : 9),
        beforeMove: (from) => {
          const inStaging = from.includes(`${path.sep}.restore-`);
          if ((step === 'moving-in') === inStaging && ++moves === killAt) throw killed;
        },
      });
      await expect(stopped, step).rejects.toBe(killed);
      expect(await unfinishedRestores(dataDir), step).toHaveLength(1);

      const relay = spawn(process.execPath, ['--import', 'tsx', path.join(relayRoot, 'src/main.ts')], {
        env: { ...process.env, PORT: '0', HOST: '127.0.0.1', DATA_DIR: dataDir, STATIC_DIR: path.join(directory(), 'no-web-app') },
        stdio: ['ignore', 'pipe', 'inherit'],
      });
      let output = '';
      relay.stdout.setEncoding('utf8').on('data', (chunk: string) => (output += chunk));
      const status = await new Promise((resolve) => relay.once('exit', resolve));
      expect(status, step).toBe(1);
      expect(output, step).toContain('"event":"relay.unfinished_restore"');

      const finishing = await restoreDataDir(backupDir, dataDir, { wallClock: () => Date.UTC(2026, 10, 25, 10) });
      expect(finishing.verified, step).toMatchObject({ lists: 6, failures: [], incomplete: [] });
      expect(await unfinishedRestores(dataDir)).toEqual([]);
      const stoppedOne = path.join(dataDir, `before-restore-2026-11-25T0${step === 'setting-aside' ? 8 : 9}-00-00-000Z`);
      expect(finishing.finished, step).toEqual([stoppedOne]);
      // What DATA_DIR held before the killed restore is whole in its set-aside directory, and only that.
      expect(listIdsIn(await fs.readdir(stoppedOne)), step).toEqual(oldLists);
      for (const listId of oldLists) expect(await itemsIn(stoppedOne, listId), listId).toEqual([listId]);
      expect(listIdsIn(await fs.readdir(dataDir)), step).toEqual(listIdsIn(await fs.readdir(backupDir)));
    }
  }, 30_000);

  it('[BK14] a backup made under a strict umask can be read by another user: its files are 0644, its folders 0755', async () => {
    const dataDir = path.join(directory(), 'data');
    await manyLists(dataDir, 2);
    await fs.mkdir(path.join(dataDir, 'quarantine'));
    await fs.writeFile(path.join(dataDir, 'quarantine', 'backupManyLists00000.log.1700000000000'), frameRecord(new Uint8Array([1])));
    // A list so far only in the journal, as between a running relay's checkpoints: reading the
    // copy back makes its log, which root's umask made unreadable to the relay's user.
    await fs.writeFile(path.join(dataDir, 'journal.1.wal'), encodeJournalRecord('backupJournalOnly001', addItem(new Y.Doc(), 'x')));
    const destination = path.join(directory(), 'backup');
    const output = await runCommand(['backup', destination], dataDir, { umask: '077' });
    expect(output.status, output.stdout).toBe(0);
    const modes: Record<string, string> = {};
    for (const name of ['.', BACKUP_MANIFEST, 'backupManyLists00001.log', 'backupJournalOnly001.log', 'quarantine', 'quarantine/backupManyLists00000.log.1700000000000']) {
      modes[name] = ((await fs.stat(path.join(destination, name))).mode & 0o777).toString(8);
    }
    expect(modes).toEqual({
      '.': '755',
      [BACKUP_MANIFEST]: '644',
      'backupManyLists00001.log': '644',
      'backupJournalOnly001.log': '644',
      quarantine: '755',
      'quarantine/backupManyLists00000.log.1700000000000': '644',
    });
  });

  it('[BK15] a restore refuses a backup found damaged, DATA_DIR as it was, unless told to accept the damage', async () => {
    const dataDir = path.join(directory(), 'data');
    const backupDir = path.join(directory(), 'backup');
    await manyLists(backupDir, 2);
    const logPath = path.join(backupDir, 'backupManyLists00001.log');
    await fs.writeFile(logPath, Buffer.concat([await fs.readFile(logPath), Buffer.from('not a record, and not a torn one either: damage')]));
    const doc = new Y.Doc();
    await storeLists(dataDir, { backupCurrentList01: [addItem(doc, 'current')] });
    // The restore's lock aside (the relay makes it too at its start).
    const names = async (): Promise<string[]> => (await fs.readdir(dataDir)).filter((name) => name !== LOCK_FILE_NAME).sort();
    const namesBefore = await names();

    const refused = await runCommand(['restore', backupDir], dataDir);
    expect(refused.status).toBe(2);
    expect(refused.lines.at(-1)).toMatchObject({ event: 'restore.refused', reason: expect.stringMatching(/damage.*DATA_DIR is as it was.*--accept-damage/), verified: { lists: 2 } });
    expect(await names()).toEqual(namesBefore);
    expect(await itemsIn(dataDir, 'backupCurrentList01')).toEqual(['current']);

    const accepted = await runCommand(['restore', backupDir, '--accept-damage'], dataDir);
    expect(accepted.status).toBe(1);
    expect(accepted.lines.at(-1)).toMatchObject({ event: 'restore.damaged', verified: { lists: 2, failures: ['file_quarantined'] } });
    expect(listIdsIn(await fs.readdir(dataDir))).toEqual(['backupManyLists00000', 'backupManyLists00001']);
    expect((await runCommand(['restore', backupDir, '--accept-everything'], dataDir)).status).toBe(2);
    expect((await runCommand(['backup', path.join(directory(), 'other'), '--accept-damage'], dataDir)).status).toBe(2);
  }, 30_000);

  it('[BK16] a backup refuses a DATA_DIR a restore stopped part-way through, or that a restore changed while it copied', async () => {
    const dataDir = path.join(directory(), 'data');
    const backupDir = path.join(directory(), 'backup');
    await manyLists(backupDir, 4);
    await storeLists(dataDir, { backupCurrentList01: [addItem(new Y.Doc(), 'current')] });
    const killed = new Error('killed');
    let moves = 0;
    await expect(
      restoreDataDir(backupDir, dataDir, {
        beforeMove: (from) => {
          if (from.includes(`${path.sep}.restore-`) && ++moves === 2) throw killed;
        },
      }),
    ).rejects.toBe(killed);
    await expect(copyLiveDataDir(dataDir, path.join(directory(), 'half'))).rejects.toThrow(/restore stopped part-way .*Run the restore again to finish it/);
    expect(await fs.readdir(directory())).not.toContain('half');

    await restoreDataDir(backupDir, dataDir);
    await expect(
      copyLiveDataDir(dataDir, path.join(directory(), 'during'), {
        afterStep: async (step) => {
          if (step === 'journal-copied') await fs.mkdir(path.join(dataDir, 'before-restore-2026-11-24T23-00-00-000Z'));
        },
      }),
    ).rejects.toThrow(/a restore ran on DATA_DIR during the copy/);
    expect((await fs.readdir(directory())).filter((name) => name.includes('during'))).toEqual([]);
    // An earlier restore's set-aside directory, there before and after, is no reason to refuse.
    await copyLiveDataDir(dataDir, path.join(directory(), 'after'));
    expect(listIdsIn(await fs.readdir(path.join(directory(), 'after')))).toEqual(listIdsIn(await fs.readdir(backupDir)));
  });

  it('[BK17] a restore checks the backup against the inventory its reading back wrote: one cut short or missing files since is refused, DATA_DIR as it was', async () => {
    const dataDir = path.join(directory(), 'data');
    const backupDir = path.join(directory(), 'backup');
    const ids = { cutMidRecord: 'backupCutMidRecord01', cutAtRecord: 'backupCutAtRecord001', gone: 'backupFilesGone00001', kept: 'backupKeptWhole00001' };
    const updates = (key: string): Uint8Array[] => {
      const doc = new Y.Doc();
      return ['a', 'b', 'c'].map((item) => addItem(doc, `${key}-${item}`));
    };
    await storeLists(dataDir, Object.fromEntries(Object.values(ids).map((listId) => [listId, updates(listId)])));
    const made = await runCommand(['backup', backupDir], dataDir);
    expect(made.status, made.stdout).toBe(0);
    const manifest = JSON.parse(await fs.readFile(path.join(backupDir, BACKUP_MANIFEST), 'utf8')) as { verified: unknown; inventory: { name: string; bytes: number; sha256: string }[] };
    // Written after the reading back, which copied the journal into the lists' logs.
    expect(manifest.verified).toEqual({ lists: 4, updates: 12 });
    expect(manifest.inventory.map((entry) => entry.name)).toEqual(Object.values(ids).map((listId) => `${listId}.log`).sort());
    for (const entry of manifest.inventory) expect(entry.bytes, entry.name).toBe((await fs.stat(path.join(backupDir, entry.name))).size);
    const whole = path.join(directory(), 'whole');
    await fs.cp(backupDir, whole, { recursive: true });

    // Damaged since it was made (a copy off-site cut short, a list's files lost): before inventories, each restored with exit 0, the edits gone.
    const logOf = (listId: string): string => path.join(backupDir, `${listId}.log`);
    await fs.truncate(logOf(ids.cutMidRecord), (await fs.stat(logOf(ids.cutMidRecord))).size - 5);
    const log = await fs.readFile(logOf(ids.cutAtRecord));
    await fs.truncate(logOf(ids.cutAtRecord), log.length - RECORD_HEADER_BYTES - (scanRecords(log).records.at(-1)?.length ?? 0));
    await fs.rm(logOf(ids.gone));
    // Not damage: put in since, and read back like the rest.
    await fs.writeFile(path.join(backupDir, 'backupAddedSince0001.log'), frameRecord(addItem(new Y.Doc(), 'added')));
    await storeLists(dataDir, { backupCurrentList01: [addItem(new Y.Doc(), 'current')] });
    const names = async (): Promise<string[]> => (await fs.readdir(dataDir)).filter((name) => name !== LOCK_FILE_NAME).sort();
    const namesBefore = await names();

    const refused = await runCommand(['restore', backupDir], dataDir);
    expect(refused.status).toBe(2);
    expect(refused.lines.map((line) => line['event'])).toEqual(['restore.refused']);
    expect(refused.lines.at(-1)).toMatchObject({
      reason: expect.stringMatching(/not as it was made.*DATA_DIR is as it was.*--accept-damage/),
      inventory: { missing: [`${ids.gone}.log`], shorter: [`${ids.cutAtRecord}.log`, `${ids.cutMidRecord}.log`], different: [], unlisted: ['backupAddedSince0001.log'] },
    });
    expect(await names()).toEqual(namesBefore);
    expect(await itemsIn(dataDir, 'backupCurrentList01')).toEqual(['current']);

    const accepted = await runCommand(['restore', backupDir, '--accept-damage'], dataDir);
    expect(accepted.status).toBe(1);
    expect(accepted.lines.map((line) => line['event'])).toEqual(['restore.unlisted', 'storage.log_torn_tail_cut', 'restore.damaged']);
    expect(accepted.lines.at(-1)).toMatchObject({ inventory: { missing: [`${ids.gone}.log`] }, verified: { lists: 4, failures: [], incomplete: [], tornTails: [`${ids.cutMidRecord}.log`] } });
    expect(await itemsIn(dataDir, ids.cutAtRecord)).toEqual([`${ids.cutAtRecord}-a`, `${ids.cutAtRecord}-b`]);

    // A byte changed is refused too; the backup as it was made restores whole.
    const changed = path.join(whole, `${ids.kept}.log`);
    const bytes = await fs.readFile(changed);
    bytes[bytes.length - 1] = (bytes.at(-1) as number) ^ 0xff;
    await fs.writeFile(changed, bytes);
    await expect(restoreDataDir(whole, dataDir)).rejects.toMatchObject({ found: { inventory: { missing: [], shorter: [], different: [`${ids.kept}.log`] } } });
    bytes[bytes.length - 1] = (bytes.at(-1) as number) ^ 0xff;
    await fs.writeFile(changed, bytes);
    const restored = await restoreDataDir(whole, dataDir);
    expect(restored).toMatchObject({ damaged: false, verified: { lists: 4, updates: 12, tornTails: [] }, inventory: { missing: [], shorter: [], different: [], unlisted: [] } });

    // A tail torn in a backup already read back is damage, though its inventory were made to match.
    await fs.truncate(changed, bytes.length - 5);
    await recordInventory(whole, { lists: 4, updates: 12 });
    await expect(restoreDataDir(whole, dataDir)).rejects.toMatchObject({ found: { verified: { tornTails: [`${ids.kept}.log`] } } });
    // A manifest that does not read is damage; one without an inventory (a backup made before
    // inventories) restores as before, its cut log unnoticed, and says so.
    await fs.writeFile(path.join(whole, BACKUP_MANIFEST), '{"basketBackup": 1, "inventory": [{"name": "../elsewhere", "bytes": 0, "sha256": ""}]}');
    await expect(restoreDataDir(whole, dataDir)).rejects.toBeInstanceOf(DamagedBackup);
    await fs.writeFile(path.join(whole, BACKUP_MANIFEST), '{"basketBackup": 1}');
    await fs.truncate(changed, RECORD_HEADER_BYTES + (scanRecords(bytes).records[0]?.length ?? 0));
    const { logger, events } = recordingLogger();
    expect(await restoreDataDir(whole, dataDir, { logger })).toMatchObject({ damaged: false, inventory: undefined });
    expect(events).toEqual(['restore.unchecked']);
    expect(await itemsIn(dataDir, ids.kept)).toEqual([`${ids.kept}-a`]);
  }, 30_000);

  it('[BK18] a list with a gap restored with --accept-damage keeps the edits Yjs holds back in quarantine/, past its first compaction', async () => {
    const dataDir = path.join(directory(), 'data');
    const source = path.join(directory(), 'source');
    const backupDir = path.join(directory(), 'backup');
    const listId = 'backupGapInTheList01';
    const storage = new DiskListStorage({ dataDir: source, checkpointIntervalMs: 0 });
    const doc = new Y.Doc();
    await storage.append(listId, [addItem(doc, 'in the snapshot')]);
    await storage.compact(listId, Y.encodeStateAsUpdate(doc));
    // Later edits of the same phone: they build on the snapshot's.
    await storage.append(listId, [addItem(doc, 'later 1'), addItem(doc, 'later 2')]);
    await storage.close();
    await copyLiveDataDir(source, backupDir);
    await fs.rm(path.join(backupDir, `${listId}.snapshot`));
    const log = await fs.readFile(path.join(backupDir, `${listId}.log`));

    const at = Date.UTC(2026, 10, 25, 11);
    const restored = await restoreDataDir(backupDir, dataDir, { acceptDamage: true, wallClock: () => at });
    expect(restored).toMatchObject({ damaged: true, verified: { incomplete: [listId] } });
    const copy = path.join(dataDir, 'quarantine', `${listId}.log.${at}`);
    expect(restored.quarantined).toEqual([copy]);
    expect(await fs.readFile(copy)).toEqual(log);
    // The relay's first compaction of the list stores what it integrated: nothing of the log.
    const relayStorage = new DiskListStorage({ dataDir, checkpointIntervalMs: 0 });
    const integrated = new Y.Doc();
    for (const update of (await relayStorage.load(listId)).updates) Y.applyUpdate(integrated, update);
    expect(integrated.getMap('items').size).toBe(0);
    // It integrated nothing, and its room leaves held-back updates out of a snapshot (list-room.ts, encodeIntegratedState).
    await relayStorage.compact(listId, Y.encodeStateAsUpdate(new Y.Doc()));
    await relayStorage.close();
    expect((await fs.stat(path.join(dataDir, `${listId}.log`)).catch(() => undefined))?.size ?? 0).toBe(0);
    expect(await fs.readFile(copy)).toEqual(log);

    // The command names the copies in its last line.
    const other = path.join(directory(), 'other');
    await fs.mkdir(other);
    const output = await runCommand(['restore', backupDir, '--accept-damage'], other);
    expect(output.status).toBe(1);
    expect(output.lines.at(-1)).toMatchObject({
      event: 'restore.damaged',
      quarantined: [expect.stringMatching(new RegExp(`^${path.join(other, 'quarantine', listId).replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}\\.log\\.\\d+$`))],
      advice: expect.stringMatching(/kept only in the quarantined copies/),
    });
  }, 30_000);

  it('[BK19] a backup goes on when an old set-aside folder is removed during its copy, not when a restore begins its swap', async () => {
    const dataDir = path.join(directory(), 'data');
    await manyLists(dataDir, 2);
    const old = path.join(dataDir, 'before-restore-2026-11-20T10-00-00-000Z');
    await fs.mkdir(old);
    await fs.writeFile(path.join(old, 'backupOldListNumber1.log'), '');
    // Removed by a person once the restored lists looked right: no restore ran.
    await copyLiveDataDir(dataDir, path.join(directory(), 'removed'), {
      afterStep: async (step) => {
        if (step === 'journal-copied') await fs.rm(old, { recursive: true });
      },
    });
    expect(listIdsIn(await fs.readdir(path.join(directory(), 'removed')))).toEqual(listIdsIn(await fs.readdir(dataDir)));

    // A staging copy a stopped restore left, whose swap begins during the copy.
    const staging = path.join(dataDir, '.restore-2026-11-21T10-00-00-000Z');
    await fs.mkdir(staging);
    await expect(
      copyLiveDataDir(dataDir, path.join(directory(), 'swapping'), {
        afterStep: async (step) => {
          if (step === 'journal-copied') await writeSwap(staging, { setAside: 'before-restore-2026-11-21T10-00-00-000Z', step: 'setting-aside' });
        },
      }),
    ).rejects.toThrow(/a restore ran on DATA_DIR during the copy/);
    expect((await fs.readdir(directory())).filter((name) => name.includes('swapping'))).toEqual([]);
  });
});

import { mkdir, rmdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import * as Y from 'yjs';
import { afterEach, describe, expect, it } from 'vitest';
import { DiskListStorage } from '../src/storage/disk-storage.js';
import { encodeJournalRecord } from '../src/storage/journal.js';
import { MemoryListStorage } from '../src/storage/memory-storage.js';
import type { Phone, RunningRelay } from './helpers.js';
import { closeCodeOf, connectPhone, directoryPerTest, newListId, startRelay, waitFor } from './helpers.js';

const noSpace = (): Error => Object.assign(new Error('ENOSPC: no space left on device, write'), { code: 'ENOSPC' });

/** Storage that refuses every append and compaction while `failing`, like a full disk. */
class FillingStorage extends MemoryListStorage {
  failing = false;
  refused = 0;
  override append(listId: string, updates: readonly Uint8Array[]): Promise<void> {
    if (this.failing) {
      this.refused += 1;
      return Promise.reject(noSpace());
    }
    return super.append(listId, updates);
  }
  override compact(listId: string, snapshot: Uint8Array): Promise<void> {
    return this.failing ? Promise.reject(noSpace()) : super.compact(listId, snapshot);
  }
}

describe('a storage that refuses writes (a full disk)', () => {
  const phones: Phone[] = [];
  let running: RunningRelay | undefined;
  afterEach(async () => {
    for (const phone of phones.splice(0)) phone.destroy();
    await running?.close();
    running = undefined;
  });
  const itemsOf = (phone: Phone): unknown => phone.doc.getMap('items').toJSON();

  it('[F1] phones stay connected and keep syncing, nothing is acknowledged, and all of it is once writes succeed', async () => {
    const storage = new FillingStorage();
    running = await startRelay({ storage });
    const listId = newListId();
    const alice = connectPhone(running.syncUrl, listId);
    const bob = connectPhone(running.syncUrl, listId);
    phones.push(alice, bob);
    await waitFor(() => alice.provider.synced && bob.provider.synced, 5000, 'both synced');

    let disconnects = 0;
    for (const phone of [alice, bob]) {
      phone.provider.on('status', ({ status }: { status: string }) => {
        if (status === 'disconnected') disconnects += 1;
      });
    }
    storage.failing = true;
    alice.doc.getMap('items').set('milk', { checked: false });
    bob.doc.getMap('items').set('eggs', { checked: false });
    await waitFor(() => storage.refused >= 2, 5000, 'a refused write and its retry');
    await waitFor(() => Object.keys(itemsOf(alice) as object).length === 2 && Object.keys(itemsOf(bob) as object).length === 2, 5000, 'both items on both phones');
    expect(alice.isFullyStored() || bob.isFullyStored()).toBe(false);
    expect(disconnects).toBe(0);
    const health = async (): Promise<{ listsWaitingForStorage: number }> =>
      (await (await fetch(running?.syncUrl.replace('ws:', 'http:').replace('/sync', '/healthz') ?? '')).json()) as { listsWaitingForStorage: number };
    expect((await health()).listsWaitingForStorage).toBe(1);

    storage.failing = false;
    await waitFor(() => alice.isFullyStored() && bob.isFullyStored(), 20_000, 'acknowledgements after the disk has room');
    const stored = new Y.Doc();
    for (const update of (await storage.load(listId)).updates) Y.applyUpdate(stored, update);
    expect(stored.getMap('items').toJSON()).toEqual(itemsOf(alice));
    expect(disconnects).toBe(0);
    expect((await health()).listsWaitingForStorage).toBe(0);
  });

  it('[F3] a list its phones left while writes fail is unloaded after one last attempt, and loads again for a phone that comes back', async () => {
    const storage = new FillingStorage();
    running = await startRelay({ storage, limits: { idleUnloadMs: 50 } });
    const listId = newListId();
    const alice = connectPhone(running.syncUrl, listId);
    phones.push(alice);
    await waitFor(() => alice.provider.synced, 5000, 'synced');
    alice.doc.getMap('items').set('stored', { checked: false });
    await waitFor(() => alice.isFullyStored(), 5000, 'first item stored');
    storage.failing = true;
    alice.doc.getMap('items').set('unstored', { checked: false });
    await waitFor(() => storage.refused >= 1, 5000, 'a refused write');
    alice.provider.disconnect();
    await waitFor(() => running?.relay.registry.loadedCount === 0, 5000, 'the list unloaded');

    // Another phone reads the list while the disk is still full: what was stored.
    const bob = connectPhone(running.syncUrl, listId);
    phones.push(bob);
    await waitFor(() => bob.provider.synced, 5000, 'bob synced while the disk is full');
    expect(Object.keys(bob.doc.getMap('items').toJSON())).toEqual(['stored']);
    // Alice comes back with her unacknowledged edit; once there is room it is stored.
    storage.failing = false;
    alice.provider.connect();
    await waitFor(() => alice.isFullyStored(), 20_000, 'the edit stored after alice came back');
    await waitFor(() => bob.doc.getMap('items').has('unstored'), 5000, 'bob got it');
  });

  it('[F2] a shutdown while writes fail does not wait for the disk: one last attempt, sockets closed with 1012, nothing acknowledged', async () => {
    const storage = new FillingStorage();
    running = await startRelay({ storage });
    const listId = newListId();
    const alice = connectPhone(running.syncUrl, listId);
    phones.push(alice);
    await waitFor(() => alice.provider.synced, 5000, 'synced');
    storage.failing = true;
    alice.doc.getMap('items').set('bread', { checked: false });
    await waitFor(() => storage.refused >= 1, 5000, 'a refused write');
    const socket = alice.provider.ws as unknown as import('ws').WebSocket;
    const closeCode = closeCodeOf(socket);
    alice.provider.shouldConnect = false;
    const refusedBefore = storage.refused;
    await running.close();
    running = undefined;
    expect(await closeCode).toBe(1012);
    expect(storage.refused).toBe(refusedBefore + 1);
    expect(alice.isFullyStored()).toBe(false);
  });
});

describe('a disk storage whose journal of the previous run cannot be read back', () => {
  const directory = directoryPerTest('basket-replay-');
  let running: RunningRelay | undefined;
  afterEach(async () => {
    await running?.close();
    running = undefined;
  });

  it('[F4] /healthz is 503 while no list can be served, and 200 once a replay tried again puts the journal back', async () => {
    const dataDir = directory();
    // A segment left by a crash that cannot be read (stands for EIO): a directory in its place.
    const segmentPath = path.join(dataDir, 'journal.1.wal');
    await mkdir(segmentPath);
    const storage = new DiskListStorage({ dataDir, checkpointIntervalMs: 0, journalReplayRetryMs: 0 });
    running = await startRelay({ storage });
    const healthUrl = `http://127.0.0.1:${running.port}/healthz`;
    const listId = newListId();
    await expect(storage.load(listId)).rejects.toThrow('EISDIR');
    const failing = await fetch(healthUrl);
    expect(failing.status).toBe(503);
    expect(await failing.json()).toMatchObject({ status: 'storage_not_ready' });

    await rmdir(segmentPath);
    const update = Y.encodeStateAsUpdate(new Y.Doc());
    await writeFile(segmentPath, encodeJournalRecord(listId, update));
    expect((await storage.load(listId)).updates).toEqual([update]);
    const recovered = await fetch(healthUrl);
    expect(recovered.status).toBe(200);
    expect(await recovered.json()).toMatchObject({ status: 'ok' });
  });
});

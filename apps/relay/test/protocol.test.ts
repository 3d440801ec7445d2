import { stat } from 'node:fs/promises';
import path from 'node:path';
import * as encoding from 'lib0/encoding';
import WebSocket from 'ws';
import * as Y from 'yjs';
import { afterEach, describe, expect, it } from 'vitest';
import { DiskListStorage } from '../src/storage/disk-storage.js';
import { encodeSyncUpdate, MESSAGE_AWARENESS, MESSAGE_QUERY_AWARENESS } from '../src/sync/protocol.js';
import type { Phone, RunningRelay } from './helpers.js';
import {
  closeCodeOf,
  connectPhone,
  GatedStorage,
  newListId,
  openRawSocket,
  startRelay,
  stateVectorCovers,
  temporaryDirectory,
  waitFor,
} from './helpers.js';

describe('y-websocket protocol with the unmodified client', () => {
  const cleanups: Array<() => unknown> = [];
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  });
  async function relay(options?: Parameters<typeof startRelay>[0]): Promise<RunningRelay> {
    const running = await startRelay(options);
    cleanups.push(() => running.close());
    return running;
  }
  function phone(running: RunningRelay, listId: string, doc?: Y.Doc, resyncIntervalMs?: number): Phone {
    const connected = connectPhone(running.syncUrl, listId, doc, resyncIntervalMs);
    cleanups.push(() => connected.destroy());
    return connected;
  }

  it('[P1] syncs updates both ways between two phones', async () => {
    const running = await relay();
    const listId = newListId();
    const alice = phone(running, listId);
    const bob = phone(running, listId);
    await waitFor(() => alice.provider.synced && bob.provider.synced, 5000, 'initial sync');
    alice.doc.getMap('items').set('milk', 'Milk');
    bob.doc.getMap('items').set('eggs', 'Eggs');
    await waitFor(() => alice.doc.getMap('items').size === 2 && bob.doc.getMap('items').size === 2);
    expect(alice.doc.getMap('items').toJSON()).toEqual(bob.doc.getMap('items').toJSON());
  });

  it('[P2] a phone joining later receives what is stored', async () => {
    const running = await relay();
    const listId = newListId();
    const alice = phone(running, listId);
    alice.doc.getMap('items').set('bread', 'Bread');
    await waitFor(() => alice.isFullyStored(), 5000, 'ack');
    const bob = phone(running, listId);
    await waitFor(() => bob.doc.getMap('items').get('bread') === 'Bread');
  });

  it('[P3] the durable ack arrives and its state vector covers the update', async () => {
    const running = await relay();
    const alice = phone(running, newListId());
    await waitFor(() => alice.provider.synced);
    alice.doc.getMap('items').set('milk', 'Milk');
    const wanted = Y.encodeStateVector(alice.doc);
    await waitFor(() => alice.acks.some((ack) => stateVectorCovers(ack, wanted)), 5000, 'covering ack');
  });

  it('[P4] a phone with nothing to upload is acknowledged after its sync step 2', async () => {
    const running = await relay();
    const alice = phone(running, newListId());
    await waitFor(() => alice.acks.length > 0, 5000, 'ack after sync step 2');
    expect(alice.isFullyStored()).toBe(true);
  });

  it('[P5] no ack before the update is durable: the ack waits for the write', async () => {
    const storage = new GatedStorage();
    const running = await relay({ storage });
    const alice = phone(running, newListId());
    await waitFor(() => alice.isFullyStored(), 5000, 'first ack');
    storage.holdAppends();
    alice.doc.getMap('items').set('milk', 'Milk');
    const wanted = Y.encodeStateVector(alice.doc);
    await waitFor(() => storage.appendsStarted > 0, 5000, 'append started');
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(alice.acks.some((ack) => stateVectorCovers(ack, wanted))).toBe(false);
    storage.releaseAppends();
    await waitFor(() => alice.acks.some((ack) => stateVectorCovers(ack, wanted)), 5000, 'ack after write');
    expect(storage.appendsFinished).toBeGreaterThan(0);
  });

  it('[P6] nothing is answered before the list is loaded', async () => {
    const storage = new GatedStorage();
    await storage.inner.append('loadOrderListId001', [
      (() => {
        const d = new Y.Doc();
        d.getMap('items').set('stored', 'yes');
        return Y.encodeStateAsUpdate(d);
      })(),
    ]);
    storage.holdLoads();
    const running = await relay({ storage });
    const socket = await openRawSocket(running.syncUrl, 'loadOrderListId001');
    cleanups.push(() => socket.terminate());
    const received: Buffer[] = [];
    socket.on('message', (data: Buffer) => received.push(data));
    const encoder = encoding.createEncoder();
    encoding.writeVarUint(encoder, 0);
    encoding.writeVarUint(encoder, 0);
    encoding.writeVarUint8Array(encoder, Y.encodeStateVector(new Y.Doc()));
    socket.send(encoding.toUint8Array(encoder));
    await new Promise((resolve) => setTimeout(resolve, 150));
    expect(received).toHaveLength(0);
    storage.releaseLoads();
    await waitFor(() => received.length >= 2, 5000, 'answers after load');
    // Our sync step 2 answer must contain the stored item.
    const bob = phone(running, 'loadOrderListId001');
    await waitFor(() => bob.doc.getMap('items').get('stored') === 'yes');
  });

  it('[P14] while a list loads, its phones\' frames wait in their connections (where the incoming bounds count them), not in the list; then they are handled in order, and a wait longer than the ping interval drops nobody', async () => {
    const storage = new GatedStorage();
    storage.holdLoads();
    const running = await relay({ storage, limits: { pingIntervalMs: 500 } });
    const listId = newListId();
    const socket = await openRawSocket(running.syncUrl, listId);
    cleanups.push(() => socket.terminate());
    for (let i = 0; i < 30; i++) {
      const doc = new Y.Doc();
      doc.getMap('items').set(`queued-${i}`, 'x'.repeat(1000));
      socket.send(encodeSyncUpdate(Y.encodeStateAsUpdate(doc)));
    }
    await new Promise((resolve) => setTimeout(resolve, 1500));
    const room = running.relay.registry.get(listId);
    // Handed to the list while it loaded, all 30 waited there, counted by nothing.
    expect(room?.waitingMessageCount).toBe(0);
    expect(socket.readyState).toBe(WebSocket.OPEN);
    expect(running.relay.metrics.errors.get({ kind: 'dead_socket' })).toBe(0);
    storage.releaseLoads();
    await waitFor(() => room?.doc.getMap('items').size === 30, 5000, 'every queued update applied once loaded');
    expect(socket.readyState).toBe(WebSocket.OPEN);
  });

  it('[P15] while a list loads, a phone\'s presence query (the web app\'s probe of a live socket) is answered at once, its sync request only once the list is loaded; with the load ahead of it, the query waited too', async () => {
    const storage = new GatedStorage();
    storage.holdLoads();
    const running = await relay({ storage });
    const listId = newListId();
    const socket = await openRawSocket(running.syncUrl, listId);
    cleanups.push(() => socket.terminate());
    const types: number[] = [];
    socket.on('message', (data: Buffer) => types.push(data[0] as number));
    const request = encoding.createEncoder();
    encoding.writeVarUint(request, 0);
    encoding.writeVarUint(request, 0);
    encoding.writeVarUint8Array(request, Y.encodeStateVector(new Y.Doc()));
    socket.send(encoding.toUint8Array(request));
    socket.send(Uint8Array.of(MESSAGE_QUERY_AWARENESS));
    await waitFor(() => types.length > 0, 2000, 'the presence answer while the list loads');
    expect(types).toEqual([MESSAGE_AWARENESS]);
    socket.send(Uint8Array.of(MESSAGE_QUERY_AWARENESS));
    await waitFor(() => types.length > 1, 2000, 'the second presence answer');
    expect(running.relay.registry.get(listId)?.isReady).toBe(false);
    storage.releaseLoads();
    // The relay's own sync request and the answer to the phone's.
    await waitFor(() => types.filter((type) => type === 0).length >= 2, 5000, 'the sync answer once loaded');
    expect(types.slice(0, 2)).toEqual([MESSAGE_AWARENESS, MESSAGE_AWARENESS]);
  });

  it('[P7] awareness is relayed and removed when a phone drops', async () => {
    const running = await relay();
    const listId = newListId();
    const alice = phone(running, listId);
    const bob = phone(running, listId);
    alice.provider.awareness.setLocalStateField('user', { name: 'Alice' });
    const aliceId = alice.doc.clientID;
    await waitFor(() => bob.provider.awareness.getStates().has(aliceId), 5000, 'presence');
    alice.provider.disconnect();
    await waitFor(() => !bob.provider.awareness.getStates().has(aliceId), 5000, 'presence removed');
  });

  it('[P8] reconnect: offline edits on both sides converge', async () => {
    const running = await relay();
    const listId = newListId();
    const alice = phone(running, listId);
    const bob = phone(running, listId);
    await waitFor(() => alice.provider.synced && bob.provider.synced);
    alice.provider.disconnect();
    alice.doc.getMap('items').set('offline', 'Alice offline');
    bob.doc.getMap('items').set('online', 'Bob online');
    await new Promise((resolve) => setTimeout(resolve, 50));
    alice.provider.connect();
    await waitFor(() => alice.doc.getMap('items').size === 2 && bob.doc.getMap('items').size === 2, 5000, 'converge');
    await waitFor(() => alice.isFullyStored() && bob.isFullyStored(), 5000, 'both stored');
  });

  it('[P9] lists survive a relay restart on disk storage, and shutdown closes with 1012', async () => {
    const { dir, remove } = await temporaryDirectory('basket-restart-');
    cleanups.push(remove);
    const listId = newListId();
    const first = await startRelay({ storage: new DiskListStorage({ dataDir: dir }) });
    const alice = connectPhone(first.syncUrl, listId);
    const closes: number[] = [];
    alice.provider.on('connection-close', (event: { code: number } | null) => {
      if (event) closes.push(event.code);
    });
    alice.doc.getMap('items').set('milk', 'Milk');
    await waitFor(() => alice.isFullyStored(), 5000, 'stored');
    await first.close();
    await waitFor(() => closes.length > 0, 5000, 'close event');
    expect(closes[0]).toBe(1012);
    alice.destroy();
    const second = await relay({ storage: new DiskListStorage({ dataDir: dir }) });
    const bob = phone(second, listId);
    await waitFor(() => bob.doc.getMap('items').get('milk') === 'Milk', 5000, 'restored');
  });

  it('[P9b] a clean shutdown folds each list into a snapshot within its budget; budget 0 keeps the logs', async () => {
    for (const shutdownCompactMs of [10_000, 0]) {
      const { dir, remove } = await temporaryDirectory('basket-checkpoint-');
      cleanups.push(remove);
      const listIds = [newListId(), newListId()];
      const first = await startRelay({ storage: new DiskListStorage({ dataDir: dir }), limits: { shutdownCompactMs } });
      const phones = listIds.map((listId) => connectPhone(first.syncUrl, listId));
      phones.forEach((p, i) => {
        for (let n = 0; n < 5; n++) p.doc.getMap('items').set(`item${n}`, `list ${i} item ${n}`);
      });
      await waitFor(() => phones.every((p) => p.isFullyStored()), 5000, 'stored');
      await first.close();
      for (const p of phones) p.destroy();
      for (const listId of listIds) {
        // Updates reach a list log at checkpoints; a snapshot taken first leaves no log at all.
        const logBytes = await stat(path.join(dir, `${listId}.log`)).then((s) => s.size, () => 0);
        const hasSnapshot = await stat(path.join(dir, `${listId}.snapshot`)).then(() => true, () => false);
        if (shutdownCompactMs > 0) {
          expect({ logBytes, hasSnapshot }).toEqual({ logBytes: 0, hasSnapshot: true });
        } else {
          expect(logBytes).toBeGreaterThan(0);
          expect(hasSnapshot).toBe(false);
        }
      }
      const second = await relay({ storage: new DiskListStorage({ dataDir: dir }) });
      const readers = listIds.map((listId) => phone(second, listId));
      await waitFor(() => readers.every((r) => r.doc.getMap('items').size === 5), 5000, 'restored after restart');
      expect(readers[1]?.doc.getMap('items').get('item4')).toBe('list 1 item 4');
    }
  });

  it('[P10] idle lists are unloaded and load again on the next connection', async () => {
    const running = await relay({ limits: { idleUnloadMs: 50 } });
    const listId = newListId();
    const alice = phone(running, listId);
    alice.doc.getMap('items').set('milk', 'Milk');
    await waitFor(() => alice.isFullyStored());
    alice.provider.destroy();
    await waitFor(() => running.relay.registry.loadedCount === 0, 5000, 'unloaded');
    const bob = phone(running, listId);
    await waitFor(() => bob.doc.getMap('items').get('milk') === 'Milk', 5000, 'reloaded');
  });

  it('[P11] invalid list ids are refused for good (4400, so y-websocket stops) and load nothing', async () => {
    const running = await relay();
    for (const bad of ['short', '..%2F..%2Fetc', 'a'.repeat(65), 'has space in it here', 'UPPER.lower.dots.x']) {
      const code = await new Promise<number>((resolve) => {
        const socket = new WebSocket(`${running.syncUrl}/${bad}`);
        socket.on('close', (closeCode: number) => resolve(closeCode));
        socket.on('error', () => resolve(-1));
      });
      expect(code, bad).toBe(4400);
    }
    expect(running.relay.registry.loadedCount).toBe(0);
  });

  it('[P12] the shutdown flushes pending updates before closing', async () => {
    const storage = new GatedStorage();
    const running = await startRelay({ storage });
    const alice = connectPhone(running.syncUrl, newListId());
    cleanups.push(() => alice.destroy());
    await waitFor(() => alice.isFullyStored());
    storage.holdAppends();
    alice.doc.getMap('items').set('late', 'Late edit');
    await waitFor(() => storage.appendsStarted > 0);
    const closed = closeCodeOf(
      await new Promise<WebSocket>((resolve) => resolve(alice.provider.ws as unknown as WebSocket)),
    );
    const closing = running.close();
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(storage.appendsFinished).toBe(0);
    storage.releaseAppends();
    await closing;
    expect(await closed).toBe(1012);
    expect(storage.appendsFinished).toBeGreaterThan(0);
  });

  it('[P13] a client resyncing every 50 ms stays connected and in sync (its requests are paced, not refused)', async () => {
    // y-websocket's resync timer reads the global WebSocket, which Node 20 lacks (browsers have it).
    const globals = globalThis as { WebSocket?: unknown };
    if (globals.WebSocket === undefined) {
      globals.WebSocket = WebSocket;
      cleanups.push(() => delete globals.WebSocket);
    }
    const running = await relay();
    const listId = newListId();
    const eager = phone(running, listId, undefined, 50);
    const other = phone(running, listId);
    const statuses: string[] = [];
    eager.provider.on('status', ({ status }: { status: string }) => statuses.push(status));
    await waitFor(() => eager.provider.synced && other.provider.synced, 5000, 'both synced');
    for (let round = 0; round < 6; round++) {
      other.doc.getMap('items').set(`from-other-${round}`, round);
      eager.doc.getMap('items').set(`from-eager-${round}`, round);
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
    await waitFor(() => eager.doc.getMap('items').get('from-other-5') === 5, 3000, 'edits reach the eager client');
    await waitFor(() => other.doc.getMap('items').get('from-eager-5') === 5, 3000, 'edits from the eager client');
    await waitFor(() => eager.isFullyStored(), 3000, 'eager client acknowledged');
    expect(statuses.filter((status) => status === 'disconnected')).toEqual([]);
    // The client did go past the burst: its requests were paced.
    expect(running.relay.metrics.errors.get({ kind: 'sync_requests_deferred' })).toBeGreaterThan(0);
  });
});

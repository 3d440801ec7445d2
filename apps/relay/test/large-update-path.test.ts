import * as Y from 'yjs';
import { describe, expect, it } from 'vitest';
import type { RelayLimits } from '../src/http/relay-server.js';
import type { StoredList } from '../src/storage/list-storage.js';
import type { IncomingMessage } from '../src/sync/protocol.js';
import type { ListRoom } from '../src/sync/list-room.js';
import { decodeIncomingMessage, encodeSyncStep2, encodeSyncUpdate } from '../src/sync/protocol.js';
import { DecodeWorkerFailed, OffThreadDecoder } from '../src/sync/off-thread-decoder.js';
import { estimatedDocHeapBytes, HEAP_BYTES_PER_LIST_BYTE } from '../src/sync/heap-estimate.js';
import { ackVector, closeCodeOf, costlyMalformedUpdate, firstAck, GatedStorage, interleavedDeletedUpdate, newListId, openRawSocket, startRelay, waitFor } from './helpers.js';
import { listWithMumAndDad } from './room-fakes.js';

function updateMessage(update: Uint8Array, sliceStructs?: number): IncomingMessage {
  return decodeIncomingMessage(encodeSyncUpdate(update), sliceStructs === undefined ? {} : { sliceStructs });
}

function docOf(updates: readonly Uint8Array[]): Y.Doc {
  const doc = new Y.Doc();
  for (const update of updates) Y.applyUpdate(doc, update);
  return doc;
}

const nextTurn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

/** An honest list of `items` map entries (well over OFF_THREAD_DECODE_BYTES once encoded). */
function honestList(items: number): Uint8Array {
  const doc = new Y.Doc();
  const map = doc.getMap<string>('items');
  doc.transact(() => {
    for (let i = 0; i < items; i++) map.set(`item-${i}`, `Item number ${i} with a longer name`);
  });
  return Y.encodeStateAsUpdate(doc);
}

/**
 * On a relay with `limits`: an attacker's frame costly to check (4 million structs) reaches the
 * decode worker, then an honest phone elsewhere uploads its list (its first sync, a frame checked
 * off the loop too). How the attacker was closed, whether the phone's upload was acknowledged,
 * and how many frames were refused as too costly.
 */
async function costlyFrameThenHonestUpload(limits: Partial<RelayLimits>): Promise<{ attacker: number; honest: string; tooCostly: number }> {
  const running = await startRelay({ limits, trustedProxies: ['127.0.0.1'] });
  try {
    const attacker = await openRawSocket(running.syncUrl, newListId(), '10.0.0.1');
    const attackerClosed = closeCodeOf(attacker, 20_000);
    attacker.send(costlyMalformedUpdate(4_000_000));
    // Let it reach the worker first.
    await new Promise((resolve) => setTimeout(resolve, 150));
    const upload = honestList(3_000);
    expect(upload.length).toBeGreaterThan(65_536);
    const honest = await openRawSocket(running.syncUrl, newListId(), '10.0.0.2');
    const acked = firstAck(honest).then(
      () => 'acknowledged',
      (error: Error) => error.message,
    );
    honest.send(encodeSyncStep2(upload));
    const outcome = { attacker: await attackerClosed, honest: await acked, tooCostly: running.relay.metrics.errors.get({ kind: 'message_too_costly' }) };
    honest.terminate();
    return outcome;
  } finally {
    await running.close();
  }
}

describe('the large-update path: the decode worker and slices', () => {
  it('[K1] a frame queued on the decode worker behind one that exhausts its heap is checked by the next worker, not refused as too costly (4413)', async () => {
    // On the decoder itself: two frames queued on one worker, the first exhausting its heap.
    const decoder = new OffThreadDecoder({ maxHeapMb: 64, maxCheckMs: 30_000 });
    try {
      const costly = decoder.decode(costlyMalformedUpdate(4_000_000), {});
      const next = decoder.decode(encodeSyncStep2(honestList(3_000)), {});
      await expect(costly).rejects.toMatchObject({ tooCostly: true });
      // The next frame never needed more than the worker has: it is checked by a new worker.
      const outcome = await next.then(
        ({ message }) => message.kind,
        (error: unknown) => (error instanceof DecodeWorkerFailed ? `failed, tooCostly: ${error.tooCostly}` : String(error)),
      );
      expect(outcome).toBe('sync-step-2');
    } finally {
      await decoder.close();
    }

    // Through the relay: an honest phone's upload queued behind an attacker's frame whose check
    // takes more heap than the worker has. The honest update is valid: it must be checked (by the
    // new worker) and stored, not closed with 4413, a permanent refusal after which y-websocket
    // never reconnects.
    expect(await costlyFrameThenHonestUpload({ decodeWorkerHeapMb: 64 })).toEqual({ attacker: 4413, honest: 'acknowledged', tooCostly: 1 });
  }, 60_000);

  it('[K5] a check that takes longer than the worker may is refused as too costly (4413); the frames queued behind it are checked by a new worker', async () => {
    // On the decoder: a frame whose check takes seconds (with this heap) and an honest one behind it.
    const decoder = new OffThreadDecoder({ maxHeapMb: 1536, maxCheckMs: 300 });
    try {
      // Started and ready: the time a worker takes to start is not the check's.
      expect((await decoder.decode(encodeSyncStep2(honestList(10)), {})).message.kind).toBe('sync-step-2');
      const started = performance.now();
      const costly = decoder.decode(costlyMalformedUpdate(4_000_000), {});
      const next = decoder.decode(encodeSyncStep2(honestList(3_000)), {});
      await expect(costly).rejects.toMatchObject({ tooCostly: true, message: 'checking took over 300 ms' });
      expect(performance.now() - started).toBeLessThan(2_000);
      expect((await next).message.kind).toBe('sync-step-2');
    } finally {
      await decoder.close();
    }

    // Through the relay: the sender is refused for good, an honest phone behind it is stored.
    expect(await costlyFrameThenHonestUpload({ decodeWorkerCheckMs: 300 })).toEqual({ attacker: 4413, honest: 'acknowledged', tooCostly: 1 });
  }, 60_000);

  /**
   * Mum's phone uploads a sliced update that ends with a deletion while an ack of hers waits for a
   * write in flight (held until the test releases it). `storedAtAck` records, for each ack Mum
   * gets, its vector and what was stored then (a kill -9 right after it keeps that).
   */
  async function mumUploadsADeletionInSlices(): Promise<{
    storage: GatedStorage;
    list: ListRoom;
    markerClock: number;
    storedAtAck: Array<{ vector: Map<number, number>; stored: Promise<StoredList> }>;
  }> {
    const storage = new GatedStorage();
    const { list, mum, dad } = await listWithMumAndDad(storage, { maxListBytes: 8 * 1024 * 1024, compactLogBytes: 8 * 1024 * 1024 });
    // Dad's milk, stored.
    const dadsDoc = new Y.Doc();
    dadsDoc.clientID = 2;
    dadsDoc.getMap<string>('items').set('milk', 'Milk');
    list.receive(dad, updateMessage(Y.encodeStateAsUpdate(dadsDoc)), 0);
    await list.flush();

    // Mum's phone: her earlier session (another page load, client 5) added 200 items offline; this
    // session (client 1000) adds bread, then ticks off Dad's milk (a deletion), which the app
    // follows with a marker entry whose clock stands for the deletion (ack-tracker.ts).
    const earlierSession = new Y.Doc();
    earlierSession.clientID = 5;
    Y.applyUpdate(earlierSession, Y.encodeStateAsUpdate(dadsDoc));
    earlierSession.transact(() => {
      for (let i = 0; i < 200; i++) earlierSession.getMap<string>('items').set(`item ${i}`, `Item ${i}`);
    });
    const mumsDoc = new Y.Doc();
    mumsDoc.clientID = 1000;
    Y.applyUpdate(mumsDoc, Y.encodeStateAsUpdate(earlierSession));
    const beforeBread = Y.encodeStateVector(mumsDoc);
    mumsDoc.getMap<string>('items').set('bread', 'Bread');
    const bread = Y.encodeStateAsUpdate(mumsDoc, beforeBread);
    mumsDoc.getMap<string>('items').delete('milk');
    mumsDoc.getMap<number>('ackMarks').set('lastDeletion', 1);
    const markerClock = Y.getState(mumsDoc.store, 1000);

    // A write is in flight (Dad's next edit) when Mum's bread arrives: her ack waits for the next batch.
    storage.holdAppends();
    dadsDoc.getMap<string>('items').set('eggs', 'Eggs');
    list.receive(dad, updateMessage(Y.encodeStateAsUpdate(dadsDoc, Y.encodeStateVector(list.doc))), 0);
    await nextTurn();
    list.receive(mum, updateMessage(bread), 0);
    // Then her phone's sync step 2: everything the relay lacks, large enough to be sliced.
    const upload = Y.encodeStateAsUpdate(mumsDoc, Y.encodeStateVector(list.doc));
    const message = updateMessage(upload, 10);
    expect(message.kind === 'sync-update' && message.sliced !== undefined).toBe(true);

    const storedAtAck: Array<{ vector: Map<number, number>; stored: Promise<StoredList> }> = [];
    mum.onSend = (sent) => {
      if (sent[0] === 100) storedAtAck.push({ vector: ackVector(sent), stored: storage.inner.load(list.listId) });
    };
    list.receive(mum, message, 0);
    await nextTurn();
    await nextTurn();
    await nextTurn();
    return { storage, list, markerClock, storedAtAck };
  }

  /** Each ack covering Mum's deletion marker was sent with her deletion stored. */
  async function expectNoAckBeforeTheDeletionIsStored(storedAtAck: Array<{ vector: Map<number, number>; stored: Promise<StoredList> }>, markerClock: number): Promise<void> {
    for (const { vector, stored } of storedAtAck) {
      if ((vector.get(1000) ?? 0) < markerClock) continue;
      // Mum's phone takes her deletion as stored: it must be.
      const storedDoc = docOf((await stored).updates);
      expect({ ackedMarker: vector.get(1000), milkStillStored: storedDoc.getMap('items').has('milk') }).toEqual({ ackedMarker: markerClock, milkStillStored: false });
    }
  }

  it('[K2] an acknowledgement sent between two slices never covers a phone\'s clock while the deletions of its update are not stored yet', async () => {
    const { storage, list, markerClock, storedAtAck } = await mumUploadsADeletionInSlices();
    // The write finishes between two slices.
    storage.releaseAppends();
    await waitFor(() => list.doc.getMap('items').size === 202 && !list.isBusy, 5_000, 'the upload applied');
    await list.flush();
    expect(list.doc.getMap('items').has('milk')).toBe(false);
    expect(storedAtAck.length).toBeGreaterThan(0);
    await expectNoAckBeforeTheDeletionIsStored(storedAtAck, markerClock);
    list.destroy();
  });

  it('[K6] a relay stopping between two slices of an update acknowledges no part of it: its deletions, in the last slice, were never applied', async () => {
    const { storage, list, markerClock, storedAtAck } = await mumUploadsADeletionInSlices();
    expect(list.isBusy).toBe(true);
    const stopped = list.shutdown(1012, 'restarting');
    storage.releaseAppends();
    await stopped;
    // Stopped before its last slice: the deletion was never applied, so an ack covering its
    // marker would be false. (Mum gets none: her bread, stored, comes again after the restart.)
    expect(list.doc.getMap('items').has('milk')).toBe(true);
    expect(storedAtAck.map(({ vector }) => vector.get(1000) ?? 0).filter((clock) => clock >= markerClock)).toEqual([]);
    list.destroy();
  });

  it('[K3] a frame still being checked on the decode worker counts as held (Frames still arriving) after its sender has gone', async () => {
    const running = await startRelay({ trustedProxies: ['127.0.0.1'] });
    try {
      const incomingBytes = async (): Promise<number> => {
        const text = await (await fetch(`http://127.0.0.1:${running.port}/metrics`)).text();
        const line = text.split('\n').find((l) => l.startsWith('basket_relay_incoming_bytes '));
        return Number(line?.split(' ')[1]);
      };
      // Frames that each take the worker a while to check (about 0.25 s per MiB here), from
      // three addresses, each gone as soon as its frame is read: all queue on the one worker.
      const frames = [0, 1, 2].map(() => costlyMalformedUpdate(1_500_000));
      for (const [index, frame] of frames.entries()) {
        const socket = await openRawSocket(running.syncUrl, newListId(), `10.0.1.${index + 1}`);
        socket.send(frame);
        await waitFor(() => socket.bufferedAmount === 0, 5_000, 'the frame sent');
        await new Promise((resolve) => setTimeout(resolve, 30));
        socket.terminate();
      }
      await new Promise((resolve) => setTimeout(resolve, 50));
      const checked = running.relay.metrics.offThreadDecodeSeconds.observations;
      // At least the last frame is still on the worker (or waiting for it), held in memory twice
      // (the relay's copy and the worker's), and no bound on incoming bytes sees it.
      expect(checked).toBeLessThan(frames.length);
      const stillHeld = frames.slice(checked).reduce((total, frame) => total + frame.length, 0);
      expect(await incomingBytes()).toBeGreaterThanOrEqual(stillHeld);
    } finally {
      await running.close();
    }
  }, 60_000);

  it('[K4] a sender gone before its last slice: what its slices added still counts in the list\'s size (its heap)', async () => {
    const storage = new GatedStorage();
    const { list, mum } = await listWithMumAndDad(storage, { maxListBytes: 8 * 1024 * 1024, compactLogBytes: 8 * 1024 * 1024 });
    // Deleted items: about 5 bytes stored each, 240 bytes of heap, so the heap decides the size.
    list.receive(mum, updateMessage(interleavedDeletedUpdate(2_000), 50), 0);
    for (let turn = 0; turn < 40; turn++) await nextTurn();
    list.detach(mum);
    await waitFor(() => !list.isBusy, 5_000, 'the slicing stopped');
    await list.flush();
    const integrated = list.doc.store.clients.get(1)?.length ?? 0;
    expect(integrated).toBeGreaterThan(100);
    // The list holds thousands of items; it counts as what is stored only (its heap never added).
    const heapSize = Math.ceil(estimatedDocHeapBytes(list.doc) / HEAP_BYTES_PER_LIST_BYTE);
    expect(heapSize).toBeGreaterThan(list.storedByteCount);
    expect(list.sizeBytes).toBeGreaterThanOrEqual(heapSize * 0.9);
    list.destroy();
  });
});

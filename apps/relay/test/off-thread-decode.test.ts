import * as Y from 'yjs';
import { describe, expect, it } from 'vitest';
import type { RelayLimits } from '../src/http/relay-server.js';
import { DecodeWorkerFailed, OffThreadDecoder } from '../src/sync/off-thread-decoder.js';
import * as decoding from 'lib0/decoding';
import WebSocket from 'ws';
import { MemoryListStorage } from '../src/storage/memory-storage.js';
import { encodeSyncStep2, encodeSyncUpdate, ProtocolError } from '../src/sync/protocol.js';
import { closeCodeOf, connectPhone, costlyMalformedUpdate, firstAck, interleavedDeletedUpdate, newListId, openRawSocket, startRelay, waitFor } from './helpers.js';

/**
 * Samples this process's event loop, which the relay's shares under the tests, every 5 ms;
 * `stop()` returns the longest it was held.
 */
function sampleStalls(): { stop: () => number } {
  let longestStallMs = 0;
  let last = performance.now();
  const sampler = setInterval(() => {
    const now = performance.now();
    longestStallMs = Math.max(longestStallMs, now - last);
    last = now;
  }, 5);
  // A test that fails before stop() must not be kept alive by it.
  sampler.unref();
  return {
    stop: () => {
      clearInterval(sampler);
      return longestStallMs;
    },
  };
}

/**
 * The relay checks `frame` (from a raw socket) while the event loop is sampled. Returns the close code, how long the
 * check took (send to close) and the longest the loop was held meanwhile.
 */
async function checkWhileSampling(frame: Uint8Array, limits: Partial<RelayLimits>): Promise<{ code: number; checkMs: number; longestStallMs: number }> {
  const running = await startRelay({ limits });
  try {
    const socket = await openRawSocket(running.syncUrl, newListId());
    const closed = closeCodeOf(socket, 20_000);
    const stalls = sampleStalls();
    const sent = performance.now();
    socket.send(frame);
    const code = await closed;
    const checkMs = performance.now() - sent;
    return { code, checkMs, longestStallMs: stalls.stop() };
  } finally {
    await running.close();
  }
}

/**
 * Uploads `update` as a sync step 2 from a raw socket while the event loop is sampled every 5 ms,
 * as checkWhileSampling does; returns the acknowledged state vector, how long the ack took, the
 * longest stall and how many updates were applied in slices.
 */
async function uploadWhileSampling(update: Uint8Array, limits: Partial<RelayLimits>): Promise<{ acked: Map<number, number>; ackMs: number; longestStallMs: number; sliced: number }> {
  const running = await startRelay({ limits });
  try {
    const socket = await openRawSocket(running.syncUrl, newListId());
    const ack = firstAck(socket, 30_000);
    const stalls = sampleStalls();
    const sent = performance.now();
    socket.send(encodeSyncStep2(update));
    const acked = await ack;
    const ackMs = performance.now() - sent;
    const longestStallMs = stalls.stop();
    socket.terminate();
    return { acked, ackMs, longestStallMs, sliced: running.relay.metrics.slicedUpdates.get() };
  } finally {
    await running.close();
  }
}

describe('large frames checked off the event loop', () => {
  it('[D1] while a large frame is checked, the event loop goes on: checked on it, the loop stops for the whole check', async () => {
    // 2 million GC structs: Yjs builds every one before finding the delete set cut short.
    const frame = costlyMalformedUpdate(2_000_000);
    const offThread = await checkWhileSampling(frame, {});
    expect(offThread.code).toBe(4400);
    const onLoop = await checkWhileSampling(frame, { offThreadDecodeBytes: 0 });
    expect(onLoop.code).toBe(4400);
    // The same check, so comparable: on the loop the longest stall is about the whole check.
    expect(onLoop.longestStallMs).toBeGreaterThan(onLoop.checkMs / 2);
    expect(offThread.checkMs).toBeGreaterThan(100);
    expect(offThread.longestStallMs).toBeLessThan(offThread.checkMs / 3);
  }, 60_000);

  it('[D2] a list uploaded in one large message is checked off the loop, then stored, forwarded and acknowledged as any other', async () => {
    const running = await startRelay();
    const listId = newListId();
    try {
      // Nested maps: the update's first values of each item's keys name their item by id, which
      // must survive the way back from the worker.
      const offline = new Y.Doc();
      offline.transact(() => {
        for (let i = 0; i < 3000; i++) {
          const item = new Y.Map<unknown>();
          offline.getMap('items').set(`item-${i}`, item);
          item.set('name', `Item ${i}`);
          item.set('checked', i % 2 === 0);
        }
      });
      expect(Y.encodeStateAsUpdate(offline).length).toBeGreaterThan(64 * 1024);
      const mum = connectPhone(running.syncUrl, listId, offline);
      const dad = connectPhone(running.syncUrl, listId);
      try {
        await waitFor(() => dad.doc.getMap('items').size === 3000, 10_000, "Dad to get Mum's list");
        await waitFor(() => mum.isFullyStored(), 10_000, "Mum's list acknowledged");
        expect(running.relay.metrics.offThreadDecodeSeconds.observations).toBeGreaterThan(0);
        // Later small edits are checked on the loop, and still flow both ways.
        dad.doc.getMap('items').delete('item-0');
        await waitFor(() => !mum.doc.getMap('items').has('item-0'), 5_000, 'the delete to reach Mum');
      } finally {
        mum.destroy();
        dad.destroy();
      }
    } finally {
      await running.close();
    }
  }, 30_000);

  it('[D5] a large valid update is applied in slices: the event loop is never held for more than a few of them; on the loop in one go, for all of it', async () => {
    // 200,000 deleted items of two clients, each after the other's: nothing joins, in the update
    // or in the list, so Yjs keeps and places every one of them.
    const update = interleavedDeletedUpdate(100_000);
    const sliced = await uploadWhileSampling(update, {});
    const whole = await uploadWhileSampling(update, { offThreadDecodeBytes: 0 });
    for (const { acked } of [sliced, whole]) expect([acked.get(1), acked.get(2)]).toEqual([100_000, 100_000]);
    expect(sliced.sliced).toBe(1);
    expect(whole.sliced).toBe(0);
    expect(whole.longestStallMs).toBeGreaterThan(whole.ackMs / 2);
    expect(sliced.longestStallMs).toBeLessThan(whole.longestStallMs / 3);
  }, 60_000);

  it('[D7] a large update whose items of two clients each build on a later item of the other is refused (4400): Yjs could never integrate it', async () => {
    const running = await startRelay();
    try {
      const listId = newListId();
      const socket = await openRawSocket(running.syncUrl, listId);
      const closed = closeCodeOf(socket, 20_000);
      socket.send(encodeSyncStep2(interleavedDeletedUpdate(10_000, true)));
      expect(await closed).toBe(4400);
      // The same items in an order that works are taken.
      const ok = await uploadWhileSampling(interleavedDeletedUpdate(10_000), {});
      expect(ok.sliced).toBe(1);
    } finally {
      await running.close();
    }
  }, 30_000);

  it('[D6] a list stored as one large update is loaded in slices: the event loop is never held for long; loaded in one go, for all of it', async () => {
    const update = interleavedDeletedUpdate(100_000);
    const loadWhileSampling = async (limits: Partial<RelayLimits>): Promise<{ longestStallMs: number; loads: number; loaded: Map<number, number> }> => {
      const storage = new MemoryListStorage();
      const listId = newListId();
      await storage.append(listId, [update]);
      const running = await startRelay({ storage, limits });
      try {
        const stalls = sampleStalls();
        // A raw socket asks for nothing: the relay's greeting, sent once the list is loaded, holds
        // its state vector, and no phone in this process applies the list meanwhile.
        const socket = new WebSocket(`${running.syncUrl}/${listId}`);
        const greeting = await new Promise<Uint8Array>((resolve, reject) => {
          socket.once('message', (data: Buffer) => resolve(new Uint8Array(data)));
          socket.once('error', reject);
        });
        const longestStallMs = stalls.stop();
        socket.terminate();
        const decoder = decoding.createDecoder(greeting);
        expect([decoding.readVarUint(decoder), decoding.readVarUint(decoder)]).toEqual([0, 0]);
        return { longestStallMs, loads: running.relay.metrics.slicedLoads.get(), loaded: Y.decodeStateVector(decoding.readVarUint8Array(decoder)) };
      } finally {
        await running.close();
      }
    };
    const sliced = await loadWhileSampling({});
    const whole = await loadWhileSampling({ offThreadDecodeBytes: 0 });
    expect([sliced.loads, whole.loads]).toEqual([1, 0]);
    for (const { loaded } of [sliced, whole]) expect([loaded.get(1), loaded.get(2)]).toEqual([100_000, 100_000]);
    expect(whole.longestStallMs).toBeGreaterThan(100);
    expect(sliced.longestStallMs).toBeLessThan(whole.longestStallMs / 3);
  }, 60_000);

  it('[D3] a frame whose check needs more heap than the worker has is refused with 4413; the relay and the next large frame go on', async () => {
    const running = await startRelay({ limits: { decodeWorkerHeapMb: 64 } });
    try {
      const listId = newListId();
      const socket = await openRawSocket(running.syncUrl, listId);
      const closed = closeCodeOf(socket, 20_000);
      // 4 million structs: checking them takes several hundred MB of heap.
      socket.send(costlyMalformedUpdate(4_000_000));
      expect(await closed).toBe(4413);
      expect(running.relay.metrics.errors.get({ kind: 'message_too_costly' })).toBe(1);
      // A new worker checks the next one.
      const next = await openRawSocket(running.syncUrl, listId);
      const nextClosed = closeCodeOf(next, 20_000);
      next.send(costlyMalformedUpdate(100_000));
      expect(await nextClosed).toBe(4400);
      const phone = connectPhone(running.syncUrl, listId);
      try {
        phone.doc.getMap('items').set('milk', 'Milk');
        await waitFor(() => phone.isFullyStored(), 5_000, 'a phone still stored');
      } finally {
        phone.destroy();
      }
    } finally {
      await running.close();
    }
  }, 60_000);
});

describe('the decode worker', () => {
  it('[D4] an idle worker is stopped; the next frame starts a new one, which the old one stopping does not fail', async () => {
    const decoder = new OffThreadDecoder({ maxHeapMb: 256, maxCheckMs: 30_000, idleStopMs: 50 });
    const valid = (): Uint8Array => {
      const doc = new Y.Doc();
      doc.getMap('items').set('milk', 'Milk');
      return encodeSyncUpdate(Y.encodeStateAsUpdate(doc));
    };
    try {
      expect((await decoder.decode(valid(), {})).message.kind).toBe('sync-update');
      expect(decoder.running).toBe(true);
      await waitFor(() => !decoder.running, 2_000, 'the idle worker stopped');
      // Sent while nothing runs: a new worker answers it.
      const [first, second] = await Promise.all([decoder.decode(valid(), {}), decoder.decode(valid(), {})]);
      expect([first.message.kind, second.message.kind]).toEqual(['sync-update', 'sync-update']);
      await expect(decoder.decode(new Uint8Array([0, 2, 5]), {})).rejects.toBeInstanceOf(ProtocolError);
    } finally {
      await decoder.close();
    }
    await expect(decoder.decode(valid(), {})).rejects.toBeInstanceOf(DecodeWorkerFailed);
  });
});

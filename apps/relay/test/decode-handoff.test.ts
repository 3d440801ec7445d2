/**
 * The hand-off between a connection and the decode worker (the thirty-eighth session's review of
 * it): what a decoded message waiting for its budgets holds is counted by the incoming bounds
 * ([DW2]); a phone whose frame waits on the worker keeps hearing from the relay ([DW1]); the
 * worker's turns are shared between addresses, frames and sync-answer cuts alike ([DW1], [DW5]).
 */
import * as encoding from 'lib0/encoding';
import WebSocket from 'ws';
import * as Y from 'yjs';
import { afterEach, describe, expect, it } from 'vitest';
import { MemoryListStorage } from '../src/storage/memory-storage.js';
import { OffThreadDecoder } from '../src/sync/off-thread-decoder.js';
import { encodeSyncStep1, encodeSyncStep2, encodeSyncUpdate, MESSAGE_AWARENESS, MESSAGE_DURABLE_ACK } from '../src/sync/protocol.js';
import type { RunningRelay } from './helpers.js';
import { costlyMalformedUpdate, newListId, openRawSocket, startRelay, waitFor } from './helpers.js';

const KiB = 1024;

/** One item whose name is `key`: as large as the key, and new content for any list. */
function itemUpdate(key: string): Uint8Array {
  const doc = new Y.Doc();
  doc.getMap('items').set(key, { name: key, quantity: 2 });
  return Y.encodeStateAsUpdate(doc);
}

/** An honest list of `items` entries, one update from `client` (3,000: ~130 kB, over OFF_THREAD_DECODE_BYTES). */
function honestList(items: number, client = 4242): Uint8Array {
  const doc = new Y.Doc();
  doc.clientID = client;
  const map = doc.getMap<unknown>('items');
  doc.transact(() => {
    for (let i = 0; i < items; i++) map.set(`item-${i}`, `Item number ${i} with a longer name`);
  });
  return Y.encodeStateAsUpdate(doc);
}

/** A Basket-shaped list of `items` nested maps written by `client` (30,000: about 1 MB). */
function basketList(items: number, client: number): Uint8Array {
  const doc = new Y.Doc();
  doc.clientID = client;
  doc.transact(() => {
    const map = doc.getMap<unknown>('items');
    for (let i = 0; i < items; i++) {
      const item = new Y.Map<unknown>();
      map.set(`i${i}`, item);
      item.set('name', `Item ${i}`);
      item.set('checked', false);
    }
  });
  return Y.encodeStateAsUpdate(doc);
}

/** A state vector holding `clock` of `client`. */
function stateVectorOf(client: number, clock: number): Uint8Array {
  const encoder = encoding.createEncoder();
  encoding.writeVarUint(encoder, 1);
  encoding.writeVarUint(encoder, client);
  encoding.writeVarUint(encoder, clock);
  return encoding.toUint8Array(encoder);
}

async function incomingBytes(running: RunningRelay): Promise<number> {
  const text = await (await fetch(`http://127.0.0.1:${running.port}/metrics`)).text();
  const line = text.split('\n').find((l) => l.startsWith('basket_relay_incoming_bytes '));
  return Number(line?.split(' ')[1]);
}

describe('the decode worker hand-off', () => {
  const cleanups: Array<() => unknown> = [];
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  });

  for (const [path, offThreadDecodeBytes] of [
    ['checked on the decode worker', 64 * KiB],
    ['checked on the event loop', 0],
  ] as const) {
    it(`[DW2] updates decoded and waiting for their address's storage budget count against MAX_INCOMING_BYTES_PER_IP (${path}): past it, sockets are dropped instead of parking more`, async () => {
      let clockOffsetMs = 0;
      const running = await startRelay({
        limits: { offThreadDecodeBytes, maxMessageBytes: 512 * KiB, maxIncomingBytesPerIp: 700 * KiB, maxIncomingBytesTotal: 64 * 1024 * KiB, maxStoredBytesPerIpPerHour: 3600 },
        now: () => Date.now() + clockOffsetMs,
      });
      cleanups.push(() => running.close());
      const storedIn = (listId: string, key: string): unknown => running.relay.registry.get(listId)?.doc.getMap('items').get(key);
      // One upload passed on credit: the address is in storage debt for about an hour.
      const listId = newListId();
      const first = await openRawSocket(running.syncUrl, listId);
      cleanups.push(() => first.terminate());
      first.send(encodeSyncUpdate(itemUpdate('x'.repeat(6000))));
      await waitFor(() => storedIn(listId, 'x'.repeat(6000)) !== undefined, 5000, 'the first upload stored');

      const dropped: number[] = [];
      const keys: string[] = [];
      let frameBytes = 0;
      for (let i = 0; i < 6; i++) {
        const socket = await openRawSocket(running.syncUrl, listId);
        cleanups.push(() => socket.terminate());
        socket.on('close', (code) => dropped.push(code));
        // The key is stored twice (the key and the name): about 200 KiB.
        const key = `w${i}`.repeat(50 * KiB);
        keys.push(key);
        const frame = encodeSyncUpdate(itemUpdate(key));
        frameBytes = frame.length;
        socket.send(frame);
        // Read whole and decoded before the next: each waits decoded, not as a frame.
        await new Promise((resolve) => setTimeout(resolve, 150));
      }
      // Each holds about 200 KiB decoded: three fit under 700 KiB, the other three are dropped.
      // (Uncounted once decoded, all six waited and the relay counted none of them.)
      await waitFor(() => dropped.length >= 3, 5000, 'sockets past the bound dropped');
      await new Promise((resolve) => setTimeout(resolve, 300));
      expect(dropped).toEqual([1006, 1006, 1006]);
      expect(running.relay.metrics.errors.get({ kind: 'incoming_over_address' })).toBe(3);
      expect(frameBytes).toBeGreaterThan(200 * KiB);
      expect(await incomingBytes(running)).toBeGreaterThanOrEqual(3 * 200 * KiB);
      expect(await incomingBytes(running)).toBeLessThanOrEqual(700 * KiB);

      // Each time the budget has refilled, one that waited is stored (and puts the address in
      // debt again, for days at 3,600 bytes an hour): slowed, not lost.
      for (let stored = 1; stored <= 3; stored++) {
        clockOffsetMs += 100 * 3600 * 1000;
        await waitFor(() => keys.filter((key) => storedIn(listId, key) !== undefined).length === stored, 5000, 'a waiting update stored');
      }
    }, 20_000);
  }

  it('[DW1] a phone whose large frame waits on the decode worker behind other addresses\' frames is sent presence meanwhile: the web app hears something within its 8 s', async () => {
    const running = await startRelay({ trustedProxies: ['127.0.0.1'] });
    cleanups.push(() => running.close());
    // Six addresses, each with a frame that takes the worker over a second to refuse.
    const costly = costlyMalformedUpdate(3_000_000);
    const attackers = await Promise.all(Array.from({ length: 6 }, (_, i) => openRawSocket(running.syncUrl, newListId(), `10.0.2.${i + 1}`)));
    for (const attacker of attackers) cleanups.push(() => attacker.terminate());
    const honest = await openRawSocket(running.syncUrl, newListId(), '10.0.3.1');
    cleanups.push(() => honest.terminate());
    await new Promise((resolve) => setTimeout(resolve, 200));
    for (const attacker of attackers) attacker.send(costly);
    await new Promise((resolve) => setTimeout(resolve, 300));

    const heard: Array<{ type: number; at: number }> = [];
    honest.on('message', (data: Buffer) => heard.push({ type: data[0] as number, at: performance.now() }));
    const upload = honestList(3000);
    expect(upload.length).toBeGreaterThan(64 * KiB);
    const sentAt = performance.now();
    honest.send(encodeSyncStep2(upload));
    await waitFor(() => heard.some(({ type }) => type === MESSAGE_DURABLE_ACK), 30_000, 'the upload acknowledged');
    const ackAt = heard.find(({ type }) => type === MESSAGE_DURABLE_ACK)?.at as number;
    // It waited for the others' frames (several seconds): without a word, the app reconnects after 8 s.
    expect(ackAt - sentAt).toBeGreaterThan(5000);
    const times = [sentAt, ...heard.filter(({ at }) => at <= ackAt).map(({ at }) => at)];
    const longestSilence = Math.max(...times.slice(1).map((at, i) => at - (times[i] as number)));
    expect(heard.filter(({ type, at }) => type === MESSAGE_AWARENESS && at < ackAt).length).toBeGreaterThanOrEqual(1);
    // 3 s of silence and the next look, a second later (timers run late on a busy machine).
    expect(longestSilence).toBeLessThan(5000);
    expect(honest.readyState).toBe(WebSocket.OPEN);
  }, 60_000);

  it('[DW1] the decode worker takes the addresses in turn: one address\'s frames, cuts and the loads wait behind each other, another address waits for one of each', async () => {
    const decoder = new OffThreadDecoder({ maxHeapMb: 1536, maxCheckMs: 30_000 });
    cleanups.push(() => decoder.close());
    const frame = encodeSyncStep2(honestList(3000));
    const answer = honestList(3000, 99);
    const settled: string[] = [];
    const track = (name: string, work: Promise<unknown>): Promise<void> => work.then(() => void settled.push(name));
    const all = [
      track('A1', decoder.decode(frame, {}, '10.0.0.1')),
      track('A2', decoder.cutSyncAnswer(answer, 16 * KiB, '10.0.0.1')),
      track('A3', decoder.decode(frame, {}, '10.0.0.1')),
      track('A4', decoder.cutSyncAnswer(answer, 16 * KiB, '10.0.0.1')),
      track('A5', decoder.decode(frame, {}, '10.0.0.1')),
      track('B1', decoder.decode(frame, {}, '10.0.0.2')),
      track('load', decoder.cutStored([answer], 64 * KiB)),
    ];
    await Promise.all(all);
    // A1 went to the worker at once; then each waiting turn in the order it came: A, B, the loads, A…
    // (One queue for all, in the order sent, had B wait for every one of A's.)
    expect(settled).toEqual(['A1', 'A2', 'B1', 'load', 'A3', 'A4', 'A5']);
  }, 30_000);

  it('[DW5] sync-answer cuts take their asking phone\'s address\'s turn on the decode worker: many queued by one address hold another address\'s upload, or its own answer, for one or two of them, not all', async () => {
    const storage = new MemoryListStorage();
    const bigList = newListId();
    await storage.append(bigList, [basketList(30_000, 777)]);
    const running = await startRelay({ storage, trustedProxies: ['127.0.0.1'] });
    cleanups.push(() => running.close());
    const isAnswer = (data: Buffer): boolean => data[0] === 0 && data[1] === 1 && data.length > 1000;
    // Twelve sockets of one address each ask for the list with another state vector: twelve
    // different answers of about 1 MB, each cut on the worker.
    const askers = await Promise.all(Array.from({ length: 12 }, () => openRawSocket(running.syncUrl, bigList, '10.0.4.1')));
    const answered = new Set<WebSocket>();
    for (const asker of askers) {
      cleanups.push(() => asker.terminate());
      asker.on('message', (data: Buffer) => {
        if (isAnswer(data)) answered.add(asker);
      });
    }
    await waitFor(() => running.relay.registry.get(bigList)?.isReady === true, 10_000, 'the large list loaded');
    const joiner = await openRawSocket(running.syncUrl, bigList, '10.0.6.1');
    const uploader = await openRawSocket(running.syncUrl, newListId(), '10.0.5.1');
    cleanups.push(() => joiner.terminate(), () => uploader.terminate());
    askers.forEach((asker, i) => asker.send(encodeSyncStep1(stateVectorOf(777, i + 1))));
    await waitFor(() => answered.size >= 1, 10_000, 'the first answer cut');

    // Another address's upload (checked on the worker) and another's sync request (its answer cut there).
    const answeredBefore = { start: answered.size, ack: -1, joinerAnswer: -1 };
    uploader.on('message', (data: Buffer) => {
      if (data[0] === MESSAGE_DURABLE_ACK && answeredBefore.ack < 0) answeredBefore.ack = answered.size;
    });
    joiner.on('message', (data: Buffer) => {
      if (isAnswer(data) && answeredBefore.joinerAnswer < 0) answeredBefore.joinerAnswer = answered.size;
    });
    uploader.send(encodeSyncStep2(honestList(3000)));
    joiner.send(encodeSyncStep1(Y.encodeStateVector(new Y.Doc())));
    await waitFor(() => answeredBefore.ack >= 0 && answeredBefore.joinerAnswer >= 0, 30_000, 'the other addresses served');
    // Each waited for the cut on the worker and one or two more of that address's: one queue for
    // all (or one turn for every cut) had them wait for every cut queued before them.
    expect(answeredBefore.start).toBeLessThan(6);
    expect(answeredBefore.ack - answeredBefore.start).toBeLessThanOrEqual(3);
    expect(answeredBefore.joinerAnswer - answeredBefore.start).toBeLessThanOrEqual(3);
    await waitFor(() => answered.size === askers.length, 30_000, 'every asker answered');
  }, 60_000);
});

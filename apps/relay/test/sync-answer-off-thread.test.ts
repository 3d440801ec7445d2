/**
 * Large sync answers cut into parts on the decode worker (ListRoom.answerSyncRequest,
 * OffThreadDecoder.cutSyncAnswer): the event loop and the relay's heap pay nothing for the cut,
 * what the phone is sent meanwhile waits behind the answer, and a cut that fails sends the
 * answer whole.
 */
import { spawn } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import * as awarenessProtocol from 'y-protocols/awareness';
import * as Y from 'yjs';
import { afterEach, describe, expect, it } from 'vitest';
import { RelayMetrics } from '../src/metrics.js';
import { MemoryListStorage } from '../src/storage/memory-storage.js';
import { OffThreadDecoder } from '../src/sync/off-thread-decoder.js';
import {
  decodeIncomingMessage,
  encodeAwarenessMessage,
  encodeSyncStep1,
  encodeSyncStep2,
  encodeSyncUpdate,
  MESSAGE_AWARENESS,
  MESSAGE_QUERY_AWARENESS,
} from '../src/sync/protocol.js';
import type { SyncAnswerCutter } from '../src/sync/sync-answer-parts.js';
import { syncAnswerMessages } from '../src/sync/sync-answer-parts.js';
import type { Phone } from './helpers.js';
import { closeCodeOf, connectPhone, newListId, openRawSocket, startRelay, temporaryDirectory, waitFor, whenListening } from './helpers.js';
import { ListRoom } from '../src/sync/list-room.js';
import { fakePeer, roomOptions } from './room-fakes.js';
import type { Received } from './sync-answer-helpers.js';
import { answerTo, listWith, received, SYNC_STEP_1, SYNC_STEP_2, SYNC_UPDATE, syncMessages } from './sync-answer-helpers.js';

const relayRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

/**
 * A list whose items' `checked` field was toggled again and again (a family's list used week
 * after week), about `targetBytes` stored: mostly deleted one-clock map values, the densest
 * honest shape (~6 bytes per struct). Counted by the relay at ~7 bytes per struct (its heap
 * estimate over 34), so within MAX_LIST_BYTES.
 */
function toggledList(targetBytes: number): Uint8Array {
  const doc = new Y.Doc();
  doc.clientID = 7;
  const items = doc.getMap<Y.Map<unknown>>('items');
  const rows: Array<Y.Map<unknown>> = [];
  doc.transact(() => {
    for (let i = 0; i < 2000; i++) {
      const row = new Y.Map<unknown>();
      row.set('name', `Item ${i}`);
      row.set('checked', false);
      items.set(`item-${i}`, row);
      rows.push(row);
    }
  });
  // ~12 kB a round (2,000 deleted values).
  const rounds = Math.ceil(targetBytes / 12_000);
  for (let round = 0; round < rounds; round++) {
    doc.transact(() => {
      for (const row of rows) row.set('checked', round % 2 === 0);
    });
  }
  return Y.encodeStateAsUpdate(doc);
}

/**
 * The relay from its sources in its own process (a heap it runs out of must not end the test
 * run); `kill` is registered with `cleanups` before it is waited for.
 */
async function spawnSourceRelay(dataDir: string, maxOldSpaceMb: number, cleanups: Array<() => Promise<void> | void>): Promise<{ syncUrl: string; exit: Promise<number | string> }> {
  const child = spawn(process.execPath, [`--max-old-space-size=${maxOldSpaceMb}`, '--import', 'tsx', path.join(relayRoot, 'src/main.ts')], {
    cwd: relayRoot,
    env: { ...process.env, PORT: '0', HOST: '127.0.0.1', DATA_DIR: dataDir, STATIC_DIR: path.join(dataDir, 'no-web-app'), LOG_LEVEL: 'info' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  cleanups.push(() => {
    child.kill('SIGKILL');
  });
  const exit = new Promise<number | string>((resolve) => child.once('exit', (code, signal) => resolve(code ?? signal ?? 'unknown')));
  child.stderr?.resume();
  const { port } = await whenListening(child);
  return { syncUrl: `ws://127.0.0.1:${port}/sync`, exit };
}

/** A cutter that cuts on the event loop, once `release` is called: the cut is under way until then. */
function gatedCutter(): { cutter: SyncAnswerCutter; release: () => void; cuts: number } {
  let release = (): void => undefined;
  const gate = new Promise<void>((resolve) => {
    release = resolve;
  });
  const gated = {
    cuts: 0,
    release: () => release(),
    cutter: {
      cut: async (answer: Uint8Array, maxPartBytes: number) => {
        gated.cuts += 1;
        await gate;
        return { messages: syncAnswerMessages(answer, maxPartBytes), ms: 7 };
      },
    },
  };
  return gated;
}

/** A gauge's value as the metrics endpoint shows it. */
function gauge(metrics: RelayMetrics, name: string): number {
  const match = new RegExp(`^${name} (\\S+)$`, 'm').exec(metrics.render());
  return match === null ? Number.NaN : Number(match[1]);
}

/** A list of `count` items named at length, as one update from client `client`. */
function itemsUpdate(count: number, client = 5): Uint8Array {
  const doc = new Y.Doc();
  doc.clientID = client;
  doc.transact(() => {
    for (let i = 0; i < count; i++) doc.getMap('items').set(`item-${i}`, `Item ${i} on the family's long-kept list`);
  });
  return Y.encodeStateAsUpdate(doc);
}

/** An edit by `client` (a phone other than the list's writer), as the update it sends. */
function edit(client: number, key: string): Uint8Array {
  const doc = new Y.Doc();
  doc.clientID = client;
  doc.getMap('items').set(key, 'bread');
  return Y.encodeStateAsUpdate(doc);
}

describe('sync answers cut on the decode worker', () => {
  const cleanups: Array<() => Promise<void> | void> = [];
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  });

  /** A list of 3,000 items cut at 4 KiB by a gated cutter, with one phone attached. */
  const listCutBehindGate = async () => {
    const gated = gatedCutter();
    const { list, phone } = await listWith([itemsUpdate(3000)], 4096, gated.cutter);
    cleanups.push(() => list.destroy());
    return { gated, list, phone };
  };

  it('[AP5] the answer to a phone joining a large list is cut on the decode worker: no event-loop turn takes much more than encoding the answer', async () => {
    // ~6 MB, a million structs: within MAX_LIST_BYTES (8 MiB; the relay counts it at ~7 MB).
    // Encoding what a new phone lacks takes Yjs a fraction of the time decoding, measuring and
    // re-encoding it struct by struct does: on the event loop, that cut held it 1.1–1.7 s.
    const stored = toggledList(6_000_000);
    const decoder = new OffThreadDecoder({ maxHeapMb: 1536, maxCheckMs: 30_000 });
    cleanups.push(() => decoder.close());
    const { list, phone } = await listWith([stored], undefined, { cut: (answer, maxPartBytes) => decoder.cutSyncAnswer(answer, maxPartBytes) });
    try {
      const emptyVector = Y.encodeStateVector(new Y.Doc());
      const encodeMs: number[] = [];
      for (let i = 0; i < 3; i++) {
        const started = performance.now();
        Y.encodeStateAsUpdate(list.doc, emptyVector);
        encodeMs.push(performance.now() - started);
      }
      const encode = encodeMs.sort((a, b) => a - b)[1] as number;
      // The longest the event loop is held while the answer is made and sent, however it is made.
      let longestTurnMs = 0;
      let last = performance.now();
      let ticking = true;
      const tick = (): void => {
        const now = performance.now();
        longestTurnMs = Math.max(longestTurnMs, now - last);
        last = now;
        if (ticking) setImmediate(tick);
      };
      setImmediate(tick);
      await new Promise((resolve) => setTimeout(resolve, 20));
      list.receive(phone, decodeIncomingMessage(encodeSyncStep1(emptyVector)), 0);
      await waitFor(() => phone.sent.map(received).some((message) => message.kind === 'sync' && message.syncType === SYNC_STEP_2), 30_000, 'the last part');
      // One more turn, so the tick after the last part's turn is counted.
      await new Promise((resolve) => setTimeout(resolve, 20));
      ticking = false;
      expect(phone.sent.length).toBeGreaterThan(30);
      // Its time on the worker is charged to the phone, as the event loop's would be.
      expect(phone.loopMs.reduce((sum, ms) => sum + ms, 0)).toBeGreaterThan(0);
      // Generous: three times Yjs's own encoding of the whole answer, plus 100 ms.
      expect(Math.round(longestTurnMs), `the longest turn (Yjs encodes the answer in ${Math.round(encode)} ms)`).toBeLessThanOrEqual(Math.round(3 * encode + 100));
    } finally {
      list.destroy();
    }
  }, 60_000);

  it('[AP6] one phone joining a list within MAX_LIST_BYTES, alone in a relay whose heap is 40 times its loaded-list bound, syncs: the cut (~60 times the answer\'s bytes) takes the decode worker\'s heap, not the relay\'s', async () => {
    // --max-old-space-size=400: MAX_LOADED_LIST_BYTES is a fortieth of it, 10 MB, which the relay
    // fills with lists of up to 34 times their size in heap (340 MB). Here one list of ~6 MB of
    // toggled fields (counted ~7 MB by its heap estimate, ~210 MB held by Yjs) is loaded alone.
    // Answered as one message (the relay before the parts) a new phone's sync request costs an
    // encoding of ~6 MB: the same relay, its answer sent whole, syncs the phone. Cut into parts,
    // the answer is decoded into a million struct objects, measured and written again
    // (~350 MB more): on the event loop the process aborted, and every list went down with it.
    const { dir, remove } = await temporaryDirectory('basket-review-ap6-');
    cleanups.push(remove);
    const relay = await spawnSourceRelay(dir, 400, cleanups);
    let exitedWith: number | string | undefined;
    void relay.exit.then((code) => {
      exitedWith = code;
    });
    const listId = newListId();
    const writerDoc = new Y.Doc();
    Y.applyUpdate(writerDoc, toggledList(6_000_000));
    const writer: Phone = connectPhone(relay.syncUrl, listId, writerDoc);
    cleanups.push(() => writer.destroy());
    await waitFor(() => writer.isFullyStored() || exitedWith !== undefined, 90_000, 'the list stored');
    expect(exitedWith).toBeUndefined();

    const joiner = connectPhone(relay.syncUrl, listId, new Y.Doc());
    cleanups.push(() => joiner.destroy());
    await waitFor(() => joiner.provider.synced || exitedWith !== undefined, 90_000, 'the joiner synced or the relay ended').catch(() => undefined);
    expect({ relayExited: exitedWith, joinerSynced: joiner.provider.synced }).toEqual({ relayExited: undefined, joinerSynced: true });
  }, 240_000);

  it('[AP9] what the list sends a phone while its answer is being cut (a forward, its own edit\'s ack) comes after the answer\'s last part, in order', async () => {
    const { gated, list, phone } = await listCutBehindGate();
    const dad = fakePeer(2);
    list.attach(dad);
    const emptyVector = Y.encodeStateVector(new Y.Doc());
    expect(answerTo(list, phone, emptyVector)).toEqual([]);
    expect(gated.cuts).toBe(1);
    expect(list.isCuttingAnswerFor(phone)).toBe(true);
    expect(list.isCuttingAnswerFor(dad)).toBe(false);
    // Dad's edit is passed on to the phone, and the phone's own edit acknowledged, meanwhile.
    list.receive(dad, decodeIncomingMessage(encodeSyncUpdate(edit(20, 'dad'))), 0);
    list.receive(phone, decodeIncomingMessage(encodeSyncUpdate(edit(10, 'mine'))), 0);
    await list.flush();
    expect(phone.sent).toEqual([]);
    // Dad, whose answer is not being cut, is not held up.
    expect(dad.sent.map(received).some((message) => message.kind === 'ack')).toBe(true);

    gated.release();
    await waitFor(() => !list.isCuttingAnswerFor(phone), 5000, 'the answer sent');
    const got = phone.sent.map(received);
    const lastPart = got.findIndex((message) => message.kind === 'sync' && message.syncType === SYNC_STEP_2);
    expect(lastPart).toBeGreaterThan(1);
    expect(got.slice(0, lastPart).every((message) => message.kind === 'sync' && message.syncType === SYNC_UPDATE)).toBe(true);
    const after = got.slice(lastPart + 1);
    expect(after.map((message) => message.kind)).toEqual(['sync', 'ack']);
    const forward = after[0] as Received & { kind: 'sync' };
    const forwarded = new Y.Doc();
    Y.applyUpdate(forwarded, forward.update);
    expect(forwarded.getMap('items').get('dad')).toBe('bread');
    expect((after[1] as Received & { kind: 'ack' }).vector.get(10)).toBe(1);
    // The worker's time on the cut is charged to the phone.
    expect(phone.loopMs).toContain(7);
    // Once sent, the phone's messages go at once again.
    phone.sent.length = 0;
    list.receive(dad, decodeIncomingMessage(encodeSyncUpdate(edit(21, 'later'))), 0);
    expect(syncMessages(phone.sent.map(received))).toHaveLength(1);
  });

  it('[AP16] a phone\'s presence query while its answer is being cut is answered at once, ahead of the answer (the web app reconnects after 8 s with nothing received); other presence waits behind it', async () => {
    const { gated, list, phone } = await listCutBehindGate();
    const dad = fakePeer(2);
    list.attach(dad);
    answerTo(list, phone, Y.encodeStateVector(new Y.Doc()));
    const dadsPresence = new awarenessProtocol.Awareness(new Y.Doc());
    dadsPresence.setLocalState({ name: 'Dad' });
    list.receive(dad, decodeIncomingMessage(encodeAwarenessMessage(awarenessProtocol.encodeAwarenessUpdate(dadsPresence, [dadsPresence.clientID]))), 0);
    expect(phone.sent).toEqual([]);
    list.receive(phone, decodeIncomingMessage(Uint8Array.of(MESSAGE_QUERY_AWARENESS)), 0);
    expect(phone.sent.map(received).map((message) => message.kind)).toEqual(['other']);
    expect(phone.sent[0]?.[0]).toBe(MESSAGE_AWARENESS);
    expect(list.isCuttingAnswerFor(phone)).toBe(true);

    gated.release();
    await waitFor(() => !list.isCuttingAnswerFor(phone), 5000, 'the answer sent');
    const types = phone.sent.map((message) => message[0]);
    // The answer's parts, then Dad's presence as it was relayed while the answer was cut.
    expect(types.slice(-1)).toEqual([MESSAGE_AWARENESS]);
    expect(types.filter((type) => type === MESSAGE_AWARENESS)).toHaveLength(2);
    expect(syncMessages(phone.sent.slice(1).map(received)).length).toBeGreaterThan(1);
  });

  it('[AP10] a phone that leaves while its answer is being cut is sent nothing more; the others are served', async () => {
    const { gated, list, phone } = await listCutBehindGate();
    const dad = fakePeer(2);
    list.attach(dad);
    answerTo(list, phone, Y.encodeStateVector(new Y.Doc()));
    list.receive(dad, decodeIncomingMessage(encodeSyncUpdate(edit(20, 'dad'))), 0);
    list.detach(phone);
    expect(list.isCuttingAnswerFor(phone)).toBe(false);
    gated.release();
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(phone.sent).toEqual([]);
    dad.sent.length = 0;
    const answer = answerTo(list, dad, Y.encodeStateVector(new Y.Doc()));
    // Dad's answer is cut too (the cutter, released, now answers at once).
    await waitFor(() => !list.isCuttingAnswerFor(dad), 5000, 'Dad\'s answer sent');
    expect(answer).toEqual([]);
    const dadDoc = new Y.Doc();
    for (const message of syncMessages(dad.sent.map(received))) Y.applyUpdate(dadDoc, message.update);
    expect(dadDoc.getMap('items').size).toBe(3001);
  });

  it('[AP11] a cut that fails on the worker (out of its time here, as out of its heap) sends the answer as one sync step 2, counted, and the phone syncs', async () => {
    // A worker given 1 ms per task cannot cut a 3,000-item answer: it is stopped, as one out of heap is.
    const decoder = new OffThreadDecoder({ maxHeapMb: 256, maxCheckMs: 1 });
    cleanups.push(() => decoder.close());
    const stored = itemsUpdate(3000);
    const { list, phone, metrics } = await listWith([stored], 4096, { cut: (answer, maxPartBytes) => decoder.cutSyncAnswer(answer, maxPartBytes) });
    cleanups.push(() => list.destroy());
    const emptyVector = Y.encodeStateVector(new Y.Doc());
    answerTo(list, phone, emptyVector);
    await waitFor(() => phone.sent.length > 0, 10_000, 'the answer sent');
    expect(phone.sent).toEqual([encodeSyncStep2(Y.encodeStateAsUpdate(list.doc, emptyVector))]);
    expect(metrics.render()).toMatch(/basket_relay_errors_total\{kind="sync_answer_cut_failed"\} 1/);
  });
  it('[AP12] an answer being cut, and what waits behind it, is counted in the phone\'s unsent backlog until sent; a phone whose backlog cannot take the answer is not cut for', async () => {
    const { gated, list, phone } = await listCutBehindGate();
    let held = 0;
    const holds: number[] = [];
    phone.holdUnsent = (bytes) => {
      holds.push(bytes);
      held += bytes;
      return true;
    };
    phone.releaseUnsent = (bytes) => {
      held -= bytes;
    };
    const emptyVector = Y.encodeStateVector(new Y.Doc());
    const answerBytes = Y.encodeStateAsUpdate(list.doc, emptyVector).length;
    answerTo(list, phone, emptyVector);
    list.receive(phone, decodeIncomingMessage(encodeSyncUpdate(edit(10, 'mine'))), 0);
    await list.flush();
    // The answer, and the ack waiting behind it.
    expect(holds[0]).toBe(answerBytes);
    expect(holds).toHaveLength(2);
    expect(held).toBe(answerBytes + (holds[1] as number));
    gated.release();
    await waitFor(() => !list.isCuttingAnswerFor(phone), 5000, 'the answer sent');
    expect(held).toBe(0);

    // Another phone, whose backlog is at its bound: dropped (Connection closes it), nothing cut.
    const full = fakePeer(3);
    full.holdUnsent = () => false;
    list.attach(full);
    const cutsBefore = gated.cuts;
    answerTo(list, full, emptyVector);
    expect(gated.cuts).toBe(cutsBefore);
    expect(list.isCuttingAnswerFor(full)).toBe(false);
    expect(full.sent).toEqual([]);
  });

  it('[AP13] on the relay, a second socket of one address asking for a large list while the first one\'s answer is being cut, with room for one answer under the address\'s bound, is dropped as a slow consumer; the first gets the whole list', async () => {
    const stored = itemsUpdate(40_000);
    const storage = new MemoryListStorage();
    const listId = newListId();
    await storage.append(listId, [stored]);
    const metrics = new RelayMetrics();
    // Room for one answer (and a little) per address: the second answer, held while it waits for
    // the decode worker, would pass it.
    const limits = { maxListBytes: 4 * stored.length, maxBufferedBytes: 4 * stored.length, maxBufferedBytesPerIp: Math.round(1.5 * stored.length) };
    const running = await startRelay({ storage, metrics, limits });
    cleanups.push(() => running.close());
    const first = await openRawSocket(running.syncUrl, listId);
    const second = await openRawSocket(running.syncUrl, listId);
    cleanups.push(() => first.terminate());
    cleanups.push(() => second.terminate());
    const firstGot: Received[] = [];
    first.on('message', (data: Buffer) => firstGot.push(received(new Uint8Array(data))));
    const secondClosed = closeCodeOf(second, 10_000);
    const emptyVector = Y.encodeStateVector(new Y.Doc());
    first.send(encodeSyncStep1(emptyVector));
    second.send(encodeSyncStep1(emptyVector));
    expect(await secondClosed).toBe(1006);
    await waitFor(() => firstGot.some((message) => message.kind === 'sync' && message.syncType === SYNC_STEP_2), 15_000, 'the first answer');
    const phoneDoc = new Y.Doc();
    const answer = syncMessages(firstGot).filter((message) => message.syncType !== SYNC_STEP_1);
    expect(answer.length).toBeGreaterThan(1);
    for (const message of answer) Y.applyUpdate(phoneDoc, message.update);
    expect(phoneDoc.getMap('items').size).toBe(40_000);
    expect(metrics.render()).toMatch(/basket_relay_errors_total\{kind="slow_consumer_address"\} 1/);
  }, 30_000);

  it('[AP14] phones asking for the same answer while it is being cut share the one cut: one joining at once, one whose first socket was replaced meanwhile; a different answer (another state vector, or the list changed since) is cut anew', async () => {
    const { gated, list, phone } = await listCutBehindGate();
    const emptyVector = Y.encodeStateVector(new Y.Doc());
    answerTo(list, phone, emptyVector);
    // The phone's socket is replaced while it waits (its watchdog gave up): a new peer asks again.
    list.detach(phone);
    const again = fakePeer(2);
    const sister = fakePeer(3);
    list.attach(again);
    list.attach(sister);
    again.sent.length = 0;
    sister.sent.length = 0;
    answerTo(list, again, emptyVector);
    answerTo(list, sister, emptyVector);
    expect(gated.cuts).toBe(1);
    // A phone holding part of the list asks for another answer: cut on its own.
    const partial = new Y.Doc();
    Y.applyUpdate(partial, itemsUpdate(10));
    const aunt = fakePeer(4);
    list.attach(aunt);
    aunt.sent.length = 0;
    answerTo(list, aunt, Y.encodeStateVector(partial));
    expect(gated.cuts).toBe(2);
    gated.release();
    await waitFor(() => !list.isCuttingAnswerFor(again) && !list.isCuttingAnswerFor(sister) && !list.isCuttingAnswerFor(aunt), 5000, 'the answers sent');
    for (const peer of [again, sister]) {
      const doc = new Y.Doc();
      const messages = syncMessages(peer.sent.map(received));
      expect(messages.length).toBeGreaterThan(1);
      for (const message of messages) Y.applyUpdate(doc, message.update);
      expect(doc.getMap('items').size).toBe(3000);
    }
    expect(phone.sent).toEqual([]);
    // Once sent, the next request is cut again: nothing is kept.
    answerTo(list, sister, emptyVector);
    expect(gated.cuts).toBe(3);
  });

  it('[AP15] phones whose sync requests waited for a large list to load are answered over several turns, not all in the one that ends the load', async () => {
    // ~3 MB of toggled fields: Yjs encodes each answer in 25–40 ms here, over a turn's budget.
    const storage = new MemoryListStorage();
    const options = roomOptions(storage, { maxListBytes: 64 * 1024 * 1024 });
    await storage.append(options.listId, [toggledList(3_000_000)]);
    const gated = gatedCutter();
    cleanups.push(() => gated.release());
    const list = new ListRoom({ ...options, syncAnswerCutter: gated.cutter });
    cleanups.push(() => list.destroy());
    const loading = list.load();
    const phones = [1, 2, 3, 4].map((id) => fakePeer(id));
    const emptyVector = Y.encodeStateVector(new Y.Doc());
    for (const phone of phones) {
      list.attach(phone);
      list.receive(phone, decodeIncomingMessage(encodeSyncStep1(emptyVector)), 0);
    }
    await loading;
    const answeredInTheLoadTurn = phones.filter((phone) => list.isCuttingAnswerFor(phone)).length;
    expect(answeredInTheLoadTurn).toBeGreaterThan(0);
    expect(answeredInTheLoadTurn).toBeLessThan(phones.length);
    // Meanwhile the list counts as busy: a connection holds its frames.
    expect(list.isBusy).toBe(true);
    await waitFor(() => phones.every((phone) => list.isCuttingAnswerFor(phone)), 5000, 'every phone answered');
    await waitFor(() => !list.isBusy, 5000, 'the list taking messages again');
  }, 30_000);
  it('[AR1] a cut that fails on the worker (out of its time) is charged to the phone that asked: the worker time it took is not free (it was)', async () => {
    // Out of time after 150 ms of worker time (as a cut out of heap would be after its own): the
    // answer goes whole, and the address pays for the 150 ms, as for a frame whose check fails
    // (Connection.decodeOffThread) and a cut that succeeds (its `ms`).
    const decoder = new OffThreadDecoder({ maxHeapMb: 512, maxCheckMs: 150 });
    cleanups.push(() => decoder.close());
    const { list, phone, metrics } = await listWith([itemsUpdate(150_000)], 4096, { cut: (answer, maxPartBytes) => decoder.cutSyncAnswer(answer, maxPartBytes) });
    cleanups.push(() => list.destroy());
    answerTo(list, phone, Y.encodeStateVector(new Y.Doc()));
    await waitFor(() => phone.sent.length > 0, 15_000, 'the answer sent');
    expect(metrics.render()).toMatch(/basket_relay_errors_total\{kind="sync_answer_cut_failed"\} 1/);
    const charged = phone.loopMs.reduce((sum, ms) => sum + ms, 0);
    expect(charged, 'ms charged to the phone for its failed cut').toBeGreaterThanOrEqual(120);
  }, 20_000);

  it('[AR2] at shutdown, a phone whose answer is being cut gets the answer and the ack for its edit made durable by the shutdown flush before it is closed (it was closed first)', async () => {
    // RoomRegistry.shutdown: room.shutdown flushes, then closes the phones; the decode worker is
    // closed only after. The ack waits behind the cut in PeerSendQueues: closed before the cut
    // was done, the phone never saw it, though its edit was stored, and sent it again.
    const { gated, list, phone } = await listCutBehindGate();
    let sentBeforeClose: Received[] | undefined;
    phone.close = (code) => {
      phone.closed.push(code);
      sentBeforeClose ??= phone.sent.map(received);
    };
    answerTo(list, phone, Y.encodeStateVector(new Y.Doc()));
    expect(list.isCuttingAnswerFor(phone)).toBe(true);
    list.receive(phone, decodeIncomingMessage(encodeSyncUpdate(edit(10, 'mine'))), 0);
    // The worker finishes the cut 50 ms into the shutdown (it is closed only after the lists).
    setTimeout(() => gated.release(), 50);
    await list.shutdown(1012, 'relay restarting');
    expect(phone.closed).toEqual([1012]);
    const acks = (sentBeforeClose ?? []).filter((message) => message.kind === 'ack');
    expect(acks.length, 'acks the phone got before it was closed').toBeGreaterThan(0);
    expect((acks.at(-1) as Received & { kind: 'ack' }).vector.get(10)).toBe(1);
    // ...and the answer ahead of it, whole.
    expect((sentBeforeClose ?? []).some((message) => message.kind === 'sync' && message.syncType === SYNC_STEP_2)).toBe(true);
  });

  it('[AR4] on the relay, a socket that hangs up while its answer is being cut, or floods sync requests meanwhile, leaves no held bytes and costs at most one cut at a time', async () => {
    const storage = new MemoryListStorage();
    const listId = newListId();
    await storage.append(listId, [itemsUpdate(40_000)]);
    const metrics = new RelayMetrics();
    const running = await startRelay({ storage, metrics });
    cleanups.push(() => running.close());
    const emptyVector = Y.encodeStateVector(new Y.Doc());
    const flooder = await openRawSocket(running.syncUrl, listId);
    cleanups.push(() => flooder.terminate());
    let steps2 = 0;
    flooder.on('message', (data: Buffer) => {
      const message = received(new Uint8Array(data));
      if (message.kind === 'sync' && message.syncType === SYNC_STEP_2) steps2 += 1;
    });
    for (let i = 0; i < 50; i++) flooder.send(encodeSyncStep1(emptyVector));
    const leaver = await openRawSocket(running.syncUrl, listId);
    leaver.send(encodeSyncStep1(emptyVector));
    await new Promise((resolve) => setTimeout(resolve, 5));
    leaver.terminate();
    await waitFor(() => steps2 >= 1, 15_000, 'the flooder answered');
    // Its requests were merged while the answer was cut and unsent: a few answers, not 50.
    await new Promise((resolve) => setTimeout(resolve, 1500));
    expect(steps2).toBeLessThanOrEqual(5);
    flooder.terminate();
    await waitFor(() => gauge(metrics, 'basket_relay_send_backlog_bytes') === 0, 5000, 'no bytes held');
  }, 30_000);

  it('[AR5] a peer dropped while a message waits behind its cut, the room destroyed mid-cut, and a peer whose hold is refused: holds and releases balance', async () => {
    const { gated, list, phone } = await listCutBehindGate();
    const ledger = new Map<number, number>();
    const track = (peer: ReturnType<typeof fakePeer>, refuseAfter = Infinity): void => {
      let holds = 0;
      peer.holdUnsent = (bytes) => {
        holds += 1;
        if (holds > refuseAfter) return false;
        ledger.set(peer.id, (ledger.get(peer.id) ?? 0) + bytes);
        return true;
      };
      peer.releaseUnsent = (bytes) => ledger.set(peer.id, (ledger.get(peer.id) ?? 0) - bytes);
    };
    track(phone, 2);
    const dad = fakePeer(2);
    const aunt = fakePeer(3);
    track(aunt);
    list.attach(dad);
    list.attach(aunt);
    const emptyVector = Y.encodeStateVector(new Y.Doc());
    answerTo(list, phone, emptyVector);
    answerTo(list, aunt, emptyVector);
    // Two forwards to each: the phone's second is refused (it would be dropped).
    list.receive(dad, decodeIncomingMessage(encodeSyncUpdate(edit(20, 'a'))), 0);
    list.receive(dad, decodeIncomingMessage(encodeSyncUpdate(edit(21, 'b'))), 0);
    list.detach(phone);
    list.destroy();
    expect([...ledger.values()]).toEqual([0, 0]);
    gated.release();
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect([...ledger.values()]).toEqual([0, 0]);
    expect(phone.sent).toEqual([]);
    expect(aunt.sent).toEqual([]);
  });
});

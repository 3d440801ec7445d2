import WebSocket from 'ws';
import * as Y from 'yjs';
import { describe, expect, it } from 'vitest';
import * as encoding from 'lib0/encoding';
import { heartbeatSlices } from '../src/http/relay-server.js';
import { MemoryListStorage } from '../src/storage/memory-storage.js';
import { closeCodeOf, connectPhone, newListId, openRawSocket, startRelay, waitFor } from './helpers.js';

/** A sync step 2 of one map value of `chars` characters. */
function syncStep2Of(chars: number): Uint8Array {
  const doc = new Y.Doc();
  doc.getMap('items').set('notes', 'n'.repeat(chars));
  const message = encoding.createEncoder();
  encoding.writeVarUint(message, 0);
  encoding.writeVarUint(message, 2);
  encoding.writeVarUint8Array(message, Y.encodeStateAsUpdate(doc));
  return encoding.toUint8Array(message);
}

/** A socket that never answers pings: ws would put a pong in the middle of a frame being trickled. */
async function openNonAnsweringSocket(url: string): Promise<WebSocket> {
  const socket = new WebSocket(url, { autoPong: false });
  socket.binaryType = 'nodebuffer';
  await new Promise((resolve, reject) => {
    socket.once('open', resolve);
    socket.once('error', reject);
  });
  return socket;
}

/**
 * Writes `payload` as one masked binary frame (mask key 0: the payload goes as it is) in 24
 * pieces over `overMs`, as a slow uplink would deliver it (`socket` from openNonAnsweringSocket).
 */
async function trickleFrame(socket: WebSocket, payload: Uint8Array, overMs: number): Promise<void> {
  const header = Buffer.alloc(8);
  header[0] = 0x82;
  header[1] = 0x80 | 126;
  header.writeUInt16BE(payload.length, 2);
  const raw = (socket as unknown as { _socket: { write(bytes: Uint8Array): void } })._socket;
  raw.write(header);
  const pieces = 24;
  const pieceBytes = Math.ceil(payload.length / pieces);
  for (let at = 0; at < payload.length; at += pieceBytes) {
    await new Promise((resolve) => setTimeout(resolve, overMs / pieces));
    raw.write(payload.subarray(at, at + pieceBytes));
  }
}

describe('dead and slow connections', () => {
  it('[L1] a socket that stops answering pings is dropped; the list stays usable', async () => {
    const running = await startRelay({ limits: { pingIntervalMs: 100 } });
    const listId = newListId();
    try {
      const silent = new WebSocket(`${running.syncUrl}/${listId}`, { autoPong: false });
      await new Promise((resolve, reject) => {
        silent.once('open', resolve);
        silent.once('error', reject);
      });
      expect(await closeCodeOf(silent, 5000)).toBe(1006);
      await waitFor(() => running.relay.connectionCount === 0, 5000, 'connection forgotten');
      const phone = connectPhone(running.syncUrl, listId);
      phone.doc.getMap('items').set('milk', 'Milk');
      await waitFor(() => phone.isFullyStored(), 5000, 'still usable');
      phone.destroy();
    } finally {
      await running.close();
    }
  });

  it('[L2] a phone that stops reading is disconnected instead of buffering without bound', async () => {
    const running = await startRelay({
      limits: { maxBufferedBytes: 256 * 1024, bytesPerSecond: 64 * 1024 * 1024, messagesPerSecond: 10_000 },
    });
    const listId = newListId();
    try {
      const stalled = new WebSocket(`${running.syncUrl}/${listId}`);
      await new Promise((resolve, reject) => {
        stalled.once('open', resolve);
        stalled.once('error', reject);
      });
      // Stop reading at the TCP level: the relay's sends pile up in its buffer.
      (stalled as unknown as { _socket: { pause(): void } })._socket.pause();
      const stalledClosed = new Promise<void>((resolve) => stalled.once('close', () => resolve()));
      const writer = connectPhone(running.syncUrl, listId);
      await waitFor(() => writer.provider.synced);
      const text = new Y.Text();
      writer.doc.getMap('items').set('bulk', text);
      const chunk = 'x'.repeat(32 * 1024);
      for (let i = 0; i < 400 && running.relay.metrics.errors.get({ kind: 'slow_consumer' }) === 0; i++) {
        text.insert(0, chunk);
        await new Promise((resolve) => setTimeout(resolve, 5));
      }
      expect(running.relay.metrics.errors.get({ kind: 'slow_consumer' })).toBe(1);
      (stalled as unknown as { _socket: { resume(): void } })._socket.resume();
      await stalledClosed;
      await waitFor(() => writer.isFullyStored(), 10_000, 'writer unaffected');
      writer.destroy();
    } finally {
      await running.close();
    }
  }, 30_000);

  it('[L3] a message that would take the backlog past MAX_BUFFERED_BYTES is counted before it is queued', async () => {
    // One value of 1.5 MB: a struct no answer can cut into parts ([RR1]), so one message over the bound.
    const storage = new MemoryListStorage();
    const listId = newListId();
    const doc = new Y.Doc();
    doc.getMap('items').set('photo', new Uint8Array(1_500_000));
    await storage.append(listId, [Y.encodeStateAsUpdate(doc)]);
    const running = await startRelay({ storage, limits: { maxBufferedBytes: 1024 * 1024 } });
    try {
      const socket = await openRawSocket(running.syncUrl, listId);
      const closed = closeCodeOf(socket, 5000);
      const request = encoding.createEncoder();
      encoding.writeVarUint(request, 0);
      encoding.writeVarUint(request, 0);
      encoding.writeVarUint8Array(request, Y.encodeStateVector(new Y.Doc()));
      socket.send(encoding.toUint8Array(request));
      // The backlog is empty, but the answer alone is over the bound (checking the backlog alone let
      // a connection hold its bound plus one list-sized message).
      expect(await closed).toBe(1006);
      expect(running.relay.metrics.errors.get({ kind: 'slow_consumer' })).toBe(1);
    } finally {
      await running.close();
    }
  });

  it('[SL3] a phone whose one frame takes 4.5 s to arrive is sent presence meanwhile: the web app hears something within its 8 s, though its own probe waits behind the frame', async () => {
    const running = await startRelay();
    const listId = newListId();
    try {
      const socket = await openNonAnsweringSocket(`${running.syncUrl}/${listId}`);
      const heard: Array<{ type: number; at: number }> = [];
      socket.on('message', (data: Buffer) => heard.push({ type: data[0]!, at: performance.now() }));
      await new Promise((resolve) => setTimeout(resolve, 300));
      const started = performance.now();
      await trickleFrame(socket, syncStep2Of(20_000), 4500);
      await waitFor(() => heard.some(({ type }) => type === 100), 5000, 'the upload acknowledged');
      const times = [started, ...heard.filter(({ at }) => at > started).map(({ at }) => at)];
      const longestSilence = Math.max(...times.slice(1).map((at, i) => at - times[i]!));
      expect(heard.filter(({ type, at }) => type === 1 && at > started).length).toBeGreaterThanOrEqual(1);
      expect(longestSilence).toBeLessThan(4000);
      socket.close();
    } finally {
      await running.close();
    }
  });

  it('[SL2] a phone uploading one frame slowly, for many ping intervals, is not taken for dead: its pong waits behind the frame', async () => {
    const running = await startRelay({ limits: { pingIntervalMs: 100 } });
    const listId = newListId();
    try {
      const socket = await openNonAnsweringSocket(`${running.syncUrl}/${listId}`);
      const acks: Buffer[] = [];
      socket.on('message', (data: Buffer) => data[0] === 100 && acks.push(data));
      const closed = new Promise<number>((resolve) => socket.once('close', (code) => resolve(code)));
      // Over 1.2 s: twelve ping intervals.
      await trickleFrame(socket, syncStep2Of(30_000), 1200);
      await waitFor(() => acks.length > 0, 5000, 'the upload acknowledged');
      expect(socket.readyState).toBe(WebSocket.OPEN);
      expect(running.relay.metrics.errors.get({ kind: 'dead_socket' })).toBe(0);
      socket.close();
      expect(await closed).toBe(1005);
    } finally {
      await running.close();
    }
  });

  it('[L4] pings are spread over the ping interval, not sent to every phone at once', async () => {
    // 2,000 ms in 20 slices: a tick every 100 ms pings the connections of one slice. Pinging many
    // phones at once stalls every list for as long as the writes take (docs/benchmark-history.md, "What limits the tail here").
    expect(heartbeatSlices(30_000)).toBe(100);
    expect(heartbeatSlices(2_000)).toBe(20);
    expect(heartbeatSlices(100)).toBe(1);
    const running = await startRelay({ limits: { pingIntervalMs: 2_000 } });
    try {
      const sockets = await Promise.all(Array.from({ length: 40 }, () => openRawSocket(running.syncUrl, newListId())));
      const pingedAt = new Map<WebSocket, number>();
      for (const socket of sockets) socket.on('ping', () => pingedAt.has(socket) || pingedAt.set(socket, performance.now()));
      await waitFor(() => pingedAt.size === sockets.length, 5_000, 'every phone pinged within an interval or so');
      // Pings of one tick arrive within a few ms of each other; ticks are 100 ms apart.
      const times = [...pingedAt.values()].sort((a, b) => a - b);
      const ticks = 1 + times.slice(1).filter((time, i) => time - times[i]! > 50).length;
      expect(ticks).toBeGreaterThanOrEqual(15);
      for (const socket of sockets) socket.close();
    } finally {
      await running.close();
    }
  });
});

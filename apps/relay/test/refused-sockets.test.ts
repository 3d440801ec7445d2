import net from 'node:net';
import WebSocket from 'ws';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { unhandledIncomingBytes } from '../src/sync/ws-incoming.js';
import { newListId, startRelay } from './helpers.js';
import { frameHeader, upgradeRequest } from './raw-frames.js';

const KiB = 1024;

/**
 * A raw TCP client that sends an upgrade request and reads the response head, keeping its side
 * open (allowHalfOpen) and never answering a close frame: what a peer that stops cooperating does.
 */
async function rawUpgrade(port: number, path: string): Promise<{ socket: net.Socket; response: string }> {
  const socket = net.connect({ port, host: '127.0.0.1', allowHalfOpen: true });
  await new Promise((resolve) => socket.once('connect', resolve));
  socket.write(upgradeRequest(path));
  const response = await new Promise<string>((resolve) => {
    let got = '';
    const onData = (chunk: Buffer): void => {
      got += chunk.toString('latin1');
      if (got.includes('\r\n\r\n')) {
        socket.off('data', onData);
        resolve(got);
      }
    };
    socket.on('data', onData);
  });
  socket.on('data', () => undefined);
  socket.on('error', () => undefined);
  return { socket, response };
}

/** Server-side `ws` sockets created while a test runs (to read what each holds of unfinished frames). */
const serverSockets: WebSocket[] = [];
const originalSetSocket = (WebSocket.prototype as unknown as { setSocket: (...args: unknown[]) => unknown }).setSocket;
beforeEach(() => {
  serverSockets.length = 0;
  (WebSocket.prototype as unknown as { setSocket: (...args: unknown[]) => unknown }).setSocket = function (this: WebSocket, ...args: unknown[]) {
    if ((this as unknown as { _isServer: boolean })._isServer) serverSockets.push(this);
    return originalSetSocket.apply(this, args);
  };
});
afterEach(() => {
  (WebSocket.prototype as unknown as { setSocket: (...args: unknown[]) => unknown }).setSocket = originalSetSocket;
});

/** What the relay's open sockets hold now of frames read and not handed over. */
function heldOfUnfinishedFrames(): number {
  return serverSockets.filter((ws) => ws.readyState !== WebSocket.CLOSED).reduce((sum, ws) => sum + unhandledIncomingBytes(ws), 0);
}

describe('sockets being refused still count what they read', () => {
  it('[H25] sockets refused after the handshake (an invalid list id, 4400) are held to the address\'s bound on unfinished frames', async () => {
    const running = await startRelay({ limits: { maxMessageBytes: 256 * KiB, maxIncomingBytesPerIp: 300 * KiB, maxIncomingBytesTotal: 64 * 1024 * KiB } });
    const sockets: net.Socket[] = [];
    try {
      const payload = Buffer.alloc(200 * KiB, 7);
      for (let i = 0; i < 8; i++) {
        const { socket, response } = await rawUpgrade(running.port, '/sync/not-a-valid-id');
        expect(response.startsWith('HTTP/1.1 101')).toBe(true);
        sockets.push(socket);
        // Never answers the relay's 4400 close frame; sends most of a frame instead.
        socket.write(frameHeader(2, 256 * KiB));
        socket.write(payload);
      }
      await new Promise((resolve) => setTimeout(resolve, 500));
      // 8 × 200 KiB are held until each socket is cut (CLOSE_HANDSHAKE_MS), counted by no bound:
      // these sockets never open an incoming share (relay-server.ts refuseAfterHandshake).
      expect(heldOfUnfinishedFrames()).toBeLessThanOrEqual(300 * KiB);
    } finally {
      for (const socket of sockets) socket.destroy();
      await running.close();
    }
  }, 20_000);

  it('[H26] a connection the relay is closing (refused with 4400) still counts what it reads against its address\'s bound', async () => {
    const running = await startRelay({ limits: { maxMessageBytes: 256 * KiB, maxIncomingBytesPerIp: 300 * KiB, maxIncomingBytesTotal: 64 * 1024 * KiB } });
    const listId = newListId();
    const sockets: net.Socket[] = [];
    try {
      const payload = Buffer.alloc(200 * KiB, 7);
      for (let i = 0; i < 8; i++) {
        const { socket, response } = await rawUpgrade(running.port, `/sync/${listId}`);
        expect(response.startsWith('HTTP/1.1 101')).toBe(true);
        sockets.push(socket);
        // A text frame: refused with 4400, and the connection is closing from then on.
        socket.write(frameHeader(1, 2));
        socket.write(Buffer.from('hi'));
        await new Promise((resolve) => setTimeout(resolve, 30));
        socket.write(frameHeader(2, 256 * KiB));
        socket.write(payload);
      }
      await new Promise((resolve) => setTimeout(resolve, 500));
      expect(running.relay.metrics.errors.get({ kind: 'text_frame' })).toBe(8);
      // Reads are not looked at once a connection is closing (Connection.onBytesRead), so 8 ×
      // 200 KiB are held for up to 5 s each (its terminate timer) past a 300 KiB bound.
      expect(heldOfUnfinishedFrames()).toBeLessThanOrEqual(300 * KiB);
    } finally {
      for (const socket of sockets) socket.destroy();
      await running.close();
    }
  }, 20_000);
});

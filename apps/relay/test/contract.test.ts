import * as decoding from 'lib0/decoding';
import * as encoding from 'lib0/encoding';
import { afterEach, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { WebsocketProvider } from 'y-websocket';
import * as syncProtocol from 'y-protocols/sync';
import * as Y from 'yjs';
import { newListId, startRelay, type RunningRelay } from './helpers.js';

/**
 * The relay contract of PRODUCT.md as a test outside the project uses it: a plain WebSocket
 * speaking y-websocket frames, nothing from the relay's sources.
 */
describe('relay contract, over a plain socket', () => {
  let running: RunningRelay | undefined;
  afterEach(async () => {
    await running?.close();
    running = undefined;
  });

  it('the type-100 ack payload is exactly varUint8Array(Y.encodeStateVector(stored state)), also with clients that arrived lowest id first', async () => {
    running = await startRelay();
    const socket = new WebSocket(`${running.syncUrl}/${newListId()}`);
    const acks: Uint8Array[] = [];
    socket.on('message', (data: Buffer) => {
      const decoder = decoding.createDecoder(new Uint8Array(data));
      if (decoding.readVarUint(decoder) === 100) acks.push(decoding.readVarUint8Array(decoder));
    });
    await new Promise((resolve) => socket.once('open', resolve));
    const stored = new Y.Doc();
    for (const clientID of [5, 900]) {
      const phone = new Y.Doc();
      phone.clientID = clientID;
      phone.getMap('items').set(String(clientID), clientID);
      const update = Y.encodeStateAsUpdate(phone);
      Y.applyUpdate(stored, update);
      const encoder = encoding.createEncoder();
      encoding.writeVarUint(encoder, 0);
      syncProtocol.writeUpdate(encoder, update);
      const before = acks.length;
      socket.send(encoding.toUint8Array(encoder));
      await expect.poll(() => acks.length > before).toBe(true);
    }
    expect(acks.at(-1)).toEqual(Y.encodeStateVector(stored));
    socket.close();
  });

  it('a list id outside ^[A-Za-z0-9_-]{16,64}$ is a permanent refusal: closed with a code in 4400–4499, and an unmodified y-websocket stops reconnecting', async () => {
    running = await startRelay();
    for (const id of ['short', 'a'.repeat(65), 'has.a.dot.in.the.id', '']) {
      const socket = new WebSocket(`${running.syncUrl}/${id}`);
      socket.on('error', () => {});
      const code = await new Promise<number>((resolve) => socket.once('close', (closeCode: number) => resolve(closeCode)));
      expect(code, id).toBeGreaterThanOrEqual(4400);
      expect(code, id).toBeLessThan(4500);
    }
    const provider = new WebsocketProvider(running.syncUrl, 'short', new Y.Doc(), {
      WebSocketPolyfill: WebSocket as unknown as typeof globalThis.WebSocket,
      disableBc: true,
    });
    const stopped = new Promise<number>((resolve) => provider.once('closed', (event: { code: number }) => resolve(event.code)));
    try {
      expect(await stopped).toBe(4400);
    } finally {
      provider.destroy();
    }
    expect(await (await fetch(`http://127.0.0.1:${running.port}/healthz`)).json()).toMatchObject({ loadedLists: 0 });
  });
});

import * as decoding from 'lib0/decoding';
import * as encoding from 'lib0/encoding';
import { afterEach, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
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
});

import * as encoding from 'lib0/encoding';
import * as Y from 'yjs';
import { describe, expect, it } from 'vitest';
import { silentLogger } from '../src/log.js';
import { RelayMetrics } from '../src/metrics.js';
import { MemoryListStorage } from '../src/storage/memory-storage.js';
import type { RoomPeer } from '../src/sync/list-room.js';
import { ListRoom } from '../src/sync/list-room.js';
import type { PresenceLimits } from '../src/sync/presence.js';
import { Presence } from '../src/sync/presence.js';
import type { IncomingMessage } from '../src/sync/protocol.js';
import { decodeIncomingMessage, encodeAwarenessMessage, MAX_AWARENESS_ENTRIES, MAX_AWARENESS_STATE_BYTES, ProtocolError } from '../src/sync/protocol.js';
import { newListId, openRawSocket, startRelay, waitFor } from './helpers.js';

interface Entry {
  clientId: number;
  clock: number;
  state: unknown;
}

/** An awareness message as a y-websocket client sends it, decoded and checked by the relay. */
function awareness(entries: readonly Entry[]): Extract<IncomingMessage, { kind: 'awareness' }> {
  const update = encoding.createEncoder();
  encoding.writeVarUint(update, entries.length);
  for (const { clientId, clock, state } of entries) {
    encoding.writeVarUint(update, clientId);
    encoding.writeVarUint(update, clock);
    encoding.writeVarString(update, JSON.stringify(state));
  }
  const message = decodeIncomingMessage(encodeAwarenessMessage(encoding.toUint8Array(update)));
  if (message.kind !== 'awareness') throw new Error('not an awareness message');
  return message;
}

function presence(limits?: PresenceLimits): { presence: Presence<{ name: string }>; broadcasts: Uint8Array[] } {
  const broadcasts: Uint8Array[] = [];
  return { presence: new Presence(new Y.Doc(), (message) => broadcasts.push(message), limits), broadcasts };
}

const range = (from: number, count: number): number[] => Array.from({ length: count }, (_, i) => from + i);

describe('presence (awareness) on a list', () => {
  it('[A1] departures of made-up clients are not remembered without bound', () => {
    const { presence: list } = presence();
    const flooder = { name: 'flooder' };
    // Each removal is 3 bytes on the wire; y-protocols would keep a clock for every one of them.
    for (let round = 0; round < 20; round++) {
      const { update, entries } = awareness(range(1000 + round * 1000, 1000).map((clientId) => ({ clientId, clock: 1, state: null })));
      expect(list.apply(flooder, update, entries)).toBe('applied');
    }
    // The relay's own client id plus at most 1,024 departures.
    expect(list.rememberedCount).toBeLessThanOrEqual(1025);
    list.destroy();
  });

  it('[A2] a recent departure is remembered: a late echo of the old state does not bring the client back', () => {
    const { presence: list } = presence();
    const alice = { name: 'alice' };
    const bob = { name: 'bob' };
    const hello = awareness([{ clientId: 7, clock: 1, state: { name: 'Alice' } }]);
    list.apply(alice, hello.update, hello.entries);
    expect(list.hasState(7)).toBe(true);
    list.peerLeft(alice);
    expect(list.hasState(7)).toBe(false);
    // Bob's y-websocket echoes every state it received; this one crossed Alice's departure.
    list.apply(bob, hello.update, hello.entries);
    expect(list.hasState(7)).toBe(false);
    list.destroy();
  });

  it('[A3] one connection carries at most its share of states; echoes of other phones do not count', () => {
    const { presence: list, broadcasts } = presence({ statesPerPeer: 4, rememberedDepartures: 1024 });
    const flooder = { name: 'flooder' };
    const tooMany = awareness(range(1, 5).map((clientId) => ({ clientId, clock: 1, state: { name: `fake ${clientId}` } })));
    expect(list.apply(flooder, tooMany.update, tooMany.entries)).toBe('too-many-states');
    expect(list.stateCount).toBe(0);
    expect(broadcasts).toHaveLength(0);

    const alice = { name: 'alice' };
    const four = awareness(range(1, 4).map((clientId) => ({ clientId, clock: 1, state: { name: `tab ${clientId}` } })));
    expect(list.apply(alice, four.update, four.entries)).toBe('applied');
    expect(list.stateCount).toBe(4);
    // Bob's client echoes the four states it was sent, plus its own: it carries only its own.
    const bob = { name: 'bob' };
    const echo = awareness([...four.entries.map(({ clientId }) => ({ clientId, clock: 1, state: { name: `tab ${clientId}` } })), { clientId: 99, clock: 1, state: { name: 'Bob' } }]);
    expect(list.apply(bob, echo.update, echo.entries)).toBe('applied');
    list.peerLeft(bob);
    expect(list.stateCount).toBe(4);
    list.peerLeft(alice);
    expect(list.stateCount).toBe(0);
    list.destroy();
  });

  it('[A4] a room closes a connection that claims too many states with 4400, and nobody hears of them', async () => {
    const list = new ListRoom({
      listId: 'presenceUnitTestList1',
      storage: new MemoryListStorage(),
      logger: silentLogger,
      metrics: new RelayMetrics(),
      now: () => 0,
      maxListBytes: 1024 * 1024,
      compactLogBytes: 1024 * 1024,
      onFailed: () => undefined,
      onEmpty: () => undefined,
    });
    await list.load();
    const peers = [1, 2].map((id): RoomPeer & { sent: Uint8Array[]; closed: number[] } => {
      const sent: Uint8Array[] = [];
      const closed: number[] = [];
      return { id, sent, closed, send: (m) => sent.push(m), close: (code) => closed.push(code) };
    });
    const [flooder, honest] = peers as [(typeof peers)[0], (typeof peers)[0]];
    list.attach(flooder);
    list.attach(honest);
    const greetings = honest.sent.length;
    list.receive(flooder, awareness(range(1, 65).map((clientId) => ({ clientId, clock: 1, state: {} }))), 0);
    expect(flooder.closed).toEqual([4400]);
    expect(honest.sent).toHaveLength(greetings);
    expect(list.presence.stateCount).toBe(0);
    list.destroy();
  });

  it('[A5] awareness updates with too many entries or an oversized state are refused before they reach a list', () => {
    const refused = (entries: readonly Entry[]): unknown => {
      try {
        awareness(entries);
        return undefined;
      } catch (error) {
        return error;
      }
    };
    expect(refused(range(1, MAX_AWARENESS_ENTRIES).map((clientId) => ({ clientId, clock: 1, state: null })))).toBeUndefined();
    expect(refused(range(1, MAX_AWARENESS_ENTRIES + 1).map((clientId) => ({ clientId, clock: 1, state: null })))).toBeInstanceOf(ProtocolError);
    // JSON.stringify adds the two quotes.
    expect(refused([{ clientId: 1, clock: 1, state: 'x'.repeat(MAX_AWARENESS_STATE_BYTES - 2) }])).toBeUndefined();
    expect(refused([{ clientId: 1, clock: 1, state: 'x'.repeat(MAX_AWARENESS_STATE_BYTES - 1) }])).toBeInstanceOf(ProtocolError);
  });

  it('[A6] a state that is not valid UTF-8 is refused at decoding, as y-protocols would fail to read it', () => {
    const update = encoding.createEncoder();
    encoding.writeVarUint(update, 1);
    encoding.writeVarUint(update, 7);
    encoding.writeVarUint(update, 1);
    // `"\xff"`: JSON quotes around a byte that is never valid UTF-8.
    encoding.writeVarUint8Array(update, new Uint8Array([0x22, 0xff, 0x22]));
    expect(() => decodeIncomingMessage(encodeAwarenessMessage(encoding.toUint8Array(update)))).toThrow(ProtocolError);
  });

  it('[A7] a phone that leaves after 1,024 other departures is announced gone, and its old state stays refused', () => {
    const { presence: list, broadcasts } = presence();
    const alice = { name: 'alice' };
    const bob = { name: 'bob' };
    const hello = awareness([{ clientId: 7, clock: 1, state: { name: 'Alice' } }]);
    list.apply(alice, hello.update, hello.entries);
    // Alice's clock is the first the relay saw; 1,024 departures since (page reloads on a long day).
    const gone = awareness(range(1000, 1024).map((clientId) => ({ clientId, clock: 1, state: null })));
    list.apply(bob, gone.update, gone.entries);
    broadcasts.length = 0;
    list.peerLeft(alice);
    expect(list.hasState(7)).toBe(false);
    expect(broadcasts).toHaveLength(1);
    // Her departure is the newest one remembered: an echo of her old state crossing it is refused.
    list.apply(bob, hello.update, hello.entries);
    expect(list.hasState(7)).toBe(false);
    expect(list.rememberedCount).toBeLessThanOrEqual(1025);
    list.destroy();
  });

  it('[A8] on a relay, the connection of that phone is forgotten and the others hear it left', async () => {
    const relay = await startRelay();
    try {
      const listId = newListId();
      const watcher = await openRawSocket(relay.syncUrl, listId);
      // Awareness messages start with type 1.
      let presenceMessages = 0;
      watcher.on('message', (data: Buffer) => void (data[0] === 1 && presenceMessages++));
      const alice = await openRawSocket(relay.syncUrl, listId);
      await waitFor(() => relay.relay.connectionCount === 2, 2000, 'two connections');
      const hello = awareness([{ clientId: 7, clock: 1, state: { name: 'Alice' } }]);
      alice.send(encodeAwarenessMessage(hello.update));
      await waitFor(() => presenceMessages === 1, 2000, 'the watcher hears of Alice');
      const gone = awareness(range(1000, 1024).map((clientId) => ({ clientId, clock: 1, state: null })));
      alice.send(encodeAwarenessMessage(gone.update));
      alice.close();
      await waitFor(() => relay.relay.connectionCount === 1, 2000, 'Alice forgotten');
      await waitFor(() => presenceMessages === 2, 2000, 'the watcher hears Alice left');
      watcher.close();
    } finally {
      await relay.close();
    }
  });
});

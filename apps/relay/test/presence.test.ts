import v8 from 'node:v8';
import vm from 'node:vm';
import * as decoding from 'lib0/decoding';
import * as encoding from 'lib0/encoding';
import * as Y from 'yjs';
import { describe, expect, it } from 'vitest';
import { silentLogger } from '../src/log.js';
import { RelayMetrics } from '../src/metrics.js';
import { MemoryListStorage } from '../src/storage/memory-storage.js';
import type { RoomPeer } from '../src/sync/list-room.js';
import { ListRoom } from '../src/sync/list-room.js';
import { PresenceBytesPool } from '../src/sync/presence-bytes.js';
import type { PresenceShare } from '../src/sync/presence-bytes.js';
import type { PresenceLimits } from '../src/sync/presence.js';
import { DEFAULT_PRESENCE_LIMITS, Presence } from '../src/sync/presence.js';
import type { IncomingMessage } from '../src/sync/protocol.js';
import { decodeIncomingMessage, encodeAwarenessMessage, MAX_AWARENESS_ENTRIES, MAX_AWARENESS_STATE_BYTES, MESSAGE_AWARENESS, ProtocolError } from '../src/sync/protocol.js';
import { connectPhone, newListId, openRawSocket, startRelay, waitFor } from './helpers.js';
import { fakePeer, listWithMumAndDad } from './room-fakes.js';

interface Entry {
  clientId: number;
  clock: number;
  state: unknown;
}

/**
 * An awareness message as a y-websocket client sends it, decoded and checked by the relay, with
 * the update it came in (to send it to a relay); each state's JSON is `rawJson` when given
 * (JSON.stringify would rewrite it).
 */
function awareness(entries: readonly Entry[], rawJson?: string): Extract<IncomingMessage, { kind: 'awareness' }> & { update: Uint8Array } {
  const encoder = encoding.createEncoder();
  encoding.writeVarUint(encoder, entries.length);
  for (const { clientId, clock, state } of entries) {
    encoding.writeVarUint(encoder, clientId);
    encoding.writeVarUint(encoder, clock);
    encoding.writeVarString(encoder, rawJson ?? JSON.stringify(state));
  }
  const update = encoding.toUint8Array(encoder);
  const message = decodeIncomingMessage(encodeAwarenessMessage(update));
  if (message.kind !== 'awareness') throw new Error('not an awareness message');
  return { ...message, update };
}

/** The entries of the awareness messages among `sent` (other message types skipped). */
function sentEntries(sent: readonly Uint8Array[]): Entry[] {
  const entries: Entry[] = [];
  for (const message of sent) {
    const decoder = decoding.createDecoder(message);
    if (decoding.readVarUint(decoder) !== MESSAGE_AWARENESS) continue;
    const update = decoding.createDecoder(decoding.readVarUint8Array(decoder));
    const count = decoding.readVarUint(update);
    for (let i = 0; i < count; i++) {
      entries.push({ clientId: decoding.readVarUint(update), clock: decoding.readVarUint(update), state: JSON.parse(decoding.readVarString(update)) });
    }
  }
  return entries;
}

function collectGarbage(): () => void {
  v8.setFlagsFromString('--expose-gc');
  return vm.runInNewContext('gc') as () => void;
}

function presence(limits?: PresenceLimits): { presence: Presence<{ name: string }>; broadcasts: Uint8Array[] } {
  const broadcasts: Uint8Array[] = [];
  return { presence: new Presence(new Y.Doc(), (message) => broadcasts.push(message), limits), broadcasts };
}

const range = (from: number, count: number): number[] => Array.from({ length: count }, (_, i) => from + i);

describe('presence (awareness) on a list', () => {
  it('[A1] departures are not remembered without bound; those of made-up clients not at all ([PR2])', () => {
    const { presence: list } = presence();
    const flooder = { name: 'flooder' };
    // Each removal is 3 bytes on the wire; y-protocols would keep a clock for every one of them.
    for (let round = 0; round < 20; round++) {
      const { entries } = awareness(range(1000 + round * 1000, 1000).map((clientId) => ({ clientId, clock: 1, state: null })));
      expect(list.apply(flooder, entries)).toBe('unchanged');
    }
    // The relay's own client id.
    expect(list.rememberedCount).toBe(1);
    // Real states that leave: 64 a connection, 40 times over.
    for (let round = 0; round < 40; round++) {
      const tab = { name: `tab ${round}` };
      const { entries } = awareness(range(100_000 + round * 64, 64).map((clientId) => ({ clientId, clock: 1, state: { n: 1 } })));
      expect(list.apply(tab, entries)).toBe('applied');
      list.peerLeft(tab);
    }
    // At most 1,024 departures (the relay's own client id, which has no state, among them).
    expect(list.rememberedCount).toBe(1024);
    list.destroy();
  });

  it('[PR2] made-up departures do not push out the clocks of states that just left: a phone echoing one is not charged for it', () => {
    const { presence: list } = presence();
    const mallory = { name: 'mallory' };
    const alice = { name: 'alice' };
    const ghosts = awareness(range(1, 64).map((clientId) => ({ clientId, clock: 1, state: { name: 'ghost' } })));
    expect(list.apply(mallory, ghosts.entries)).toBe('applied');
    expect(list.apply(mallory, awareness(range(1, 64).map((clientId) => ({ clientId, clock: 2, state: null }))).entries)).toBe('applied');
    expect(list.stateCount).toBe(0);
    expect(list.apply(mallory, awareness(range(10_000, 1024).map((clientId) => ({ clientId, clock: 1, state: null }))).entries)).toBe('unchanged');
    // Alice's y-websocket echoes the ghosts' states, which crossed their departure: still late echoes.
    expect(list.apply(alice, awareness([...ghosts.entries.map(({ clientId }) => ({ clientId, clock: 1, state: { name: 'ghost' } })), { clientId: 500, clock: 1, state: { name: 'Alice' } }]).entries)).toBe('applied');
    expect(list.stateCount).toBe(1);
    expect(list.hasState(500)).toBe(true);
    list.destroy();
  });

  it('[PR3] an entry may move a client\'s clock by at most 2^32, and never past 2^52: a phone\'s presence cannot be frozen where its renewals no longer count', () => {
    const { presence: list, broadcasts } = presence();
    const alice = { name: 'alice' };
    const mallory = { name: 'mallory' };
    expect(list.apply(alice, awareness([{ clientId: 7, clock: 1, state: { name: 'Alice' } }]).entries)).toBe('applied');
    // A jump to 2^53 - 1, where y-protocols' clock + 1 no longer changes the number.
    const spoof = (clock: number) => awareness([{ clientId: 7, clock, state: { name: 'Mallory as Alice' } }]).entries;
    expect(list.apply(mallory, spoof(Number.MAX_SAFE_INTEGER))).toBe('unchanged');
    expect(list.apply(mallory, spoof(1 + 2 ** 32 + 1))).toBe('unchanged');
    // Alice's renewal counts.
    expect(list.apply(alice, awareness([{ clientId: 7, clock: 2, state: { name: 'Alice' } }]).entries)).toBe('applied');
    expect(sentEntries(broadcasts).at(-1)).toEqual({ clientId: 7, clock: 2, state: { name: 'Alice' } });
    // A removal is held to the same step; an unknown client starts within it.
    expect(list.apply(mallory, awareness([{ clientId: 7, clock: 2 + 2 ** 32 + 1, state: null }]).entries)).toBe('unchanged');
    expect(list.hasState(7)).toBe(true);
    expect(list.apply(mallory, awareness([{ clientId: 8, clock: 2 ** 32 + 1, state: { name: 'x' } }]).entries)).toBe('unchanged');
    list.destroy();

    // Steps stop at 2^52 (2^20 steps of 2^32; of 2^51 here): past it nothing is taken, so nothing is frozen at 2^53.
    const { presence: wide } = presence({ ...DEFAULT_PRESENCE_LIMITS, clockStep: 2 ** 51 });
    expect(wide.apply(mallory, spoof(2 ** 51))).toBe('applied');
    expect(wide.apply(mallory, spoof(2 ** 52))).toBe('applied');
    expect(wide.apply(mallory, spoof(2 ** 52 + 1))).toBe('unchanged');
    wide.destroy();
  });

  it('[A2] a recent departure is remembered: a late echo of the old state does not bring the client back', () => {
    const { presence: list } = presence();
    const alice = { name: 'alice' };
    const bob = { name: 'bob' };
    const hello = awareness([{ clientId: 7, clock: 1, state: { name: 'Alice' } }]);
    list.apply(alice, hello.entries);
    expect(list.hasState(7)).toBe(true);
    list.peerLeft(alice);
    expect(list.hasState(7)).toBe(false);
    // Bob's y-websocket echoes every state it received; this one crossed Alice's departure.
    list.apply(bob, hello.entries);
    expect(list.hasState(7)).toBe(false);
    list.destroy();
  });

  it('[A3] one connection carries at most its share of states; echoes of other phones do not count', () => {
    const { presence: list, broadcasts } = presence({ ...DEFAULT_PRESENCE_LIMITS, statesPerPeer: 4 });
    const flooder = { name: 'flooder' };
    const tooMany = awareness(range(1, 5).map((clientId) => ({ clientId, clock: 1, state: { name: `fake ${clientId}` } })));
    expect(list.apply(flooder, tooMany.entries)).toBe('too-many-states');
    expect(list.stateCount).toBe(0);
    expect(broadcasts).toHaveLength(0);

    const alice = { name: 'alice' };
    const four = awareness(range(1, 4).map((clientId) => ({ clientId, clock: 1, state: { name: `tab ${clientId}` } })));
    expect(list.apply(alice, four.entries)).toBe('applied');
    expect(list.stateCount).toBe(4);
    // Bob's client echoes the four states it was sent, plus its own: it carries only its own.
    const bob = { name: 'bob' };
    const echo = awareness([...four.entries.map(({ clientId }) => ({ clientId, clock: 1, state: { name: `tab ${clientId}` } })), { clientId: 99, clock: 1, state: { name: 'Bob' } }]);
    expect(list.apply(bob, echo.entries)).toBe('applied');
    list.peerLeft(bob);
    expect(list.stateCount).toBe(4);
    list.peerLeft(alice);
    expect(list.stateCount).toBe(0);
    list.destroy();
  });

  it('[A4] a room refuses the update of a connection that claims too many states, keeps the connection ([PR2]), and nobody hears of them', async () => {
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
      return { id, sent, closed, send: (m) => sent.push(m), close: (code) => closed.push(code), chargeStoredBytes: () => undefined, chargeLoopMs: () => undefined, listReady: () => undefined };
    });
    const [flooder, honest] = peers as [(typeof peers)[0], (typeof peers)[0]];
    list.attach(flooder);
    list.attach(honest);
    const greetings = honest.sent.length;
    const metrics = (list as unknown as { options: { metrics: RelayMetrics } }).options.metrics;
    list.receive(flooder, awareness(range(1, 65).map((clientId) => ({ clientId, clock: 1, state: {} }))), 0);
    expect(flooder.closed).toEqual([]);
    expect(metrics.errors.get({ kind: 'presence_limit' })).toBe(1);
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
    list.apply(alice, hello.entries);
    // Alice's clock is the first the relay saw; 1,024 departures since (page reloads on a long day).
    const gone = awareness(range(1000, 1024).map((clientId) => ({ clientId, clock: 1, state: null })));
    list.apply(bob, gone.entries);
    broadcasts.length = 0;
    list.peerLeft(alice);
    expect(list.hasState(7)).toBe(false);
    expect(broadcasts).toHaveLength(1);
    // Her departure is the newest one remembered: an echo of her old state crossing it is refused.
    list.apply(bob, hello.entries);
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
  it('[A9] a list holds at most 256 states and 128 KiB of them; past either an update is refused whole, echoes still pass', () => {
    const [statesPerPeer, statesPerList, stateBytesPerList] = [64, 256, 128 * 1024];
    const { presence: list, broadcasts } = presence();
    const small = (from: number): Entry[] => range(from, statesPerPeer).map((clientId) => ({ clientId, clock: 1, state: { name: `fake ${clientId}` } }));
    const tabs = range(1, statesPerList / statesPerPeer).map((tab) => ({ name: `tab ${tab}` }));
    for (const [i, tab] of tabs.entries()) {
      const full = awareness(small(1000 * (i + 1)));
      expect(list.apply(tab, full.entries)).toBe('applied');
    }
    expect(list.stateCount).toBe(statesPerList);
    broadcasts.length = 0;
    const newcomer = { name: 'newcomer' };
    const one = awareness([{ clientId: 7, clock: 1, state: { name: 'Alice' } }]);
    expect(list.apply(newcomer, one.entries)).toBe('too-many-states-on-list');
    expect(list.hasState(7)).toBe(false);
    expect(broadcasts).toHaveLength(0);
    // An echo of states the list has changes nothing, so a full list does not refuse it.
    const echo = awareness(small(1000));
    expect(list.apply(newcomer, echo.entries)).toBe('unchanged');
    list.peerLeft(tabs[0]!);
    expect(list.apply(newcomer, one.entries)).toBe('applied');
    list.destroy();

    // The bytes: states of 1,000 bytes of JSON fill the list's share long before 256 of them.
    const { presence: bytes } = presence();
    const large = (clientId: number, clock = 1): Entry => ({ clientId, clock, state: 'x'.repeat(998) });
    let added = 0;
    for (let peer = 0; added + statesPerPeer <= Math.floor(stateBytesPerList / 1000); peer++, added += statesPerPeer) {
      const full = awareness(range(1000 * (peer + 1), statesPerPeer).map((clientId) => large(clientId)));
      expect(bytes.apply({ name: `tab ${peer}` }, full.entries)).toBe('applied');
    }
    const last = { name: 'last' };
    const fits = awareness(range(9000, Math.floor(stateBytesPerList / 1000) - added).map((clientId) => large(clientId)));
    expect(bytes.apply(last, fits.entries)).toBe('applied');
    expect(bytes.stateBytes).toBeLessThanOrEqual(stateBytesPerList);
    const over = awareness([large(8999)]);
    expect(bytes.apply(last, over.entries)).toBe('too-many-states-on-list');
    // Present states may not grow past the share either (4 × 24 bytes more, 72 left), but may shrink.
    expect(stateBytesPerList - bytes.stateBytes).toBe(72);
    const grown = awareness(range(9000, 4).map((clientId) => ({ clientId, clock: 2, state: 'x'.repeat(1022) })));
    expect(bytes.apply(last, grown.entries)).toBe('too-many-states-on-list');
    const shrunk = awareness([{ clientId: 9000, clock: 2, state: { name: 'Bob' } }]);
    expect(bytes.apply(last, shrunk.entries)).toBe('applied');
    expect(bytes.apply(last, over.entries)).toBe('applied');
    bytes.destroy();
  });

  it('[A10] a join is sent at most the list\'s share of presence: 10 connections of 64 states of 1,000 bytes', async () => {
    const relay = await startRelay();
    try {
      const listId = newListId();
      const statesOnList = (): number => relay.relay.registry.get(listId)?.presence.stateCount ?? 0;
      const closes: number[] = [];
      for (let connection = 0; connection < 10; connection++) {
        const socket = await openRawSocket(relay.syncUrl, listId);
        socket.on('close', (code) => closes.push(code));
        const [before, closedBefore] = [statesOnList(), closes.length];
        const states = range(100_000 + connection * 100, 64).map((clientId) => ({ clientId, clock: 1, state: 'x'.repeat(998) }));
        socket.send(encodeAwarenessMessage(awareness(states).update));
        const refusedBefore = relay.relay.metrics.errors.get({ kind: 'presence_list_limit' });
        await waitFor(
          () => statesOnList() === before + 64 || closes.length > closedBefore || relay.relay.metrics.errors.get({ kind: 'presence_list_limit' }) > refusedBefore,
          5000,
          'states applied or refused',
        );
      }
      const newcomer = await openRawSocket(relay.syncUrl, listId);
      const greeting = await new Promise<Buffer>((resolve) => newcomer.on('message', (data: Buffer) => data[0] === 1 && resolve(data)));
      newcomer.close();
      // Before the limit, every join was sent all 640 states: 640 kB here, 30 MB in the review.
      expect(greeting.length).toBeLessThan(128 * 1024 + 8 * 256);
      // Each connection is within its own share; past the list's (2 × 64 of these), the rest are
      // not shown, and their connections stay: the list being full is not the newcomer's doing.
      expect(statesOnList()).toBe(128);
      expect(closes).toEqual([]);
      await waitFor(() => relay.relay.connectionCount === 10, 2000, 'the ten connections stay, the newcomer gone');
      expect(relay.relay.metrics.errors.get({ kind: 'presence_list_limit' })).toBe(8);
    } finally {
      await relay.close();
    }
  });

  it('[A11] echoes change nothing: not applied, not relayed, and a message of no entries is not one', () => {
    const { presence: list, broadcasts } = presence();
    const alice = { name: 'alice' };
    const bob = { name: 'bob' };
    const hello = awareness([{ clientId: 7, clock: 3, state: { name: 'Alice' } }]);
    expect(list.isEcho(hello.entries)).toBe(false);
    list.apply(alice, hello.entries);
    broadcasts.length = 0;
    // Bob's client re-sends what it was sent, or an older clock that crossed a newer one.
    const older = awareness([{ clientId: 7, clock: 2, state: { name: 'Al' } }]);
    for (const echo of [hello, older]) {
      expect(list.isEcho(echo.entries)).toBe(true);
      expect(list.apply(bob, echo.entries)).toBe('unchanged');
    }
    expect(broadcasts).toHaveLength(0);
    expect(list.isEcho(awareness([]).entries)).toBe(false);
    // A departure at the present clock is not an echo: it removes the state.
    const leaves = awareness([{ clientId: 7, clock: 3, state: null }]);
    expect(list.isEcho(leaves.entries)).toBe(false);
    list.destroy();
  });

  it('[A12] an unmodified phone echoing another member\'s presence at its allowed rate is not closed for its echoes', async () => {
    // Production per-address budgets: echoes still pay them.
    const relay = await startRelay({ limits: { maxConnectionsPerIp: 200, maxDeliveriesPerIpPerSecond: 5000, maxLoopMsPerIpPerSecond: 250 } });
    const listId = newListId();
    const phone = connectPhone(relay.syncUrl, listId);
    try {
      await waitFor(() => phone.provider.synced, 5000, 'synced');
      const closes: number[] = [];
      phone.provider.on('connection-close', (event) => void (event && closes.push(event.code)));
      // Three connections of another member, each under its own 100 messages a second; the phone
      // echoes every change, ~255 a second, more than its own rate allows.
      const others = await Promise.all([1, 2, 3].map(() => openRawSocket(relay.syncUrl, listId)));
      const started = Date.now();
      for (let clock = 1; Date.now() - started < 2500 && closes.length === 0; clock++) {
        others.forEach((socket, i) => socket.send(encodeAwarenessMessage(awareness([{ clientId: 4242 + i, clock, state: { name: `x${clock}` } }]).update)));
        await new Promise((resolve) => setTimeout(resolve, 11));
      }
      expect(closes).toEqual([]);
      expect(relay.relay.metrics.errors.get({ kind: 'rate_limited' })).toBe(0);
      for (const socket of others) socket.close();
    } finally {
      phone.destroy();
      await relay.close();
    }
  });

  it('[A13] a reconnected phone keeps its presence when the relay at last drops its old, half-open connection', async () => {
    const { list, mum: oldConnection, dad } = await listWithMumAndDad(new MemoryListStorage());
    const MUM = 7;
    list.receive(oldConnection, awareness([{ clientId: MUM, clock: 1, state: { name: 'Mum' } }]), 0);
    // The network changed: the phone opened a new connection, and the old one is half-open until
    // its next missed ping (30–60 s). Meanwhile y-websocket renewed Mum's presence on the new one.
    const newConnection = fakePeer(3);
    list.attach(newConnection);
    list.receive(newConnection, awareness([{ clientId: MUM, clock: 2, state: { name: 'Mum' } }]), 0);
    dad.sent.length = 0;
    list.detach(oldConnection);
    // It took Mum's state with it, and Dad saw her leave (and come back at her next renewal).
    const removals = sentEntries(dad.sent).filter((entry) => entry.clientId === MUM && entry.state === null);
    expect({ present: list.presence.hasState(MUM), removals }).toEqual({ present: true, removals: [] });
    // The live connection still takes it along when it goes.
    list.detach(newConnection);
    expect(list.presence.hasState(MUM)).toBe(false);
    expect(sentEntries(dad.sent)).toEqual([{ clientId: MUM, clock: 2, state: null }]);
    list.destroy();
  });

  it('[A14] an unmodified y-websocket phone that reconnects is shown again at once, not at its next renewal', async () => {
    const relay = await startRelay();
    const listId = newListId();
    // Someone else keeps the list loaded.
    const dad = await openRawSocket(relay.syncUrl, listId);
    const phone = connectPhone(relay.syncUrl, listId);
    try {
      const mum = phone.doc.clientID;
      const shown = (): boolean => relay.relay.registry.get(listId)?.presence.hasState(mum) === true;
      phone.provider.awareness.setLocalState({ name: 'Mum', color: '#123456' });
      await waitFor(shown, 5000, 'Mum shown');
      // Flapping shop Wi-Fi: the socket drops (the relay removes Mum), y-websocket reconnects and
      // sends Mum's state at the clock she left with, which the relay took for a late echo: she
      // stayed hidden until her renewal, up to 18 s later.
      phone.provider.disconnect();
      await waitFor(() => !shown(), 5000, 'Mum gone with her socket');
      phone.provider.connect();
      await waitFor(shown, 3000, 'Mum shown again');
      // Told she had left, her phone raised its clock: everyone, not only the relay, takes it.
      const clock = phone.provider.awareness.meta.get(mum)?.clock ?? 0;
      expect(clock).toBeGreaterThan(1);
    } finally {
      phone.destroy();
      dad.close();
      await relay.close();
    }
  });

  it('[A15] a list\'s presence holds a bounded heap whatever its states\' shape: 1 KiB of `[{},{},…]` is not metered as 1 KiB', () => {
    const gc = collectGarbage();
    const lists = Array.from({ length: 40 }, () => presence());
    // 340 empty objects: 1,021 bytes of JSON, under MAX_AWARENESS_STATE_BYTES and the depth limit,
    // about 20 KiB of heap once parsed.
    const objects = JSON.stringify(Array.from({ length: 340 }, () => ({})));
    expect(objects.length).toBeLessThanOrEqual(MAX_AWARENESS_STATE_BYTES);
    gc();
    const heapBefore = process.memoryUsage().heapUsed;
    let applied = 0;
    for (const [i, { presence: list }] of lists.entries()) {
      // Four states a message, from one connection, until the list (or the connection) is full.
      const tab = { name: `tab ${i}` };
      for (let from = 0; from < 64; from += 4) {
        const { entries } = awareness(range(1000 + from, 4).map((clientId) => ({ clientId, clock: 1, state: null })), objects);
        if (list.apply(tab, entries) !== 'applied') break;
        applied += 4;
      }
      expect(list.stateBytes).toBeLessThanOrEqual(DEFAULT_PRESENCE_LIMITS.stateBytesPerList);
    }
    gc();
    const heapGrowth = process.memoryUsage().heapUsed - heapBefore;
    expect(applied).toBeGreaterThan(0);
    // Metered by their JSON, each list took all 64 (1.3 MB of heap, 55 MB for the 40); metered by
    // their values, a list holds its share's worth: about 2 × 128 KiB of heap.
    expect(heapGrowth, `${applied} states took ${(heapGrowth / 1e6).toFixed(1)} MB`).toBeLessThan(lists.length * 4 * DEFAULT_PRESENCE_LIMITS.stateBytesPerList);
    for (const { presence: list } of lists) list.destroy();
  });

  it('[A16] a join is sent at most the list\'s 128 KiB of presence, whatever the numbers in the states look like', async () => {
    const { list } = await listWithMumAndDad(new MemoryListStorage());
    // `1e20` is 4 bytes as sent, 21 digits once y-protocols re-encodes it for every newcomer.
    const raw = `[${Array.from({ length: 203 }, () => '1e20').join(',')}]`;
    expect(raw.length).toBeLessThanOrEqual(MAX_AWARENESS_STATE_BYTES);
    const tabs = [fakePeer(10), fakePeer(11)];
    for (const tab of tabs) list.attach(tab);
    for (let clientId = 5000; clientId < 5128; clientId++) {
      list.receive(tabs[clientId % 2]!, awareness([{ clientId, clock: 1, state: null }], raw), 0);
    }
    expect(tabs.map((tab) => tab.closed)).toEqual([[], []]);
    const shown = list.presence.stateCount;
    expect(shown).toBeGreaterThan(0);
    const newcomer = fakePeer(99);
    list.attach(newcomer);
    const sentBytes = newcomer.sent.filter((m) => m[0] === MESSAGE_AWARENESS).reduce((sum, m) => sum + m.length, 0);
    // As [A10]: the list's share plus a few bytes of id and clock per state. Metered as sent,
    // 128 states fitted and a join was sent 572 kB.
    expect(sentBytes, `${shown} states, a join sent ${sentBytes} bytes`).toBeLessThan(128 * 1024 + 8 * 256);
    list.destroy();
  });

  it('[A17] one address holds at most its share of presence across lists, the relay at most its total; leaving gives it back', () => {
    // States of 1,000 bytes of JSON, 64 to a tab: 64,000 bytes each.
    const tabOf = (from: number): ReturnType<typeof awareness> =>
      awareness(range(from, 64).map((clientId) => ({ clientId, clock: 1, state: 'x'.repeat(998) })));
    const pool = new PresenceBytesPool({ perAddress: 200 * 1024, total: 300 * 1024 });
    const [mine, theirs] = [pool.share(), pool.share()];
    type Tab = { name: string; share: PresenceShare };
    const lists = range(0, 5).map(() => new Presence<Tab>(new Y.Doc(), () => undefined, DEFAULT_PRESENCE_LIMITS, (tab) => tab.share));
    // One address, one tab on each of four lists: each list is far within its own limits.
    const myTabs = range(0, 4).map((i) => ({ name: `mine ${i}`, share: mine }));
    const results = myTabs.map((tab, i) => {
      const full = tabOf(1000 * (i + 1));
      return lists[i]!.apply(tab, full.entries);
    });
    // Before the share, each list took its 64,000 bytes: 256,000 for the address.
    expect(results).toEqual(['applied', 'applied', 'applied', 'over-address-share']);
    expect(lists[3]!.stateCount).toBe(0);
    expect(mine.held).toBe(192_000);
    // Another address fits the relay's total once, not twice: 192,000 + 64,000 ≤ 300 KiB < + 128,000.
    const theirTabs = [{ name: 'theirs 0', share: theirs }, { name: 'theirs 1', share: theirs }];
    const first = tabOf(50_000);
    expect(lists[4]!.apply(theirTabs[0]!, first.entries)).toBe('applied');
    const second = tabOf(60_000);
    expect(lists[4]!.apply(theirTabs[1]!, second.entries)).toBe('over-address-share');
    // A tab that leaves, and a list unloaded, give their bytes back.
    lists[0]!.peerLeft(myTabs[0]!);
    expect(mine.held).toBe(128_000);
    lists[1]!.destroy();
    expect([mine.held, pool.held]).toEqual([64_000, 128_000]);
    expect(lists[4]!.apply(theirTabs[1]!, second.entries)).toBe('applied');
    expect([theirs.held, pool.held]).toEqual([128_000, 192_000]);
    // A state replaced by a smaller one is charged the difference, not both.
    const shrunk = awareness(range(1000 * 3, 64).map((clientId) => ({ clientId, clock: 2, state: 'y' })));
    expect(lists[2]!.apply(myTabs[2]!, shrunk.entries)).toBe('applied');
    expect(mine.held).toBe(64 * 32);
    for (const list of lists) list.destroy();
    expect(pool.held).toBe(0);
  });

  it('[A18] on a relay, one address\'s connections on many lists hold at most 1 MiB of presence, stay connected, and give it back when they leave', async () => {
    const relay = await startRelay();
    try {
      const listIds = range(0, 20).map(() => newListId());
      const stateBytesOnLists = (): number => listIds.reduce((sum, listId) => sum + (relay.relay.registry.get(listId)?.presence.stateBytes ?? 0), 0);
      const closes: number[] = [];
      const sockets = [];
      for (const [i, listId] of listIds.entries()) {
        const socket = await openRawSocket(relay.syncUrl, listId);
        socket.on('close', (code) => closes.push(code));
        sockets.push(socket);
        const [before, refusedBefore] = [stateBytesOnLists(), relay.relay.metrics.errors.get({ kind: 'presence_address_limit' })];
        const states = range(100_000 + i * 100, 64).map((clientId) => ({ clientId, clock: 1, state: 'x'.repeat(998) }));
        socket.send(encodeAwarenessMessage(awareness(states).update));
        await waitFor(
          () => stateBytesOnLists() > before || relay.relay.metrics.errors.get({ kind: 'presence_address_limit' }) > refusedBefore,
          5000,
          'states applied or refused',
        );
      }
      // Before the share: 20 lists × 64,000 bytes, 1.28 MB from one address (50 MB with 200 connections).
      const held = stateBytesOnLists();
      expect(held).toBeLessThanOrEqual(1024 * 1024);
      expect(held).toBe(16 * 64_000);
      expect(closes).toEqual([]);
      const text = await (await fetch(`http://127.0.0.1:${relay.port}/metrics`)).text();
      expect(text).toContain(`basket_relay_presence_bytes ${held}`);
      for (const socket of sockets) socket.close();
      await waitFor(() => relay.relay.connectionCount === 0, 5000, 'the connections closed');
      expect([stateBytesOnLists(), await (await fetch(`http://127.0.0.1:${relay.port}/metrics`)).text()]).toEqual([0, expect.stringContaining('basket_relay_presence_bytes 0')]);
    } finally {
      await relay.close();
    }
  });
});

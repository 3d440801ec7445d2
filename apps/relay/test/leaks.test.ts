/**
 * State that a relay running for months must release (connections, addresses, lists, client ids,
 * events). Each test drives churn through the real RelayServer and checks that the state it names
 * does not grow with that churn.
 */
import v8 from 'node:v8';
import vm from 'node:vm';
import { describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import * as Y from 'yjs';
import type { RelayServer } from '../src/http/relay-server.js';
import { MemoryListStorage } from '../src/storage/memory-storage.js';
import { encodeSyncUpdate } from '../src/sync/protocol.js';
import { newListId, openRawSocket, startRelay, waitFor } from './helpers.js';

v8.setFlagsFromString('--expose-gc');
const gc = vm.runInNewContext('gc') as () => void;

async function collectGarbage(): Promise<void> {
  for (let i = 0; i < 3; i++) {
    gc();
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

async function closeAndWait(socket: WebSocket): Promise<void> {
  if (socket.readyState === WebSocket.CLOSED) return;
  const closed = new Promise((resolve) => socket.once('close', resolve));
  socket.close();
  await closed;
}

/** One edit by a fresh phone (its own client id), as a sync update frame. */
function oneEdit(key: string): Uint8Array {
  const doc = new Y.Doc();
  doc.getMap('items').set(key, key);
  return encodeSyncUpdate(Y.encodeStateAsUpdate(doc));
}

/** The relay's open connections (RelayServer keeps them in a private set). */
function openConnections(relay: RelayServer): object[] {
  return [...(relay as unknown as { connections: Set<object> }).connections];
}

/** Weak references to the `count` newest connections (in a function of its own: no frame of the test keeps one). */
function weakRefsToNewest(relay: RelayServer, count: number): Array<WeakRef<object>> {
  return openConnections(relay)
    .slice(-count)
    .map((connection) => new WeakRef(connection));
}

/** Storage whose appends each wait for the test, then fail (a disk that hangs, then errors) until told otherwise. */
class HangingThenFailingStorage extends MemoryListStorage {
  private pending: Array<() => void> = [];
  failing = true;
  appendsStarted = 0;

  override append(listId: string, updates: readonly Uint8Array[]): Promise<void> {
    this.appendsStarted += 1;
    if (!this.failing) return super.append(listId, updates);
    return new Promise<void>((resolve, reject) => {
      this.pending.push(() => {
        if (this.failing) reject(new Error('EIO: write failed'));
        else void super.append(listId, updates).then(resolve, reject);
      });
    });
  }

  /** Ends every append in flight (failing them while `failing`). */
  endAppendsInFlight(): void {
    const pending = this.pending;
    this.pending = [];
    for (const end of pending) end();
  }
}

describe('leaks over a long uptime', () => {
  it('[LK1] while a list\'s writes fail, a phone that leaves during a write in flight is released, not put back among the waiters of the retry', async () => {
    const storage = new HangingThenFailingStorage();
    const running = await startRelay({ storage, trustedProxies: ['127.0.0.1'] });
    const listId = newListId();
    // Someone keeps the list open all along (a tablet on the kitchen wall).
    const keeper = await openRawSocket(running.syncUrl, listId, '192.0.2.1');
    await waitFor(() => running.relay.registry.get(listId)?.isReady === true, 5000, 'the list loaded');
    const departed: Array<WeakRef<object>> = [];
    // The disk starts failing: the keeper's edit is written, hangs, fails; the list retries later.
    keeper.send(oneEdit('keeper'));
    await waitFor(() => storage.appendsStarted === 1, 5000, 'the first write in flight');
    storage.endAppendsInFlight();
    const rounds = 3;
    const phonesPerRound = 10;
    for (let round = 0; round < rounds; round++) {
      // Meanwhile phones come, each sends an edit, which the relay accepts and will write at the retry.
      const started = storage.appendsStarted;
      const phones: WebSocket[] = [];
      for (let i = 0; i < phonesPerRound; i++) phones.push(await openRawSocket(running.syncUrl, listId, `198.51.100.${round * phonesPerRound + i + 1}`));
      departed.push(...weakRefsToNewest(running.relay, phonesPerRound));
      for (const [i, phone] of phones.entries()) phone.send(oneEdit(`round${round}-phone${i}`));
      // The retry carries their edits; it hangs, and while it hangs they go (a phone locked, a tunnel).
      await waitFor(() => storage.appendsStarted > started, 10_000, 'the retry in flight');
      await Promise.all(phones.map(closeAndWait));
      await waitFor(() => running.relay.registry.get(listId)?.peerCount === 1, 5000, 'the phones detached');
      // The retry fails too (the disk is still full); the list will try again later.
      storage.endAppendsInFlight();
    }
    // One more phone comes and goes, so nothing still points at the last connection by chance.
    await closeAndWait(await openRawSocket(running.syncUrl, newListId(), '203.0.113.250'));
    await collectGarbage();
    const stillReferenced = departed.filter((ref) => ref.deref() !== undefined).length;
    try {
      expect(stillReferenced, 'closed connections still referenced by the failing list (waiters of its group commit)').toBe(0);
    } finally {
      storage.failing = false;
      storage.endAppendsInFlight();
      keeper.close();
      await running.close();
    }
  });

  it('[MR1] a binary value does not hold the frame it came in: frames padded with a delete set the list already has hold no memory the list does not count', async () => {
    const running = await startRelay({ storage: new MemoryListStorage() });
    const listId = newListId();
    const phone = new Y.Doc();
    const values = phone.getMap('values');
    // 20,000 keys, every other one deleted: every later update of this phone carries those 10,000 deletions.
    phone.transact(() => {
      for (let i = 0; i < 20_000; i++) values.set(`d${i}`, 0);
    });
    phone.transact(() => {
      for (let i = 0; i < 20_000; i += 2) values.delete(`d${i}`);
    });
    const socket = await openRawSocket(running.syncUrl, listId);
    try {
      socket.send(encodeSyncUpdate(Y.encodeStateAsUpdate(phone)));
      const room = (): Y.Doc | undefined => running.relay.registry.get(listId)?.doc;
      await waitFor(() => room()?.getMap('values').has('d1') === true, 5000, 'the list written');
      await collectGarbage();
      const before = process.memoryUsage().arrayBuffers;
      const frames = 300;
      let frameBytes = 0;
      for (let n = 0; n < frames; n++) {
        const stateVector = Y.encodeStateVector(phone);
        values.set(`v${n}`, [new Uint8Array(1)]);
        const frame = encodeSyncUpdate(Y.encodeStateAsUpdate(phone, stateVector));
        frameBytes = frame.length;
        socket.send(frame);
      }
      await waitFor(() => room()?.getMap('values').has(`v${frames - 1}`) === true, 10_000, 'every frame applied');
      expect(frameBytes).toBeGreaterThan(20_000);
      const value = (room()?.getMap('values').get('v0') as Uint8Array[])[0]!;
      expect(value.buffer.byteLength).toBe(1);
      await collectGarbage();
      // Held as views, the values kept 300 frames of over 20 kB: 6 MB.
      expect(process.memoryUsage().arrayBuffers - before).toBeLessThan(2_000_000);
    } finally {
      socket.terminate();
      await running.close();
    }
  });
});

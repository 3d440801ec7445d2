import type { ChildProcess } from 'node:child_process';
import { spawn, spawnSync } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import * as encoding from 'lib0/encoding';
import { afterEach, describe, expect, it } from 'vitest';
import { encodeSyncUpdate } from '../src/sync/protocol.js';
import type { CraftedStruct, CraftedUpdate } from './fuzz/crafted-update-encoding.js';
import { encodeCrafted } from './fuzz/crafted-update-encoding.js';
import type { Phone, RunningRelay } from './helpers.js';
import { closeCodeOf, connectPhone, newListId, openRawSocket, startRelay, temporaryDirectory, waitFor, whenListening } from './helpers.js';

const relayRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

/** A struct of `kind` with no neighbours, in the root map 'items', under no key unless given. */
function struct(kind: CraftedStruct['kind'], fields: Partial<CraftedStruct> = {}): CraftedStruct {
  return { kind, length: 1, origin: null, rightOrigin: null, parent: { root: 'items' }, key: null, ...fields };
}

/** One block per [client, structs], from clock 0, and the given deletions. */
function crafted(blocks: ReadonlyArray<readonly [number, readonly CraftedStruct[]]>, deletions: CraftedUpdate['deletions'] = []): Uint8Array {
  return encodeCrafted({ blocks: blocks.map(([client, structs]) => ({ client, clock: 0, structs })), deletions });
}

/**
 * Client 1's item (no origin, no key) names client 2's item as its right neighbour, and client
 * 2's item names client 1's as its origin. A cycle: no honest Yjs writes one.
 */
const twoClientCycleUpdate = (): Uint8Array =>
  crafted([
    [2, [struct('any', { origin: { client: 1, clock: 0 } })]],
    [1, [struct('any', { rightOrigin: { client: 2, clock: 0 } })]],
  ]);

/** One item with no origin whose right neighbour is itself. */
const selfNeighbourUpdate = (): Uint8Array => crafted([[777, [struct('any', { rightOrigin: { client: 777, clock: 0 } })]]]);

/**
 * A map value of client 555 at clock 0 whose parent (a nested type) is 555's own clock 5: a
 * reference forward in its own client's clocks, which no honest Yjs writes (a parent, an origin or
 * a right neighbour of one client always has an earlier clock). Yjs does not treat it as a missing
 * dependency and throws in Item.getMissing.
 */
const ownForwardParentUpdate = (): Uint8Array => crafted([[555, [struct('any', { parent: { client: 555, clock: 5 }, key: 'name' })]]]);

/** Client 901's map value at clock 0, then a GC struct of length 0: Yjs throws in the transaction's cleanup. */
const zeroLengthGcUpdate = (): Uint8Array => crafted([[901, [struct('any', { key: 'a' }), struct('gc', { length: 0 })]]]);

/** Client 902's map value, and a deletion of length 0 of a clock the list does not hold: Yjs throws writing what it keeps pending. */
const zeroLengthDeletionUpdate = (): Uint8Array => crafted([[902, [struct('any', { key: 'a' })]]], [{ client: 903, ranges: [[3, 0]] }]);

/** lib0's type tags (writeAny) and Yjs's content refs used below. */
/** A varint lib0 reads as Infinity: 146 continuation bytes of 0, then 127 ([N1]). */
const INFINITE_VARINT = [...Array<number>(146).fill(0x80), 0x7f];
/** A varint lib0 reads as 127 * 2^56: past 2^53, where a double no longer counts by one. */
const UNSAFE_VARINT = [...Array<number>(8).fill(0x80), 0x7f];
// A v1 update by hand: clients, then per client structs, its id, first clock, and each struct (a GC of length 1 here); then the delete set.
const infiniteClockUpdate = (): Uint8Array => new Uint8Array([1, 1, 5, ...INFINITE_VARINT, 0, 1, 0]);
const infiniteDeletionUpdate = (): Uint8Array => new Uint8Array([0, 1, 5, 1, ...INFINITE_VARINT, 1]);
const unsafeClientUpdate = (): Uint8Array => new Uint8Array([1, 1, ...UNSAFE_VARINT, 0, 0, 1, 0]);

const ANY_ARRAY = 117;
const ANY_OBJECT = 118;
const ANY_BINARY = 116;
const ANY_NULL = 126;
const ANY_UNDEFINED = 127;
const CONTENT_JSON = 2;
const CONTENT_ANY = 8;
const CONTENT_DOC = 9;

/** Client `client`'s value of the key 'evil' in the map 'items', its content written by `write`. */
const mapValueUpdate = (client: number, ref: number, write: (e: encoding.Encoder) => void): Uint8Array =>
  crafted([[client, [struct('any', { key: 'evil', content: { ref, write } })]]]);

/** An array holding an array ... `depth` deep, written level by level (lib0's writeAny would recurse). */
function writeNestedArrays(e: encoding.Encoder, depth: number): void {
  for (let level = 0; level < depth; level++) {
    encoding.writeUint8(e, ANY_ARRAY);
    encoding.writeVarUint(e, 1);
  }
  encoding.writeUint8(e, ANY_UNDEFINED);
}

/**
 * `{"__proto__": <binary>}`: lib0's readAny assigns the key, so the object read has a Uint8Array
 * for its prototype; Yjs takes it for binary when it writes the item back out, and throws.
 */
const protoKeyUpdate = (): Uint8Array =>
  mapValueUpdate(904, CONTENT_ANY, (e) => {
    encoding.writeVarUint(e, 1);
    encoding.writeUint8(e, ANY_OBJECT);
    encoding.writeVarUint(e, 1);
    encoding.writeVarString(e, '__proto__');
    encoding.writeUint8(e, ANY_BINARY);
    encoding.writeVarUint8Array(e, new Uint8Array([1, 2, 3]));
  });

/** A subdocument whose options set its guid to null: Yjs throws writing the guid back out. */
const subdocumentGuidNullUpdate = (): Uint8Array =>
  mapValueUpdate(905, CONTENT_DOC, (e) => {
    encoding.writeVarString(e, 'subdocument');
    encoding.writeUint8(e, ANY_OBJECT);
    encoding.writeVarUint(e, 1);
    encoding.writeVarString(e, 'guid');
    encoding.writeUint8(e, ANY_NULL);
  });

/** JSON text nested 5,000 deep (10 kB): JSON.parse reads it, JSON.stringify runs out of stack writing it back. */
const deepJsonUpdate = (): Uint8Array =>
  mapValueUpdate(906, CONTENT_JSON, (e) => {
    encoding.writeVarUint(e, 1);
    encoding.writeVarString(e, '['.repeat(5000) + ']'.repeat(5000));
  });

/**
 * A value nested 10,000 deep beside 70 kB of text: a frame that large is decoded on the worker,
 * whose stack read it, while the event loop ran out of stack applying it.
 */
const deepValueOnTheWorkerUpdate = (): Uint8Array =>
  mapValueUpdate(907, CONTENT_ANY, (e) => {
    encoding.writeVarUint(e, 2);
    encoding.writeAny(e, 'x'.repeat(70_000));
    writeNestedArrays(e, 10_000);
  });

interface SpawnedRelay {
  child: ChildProcess;
  syncUrl: string;
  baseUrl: string;
  exited: () => boolean;
}

/** The relay from its sources (tsx), in its own process: a frame that kills it must not kill the test. */
function spawnSourceRelay(dataDir: string): Promise<SpawnedRelay> {
  const child = spawn(process.execPath, ['--max-old-space-size=512', '--import', 'tsx', path.join(relayRoot, 'src/main.ts')], {
    cwd: relayRoot,
    env: { ...process.env, PORT: '0', HOST: '127.0.0.1', DATA_DIR: dataDir, STATIC_DIR: path.join(dataDir, 'no-web-app'), LOG_LEVEL: 'info' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let exited = false;
  child.once('exit', () => {
    exited = true;
  });
  child.stderr?.resume();
  return whenListening(child).then(({ port }) => ({ child, syncUrl: `ws://127.0.0.1:${port}/sync`, baseUrl: `http://127.0.0.1:${port}`, exited: () => exited }));
}

describe('crafted update structure no Yjs writes', () => {
  const cleanups: Array<() => Promise<void> | void> = [];
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  });

  it('[P1] an update of a few bytes whose items name each other as neighbours is refused, and the relay lives on', async () => {
    const { dir, remove } = await temporaryDirectory('basket-review-p1-');
    cleanups.push(remove);
    const relay = await spawnSourceRelay(dir);
    cleanups.push(() => {
      if (!relay.exited()) relay.child.kill('SIGKILL');
    });
    const listId = newListId();
    for (const update of [selfNeighbourUpdate(), twoClientCycleUpdate()]) {
      const attacker = await openRawSocket(relay.syncUrl, listId);
      const closed = closeCodeOf(attacker, 8000);
      attacker.send(encodeSyncUpdate(update));
      // Today the relay's event loop spins in unanchoredPlaces (protocol.ts) growing `path` until
      // the heap is exhausted and the process aborts: no close ever comes.
      expect(await closed).toBe(4400);
    }
    const health = await fetch(`${relay.baseUrl}/healthz`);
    expect(health.status).toBe(200);
    expect(relay.exited()).toBe(false);
  }, 40_000);

  it('[P3] (fast-check, in its own process) every crafted update the relay accepts applies without Yjs throwing, on the main thread and sliced as the decode worker cuts it, and the list loads again', () => {
    // Seeded for replay: FUZZ_SEED=<n> reruns a failure; the seed is printed either way.
    const seed = Number(process.env['FUZZ_SEED'] ?? Math.floor(Math.random() * 2 ** 31));
    const runs = 5000;
    const run = spawnSync(process.execPath, ['--import', 'tsx', path.join(relayRoot, 'test/fuzz/crafted-updates.ts'), String(seed), String(runs)], {
      cwd: relayRoot,
      encoding: 'utf8',
      // A check that never ends is a failure too (the walk [P1] fixed spun until the heap ran out).
      timeout: 90_000,
    });
    expect(run.stderr, `FUZZ_SEED=${seed}`).toBe('');
    expect(run.status, `FUZZ_SEED=${seed}`).toBe(0);
    const summary = JSON.parse(run.stdout) as { runs: number; applied: number };
    expect(summary.runs).toBe(runs);
    // Not a property that holds because the relay refuses everything: about a fifth is applied.
    expect(summary.applied).toBeGreaterThan(runs / 10);
  }, 120_000);

  describe('with an in-process relay', () => {
    let running: RunningRelay;
    const phones: Phone[] = [];
    afterEach(async () => {
      for (const phone of phones.splice(0)) phone.destroy();
      await running?.close();
    });

    it.each([
      ["a parent later in its own client's clocks", ownForwardParentUpdate],
      ['a struct of length 0', zeroLengthGcUpdate],
      ['a deletion of length 0', zeroLengthDeletionUpdate],
      ['a map value with a "__proto__" key', protoKeyUpdate],
      ['a subdocument whose guid is null', subdocumentGuidNullUpdate],
      ['JSON nested 5,000 deep', deepJsonUpdate],
      ['a value nested 10,000 deep, in a frame the decode worker checks', deepValueOnTheWorkerUpdate],
      ['a clock that reads as Infinity', infiniteClockUpdate],
      ['a deletion at a clock that reads as Infinity', infiniteDeletionUpdate],
      ['a client id past 2^53', unsafeClientUpdate],
    ])('[P2] an update Yjs cannot apply (%s) is refused at decode: the other phones on the list are not cut off', async (_what, crafted) => {
      running = await startRelay();
      const listId = newListId();
      const alice = connectPhone(running.syncUrl, listId);
      const bob = connectPhone(running.syncUrl, listId);
      phones.push(alice, bob);
      const closes: number[] = [];
      for (const phone of [alice, bob]) {
        phone.provider.on('connection-close', (event: { code: number } | null) => {
          if (event !== null) closes.push(event.code);
        });
      }
      alice.doc.getMap('items').set('milk', 'x');
      await waitFor(() => bob.doc.getMap('items').get('milk') === 'x' && alice.isFullyStored(), 5000, 'sync');

      const attacker = await openRawSocket(running.syncUrl, listId);
      const closed = closeCodeOf(attacker);
      attacker.send(encodeSyncUpdate(crafted()));
      expect(await closed).toBe(4400);
      await new Promise((resolve) => setTimeout(resolve, 300));
      // Today the update passes every check, Y.applyUpdate throws inside the list, and the list is
      // failed: every phone on it is closed with 1011 and must reconnect and resync.
      expect(closes).toEqual([]);
    });

    it.each([
      ['a sync request whose state vector holds an Infinity clock', [0, 0, 1 + 1 + INFINITE_VARINT.length, 1, 5, ...INFINITE_VARINT]],
      ['presence at an Infinity clock', [1, 3 + INFINITE_VARINT.length, 1, 5, ...INFINITE_VARINT, 2, 0x7b, 0x7d]],
      ['presence of a client id that reads as Infinity', [1, 3 + INFINITE_VARINT.length, 1, ...INFINITE_VARINT, 1, 2, 0x7b, 0x7d]],
    ])('[N1] %s is refused (4400); the relay goes on answering and the phones on the list keep syncing', async (_what, frame) => {
      running = await startRelay();
      const listId = newListId();
      const alice = connectPhone(running.syncUrl, listId);
      const bob = connectPhone(running.syncUrl, listId);
      phones.push(alice, bob);
      await waitFor(() => alice.provider.synced && bob.provider.synced, 5000, 'sync');
      const attacker = await openRawSocket(running.syncUrl, listId);
      const closed = closeCodeOf(attacker);
      attacker.send(new Uint8Array(frame));
      expect(await closed).toBe(4400);
      // Presence goes out to every phone: written with Infinity, the write never ended.
      alice.provider.awareness.setLocalStateField('name', 'Alice');
      alice.doc.getMap('items').set('eggs', 'Eggs');
      await waitFor(() => bob.doc.getMap('items').get('eggs') === 'Eggs' && alice.isFullyStored(), 5000, 'still syncing');
      await waitFor(() => [...bob.provider.awareness.getStates().values()].some((state) => state['name'] === 'Alice'), 5000, 'presence relayed');
    });
  });
});

import { silentLogger } from '../src/log.js';
import { RelayMetrics } from '../src/metrics.js';
import type { ListStorage } from '../src/storage/list-storage.js';
import type { ListRoomOptions, RoomPeer } from '../src/sync/list-room.js';
import { ListRoom } from '../src/sync/list-room.js';
import type { RoomRegistryOptions } from '../src/sync/room-registry.js';

/** A phone as a list sees it, recording what it was sent and charged, with a hook on each send. */
export type FakePeer = RoomPeer & {
  readonly sent: Uint8Array[];
  readonly closed: number[];
  readonly storedBytes: number[];
  readonly loopMs: number[];
  onSend?: (message: Uint8Array) => void;
};

export function fakePeer(id: number): FakePeer {
  const peer: FakePeer = {
    id,
    sent: [],
    closed: [],
    storedBytes: [],
    loopMs: [],
    send: (message) => {
      peer.sent.push(message);
      peer.onSend?.(message);
    },
    close: (code) => peer.closed.push(code),
    chargeStoredBytes: (bytes) => peer.storedBytes.push(bytes),
    chargeLoopMs: (ms) => peer.loopMs.push(ms),
    listReady: () => undefined,
  };
  return peer;
}

export interface RoomOptionOverrides {
  readonly listId?: string;
  readonly now?: () => number;
  readonly compactLogBytes?: number;
  readonly maxListBytes?: number;
}

export function roomOptions(storage: ListStorage, options: RoomOptionOverrides = {}): ListRoomOptions {
  return {
    listId: options.listId ?? 'roomUnitTestList01',
    storage,
    logger: silentLogger,
    metrics: new RelayMetrics(),
    now: options.now ?? (() => 0),
    maxListBytes: options.maxListBytes ?? 1024 * 1024,
    compactLogBytes: options.compactLogBytes ?? 1024 * 1024,
    onFailed: () => undefined,
    onEmpty: () => undefined,
  };
}

/** A loaded list with Mum (client 1) and Dad (client 2) attached. */
export async function listWithMumAndDad(storage: ListStorage, options: RoomOptionOverrides = {}): Promise<{ list: ListRoom; mum: FakePeer; dad: FakePeer }> {
  const list = new ListRoom(roomOptions(storage, options));
  await list.load();
  const [mum, dad] = [fakePeer(1), fakePeer(2)];
  list.attach(mum);
  list.attach(dad);
  return { list, mum, dad };
}

/** A registry's options for tests: 10 lists of up to 1 MiB, 64 MiB loaded, no idle unloading; `overrides` win. */
export function registryOptions(storage: ListStorage, overrides: Partial<RoomRegistryOptions> = {}): RoomRegistryOptions {
  return {
    storage,
    logger: silentLogger,
    metrics: new RelayMetrics(),
    now: () => Date.now(),
    maxLoadedLists: 10,
    maxLoadedListBytes: 64 * 1024 * 1024,
    maxLoadedListBytesPerAddress: 64 * 1024 * 1024,
    maxListBytes: 1024 * 1024,
    compactLogBytes: 1024 * 1024,
    idleUnloadMs: 0,
    ...overrides,
  };
}

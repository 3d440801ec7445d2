import * as Y from 'yjs';
import { ShoppingList } from '../../src/index.js';
import { seededRandom } from './random.js';

export interface Replica {
  readonly actor: string;
  readonly doc: Y.Doc;
  readonly list: ShoppingList;
  online: boolean;
}

interface Message {
  readonly from: Replica;
  readonly to: Replica;
  readonly update: Uint8Array;
}

const REMOTE = Symbol('test-network');

/**
 * A deterministic in-process network of replicas (STYLE.md habits 3 and 4):
 * every local update is queued for each online peer; nothing moves until a
 * test flushes, in order or in seeded random order; going offline drops
 * what was queued to and from that replica; coming back online queues a
 * full state exchange with every online peer.
 */
export class TestNetwork {
  readonly replicas: Replica[] = [];
  private queue: Message[] = [];
  private readonly random: () => number;
  /** Messages delivered so far, to watch protocol chatter. */
  delivered = 0;

  constructor(
    seed = 1,
    private readonly clock: () => number = () => 0,
  ) {
    this.random = seededRandom(seed);
  }

  add(actor: string, options: { tombstoneRetentionMs?: number; now?: () => number } = {}): Replica {
    const doc = new Y.Doc();
    const replica: Replica = {
      actor,
      doc,
      list: new ShoppingList(doc, { actor, now: options.now ?? this.clock, ...options }),
      online: true,
    };
    doc.on('update', (update: Uint8Array, origin: unknown) => {
      if (origin === REMOTE || !replica.online) return;
      for (const peer of this.replicas) {
        if (peer !== replica && peer.online) this.queue.push({ from: replica, to: peer, update });
      }
    });
    this.replicas.push(replica);
    return replica;
  }

  pending(): number {
    return this.queue.length;
  }

  disconnect(replica: Replica): void {
    replica.online = false;
    this.queue = this.queue.filter((message) => message.from !== replica && message.to !== replica);
  }

  /** Back online: exchange full state with every online peer (queued, not delivered). */
  connect(replica: Replica): void {
    replica.online = true;
    for (const peer of this.replicas) {
      if (peer === replica || !peer.online) continue;
      this.queue.push({ from: peer, to: replica, update: Y.encodeStateAsUpdate(peer.doc, Y.encodeStateVector(replica.doc)) });
      this.queue.push({ from: replica, to: peer, update: Y.encodeStateAsUpdate(replica.doc, Y.encodeStateVector(peer.doc)) });
    }
  }

  /** Delivers one queued message: the oldest, or a random one. Returns false when none is queued. */
  deliverOne(randomOrder = false): boolean {
    if (this.queue.length === 0) return false;
    const index = randomOrder ? Math.floor(this.random() * this.queue.length) : 0;
    const [message] = this.queue.splice(index, 1);
    if (message === undefined || !message.to.online) return true;
    Y.applyUpdate(message.to.doc, message.update, REMOTE);
    this.delivered++;
    return true;
  }

  /** Delivers until nothing is queued (deliveries can cause new updates, e.g. merges). */
  flush(randomOrder = false): void {
    for (let guard = 0; this.deliverOne(randomOrder); guard++) {
      if (guard > 100_000) throw new Error('network did not settle');
    }
  }

  /** Everyone online, full exchange, until quiet. */
  settle(randomOrder = false): void {
    for (const replica of this.replicas) if (!replica.online) this.connect(replica);
    this.flush(randomOrder);
  }
}

/** Applies `from`'s missing state to `to`, as one remote update. */
export function sendState(from: Y.Doc, to: Y.Doc): void {
  Y.applyUpdate(to, Y.encodeStateAsUpdate(from, Y.encodeStateVector(to)), REMOTE);
}

/**
 * Exchanges state between replicas until nothing changes, starting in the
 * given direction: merges written while receiving must reach the others too.
 */
export function exchange(first: Y.Doc, second: Y.Doc, ...more: Y.Doc[]): void {
  const docs = [first, second, ...more];
  for (let round = 0; round < 10; round++) {
    const before = docs.map((doc) => Y.encodeStateVector(doc).join(','));
    for (const from of docs) for (const to of docs) if (from !== to) sendState(from, to);
    const after = docs.map((doc) => Y.encodeStateVector(doc).join(','));
    if (before.every((vector, index) => vector === after[index])) return;
  }
  throw new Error('replicas did not converge in 10 rounds');
}

/** A clock tests move by hand. */
export class FakeClock {
  constructor(public time = 1_700_000_000_000) {}
  readonly now = (): number => this.time;
  advance(ms: number): void {
    this.time += ms;
  }
}

import * as awarenessProtocol from 'y-protocols/awareness';
import type * as Y from 'yjs';
import type { AwarenessEntry } from './protocol.js';
import { encodeAwarenessMessage } from './protocol.js';

export interface PresenceLimits {
  /**
   * Presence states one connection may carry. A y-websocket client has one; tabs of one browser
   * pass each other's states along (BroadcastChannel), so a connection can carry a few more.
   */
  readonly statesPerPeer: number;
  /**
   * Clients that left whose last clock is remembered. The clock stops a late echo of an old
   * state from bringing a client back; y-protocols keeps it forever, so a stream of made-up
   * client ids (a removal costs 3 bytes on the wire) would grow the relay's memory without end.
   */
  readonly rememberedDepartures: number;
}

export const DEFAULT_PRESENCE_LIMITS: PresenceLimits = { statesPerPeer: 64, rememberedDepartures: 1024 };

export type PresenceResult = 'applied' | 'too-many-states';

/**
 * Who is on a list right now (y-protocols awareness), and which connections carried each
 * presence state, so a connection that drops takes the states it carried with it.
 */
export class Presence<Peer extends object> {
  private readonly awareness: awarenessProtocol.Awareness;
  /** The states each connection carried; one state can come through several (tabs of one browser pass it along). */
  private readonly carriedBy = new Map<Peer, Set<number>>();

  constructor(
    doc: Y.Doc,
    private readonly broadcast: (message: Uint8Array) => void,
    private readonly limits: PresenceLimits = DEFAULT_PRESENCE_LIMITS,
  ) {
    this.awareness = new awarenessProtocol.Awareness(doc);
    // The relay itself has no presence.
    this.awareness.setLocalState(null);
    this.awareness.on('update', this.onUpdate);
  }

  get stateCount(): number {
    return this.awareness.getStates().size;
  }

  /** Clients the relay remembers, present or gone: what presence costs in memory. */
  get rememberedCount(): number {
    return this.awareness.meta.size;
  }

  hasState(clientId: number): boolean {
    return this.awareness.getStates().has(clientId);
  }

  /**
   * Applies one awareness update from `peer` (its entries already decoded and checked), unless
   * it would leave the peer carrying more states than allowed: then nothing is applied.
   */
  apply(peer: Peer, update: Uint8Array, entries: readonly AwarenessEntry[]): PresenceResult {
    if (this.carriedAfter(peer, entries) > this.limits.statesPerPeer) return 'too-many-states';
    awarenessProtocol.applyAwarenessUpdate(this.awareness, update, peer);
    // Removals of clients the relay never saw change nothing and emit no event, but y-protocols
    // still records their clocks.
    this.forgetOldDepartures();
    return 'applied';
  }

  /** Removes the states that came through `peer`, and tells everyone else they left. */
  peerLeft(peer: Peer): void {
    const carried = this.carriedBy.get(peer);
    this.carriedBy.delete(peer);
    if (carried === undefined || carried.size === 0) return;
    awarenessProtocol.removeAwarenessStates(this.awareness, [...carried], null);
  }

  /** Every present client's state, for a newcomer or a query-awareness. */
  encodeAll(): Uint8Array {
    return encodeAwarenessMessage(awarenessProtocol.encodeAwarenessUpdate(this.awareness, [...this.awareness.getStates().keys()]));
  }

  destroy(): void {
    this.awareness.off('update', this.onUpdate);
    this.awareness.destroy();
  }

  /**
   * How many states `peer` would carry once `entries` are applied. Only entries that will take
   * count: a y-websocket client echoes every state it receives, at a clock the relay already has.
   */
  private carriedAfter(peer: Peer, entries: readonly AwarenessEntry[]): number {
    const carried = this.carriedBy.get(peer);
    const gained = new Set<number>();
    for (const { clientId, clock, leaves } of entries) {
      const known = this.awareness.meta.get(clientId)?.clock ?? 0;
      if (!leaves && clock > known && carried?.has(clientId) !== true) gained.add(clientId);
    }
    return (carried?.size ?? 0) + gained.size;
  }

  private readonly onUpdate = (
    { added, updated, removed }: { added: number[]; updated: number[]; removed: number[] },
    origin: unknown,
  ): void => {
    if (isPeer<Peer>(origin)) {
      for (const clientId of added) this.carry(clientId, origin);
      for (const clientId of updated) this.carry(clientId, origin);
    }
    for (const clientId of removed) this.drop(clientId);
    const changed = [...added, ...updated, ...removed];
    if (changed.length > 0) {
      // Echoed to the sender too, as the reference server does: a lone client's y-websocket
      // watchdog needs a message at least every 30 s, and its own presence renewal is that message.
      // Encoded before any clock is forgotten: encoding reads the clocks of the departed.
      this.broadcast(encodeAwarenessMessage(awarenessProtocol.encodeAwarenessUpdate(this.awareness, changed)));
    }
    if (removed.length > 0) {
      for (const clientId of removed) this.markDepartedNow(clientId);
      this.forgetOldDepartures();
    }
  };

  /**
   * y-protocols keeps a client's clock where the client was first seen, so a phone present for
   * hours would be the "oldest" departure the moment it leaves. Moving its clock to the end makes
   * the order the order of departures, and a late echo of its state stays refused.
   */
  private markDepartedNow(clientId: number): void {
    const { meta } = this.awareness;
    const entry = meta.get(clientId);
    if (entry === undefined) return;
    meta.delete(clientId);
    meta.set(clientId, entry);
  }

  private carry(clientId: number, peer: Peer): void {
    let carried = this.carriedBy.get(peer);
    if (carried === undefined) {
      carried = new Set();
      this.carriedBy.set(peer, carried);
    }
    carried.add(clientId);
  }

  /** A departure is rare and a list has few connections: no reverse index is worth keeping. */
  private drop(clientId: number): void {
    for (const carried of this.carriedBy.values()) carried.delete(clientId);
  }

  /** Keeps the clocks of at most `rememberedDepartures` departed clients, the oldest go first. */
  private forgetOldDepartures(): void {
    const { meta, states } = this.awareness;
    let excess = meta.size - states.size - this.limits.rememberedDepartures;
    if (excess <= 0) return;
    for (const clientId of meta.keys()) {
      if (excess <= 0) break;
      if (states.has(clientId) || clientId === this.awareness.clientID) continue;
      meta.delete(clientId);
      excess -= 1;
    }
  }
}

/**
 * Updates the relay makes itself carry origin null (a peer left) or a string from y-protocols
 * ('timeout': a state not renewed for 30 s); peers are objects.
 */
function isPeer<Peer extends object>(origin: unknown): origin is Peer {
  return origin !== null && typeof origin === 'object';
}

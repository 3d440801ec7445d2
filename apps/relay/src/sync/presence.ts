import * as awarenessProtocol from 'y-protocols/awareness';
import type * as Y from 'yjs';
import { monotonicNow } from '../clock.js';
import type { PresenceShare } from './presence-bytes.js';
import type { AwarenessEntry } from './protocol.js';
import { encodeAwarenessEntries, encodeAwarenessMessage } from './protocol.js';

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
  /**
   * Presence states on one list, whoever carries them. Every newcomer is sent all of them at
   * once, a cost no budget of its own charges: before this limit, 30 connections' 1,920 states of
   * 16 KiB made each join send 30 MB and stall the relay 150–230 ms.
   */
  readonly statesPerList: number;
  /** Those states' costs (AwarenessEntry.stateBytes), summed: what one join costs to send, and their heap. */
  readonly stateBytesPerList: number;
  /** How far one entry may move a client's clock; MAX_PRESENCE_CLOCK_STEP unless a test says otherwise. */
  readonly clockStep?: number;
}

export const DEFAULT_PRESENCE_LIMITS: PresenceLimits = {
  statesPerPeer: 64,
  rememberedDepartures: 1024,
  statesPerList: 256,
  stateBytesPerList: 128 * 1024,
};

/** How long a state lives unrenewed, as in y-protocols (outdatedTimeout): phones renew every 15 s. */
const STATE_TIMEOUT_MS = 30_000;

/**
 * How far one entry may move a client's clock. Any connection may send an entry for any client
 * (y-websocket echoes everyone's), and y-protocols takes whichever clock is higher: a jump to
 * 2^53, where `clock + 1` no longer changes the number, froze a phone's presence under someone
 * else's name, and each of its renewals drew a departure back, thousands a second for as long as
 * the list stayed loaded ([PR3]). A phone raises its own clock by one per change or 15 s renewal,
 * offline too: 2^32 of them are two thousand years.
 */
export const MAX_PRESENCE_CLOCK_STEP = 2 ** 32;
/** No entry is taken past this clock, so a phone's own increments always count by one. */
export const MAX_PRESENCE_CLOCK = 2 ** 52;

/**
 * 'unchanged': every entry was at a clock the relay already has (an echo); nothing was applied.
 * 'over-address-share': the sender's address, or the relay, holds all the presence it may.
 */
export type PresenceResult = 'applied' | 'unchanged' | 'too-many-states' | 'too-many-states-on-list' | 'over-address-share';

/**
 * Who is on a list right now (y-protocols awareness), and which connection carries each presence
 * state, so a connection that drops takes the states it carried with it.
 */
export class Presence<Peer extends object> {
  private readonly awareness: awarenessProtocol.Awareness;
  /**
   * Each present state's one carrier: the connection its latest clock came through. A phone that
   * reconnects renews its state on the new connection while the relay has not yet noticed the old
   * one is dead (a missed ping, 30–60 s): the old one dropping must not take the state with it
   * ([A13]). Tabs of one browser pass each other's states along; a state whose carrier drops is
   * removed, and its tab, told so, sends it again. A list holds at most `statesPerList` states, so
   * a connection's are found by a pass over them.
   */
  private readonly carrierOf = new Map<number, Peer>();
  /**
   * The cost of each present state (its JSON size, see AwarenessEntry.stateBytes), and the address
   * share it is charged to: its carrier's when it last changed. `totalStateBytes` is their sum.
   */
  private readonly costOf = new Map<number, { readonly bytes: number; readonly share: PresenceShare | undefined }>();
  private totalStateBytes = 0;
  /** When each present state was last renewed (monotonicNow). */
  private readonly renewedAt = new Map<number, number>();
  private readonly timeoutCheck: NodeJS.Timeout;

  constructor(
    doc: Y.Doc,
    private readonly broadcast: (message: Uint8Array) => void,
    private readonly limits: PresenceLimits = DEFAULT_PRESENCE_LIMITS,
    /** The share of presence bytes `peer`'s address may hold across lists; none: not bounded. */
    private readonly shareOf: (peer: Peer) => PresenceShare | undefined = () => undefined,
  ) {
    this.awareness = new awarenessProtocol.Awareness(doc);
    // The relay itself has no presence.
    this.awareness.setLocalState(null);
    this.awareness.on('update', this.onUpdate);
    // y-protocols times states out by Date.now, which steps with the wall clock: an hour forward
    // and every phone on every list was dropped within 3 s; an hour back and a state nobody renews
    // (a crashed tab's) was sent to every newcomer for that hour ([CLK9], [CLK10]). Its check is
    // replaced by one on a clock that never steps.
    clearInterval((this.awareness as unknown as { _checkInterval: NodeJS.Timeout })._checkInterval);
    this.timeoutCheck = setInterval(() => this.removeUnrenewed(), STATE_TIMEOUT_MS / 10);
    this.timeoutCheck.unref();
  }

  get stateCount(): number {
    return this.awareness.getStates().size;
  }

  /** Clients the relay remembers, present or gone: what presence costs in memory. */
  get rememberedCount(): number {
    return this.awareness.meta.size;
  }

  /** The JSON of every present state, summed: what a newcomer is sent. */
  get stateBytes(): number {
    return this.totalStateBytes;
  }

  hasState(clientId: number): boolean {
    return this.awareness.getStates().has(clientId);
  }

  /**
   * True when `entries` are all at clocks the relay already has. A y-websocket client echoes every
   * presence change it receives, so most of what it sends is this.
   */
  isEcho(entries: readonly AwarenessEntry[]): boolean {
    return (
      entries.length > 0 &&
      entries.every(({ clientId, clock, leaves }) => {
        const known = this.awareness.meta.get(clientId)?.clock ?? 0;
        return clock < known || (clock === known && !(leaves && this.hasState(clientId)));
      })
    );
  }

  /**
   * Applies the entries of one awareness update from `peer` (decoded and checked) that change
   * something, unless they would leave the peer, or the list, carrying more states than allowed:
   * then nothing is applied. What changes nothing is not handed to y-protocols (which would parse
   * every state again) and is not relayed.
   */
  apply(peer: Peer, entries: readonly AwarenessEntry[]): PresenceResult {
    const taken = this.takenFrom(entries);
    if (taken.size === 0) return 'unchanged';
    if (this.carriedAfter(peer, taken) > this.limits.statesPerPeer) return 'too-many-states';
    if (this.exceedsListLimits(taken)) return 'too-many-states-on-list';
    const share = this.shareOf(peer);
    if (share !== undefined && !this.fitsShare(share, taken)) return 'over-address-share';
    // Only what was taken: y-protocols would take every higher clock, jumps and made-up departures too.
    awarenessProtocol.applyAwarenessUpdate(this.awareness, encodeAwarenessEntries([...taken.values()]), peer);
    for (const [clientId, entry] of taken) {
      if (entry.leaves) this.forgetBytes(clientId);
      else this.recordBytes(clientId, entry.stateBytes, share);
    }
    return 'applied';
  }

  /** Removes the states that came through `peer`, and tells everyone else they left. */
  peerLeft(peer: Peer): void {
    const carried = this.carriedBy(peer);
    if (carried.length === 0) return;
    for (const clientId of carried) this.carrierOf.delete(clientId);
    awarenessProtocol.removeAwarenessStates(this.awareness, carried, null);
  }

  /**
   * The departures of clients that `entries` show present at the clock they left with, to send
   * back to their sender. A phone that reconnects sends its own state at that clock, which the
   * relay, as y-protocols everywhere, takes for a late echo: it stayed hidden until its renewal,
   * up to 18 s later ([A14]). Told it left, y-protocols raises its clock and sends the state again
   * at once. A late echo of someone else's state learns of the departure the same way.
   */
  departuresShownIn(entries: readonly AwarenessEntry[]): Uint8Array | undefined {
    const departed = new Set<number>();
    for (const { clientId, clock, leaves } of entries) {
      if (!leaves && !this.hasState(clientId) && this.awareness.meta.get(clientId)?.clock === clock) departed.add(clientId);
    }
    if (departed.size === 0) return undefined;
    return encodeAwarenessMessage(awarenessProtocol.encodeAwarenessUpdate(this.awareness, [...departed]));
  }

  /** Every present client's state, for a newcomer or a query-awareness. */
  encodeAll(): Uint8Array {
    return encodeAwarenessMessage(awarenessProtocol.encodeAwarenessUpdate(this.awareness, [...this.awareness.getStates().keys()]));
  }

  destroy(): void {
    // An unloaded list's states leave with it: their bytes go back to their addresses' shares.
    for (const clientId of [...this.costOf.keys()]) this.forgetBytes(clientId);
    clearInterval(this.timeoutCheck);
    this.awareness.off('update', this.onUpdate);
    this.awareness.destroy();
  }

  /**
   * The entries to apply, the last per client: a state at a newer clock, or the departure of a
   * present state at its clock or a newer one, either within MAX_PRESENCE_CLOCK_STEP of the clock
   * the relay has. A y-websocket client echoes every state it receives, at a clock the relay
   * already has; those are left out. So are departures of clients that are not present: they
   * change nothing, but y-protocols remembers each one's clock, and 1,024 made-up ones (12 kB)
   * pushed out the clocks of states that had just left; a phone's echo of one of those then
   * counted as a new state it carried, and past its share the phone was closed ([PR2]).
   */
  private takenFrom(entries: readonly AwarenessEntry[]): Map<number, AwarenessEntry> {
    const taken = new Map<number, AwarenessEntry>();
    for (const entry of entries) {
      const earlier = taken.get(entry.clientId);
      const known = earlier?.clock ?? this.awareness.meta.get(entry.clientId)?.clock ?? 0;
      const present = earlier === undefined ? this.hasState(entry.clientId) : !earlier.leaves;
      if (entry.clock > Math.min(known + (this.limits.clockStep ?? MAX_PRESENCE_CLOCK_STEP), MAX_PRESENCE_CLOCK)) continue;
      if (entry.leaves ? present && entry.clock >= known : entry.clock > known) taken.set(entry.clientId, entry);
    }
    return taken;
  }

  /** How many states `peer` would carry once `taken` is applied. */
  private carriedAfter(peer: Peer, taken: ReadonlyMap<number, AwarenessEntry>): number {
    let gained = 0;
    for (const [clientId, { leaves }] of taken) {
      if (!leaves && this.carrierOf.get(clientId) !== peer) gained += 1;
    }
    return this.carriedBy(peer).length + gained;
  }

  /** The states `peer` carries. */
  private carriedBy(peer: Peer): number[] {
    const carried: number[] = [];
    for (const [clientId, carrier] of this.carrierOf) if (carrier === peer) carried.push(clientId);
    return carried;
  }

  /** Whether the list would hold more states, or more bytes of them, once `taken` is applied. */
  private exceedsListLimits(taken: ReadonlyMap<number, AwarenessEntry>): boolean {
    let states = this.stateCount;
    let bytes = this.totalStateBytes;
    for (const [clientId, entry] of taken) {
      if (this.hasState(clientId)) {
        states -= 1;
        bytes -= this.costOf.get(clientId)?.bytes ?? 0;
      }
      if (!entry.leaves) {
        states += 1;
        bytes += entry.stateBytes;
      }
    }
    return states > this.limits.statesPerList || bytes > this.limits.stateBytesPerList;
  }

  /** Whether `share` can hold what `taken` adds, once the bytes of the states it replaces are given back. */
  private fitsShare(share: PresenceShare, taken: ReadonlyMap<number, AwarenessEntry>): boolean {
    let [added, freedHere, freedAnywhere] = [0, 0, 0];
    for (const [clientId, entry] of taken) {
      const cost = this.costOf.get(clientId);
      const bytes = cost?.share === undefined ? 0 : cost.bytes;
      freedAnywhere += bytes;
      if (cost?.share === share) freedHere += bytes;
      if (!entry.leaves) added += entry.stateBytes;
    }
    return share.fits(added, freedHere, freedAnywhere);
  }

  private recordBytes(clientId: number, bytes: number, share: PresenceShare | undefined): void {
    this.forgetBytes(clientId);
    this.costOf.set(clientId, { bytes, share });
    this.totalStateBytes += bytes;
    share?.change(bytes);
  }

  private forgetBytes(clientId: number): void {
    const cost = this.costOf.get(clientId);
    if (cost === undefined) return;
    this.costOf.delete(clientId);
    this.totalStateBytes -= cost.bytes;
    cost.share?.change(-cost.bytes);
  }

  private readonly onUpdate = (
    { added, updated, removed }: { added: number[]; updated: number[]; removed: number[] },
    origin: unknown,
  ): void => {
    if (isPeer<Peer>(origin)) {
      for (const clientId of [...added, ...updated]) this.carrierOf.set(clientId, origin);
    }
    const now = monotonicNow();
    for (const clientId of [...added, ...updated]) this.renewedAt.set(clientId, now);
    for (const clientId of removed) {
      this.carrierOf.delete(clientId);
      this.renewedAt.delete(clientId);
      this.forgetBytes(clientId);
    }
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

  /** Removes the states not renewed for STATE_TIMEOUT_MS, as y-protocols would ('timeout'). */
  private removeUnrenewed(): void {
    const cutoff = monotonicNow() - STATE_TIMEOUT_MS;
    const outdated: number[] = [];
    for (const [clientId, at] of this.renewedAt) if (at <= cutoff) outdated.push(clientId);
    if (outdated.length === 0) return;
    awarenessProtocol.removeAwarenessStates(this.awareness, outdated, 'timeout');
    for (const clientId of outdated) this.renewedAt.delete(clientId);
  }

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

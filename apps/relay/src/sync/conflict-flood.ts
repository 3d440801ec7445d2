import * as Y from 'yjs';

import type { Struct } from './v1-update.js';

/**
 * Whether some position of the update (both neighbours the same, or, at the edge of a type, the
 * type and map key) has items from more than `maxClients` clients, none aware of the others:
 * Yjs resolves such a conflict in time quadratic in its size. A client is counted again each
 * time the position's items switch to it (an update lists each client's items together).
 *
 * It runs on every message, and must stay linear and light on any update the size limit lets
 * through: naming every item's position in a string, as the first version did, made 1 million
 * items (an 8 MiB message of deleted items, each after the one before) cost 2.4 s and as much
 * again in garbage collection, more than Yjs takes to decode and apply them. So:
 * 1. An update with at most `maxClients` runs of one client's structs cannot crowd any position:
 *    nothing is built (every honest message but a long list's first upload).
 * 2. Otherwise positions are counted by a 32-bit hash, in typed slots. A bucket of several
 *    positions counts at least as many switches as any of them, so no crowded bucket means no
 *    crowded position.
 * 3. Only items in a crowded bucket are named exactly, as before.
 */
export function positionCrowded(structs: readonly Struct[], maxClients: number, hashOf: (item: Y.Item) => number = positionHash): boolean {
  if (clientRuns(structs) <= maxClients) return false;
  const crowdedBuckets = crowdedPositionHashes(structs, maxClients, hashOf);
  if (crowdedBuckets.size === 0) return false;
  return exactlyCrowded(structs, maxClients, crowdedBuckets, hashOf);
}

/** Runs of consecutive structs from one client. */
function clientRuns(structs: readonly Struct[]): number {
  let runs = 0;
  let lastClient = -1;
  for (const struct of structs) {
    if (struct.id.client !== lastClient) {
      runs += 1;
      lastClient = struct.id.client;
    }
  }
  return runs;
}

function crowdedPositionHashes(structs: readonly Struct[], maxClients: number, hashOf: (item: Y.Item) => number): Set<number> {
  const slotOf = new Map<number, number>();
  const lastClient: number[] = [];
  const clients: number[] = [];
  const crowded = new Set<number>();
  for (const struct of structs) {
    if (!(struct instanceof Y.Item)) continue;
    const hash = hashOf(struct);
    const client = struct.id.client;
    const slot = slotOf.get(hash);
    if (slot === undefined) {
      slotOf.set(hash, lastClient.length);
      lastClient.push(client);
      clients.push(1);
    } else if (lastClient[slot] !== client) {
      lastClient[slot] = client;
      const count = (clients[slot] ?? 0) + 1;
      clients[slot] = count;
      if (count > maxClients) crowded.add(hash);
    }
  }
  return crowded;
}

function exactlyCrowded(structs: readonly Struct[], maxClients: number, buckets: ReadonlySet<number>, hashOf: (item: Y.Item) => number): boolean {
  const clientsAt = new Map<string, { lastClient: number; clients: number }>();
  for (const struct of structs) {
    if (!(struct instanceof Y.Item) || !buckets.has(hashOf(struct))) continue;
    const position = positionName(struct);
    const seen = clientsAt.get(position);
    if (seen === undefined) {
      clientsAt.set(position, { lastClient: struct.id.client, clients: 1 });
    } else if (seen.lastClient !== struct.id.client) {
      seen.lastClient = struct.id.client;
      seen.clients += 1;
      if (seen.clients > maxClients) return true;
    }
  }
  return false;
}

/** The item's position, equal for items at the same position. */
function positionName({ origin, rightOrigin, parent, parentSub }: Y.Item): string {
  return origin === null && rightOrigin === null
    ? `type ${parent instanceof Y.ID ? `${parent.client}:${parent.clock}` : String(parent)} ${parentSub ?? ''}`
    : `${origin === null ? '-' : `${origin.client}:${origin.clock}`} ${rightOrigin === null ? '-' : `${rightOrigin.client}:${rightOrigin.clock}`}`;
}

/** A hash of the same fields `positionName` reads: equal positions hash equal. */
export function positionHash({ origin, rightOrigin, parent, parentSub }: Y.Item): number {
  let hash: number;
  if (origin === null && rightOrigin === null) {
    hash = parent instanceof Y.ID ? mixId(0x5bd1e995, parent) : mixString(0x1b873593, String(parent));
    hash = parentSub === null ? mix(hash, 0x2f) : mixString(hash, parentSub);
  } else {
    hash = origin === null ? mix(0x27d4eb2f, 0x2d) : mixId(0x27d4eb2f, origin);
    hash = rightOrigin === null ? mix(hash, 0x2d) : mixId(hash, rightOrigin);
  }
  return hash;
}

function mixId(hash: number, id: Y.ID): number {
  // Clocks may pass 2^32: the high part is mixed in too.
  return mix(mix(mix(hash, id.client), id.clock), Math.floor(id.clock / 0x100000000));
}

function mixString(hash: number, text: string): number {
  let mixed = mix(hash, text.length);
  for (let i = 0; i < text.length; i++) mixed = mix(mixed, text.charCodeAt(i));
  return mixed;
}

/** One step of a 32-bit multiplicative hash (MurmurHash-like); the result is an int32. */
function mix(hash: number, value: number): number {
  const mixed = Math.imul(hash ^ (value | 0), 0x9e3779b1);
  return mixed ^ (mixed >>> 15);
}

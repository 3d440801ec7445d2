import type { ActivityEvent, ActivityKind } from './api.js';

/** How many events the document keeps; the oldest are trimmed on each local append. */
export const ACTIVITY_CAP = 500;

const KINDS: ReadonlySet<string> = new Set<ActivityKind>([
  'added',
  'checked',
  'unchecked',
  'removed',
  'restored',
  'renamed',
  'updated',
  'merged',
  'cleared',
]);

/**
 * An event as stored in the activity log (a plain JSON object). `prev`
 * is the stamp (event id) the field had when this edit was made: rule 5's
 * "overwritten" is derived from these links, the same way on every device.
 */
export interface StoredEvent {
  id: string;
  kind: ActivityKind;
  actor: string;
  at: number;
  itemId: string;
  itemName: string;
  field?: string;
  from?: unknown;
  to?: unknown;
  prev?: string;
  /** Lamport counter: orders events written in the same millisecond causally. */
  n?: number;
}

export function parseStoredEvent(value: unknown): StoredEvent | undefined {
  if (typeof value !== 'object' || value === null) return undefined;
  const raw = value as Record<string, unknown>;
  if (
    typeof raw.id !== 'string' ||
    typeof raw.kind !== 'string' ||
    !KINDS.has(raw.kind) ||
    typeof raw.actor !== 'string' ||
    typeof raw.at !== 'number' ||
    typeof raw.itemId !== 'string' ||
    typeof raw.itemName !== 'string'
  ) {
    return undefined;
  }
  const event: StoredEvent = {
    id: raw.id,
    kind: raw.kind as ActivityKind,
    actor: raw.actor,
    at: raw.at,
    itemId: raw.itemId,
    itemName: raw.itemName,
  };
  if (typeof raw.field === 'string') event.field = raw.field;
  if ('from' in raw) event.from = raw.from;
  if ('to' in raw) event.to = raw.to;
  if (typeof raw.prev === 'string') event.prev = raw.prev;
  if (typeof raw.n === 'number' && Number.isFinite(raw.n)) event.n = raw.n;
  return event;
}

/**
 * The log as shown, newest first: duplicate 'merged' events (several devices
 * writing the same merge) collapsed, and `overwrittenBy` set on every field
 * edit that lost to a concurrent one. `currentStamp(itemId, field)` is the id
 * of the event whose value the item holds now; the chain of `prev` links from
 * it is the winning history, and an edit that forked off that chain lost to
 * the chain event at the fork.
 */
export function deriveActivity(
  stored: Iterable<unknown>,
  currentStamp: (itemId: string, field: string) => string | undefined,
): ActivityEvent[] {
  const parsed: StoredEvent[] = [];
  const seenIds = new Set<string>();
  for (const value of stored) {
    const event = parseStoredEvent(value);
    if (event === undefined || seenIds.has(event.id)) continue;
    seenIds.add(event.id);
    parsed.push(event);
  }
  parsed.sort(compareOldestFirst);
  const events: StoredEvent[] = [];
  const seenMerges = new Set<string>();
  for (const event of parsed) {
    if (event.kind === 'merged') {
      const key = `${String(event.from)}>${event.itemId}`;
      if (seenMerges.has(key)) continue;
      seenMerges.add(key);
    }
    events.push(event);
  }
  const overwrittenBy = findOverwritten(events, currentStamp);
  return events.reverse().map((event) => {
    const result: { -readonly [K in keyof ActivityEvent]: ActivityEvent[K] } = {
      id: event.id,
      kind: event.kind,
      actor: event.actor,
      at: event.at,
      itemId: event.itemId,
      itemName: event.itemName,
    };
    if (event.field !== undefined) result.field = event.field;
    if ('from' in event) result.from = event.from;
    if ('to' in event) result.to = event.to;
    const winner = overwrittenBy.get(event.id);
    if (winner !== undefined) result.overwrittenBy = winner;
    return Object.freeze(result);
  });
}

/** The one order of events every device agrees on: time, then Lamport counter, then id. */
export function compareOldestFirst(a: StoredEvent, b: StoredEvent): number {
  return a.at - b.at || (a.n ?? 0) - (b.n ?? 0) || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0);
}

/** Ids of the events on the winning chain ending at `stamp` (rule 5). */
export function winningChain(stamp: string | undefined, lookup: (id: string) => StoredEvent | undefined): Set<string> {
  const chain = new Set<string>();
  for (let current = stamp; current !== undefined && current.length > 0; ) {
    const event = lookup(current);
    if (event === undefined || chain.has(event.id)) break;
    chain.add(event.id);
    current = event.prev;
  }
  return chain;
}

function findOverwritten(
  events: readonly StoredEvent[],
  currentStamp: (itemId: string, field: string) => string | undefined,
): Map<string, string> {
  const byId = new Map<string, StoredEvent>();
  const byField = new Map<string, StoredEvent[]>();
  for (const event of events) {
    if (event.field === undefined || (event.kind !== 'renamed' && event.kind !== 'updated')) continue;
    byId.set(event.id, event);
    const key = `${event.itemId}\u0000${event.field}`;
    let list = byField.get(key);
    if (!list) byField.set(key, (list = []));
    list.push(event);
  }
  const result = new Map<string, string>();
  for (const list of byField.values()) {
    if (list.length < 2) continue;
    const first = list[0] as StoredEvent;
    const winningByPrev = new Map<string, StoredEvent>();
    const onChain = new Set<string>();
    let stamp = currentStamp(first.itemId, first.field as string);
    for (let guard = 0; stamp !== undefined && guard <= list.length; guard++) {
      const event = byId.get(stamp);
      if (event === undefined || onChain.has(event.id)) break;
      onChain.add(event.id);
      winningByPrev.set(event.prev ?? '', event);
      stamp = event.prev;
    }
    if (onChain.size === 0) continue;
    for (const event of list) {
      if (onChain.has(event.id)) continue;
      let fork: string | undefined = event.prev ?? '';
      for (let guard = 0; fork !== undefined && guard <= list.length; guard++) {
        const winner = winningByPrev.get(fork);
        if (winner !== undefined) {
          // Two phones writing the same value replaced nothing: no "replaced by", no notice
          // telling someone their 2 was replaced by a 2.
          if (winner.to !== event.to) result.set(event.id, winner.actor);
          break;
        }
        fork = byId.get(fork)?.prev;
      }
    }
  }
  return result;
}

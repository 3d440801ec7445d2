import type * as Y from 'yjs';
import { ACTIVITY_CAP, compareOldestFirst, parseStoredEvent, type StoredEvent } from './activity-log.js';

/** How far past the cap the log may grow before a trim, so trims are rare batches. */
const TRIM_SLACK = 50;

/**
 * The activity log in the document: a Y.Map from event id to a plain event.
 *
 * Not a Y.Array: a Y.Array keeps every trimmed event as a deleted item in its
 * linked list, and push/delete walk that list, so after 100,000 edits each
 * append cost milliseconds (measured). Map set/delete are O(1). Order comes
 * from the events themselves (time, then id), the same on every device; two
 * devices trimming at once delete the same oldest keys, which converges.
 *
 * The live events are indexed locally, built on first use (opening a list
 * does not pay for it) and then kept up to date from the changed keys.
 */
export class ActivityStore {
  private live: Map<string, StoredEvent> | undefined;
  private highestCounter = 0;
  private latestAt = 0;

  constructor(private readonly map: Y.Map<unknown>) {}

  get type(): Y.Map<unknown> {
    return this.map;
  }

  events(): ReadonlyMap<string, StoredEvent> {
    return this.index();
  }

  get(id: string): StoredEvent | undefined {
    return this.index().get(id);
  }

  /** The Lamport counter for a new event: above every event this device has seen. */
  nextCounter(): number {
    this.index();
    return this.highestCounter + 1;
  }

  /** The latest time any device stamped an event with (ms since epoch; 0 for an empty log). */
  latestTime(): number {
    this.index();
    return this.latestAt;
  }

  /** Call inside a transaction. Trims the oldest events once the log is well past the cap. */
  append(event: StoredEvent): void {
    this.map.set(event.id, event);
    const live = this.index();
    this.highestCounter = Math.max(this.highestCounter, event.n ?? 0);
    this.noteTime(event.at);
    live.set(event.id, event);
    if (live.size <= ACTIVITY_CAP + TRIM_SLACK) return;
    const oldestFirst = Array.from(live.values()).sort(compareOldestFirst);
    for (const old of oldestFirst.slice(0, live.size - ACTIVITY_CAP)) {
      this.map.delete(old.id);
      live.delete(old.id);
    }
  }

  /** Keeps the local index in step with keys a transaction changed. */
  keysChanged(keys: Iterable<string | null>): void {
    if (this.live === undefined) return;
    for (const key of keys) {
      if (key === null) continue;
      const event = parseStoredEvent(this.map.get(key));
      if (event === undefined || event.id !== key) this.live.delete(key);
      else {
        this.live.set(key, event);
        this.highestCounter = Math.max(this.highestCounter, event.n ?? 0);
        this.noteTime(event.at);
      }
    }
  }

  /** A peer's event may carry any number: one that is not a time moves nothing. */
  private noteTime(at: number): void {
    if (Number.isFinite(at) && at > this.latestAt) this.latestAt = at;
  }

  private index(): Map<string, StoredEvent> {
    if (this.live === undefined) {
      this.live = new Map();
      for (const [key, value] of this.map.entries()) {
        const event = parseStoredEvent(value);
        if (event === undefined || event.id !== key) continue;
        this.live.set(key, event);
        this.highestCounter = Math.max(this.highestCounter, event.n ?? 0);
        this.noteTime(event.at);
      }
    }
    return this.live;
  }
}

import * as Y from 'yjs';
import type { UnanchoredMapValue } from './protocol.js';
import { MAX_UNANCHORED_VALUES_PER_KEY_IN_LIST, mapKeyName } from './protocol.js';

/**
 * The map key an update would crowd past MAX_UNANCHORED_VALUES_PER_KEY_IN_LIST values with no
 * origin, counting those the list already holds; undefined when none. Each message is checked on
 * its own when decoded (MAX_UNANCHORED_VALUES_PER_KEY), but a run of them, each under that bound,
 * would build the same quadratic chain in
 * the list, and every later load of the list (the relay's and each phone's) would pay for it.
 * Only values the list does not hold yet count: a phone's sync step 2 re-sends what it has.
 * `heldBack` counts, per key, values Yjs holds back for missing dependencies: they join the chain
 * all at once when the gap is filled, so without them a run of gapped messages would pass.
 */
export function crowdedMapKey(doc: Y.Doc, values: readonly UnanchoredMapValue[], heldBack: ReadonlyMap<string, number>): string | undefined {
  const incoming = new Map<string, { parent: string | Y.ID; key: string; count: number }>();
  for (const value of values) {
    if (value.clock < Y.getState(doc.store, value.client)) continue;
    const where = mapKeyName(value.parent, value.key);
    const entry = incoming.get(where);
    if (entry === undefined) incoming.set(where, { parent: value.parent, key: value.key, count: 1 });
    else entry.count += 1;
  }
  for (const [where, { parent, key, count }] of incoming) {
    if (count + (heldBack.get(where) ?? 0) + unanchoredValuesHeld(doc, parent, key) > MAX_UNANCHORED_VALUES_PER_KEY_IN_LIST) return where;
  }
  return undefined;
}

/** Values of `key` in the map `parent` that have no origin, walking the key's chain once. */
function unanchoredValuesHeld(doc: Y.Doc, parent: string | Y.ID, key: string): number {
  const map = mapOf(doc, parent);
  let held = 0;
  for (let value = map?._map.get(key) ?? null; value !== null; value = value.left) {
    if (value.origin === null) held += 1;
  }
  return held;
}

function mapOf(doc: Y.Doc, parent: string | Y.ID): { readonly _map: Map<string, Y.Item> } | undefined {
  if (typeof parent === 'string') return doc.share.get(parent);
  // A nested map lives in the content of the item that holds it, if the list has that item.
  if (Y.getState(doc.store, parent.client) <= parent.clock) return undefined;
  const holder = Y.getItem(doc.store, parent);
  return holder instanceof Y.Item && holder.content instanceof Y.ContentType ? holder.content.type : undefined;
}

/** Adds the values of an update just applied that Yjs held back (their dependencies are missing). */
export function rememberHeldBackValues(doc: Y.Doc, values: readonly UnanchoredMapValue[], heldBack: Map<string, number>): void {
  for (const value of values) {
    if (value.clock < Y.getState(doc.store, value.client)) continue;
    const where = mapKeyName(value.parent, value.key);
    heldBack.set(where, (heldBack.get(where) ?? 0) + 1);
  }
}

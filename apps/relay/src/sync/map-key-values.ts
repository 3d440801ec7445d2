import * as Y from 'yjs';
import type { MapKey, UnanchoredMapValue } from './protocol.js';
import { MAX_UNANCHORED_VALUES_PER_KEY_IN_LIST, mapKeyName } from './protocol.js';

/** Where values go whose key cannot be told yet (their neighbour is not in the list): counted together. */
const UNKNOWN_KEY = 'a key not known yet';

/**
 * The map key an update would crowd past MAX_UNANCHORED_VALUES_PER_KEY_IN_LIST values with no
 * origin, counting those the list already holds; undefined when none. Each message is checked on
 * its own when decoded (MAX_UNANCHORED_VALUES_PER_KEY), but a run of them, each under that bound,
 * would build the same quadratic chain in the list, and every later load of the list (the relay's
 * and each phone's) would pay for it. Only values the list does not hold yet count: a phone's
 * sync step 2 re-sends what it has. `heldBack` counts, per key, values Yjs holds back for missing
 * dependencies: they join the chain all at once when the gap is filled, so without them a run of
 * gapped messages would pass.
 */
export function crowdedMapKey(doc: Y.Doc, values: readonly UnanchoredMapValue[], heldBack: ReadonlyMap<string, number>): string | undefined {
  for (const [where, { key, count }] of newValuesByKey(doc, values)) {
    const held = key === undefined ? 0 : unanchoredValuesHeld(doc, key);
    if (count + (heldBack.get(where) ?? 0) + held > MAX_UNANCHORED_VALUES_PER_KEY_IN_LIST) return where;
  }
  return undefined;
}

/** Adds the values of an update just applied that Yjs held back (their dependencies are missing). */
export function rememberHeldBackValues(doc: Y.Doc, values: readonly UnanchoredMapValue[], heldBack: Map<string, number>): void {
  for (const [where, { count }] of newValuesByKey(doc, values)) heldBack.set(where, (heldBack.get(where) ?? 0) + count);
}

/** The values the list does not hold yet (clocks past its own), counted per key; array or text content left out. */
function newValuesByKey(doc: Y.Doc, values: readonly UnanchoredMapValue[]): Map<string, { key: MapKey | undefined; count: number }> {
  const byKey = new Map<string, { key: MapKey | undefined; count: number }>();
  for (const value of values) {
    if (value.clock < Y.getState(doc.store, value.client)) continue;
    const key = keyInList(doc, value.place);
    if (key === 'list') continue;
    const where = key === undefined ? UNKNOWN_KEY : mapKeyName(key);
    const entry = byKey.get(where);
    if (entry === undefined) byKey.set(where, { key, count: 1 });
    else entry.count += 1;
  }
  return byKey;
}

/**
 * A value's key: as the update named it, or that of the list's item it takes its key from
 * ('list' when that item is array or text content; undefined when the list lacks it).
 */
function keyInList(doc: Y.Doc, place: UnanchoredMapValue['place']): MapKey | 'list' | undefined {
  if (!('keyOf' in place)) return place;
  const neighbour = itemInList(doc, place.keyOf);
  if (neighbour === undefined) return undefined;
  if (neighbour.parentSub === null) return 'list';
  const type = neighbour.parent;
  if (!(type instanceof Y.AbstractType)) return undefined;
  if (type._item !== null) return { parent: type._item.id, key: neighbour.parentSub };
  for (const [name, root] of doc.share) if (root === type) return { parent: name, key: neighbour.parentSub };
  return undefined;
}

/** Values of `key` that have no origin, walking the key's chain once. */
function unanchoredValuesHeld(doc: Y.Doc, { parent, key }: MapKey): number {
  const map = typeof parent === 'string' ? doc.share.get(parent) : contentType(itemInList(doc, parent));
  let held = 0;
  for (let value = map?._map.get(key) ?? null; value !== null; value = value.left) {
    if (value.origin === null) held += 1;
  }
  return held;
}

function itemInList(doc: Y.Doc, id: Y.ID): Y.Item | undefined {
  if (Y.getState(doc.store, id.client) <= id.clock) return undefined;
  const struct = Y.getItem(doc.store, id);
  return struct instanceof Y.Item ? struct : undefined;
}

/** The nested map (or other type) an item holds, if it holds one. */
function contentType(item: Y.Item | undefined): { readonly _map: Map<string, Y.Item> } | undefined {
  return item !== undefined && item.content instanceof Y.ContentType ? item.content.type : undefined;
}

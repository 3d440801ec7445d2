import * as Y from 'yjs';
import type { MapKey, UnanchoredMapValue } from './protocol.js';
import { MAX_UNANCHORED_VALUES_PER_KEY_IN_LIST, mapKeyName } from './protocol.js';

/** Where values go whose key cannot be told yet (their neighbour is not in the list): counted together. */
const UNKNOWN_KEY = 'a key not known yet';

/**
 * Values with no origin that Yjs holds back for missing dependencies, counted per key once each
 * (by id): a phone that re-sends what the list holds back (each reconnect's sync step 2 does)
 * must not add them again, or an honest phone would be refused after enough reconnects.
 */
export class HeldBackMapValues {
  private readonly ids = new Set<string>();
  private readonly perKey = new Map<string, number>();

  has(value: UnanchoredMapValue): boolean {
    return this.ids.has(valueId(value));
  }

  countFor(where: string): number {
    return this.perKey.get(where) ?? 0;
  }

  add(where: string, value: UnanchoredMapValue): void {
    const id = valueId(value);
    if (this.ids.has(id)) return;
    this.ids.add(id);
    this.perKey.set(where, this.countFor(where) + 1);
  }

  /** Once Yjs holds nothing back: after almost every update, so nothing is done when already empty (clear() allocates new tables). */
  clear(): void {
    if (this.ids.size === 0) return;
    this.ids.clear();
    this.perKey.clear();
  }
}

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
export function crowdedMapKey(doc: Y.Doc, values: readonly UnanchoredMapValue[], heldBack: HeldBackMapValues): string | undefined {
  for (const [where, { key, values: newValues }] of newValuesByKey(doc, values, heldBack)) {
    const held = key === undefined ? 0 : unanchoredValuesHeld(doc, key);
    if (newValues.length + heldBack.countFor(where) + held > MAX_UNANCHORED_VALUES_PER_KEY_IN_LIST) return where;
  }
  return undefined;
}

/** Adds the values of an update just applied that Yjs held back (their dependencies are missing). */
export function rememberHeldBackValues(doc: Y.Doc, values: readonly UnanchoredMapValue[], heldBack: HeldBackMapValues): void {
  for (const [where, { values: newValues }] of newValuesByKey(doc, values, heldBack)) {
    for (const value of newValues) heldBack.add(where, value);
  }
}

/**
 * The values neither in the list (clocks past its own) nor already held back, per key; array or
 * text content left out.
 */
function newValuesByKey(
  doc: Y.Doc,
  values: readonly UnanchoredMapValue[],
  heldBack: HeldBackMapValues,
): Map<string, { key: MapKey | undefined; values: UnanchoredMapValue[] }> {
  const byKey = new Map<string, { key: MapKey | undefined; values: UnanchoredMapValue[] }>();
  for (const value of values) {
    if (value.clock < Y.getState(doc.store, value.client) || heldBack.has(value)) continue;
    const key = keyInList(doc, value.place);
    if (key === 'list') continue;
    const where = key === undefined ? UNKNOWN_KEY : mapKeyName(key);
    const entry = byKey.get(where);
    if (entry === undefined) byKey.set(where, { key, values: [value] });
    else entry.values.push(value);
  }
  return byKey;
}

function valueId({ client, clock }: UnanchoredMapValue): string {
  return `${client}:${clock}`;
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

import * as decoding from 'lib0/decoding';
import * as encoding from 'lib0/encoding';
import * as Y from 'yjs';
import { arrayRunJoins, MAX_ARRAY_RUN_JOIN_COPIES } from './array-run-joins.js';
import { positionCrowded } from './conflict-flood.js';
import { unwritableContentOf } from './content-values.js';
import { GC_RUN_REWRITE_MIN_JOINS, gcRunJoins, joinGcRuns } from './gc-runs.js';
import { estimatedUpdateHeapBytes } from './heap-estimate.js';
import { updateSlices } from './update-slices.js';
import type { DecodedUpdate, Struct } from './v1-update.js';
import { clientBlocks, holdsFormatting, writeV1Update } from './v1-update.js';
import { varUintLength, writeVarUint } from './state-vector.js';

/** y-websocket message types, plus Basket's durable acknowledgement. */
export const MESSAGE_SYNC = 0;
export const MESSAGE_AWARENESS = 1;
export const MESSAGE_QUERY_AWARENESS = 3;
export const MESSAGE_DURABLE_ACK = 100;

const SYNC_STEP_1 = 0;
const SYNC_STEP_2 = 1;
const SYNC_UPDATE = 2;

/** A sync step 2 or update: a Yjs update for the list, with what its checks found in it. */
export interface SyncUpdateMessage {
  readonly kind: 'sync-step-2' | 'sync-update';
  readonly update: Uint8Array;
  readonly unanchoredMapValues: readonly UnanchoredMapValue[];
  /** Its array values that may join a run before them (see ArrayRunJoins). */
  readonly joiningValues: number;
  /** An upper estimate of the heap its structs take once integrated (heap-estimate.ts). */
  readonly heapBytes: number;
  /**
   * The bytes of its delete set (0 if absent): deletions never grow a list, and a reconnecting
   * phone's sync step 2 carries its whole delete set, which the list already holds.
   */
  readonly deleteSetBytes?: number;
  /** The top-level types its items name (at most MAX_ROOT_TYPES); absent: none. */
  readonly rootTypeNames?: readonly string[];
  /** Only for a large update, checked with `sliceStructs`. */
  readonly sliced?: SlicedUpdate;
}

/** A large update cut into slices to apply one per event-loop turn (update-slices.ts). */
export interface SlicedUpdate {
  readonly slices: readonly Uint8Array[];
  /**
   * Each client's clock past its last struct in the update: whether it adds anything to a list is
   * then told without reading it again on the event loop (Y.parseUpdateMeta of a million structs
   * takes 55–75 ms).
   */
  readonly clientEnds: ReadonlyArray<readonly [client: number, endClock: number]>;
}

export type IncomingMessage =
  | { readonly kind: 'sync-step-1'; readonly stateVector: Uint8Array }
  | SyncUpdateMessage
  | { readonly kind: 'awareness'; readonly entries: readonly AwarenessEntry[] }
  | { readonly kind: 'query-awareness' };

/**
 * A map value written with no earlier value of its key to follow (its origin is null). Yjs
 * integrates one by walking the key's whole chain of values, so a list may hold few of them per
 * key (see map-key-values.ts); Y.Map writes one only when a phone sets a key it has no value of.
 */
export interface UnanchoredMapValue {
  readonly client: number;
  readonly clock: number;
  /**
   * Its key, or, for an item that names only a right neighbour outside the update (Y.Map never
   * writes one, a crafted update may), the item of the list whose key it takes.
   */
  readonly place: MapKey | { readonly keyOf: Y.ID };
}

/** One key of one map: a root type's name, or the item holding a nested map, and the key. */
export interface MapKey {
  readonly parent: string | Y.ID;
  readonly key: string;
}

/** One client's line in an awareness update: its presence state, or `null` when it left. */
export interface AwarenessEntry {
  readonly clientId: number;
  readonly clock: number;
  readonly leaves: boolean;
  /**
   * What the state costs the relay, in bytes (awarenessStateCost): the relay holds it and re-sends
   * it to every newcomer.
   */
  readonly stateBytes: number;
  /** The state's JSON as it came (UTF-8; `null` when it leaves), to apply the entry alone. */
  readonly stateJson: Uint8Array;
}

/**
 * A y-websocket client sends one entry of its own, and echoes the entries it receives, so an
 * update holds at most one entry per client present on the list. Beyond this it is a flood:
 * each entry costs the relay a JSON parse and a remembered clock.
 */
export const MAX_AWARENESS_ENTRIES = 1024;
/**
 * Basket's presence state is a name of at most 40 characters and a colour, under 200 bytes of
 * JSON. Each state is held by the relay and sent to every newcomer, so anything larger only costs.
 */
export const MAX_AWARENESS_STATE_BYTES = 1024;
/**
 * Arrays and objects nested in one presence state. `[[[…]]]` thousands deep parses, but y-protocols
 * re-encodes every state with JSON.stringify for each newcomer and each change, and at a few
 * thousand levels that overflows the stack: everyone joining the list would be cut off. (The
 * size limit, once 16 KiB, now stops such a state too; this keeps it stopped if that limit grows.)
 */
export const MAX_AWARENESS_STATE_DEPTH = 32;

/** A frame that breaks the protocol; the connection that sent it is closed. */
export class ProtocolError extends Error {
  override readonly name = 'ProtocolError';
}

/**
 * Decodes and validates one binary frame completely before anything acts on it: the message
 * type, every length, the Yjs update structure, the awareness entries, and no trailing bytes.
 */
export function decodeIncomingMessage(frame: Uint8Array, options: DecodeOptions = {}): IncomingMessage {
  // A private copy: ws may hand us a view into a larger pooled buffer, and lib0's
  // readVarUint8Array would happily read past the view into other connections' bytes.
  const bytes = new Uint8Array(frame);
  try {
    const decoder = decoding.createDecoder(bytes);
    const messageType = decoding.readVarUint(decoder);
    const message = decodeByType(decoder, messageType, options);
    if (decoding.hasContent(decoder)) throw new ProtocolError('trailing bytes after message');
    return message;
  } catch (error) {
    if (error instanceof ProtocolError) throw error;
    throw new ProtocolError(`undecodable frame: ${error instanceof Error ? error.message : String(error)}`);
  }
}

export interface DecodeOptions {
  /**
   * Refuse an update holding an item that starts content in an array or text (no neighbours, no
   * map key). Every array or text item descends from such an item, so a list that never took one
   * holds maps only, as Basket's do: a strict mode for a relay that serves only Basket.
   */
  readonly refuseListContent?: boolean;
  /**
   * Rewrite an update holding long runs of adjacent GC structs with each run as one (gc-runs.ts).
   * The decode worker does, where the rewrite costs the event loop nothing.
   */
  readonly joinGcRuns?: boolean;
  /**
   * Cut an update of more structs than this into slices of this many (update-slices.ts). The
   * decode worker does, for the frames it checks.
   */
  readonly sliceStructs?: number;
}

function decodeByType(decoder: decoding.Decoder, messageType: number, options: DecodeOptions): IncomingMessage {
  switch (messageType) {
    case MESSAGE_SYNC: {
      const syncType = decoding.readVarUint(decoder);
      const payload = decoding.readVarUint8Array(decoder);
      if (syncType === SYNC_STEP_1) {
        for (const [client, clock] of Y.decodeStateVector(payload)) assertIdNumbers('state vector', client, clock);
        return { kind: 'sync-step-1', stateVector: payload };
      }
      if (syncType === SYNC_STEP_2 || syncType === SYNC_UPDATE) {
        return { kind: syncType === SYNC_STEP_2 ? 'sync-step-2' : 'sync-update', ...checkedUpdate(payload, options) };
      }
      throw new ProtocolError(`unknown sync message type ${syncType}`);
    }
    case MESSAGE_AWARENESS: {
      const update = decoding.readVarUint8Array(decoder);
      return { kind: 'awareness', entries: decodeAwarenessEntries(update) };
    }
    case MESSAGE_QUERY_AWARENESS:
      return { kind: 'query-awareness' };
    default:
      throw new ProtocolError(`unsupported message type ${messageType}`);
  }
}

/** Whether `frame` is a presence query as y-websocket sends it: the message type alone. */
export function isPresenceQuery(frame: Uint8Array): boolean {
  return frame.length === 1 && frame[0] === MESSAGE_QUERY_AWARENESS;
}

/**
 * Insertions at one position by this many different clients, none aware of the others, are a
 * crafted update, not a family's offline edits (concurrency needs a device per insert). Yjs
 * resolves such a conflict in time quadratic in its size: 20,000 of them (400 kB) take 2–4 s to
 * apply, 40,000 (820 kB) 11–14 s (bench/conflict-cost.mjs), blocking every list on the relay,
 * and every phone that loads the list afterwards would pay the same.
 */
export const MAX_CONCURRENT_INSERTS = 256;

/**
 * Top-level types (a document's named Y.Map, Y.Array, Y.Text…) one list may hold. Yjs writes an
 * item's top-level parent by searching the document's types from the first, so encoding a list
 * (every update's event, every sync answer, every snapshot) takes time quadratic in their number:
 * one 400 kB update naming 40,000 of them held every list on the relay 6–10 s at each phone
 * joining and each unload, and each type held heap the list's size did not count ([RT1], [HE1]).
 * Basket's lists have two; rich-text editors a few.
 */
export const MAX_ROOT_TYPES = 256;

/** The distinct top-level types the items of `structs` name as their parent. */
function rootTypeNamesOf(structs: readonly Struct[]): string[] {
  const names = new Set<string>();
  for (const struct of structs) if (struct instanceof Y.Item && typeof struct.parent === 'string') names.add(struct.parent);
  return [...names];
}

/**
 * Values of one map key with no earlier value to follow, in one update. Y.Map writes one when a
 * phone sets a key it has no value of, so an honest update holds one per phone that set the key
 * before hearing of the others (a concurrent first write). Integrating one walks the key's whole
 * chain of values, so a crafted run of them costs Yjs time quadratic in their number: 40,000 for
 * one key (0.6 MB) held the relay 6.5 s, 80,000 (1.1 MB) 26 s.
 */
export const MAX_UNANCHORED_VALUES_PER_KEY = 256;
/**
 * The same in one list, over all its history: each app session that writes a key before its first
 * sync adds one, which a family does not do thousands of times for one key. At this many, loading
 * the key costs Yjs about 60 ms (`node bench/slow-update-freeze.mjs` builds larger ones).
 */
export const MAX_UNANCHORED_VALUES_PER_KEY_IN_LIST = 4096;

/**
 * Checks an update's structure and crowding; returns its unanchored map values, its values that
 * may join a run, and the update to apply (rewritten if `joinGcRuns` found long GC runs, and cut
 * into slices past `sliceStructs` structs).
 */
function checkedUpdate(update: Uint8Array, options: DecodeOptions): Omit<SyncUpdateMessage, 'kind'> {
  let decoded: DecodedUpdate;
  try {
    decoded = Y.decodeUpdate(update);
  } catch (error) {
    throw new ProtocolError(`malformed update: ${error instanceof Error ? error.message : String(error)}`);
  }
  const structs = decoded.structs;
  assertOnlyWhatYjsWrites(decoded);
  const unwritable = unwritableContentOf(structs);
  if (unwritable !== undefined) throw new ProtocolError(unwritable);
  if (structs.length > MAX_CONCURRENT_INSERTS && positionCrowded(structs, MAX_CONCURRENT_INSERTS)) {
    throw new ProtocolError(`update inserts at one position from more than ${MAX_CONCURRENT_INSERTS} clients`);
  }
  const rootTypeNames = rootTypeNamesOf(structs);
  if (rootTypeNames.length > MAX_ROOT_TYPES) throw new ProtocolError(`update names ${rootTypeNames.length} top-level types (a list holds at most ${MAX_ROOT_TYPES})`);
  const slice = options.sliceStructs !== undefined && structs.length > options.sliceStructs && !holdsFormatting(structs);
  // Cut into slices, the update's deletions come in the last one, after earlier slices' joins.
  const joins = arrayRunJoins(structs, slice ? undefined : decoded.ds);
  if (joins.copies > MAX_ARRAY_RUN_JOIN_COPIES) {
    throw new ProtocolError('update splits an array run into too many pieces (Yjs would join them in quadratic time)');
  }
  if (options.refuseListContent === true) assertNoListContent(structs);
  const checked: Omit<SyncUpdateMessage, 'kind'> & { update: Uint8Array } = {
    update,
    unanchoredMapValues: unanchoredMapValuesOf(structs),
    joiningValues: joins.joiningValues,
    heapBytes: estimatedUpdateHeapBytes(structs),
    deleteSetBytes: deleteSetBytes(decoded.ds),
    ...(rootTypeNames.length === 0 ? {} : { rootTypeNames }),
  };
  const joinGc = options.joinGcRuns === true && gcRunJoins(structs) >= GC_RUN_REWRITE_MIN_JOINS;
  if (!joinGc && !slice) return checked;
  const blocks = clientBlocks(structs);
  const rewritten = joinGc ? blocks.map(joinGcRuns) : blocks;
  const slices = slice ? updateSlices(rewritten, decoded.ds, options.sliceStructs as number) : undefined;
  if (slices === 'cycle') {
    // Checked only where slices are cut: a small update's cycle is held back by Yjs, within the
    // held-back bound, as any update whose dependencies are missing.
    throw new ProtocolError('update holds items of two clients that each build on a later item of the other');
  }
  if (joinGc) checked.update = writeV1Update(rewritten, decoded.ds);
  if (slices === undefined || slices.length < 2) return checked;
  const clientEnds = rewritten.map((block): [number, number] => {
    const last = block[block.length - 1] as (typeof block)[number];
    return [last.id.client, last.id.clock + last.length];
  });
  return { ...checked, sliced: { slices, clientEnds } };
}

/**
 * Refuses what no Yjs writes and Yjs itself throws on, after the checks, inside the list's
 * document (failing the list: every phone on it closed with 1011): a struct or a deletion of
 * length 0, and an item whose neighbour or parent is of its own client at its own clock or
 * later. Whatever an item builds on existed when it was made, so of its own client it has an
 * earlier clock; Yjs takes a later one for present, not missing, and throws.
 */
function assertOnlyWhatYjsWrites({ structs, ds }: DecodedUpdate): void {
  for (const [client, ranges] of ds.clients) {
    assertIdNumbers('update', client, 0);
    for (const range of ranges) {
      if (range.len <= 0) throw new ProtocolError('update deletes a range of length 0');
      assertIdNumbers('update', client, range.clock, range.len);
    }
  }
  for (const struct of structs) {
    if (struct.length <= 0) throw new ProtocolError('update holds a struct of length 0');
    assertIdNumbers('update', struct.id.client, struct.id.clock, struct.length);
    if (!(struct instanceof Y.Item)) continue;
    const { id, parent } = struct;
    for (const reference of [struct.origin, struct.rightOrigin, parent instanceof Y.ID ? parent : null]) {
      if (reference !== null) assertIdNumbers('update', reference.client, reference.clock);
    }
    if (isOwnLater(id, struct.origin) || isOwnLater(id, struct.rightOrigin) || (parent instanceof Y.ID && isOwnLater(id, parent))) {
      throw new ProtocolError('update holds an item that builds on a later clock of its own client');
    }
  }
}

/**
 * lib0 reads a varint of any length: 146 continuation bytes and a last one make Infinity, fewer
 * a number past 2^53 that no longer counts by one. Yjs takes either into the list, and writing
 * Infinity back out never ends (lib0's writeVarUint divides it by 128 forever): one 170-byte
 * frame froze the relay, and, once stored, every load of the list after ([N1]). A clock range
 * must end within the integers a double counts exactly.
 */
function assertIdNumbers(holder: string, client: number, clock: number, length = 0): void {
  if (!Number.isSafeInteger(client) || !Number.isSafeInteger(clock) || !Number.isSafeInteger(clock + length)) {
    throw new ProtocolError(`${holder} holds a client id or clock past 2^53 (${client}:${clock}+${length})`);
  }
}

/** A varint lib0 reads, refused unless a whole number a double holds exactly (see assertIdNumbers). */
function readSafeVarUint(decoder: decoding.Decoder, what: string): number {
  const value = decoding.readVarUint(decoder);
  if (!Number.isSafeInteger(value)) throw new ProtocolError(`${what} past 2^53`);
  return value;
}

function isOwnLater(id: Y.ID, reference: Y.ID | null): boolean {
  return reference !== null && reference.client === id.client && reference.clock >= id.clock;
}

/** What `ds` takes in a v1 update: a count of clients, then per client its id, a count and each range's clock and length. */
function deleteSetBytes(ds: DecodedUpdate['ds']): number {
  let bytes = varUintBytes(ds.clients.size);
  for (const [client, ranges] of ds.clients) {
    bytes += varUintBytes(client) + varUintBytes(ranges.length);
    for (const { clock, len } of ranges) bytes += varUintBytes(clock) + varUintBytes(len);
  }
  return bytes;
}

function varUintBytes(value: number): number {
  let bytes = 1;
  for (let rest = Math.floor(value / 128); rest > 0; rest = Math.floor(rest / 128)) bytes += 1;
  return bytes;
}

/** Refuses an item that starts array or text content: no origin, no right neighbour, no map key. */
function assertNoListContent(structs: readonly Struct[]): void {
  for (const struct of structs) {
    if (struct instanceof Y.Item && struct.origin === null && struct.rightOrigin === null && struct.parentSub === null) {
      throw new ProtocolError('update puts content in an array or text, and this relay takes maps only (REFUSE_LIST_CONTENT)');
    }
  }
}

/**
 * The update's items with no origin that are map values, refused past MAX_UNANCHORED_VALUES_PER_KEY
 * for one key. An item names its key only when it has no neighbours; one with a right neighbour
 * takes that neighbour's key, followed through the update (unanchoredPlaces).
 */
function unanchoredMapValuesOf(structs: readonly Struct[]): UnanchoredMapValue[] {
  const values: UnanchoredMapValue[] = [];
  let placeOf: ((item: Y.Item) => Place) | undefined;
  for (const struct of structs) {
    if (!(struct instanceof Y.Item) || struct.origin !== null) continue;
    // A value that names its key, as Y.Map writes them, needs nothing followed: the follower (a
    // map and closures, 1.1 kB a message) is built only for the others.
    const place = namedKeyOf(struct) ?? (placeOf ??= unanchoredPlaces(structs))(struct);
    if (place !== 'list') values.push({ client: struct.id.client, clock: struct.id.clock, place });
  }
  if (values.length > MAX_UNANCHORED_VALUES_PER_KEY) {
    const perKey = new Map<string, number>();
    for (const { place } of values) {
      // Keys found only in the list are counted there, where a list item's neighbour is told apart.
      if ('keyOf' in place) continue;
      const where = mapKeyName(place);
      const count = (perKey.get(where) ?? 0) + 1;
      perKey.set(where, count);
      if (count > MAX_UNANCHORED_VALUES_PER_KEY) {
        throw new ProtocolError(`update sets one map key with no earlier value more than ${MAX_UNANCHORED_VALUES_PER_KEY} times`);
      }
    }
  }
  return values;
}

type Place = MapKey | { readonly keyOf: Y.ID } | 'list';

/** The map key an item names itself (it has a key and its parent by name or id), if it does. */
function namedKeyOf(item: Y.Item): MapKey | undefined {
  const parent = item.parent;
  return item.parentSub !== null && (typeof parent === 'string' || parent instanceof Y.ID) ? { parent, key: item.parentSub } : undefined;
}

/** The update's structs per client, in clock order as decoded. */
function structsByClient<Struct extends { readonly id: Y.ID }>(structs: readonly Struct[]): Map<number, Struct[]> {
  const byClient = new Map<number, Struct[]>();
  for (const struct of structs) {
    const run = byClient.get(struct.id.client);
    if (run === undefined) byClient.set(struct.id.client, [struct]);
    else run.push(struct);
  }
  return byClient;
}

/**
 * Where each item of the update goes: a map key, array or text content ('list'), or the key of an
 * item outside the update. Followed without recursion, each item once, as a crafted chain may be
 * as long as the update.
 */
function unanchoredPlaces(structs: readonly Struct[]): (item: Y.Item) => Place {
  // Built only for an item that names a neighbour and no key, which Y.Map never writes: an
  // honest update (every message goes through here) never pays for it.
  let byClient: Map<number, Struct[]> | undefined;
  const inUpdate = (id: Y.ID): Y.Item | undefined => {
    byClient ??= structsByClient(structs);
    const run = byClient.get(id.client);
    if (run === undefined) return undefined;
    let low = 0;
    let high = run.length - 1;
    while (low <= high) {
      const middle = (low + high) >> 1;
      const struct = run[middle]!;
      if (id.clock < struct.id.clock) high = middle - 1;
      else if (id.clock >= struct.id.clock + struct.length) low = middle + 1;
      else return struct instanceof Y.Item ? struct : undefined;
    }
    return undefined;
  };
  const known = new Map<Y.Item, Place>();
  return (start) => {
    const path = new Set<Y.Item>();
    let place: Place;
    let item = start;
    for (;;) {
      const before = known.get(item);
      if (before !== undefined) {
        place = before;
        break;
      }
      // What an item builds on existed before it: a walk back to itself is no honest update, and
      // followed, it never ended (the relay spun until its heap ran out).
      if (path.has(item)) throw new ProtocolError('update holds items whose neighbours lead back to themselves');
      path.add(item);
      const named = namedKeyOf(item);
      if (named !== undefined) {
        place = named;
        break;
      }
      const neighbour = item.origin ?? item.rightOrigin;
      if (neighbour === null) {
        place = 'list';
        break;
      }
      const next = inUpdate(neighbour);
      if (next === undefined) {
        place = { keyOf: neighbour };
        break;
      }
      item = next;
    }
    for (const visited of path) known.set(visited, place);
    return place;
  };
}

/** One map key, named the same way for an update's values and the document's. */
export function mapKeyName({ parent, key }: MapKey): string {
  return `${typeof parent === 'string' ? `root ${parent}` : `${parent.client}:${parent.clock}`} ${key}`;
}

/** As lib0 reads strings (y-protocols applies awareness with it): invalid UTF-8 throws. */
const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

/** Awareness update: varUint count, then per client varUint id, varUint clock, JSON string. */
function decodeAwarenessEntries(update: Uint8Array): AwarenessEntry[] {
  const decoder = decoding.createDecoder(update);
  const count = decoding.readVarUint(decoder);
  if (count > MAX_AWARENESS_ENTRIES) throw new ProtocolError(`awareness update with ${count} entries (at most ${MAX_AWARENESS_ENTRIES})`);
  const entries: AwarenessEntry[] = [];
  for (let i = 0; i < count; i++) {
    // Written back out to every phone: Infinity there never ends ([N1]).
    const clientId = readSafeVarUint(decoder, 'presence client id');
    const clock = readSafeVarUint(decoder, 'presence clock');
    // The wire form of a string is its UTF-8 bytes with a length, so it can be measured unread.
    const json = decoding.readVarUint8Array(decoder);
    if (json.length > MAX_AWARENESS_STATE_BYTES) throw new ProtocolError(`awareness state of ${json.length} bytes (at most ${MAX_AWARENESS_STATE_BYTES})`);
    let text: string;
    let state: unknown;
    try {
      text = utf8.decode(json);
    } catch {
      throw new ProtocolError('awareness state is not UTF-8');
    }
    const depth = jsonNestingDepth(text);
    if (depth > MAX_AWARENESS_STATE_DEPTH) throw new ProtocolError(`awareness state nested ${depth} deep (at most ${MAX_AWARENESS_STATE_DEPTH})`);
    try {
      state = JSON.parse(text);
    } catch {
      throw new ProtocolError('awareness state is not JSON');
    }
    entries.push({ clientId, clock, leaves: state === null, stateBytes: awarenessStateCost(json.length, state), stateJson: json });
  }
  if (decoding.hasContent(decoder)) throw new ProtocolError('trailing bytes in awareness update');
  return entries;
}

/**
 * Heap bytes charged per JSON value of a presence state. An empty object in an array takes about
 * 64 bytes of heap for its 3 bytes of JSON (`{},`): 1 KiB of them, metered by their JSON, held 20
 * times that ([A15]). At 32, a list's presence share (128 KiB) holds at most about 256 KiB of heap.
 */
const HEAP_BYTES_PER_JSON_VALUE = 32;

/**
 * The larger of what a presence state takes to send and to hold: its JSON as y-protocols sends it
 * on (JSON.stringify of the parsed state, which can be longer than what came: `1e20` becomes 21
 * digits, [A16]) and HEAP_BYTES_PER_JSON_VALUE for each value in it.
 */
function awarenessStateCost(receivedBytes: number, state: unknown): number {
  const resentBytes = Buffer.byteLength(JSON.stringify(state));
  return Math.max(receivedBytes, resentBytes, jsonValueCount(state) * HEAP_BYTES_PER_JSON_VALUE);
}

/** Values in parsed JSON: `value` itself and every value inside it (nesting is bounded by the depth check). */
function jsonValueCount(value: unknown): number {
  if (value === null || typeof value !== 'object') return 1;
  let count = 1;
  for (const inner of Array.isArray(value) ? value : Object.values(value)) count += jsonValueCount(inner);
  return count;
}

/** The deepest nesting of arrays and objects in `text`, brackets inside strings not counted. */
function jsonNestingDepth(text: string): number {
  let depth = 0;
  let deepest = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const code = text.charCodeAt(i);
    if (inString) {
      if (code === BACKSLASH) i++;
      else if (code === QUOTE) inString = false;
    } else if (code === QUOTE) {
      inString = true;
    } else if (code === OPEN_BRACE || code === OPEN_BRACKET) {
      depth++;
      if (depth > deepest) deepest = depth;
    } else if (code === CLOSE_BRACE || code === CLOSE_BRACKET) {
      depth--;
    }
  }
  return deepest;
}

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const OPEN_BRACE = 0x7b;
const CLOSE_BRACE = 0x7d;
const OPEN_BRACKET = 0x5b;
const CLOSE_BRACKET = 0x5d;

/** A sync message (step 1, step 2 or update) carrying one var-length payload. */
function encodeSyncMessage(syncType: number, payload: Uint8Array): Uint8Array {
  const encoder = encoding.createEncoder();
  encoding.writeVarUint(encoder, MESSAGE_SYNC);
  encoding.writeVarUint(encoder, syncType);
  encoding.writeVarUint8Array(encoder, payload);
  return encoding.toUint8Array(encoder);
}

export function encodeSyncStep1(stateVector: Uint8Array): Uint8Array {
  return encodeSyncMessage(SYNC_STEP_1, stateVector);
}

export function encodeSyncStep2(update: Uint8Array): Uint8Array {
  return encodeSyncMessage(SYNC_STEP_2, update);
}

export function encodeSyncUpdate(update: Uint8Array): Uint8Array {
  return encodeSyncMessage(SYNC_UPDATE, update);
}

/** An awareness update of `entries` (decoded by decodeAwarenessEntries), as y-protocols reads one. */
export function encodeAwarenessEntries(entries: readonly AwarenessEntry[]): Uint8Array {
  const encoder = encoding.createEncoder();
  encoding.writeVarUint(encoder, entries.length);
  for (const { clientId, clock, stateJson } of entries) {
    encoding.writeVarUint(encoder, clientId);
    encoding.writeVarUint(encoder, clock);
    encoding.writeVarUint8Array(encoder, stateJson);
  }
  return encoding.toUint8Array(encoder);
}

export function encodeAwarenessMessage(awarenessUpdate: Uint8Array): Uint8Array {
  const encoder = encoding.createEncoder();
  encoding.writeVarUint(encoder, MESSAGE_AWARENESS);
  encoding.writeVarUint8Array(encoder, awarenessUpdate);
  return encoding.toUint8Array(encoder);
}

/**
 * Message 100: the state vector of what is durably stored for the list. Written into an
 * exact-size array (one per acknowledged batch) rather than through a growing encoder.
 */
export function encodeDurableAck(storedStateVector: Uint8Array): Uint8Array {
  const headerBytes = varUintLength(MESSAGE_DURABLE_ACK) + varUintLength(storedStateVector.length);
  const message = new Uint8Array(headerBytes + storedStateVector.length);
  writeVarUint(message, writeVarUint(message, 0, MESSAGE_DURABLE_ACK), storedStateVector.length);
  message.set(storedStateVector, headerBytes);
  return message;
}

import * as Y from 'yjs';
import type { Struct } from './v1-update.js';

/**
 * What one loaded list may hold in heap per byte of its size: the most the ordinary shapes take
 * (maps of small values, nested maps with long keys, text and arrays edited at random places:
 * 10–34 times their stored size). Crafted shapes take far more: subdocuments 162 times,
 * empty types in an array 66, nested maps with short keys 53 (`node bench/heap-per-shape.mjs`).
 * A list's size is therefore the larger of its stored bytes and its estimated heap over this.
 */
export const HEAP_BYTES_PER_LIST_BYTE = 34;

/**
 * The most heap one stored byte has been seen to take (subdocuments, 164–176 times): what a large
 * stored list counts for when the decode worker could not estimate it.
 */
export const MOST_HEAP_BYTES_PER_STORED_BYTE = 180;

// Per struct, measured in the twenty-fifth session (bench/heap-per-shape.mjs) and rounded up: an
// item with its content object and its entry in its parent (a map value: 454 B; a nested map
// or text: 640–690 B; a subdocument: about 2.4 kB), a GC run, a client's own struct array.
const ITEM_BYTES = 480;
/**
 * An item deleted (its content gone): 208 B measured for an overwritten map value, which stores
 * in about 9 B. Counted as a whole item, a list whose fields are edited week after week was
 * refused at about 80 % of MAX_LIST_BYTES ([HP4]).
 */
const DELETED_ITEM_BYTES = 240;
const TYPE_EXTRA_BYTES = 300;
const SUBDOC_EXTRA_BYTES = 2_600;
const OTHER_CONTENT_EXTRA_BYTES = 100;
const GC_BYTES = 60;
const CLIENT_BYTES = 250;
/**
 * A top-level type (its AbstractType, maps and entry in the document's types): items each in
 * their own top-level map took 0.6 of the estimate without it, deleted ones 0.36 ([HE1], the
 * thirty-seventh session's review, which put it at about 700 B). Counted for a document, not for an
 * update (most name a type the list has): MAX_ROOT_TYPES bounds what an update can add unseen.
 */
const ROOT_TYPE_BYTES = 700;
const ANY_VALUE_BYTES = 40;

/**
 * An upper estimate of the heap Yjs takes for `structs` once integrated (adjacent items Yjs
 * merges count as separate, so a list's estimate grows faster than its heap between
 * remeasurements; see estimatedDocHeapBytes).
 */
export function estimatedStructsHeapBytes(structs: Iterable<Struct>): number {
  let bytes = 0;
  for (const struct of structs) {
    if (!(struct instanceof Y.Item)) {
      bytes += struct instanceof Y.GC ? GC_BYTES : 0;
      continue;
    }
    bytes += struct.content instanceof Y.ContentDeleted ? DELETED_ITEM_BYTES : ITEM_BYTES + contentExtraBytes(struct.content);
  }
  return bytes;
}

/** The estimate for a whole document: its structs as integrated, and its clients. */
export function estimatedDocHeapBytes(doc: Y.Doc): number {
  let bytes = 0;
  for (const structs of doc.store.clients.values()) bytes += CLIENT_BYTES + estimatedStructsHeapBytes(structs as Struct[]);
  bytes += doc.share.size * ROOT_TYPE_BYTES;
  const { pendingStructs, pendingDs } = doc.store;
  return bytes + (pendingStructs?.update.length ?? 0) + (pendingDs?.length ?? 0);
}

/** The estimate for a decoded update: its structs, and its clients, each counted as new to the list. */
export function estimatedUpdateHeapBytes(structs: readonly Struct[]): number {
  let clients = 0;
  let previous: number | undefined;
  // Yjs decodes an update's structs grouped by client.
  for (const struct of structs) {
    if (struct.id.client !== previous) clients += 1;
    previous = struct.id.client;
  }
  return clients * CLIENT_BYTES + estimatedStructsHeapBytes(structs);
}

function contentExtraBytes(content: Y.Item['content']): number {
  if (content instanceof Y.ContentAny) return anyValuesBytes(content.arr);
  if (content instanceof Y.ContentString) return 2 * content.str.length;
  if (content instanceof Y.ContentType) return TYPE_EXTRA_BYTES;
  if (content instanceof Y.ContentBinary) return content.content.length;
  if (content instanceof Y.ContentDoc) return SUBDOC_EXTRA_BYTES;
  return OTHER_CONTENT_EXTRA_BYTES;
}

function anyValuesBytes(values: readonly unknown[]): number {
  let bytes = 0;
  for (const value of values) bytes += ANY_VALUE_BYTES + (typeof value === 'string' ? 2 * value.length : 0);
  return bytes;
}

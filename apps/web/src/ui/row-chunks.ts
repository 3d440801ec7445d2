/**
 * Cuts a section's rows into chunks whose boundaries depend on the items themselves, not on
 * their positions: a chunk starts at each item whose id hashes to 0 modulo CHUNK_EVERY.
 *
 * Why: React compares and commits a parent's children one by one. With 1,000 rows directly in
 * one section, adding one item walked all 1,000 (~1.5 ms, a missed frame). Rendered as ~30
 * memoized chunks, an add re-renders one chunk of ~32 rows. Because boundaries follow the items,
 * an insertion or removal changes only the chunk it falls in; the others keep their keys and
 * their item arrays (positional chunks would shift every chunk after an insertion, and their
 * rows would be re-created under new parents). The DOM is unchanged: chunks render fragments.
 */
import type { Item } from '@basket/list-core';

/** Expected rows per chunk. */
export const CHUNK_EVERY = 32;
/** Unlucky hashes must not make one chunk as slow as the whole list. */
export const MAX_CHUNK_ROWS = CHUNK_EVERY * 4;

export interface RowChunk {
  /** The id of the item the chunk starts at; "head" for the rows before the first boundary. */
  readonly key: string;
  readonly items: readonly Item[];
}

const boundaryCache = new Map<string, boolean>();

/** FNV-1a over the id: cheap, and stable across renders and devices. */
function startsChunk(id: string): boolean {
  let cached = boundaryCache.get(id);
  if (cached === undefined) {
    let hash = 0x811c9dc5;
    for (let i = 0; i < id.length; i++) hash = Math.imul(hash ^ id.charCodeAt(i), 0x01000193);
    cached = (hash >>> 0) % CHUNK_EVERY === 0;
    if (boundaryCache.size > 50_000) boundaryCache.clear();
    boundaryCache.set(id, cached);
  }
  return cached;
}

export function rowChunks(items: readonly Item[]): RowChunk[] {
  const chunks: RowChunk[] = [];
  const first = items[0];
  let key = first !== undefined && startsChunk(first.id) ? first.id : 'head';
  let current: Item[] = [];
  for (const item of items) {
    if (current.length > 0 && (startsChunk(item.id) || current.length >= MAX_CHUNK_ROWS)) {
      chunks.push({ key, items: current });
      key = item.id;
      current = [];
    }
    current.push(item);
  }
  if (current.length > 0) chunks.push({ key, items: current });
  return chunks;
}

import * as Y from 'yjs';

/**
 * Gives the values the transaction added their own bytes. Yjs reads a binary value in a map or
 * array (lib0's readAny) as a view into the update it came in, so the value held the whole update
 * for as long as the list stayed loaded: one phone sending 32 kB frames of one small value and a
 * delete set of items already deleted (which the list neither stores nor counts) held 140 MB more
 * in 35 s, no bound seeing it ([MR1]). (Yjs copies ContentBinary itself.) Cost: a pass over what
 * the transaction added, most of it no binary value at all.
 */
export function detachAddedValues(transaction: Y.Transaction): void {
  const { doc, beforeState, afterState } = transaction;
  for (const [client, afterClock] of afterState) {
    const beforeClock = beforeState.get(client) ?? 0;
    if (afterClock <= beforeClock) continue;
    const structs = doc.store.clients.get(client);
    if (structs === undefined) continue;
    for (let index = Y.findIndexSS(structs, beforeClock); index < structs.length; index++) {
      const struct = structs[index];
      if (!(struct instanceof Y.Item)) continue;
      const { content } = struct;
      if (content instanceof Y.ContentAny) detachAll(content.arr);
      else if (content instanceof Y.ContentDoc) detachAll([content.opts]);
    }
  }
}

/** Replaces, in place, each Uint8Array in `values` (and in the arrays and objects they hold) that views a larger buffer with a copy. */
function detachAll(values: unknown[] | Record<string, unknown>): void {
  for (const key of Object.keys(values)) {
    const value = (values as Record<string, unknown>)[key];
    if (value instanceof Uint8Array) {
      if (value.byteLength < value.buffer.byteLength) (values as Record<string, unknown>)[key] = value.slice();
    } else if (typeof value === 'object' && value !== null) {
      // Nesting is bounded (content-values.ts, MAX_VALUE_DEPTH).
      detachAll(value as Record<string, unknown>);
    }
  }
}

import * as Y from 'yjs';
import type { Struct } from './v1-update.js';

/**
 * The deepest nesting of arrays and objects in one value an item holds. Yjs reads and writes
 * such values recursively (lib0's readAny and writeAny, JSON.parse and JSON.stringify), so how
 * deep it gets depends on the stack: the decode worker read 18,000 levels where the event loop,
 * applying the same update, ran out of stack at 6,000, and a value 5,000 deep in JSON failed
 * only when Yjs wrote the item back out for the list's update event. Either way the list failed
 * for every phone on it (1011), from a 10 kB frame the sender could send again at each
 * reconnect, and a phone that read less deep could never sync the list. A shopping list's values
 * are flat; a value a hundred levels deep is not one a phone wrote by hand.
 */
export const MAX_VALUE_DEPTH = 100;

/**
 * Why Yjs could read the update's content but not write it back out, which it would find only
 * once the update is in the list's document; undefined when it can. A value nested past
 * MAX_VALUE_DEPTH; an object whose prototype a `__proto__` key replaced (lib0's readAny assigns
 * keys, so `{"__proto__": <binary>}` reads as an object Yjs takes for binary, and throws writing
 * it); a subdocument whose options replaced its guid with something not a string. Checked the
 * same on the decode worker and the event loop, without recursion, so both refuse the same frames.
 */
export function unwritableContentOf(structs: readonly Struct[]): string | undefined {
  for (const struct of structs) {
    if (!(struct instanceof Y.Item)) continue;
    const unwritable = unwritableItemContentOf(struct.content);
    if (unwritable !== undefined) return `update holds ${unwritable}`;
  }
  return undefined;
}

function unwritableItemContentOf(content: Y.Item['content']): string | undefined {
  if (content instanceof Y.ContentAny || content instanceof Y.ContentJSON) {
    for (const value of content.arr) {
      const unwritable = unwritableValueOf(value);
      if (unwritable !== undefined) return unwritable;
    }
    return undefined;
  }
  if (content instanceof Y.ContentEmbed) return unwritableValueOf(content.embed);
  if (content instanceof Y.ContentFormat) return unwritableValueOf(content.value);
  if (content instanceof Y.ContentDoc) {
    return typeof content.doc.guid === 'string' ? unwritableValueOf(content.opts) : 'a subdocument whose guid is not a string';
  }
  return undefined;
}

function unwritableValueOf(root: unknown): string | undefined {
  if (root === null || typeof root !== 'object') return undefined;
  const values: unknown[] = [root];
  const depths: number[] = [1];
  while (values.length > 0) {
    const value = values.pop();
    const depth = depths.pop() as number;
    if (value === null || typeof value !== 'object') continue;
    if (depth > MAX_VALUE_DEPTH) return `a value nested more than ${MAX_VALUE_DEPTH} levels deep`;
    const prototype: unknown = Object.getPrototypeOf(value);
    if (prototype === Uint8Array.prototype) continue;
    if (prototype !== Array.prototype && prototype !== Object.prototype) return 'an object whose prototype was replaced (a "__proto__" key)';
    for (const inner of Object.values(value)) {
      if (inner === null || typeof inner !== 'object') continue;
      values.push(inner);
      depths.push(depth + 1);
    }
  }
  return undefined;
}

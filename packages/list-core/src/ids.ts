// list-core compiles without DOM or Node typings; Web Crypto is global in both (Node ≥ 19).
declare const crypto: { getRandomValues<T extends Uint8Array>(array: T): T };

const ID_BYTES = 12;
/** getRandomValues costs microseconds per call; one call fills ids for many edits. */
const pool = new Uint8Array(ID_BYTES * 256);
let poolOffset = pool.length;
const HEX = Array.from({ length: 256 }, (_, byte) => byte.toString(16).padStart(2, '0'));

/**
 * Random ids for items and events. Never derived from content: two Y.Maps
 * created under the same key by two devices would silently drop one.
 */
export function randomId(): string {
  if (poolOffset + ID_BYTES > pool.length) {
    crypto.getRandomValues(pool);
    poolOffset = 0;
  }
  let id = '';
  for (let index = poolOffset; index < poolOffset + ID_BYTES; index++) id += HEX[pool[index] as number];
  poolOffset += ID_BYTES;
  return id;
}

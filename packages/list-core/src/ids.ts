// list-core compiles without DOM or Node typings; Web Crypto is global in both (Node ≥ 19).
declare const crypto: { getRandomValues<T extends Uint8Array>(array: T): T };

const ID_BYTES = 12;
/** getRandomValues costs microseconds per call; one call fills ids for many edits. */
const pool = new Uint8Array(ID_BYTES * 256);
let poolOffset = pool.length;
const ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';

/**
 * Random ids for items and events. Never derived from content: two Y.Maps
 * created under the same key by two devices would silently drop one.
 */
export function randomId(): string {
  if (poolOffset + ID_BYTES > pool.length) {
    crypto.getRandomValues(pool);
    poolOffset = 0;
  }
  // 12 bytes → 16 base64url characters (96 random bits): ids are map keys kept in the history forever.
  let id = '';
  for (let index = poolOffset; index < poolOffset + ID_BYTES; index += 3) {
    const bits = ((pool[index] as number) << 16) | ((pool[index + 1] as number) << 8) | (pool[index + 2] as number);
    id += ALPHABET[(bits >> 18) & 63]! + ALPHABET[(bits >> 12) & 63]! + ALPHABET[(bits >> 6) & 63]! + ALPHABET[bits & 63]!;
  }
  poolOffset += ID_BYTES;
  return id;
}

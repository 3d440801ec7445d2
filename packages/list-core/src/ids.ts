// list-core compiles without DOM or Node typings; Web Crypto is global in both (Node ≥ 19).
declare const crypto: { getRandomValues<T extends Uint8Array>(array: T): T };

/**
 * Random ids for items and events. Never derived from content: two Y.Maps
 * created under the same key by two devices would silently drop one.
 */
export function randomId(): string {
  const bytes = new Uint8Array(12);
  crypto.getRandomValues(bytes);
  let id = '';
  for (const byte of bytes) id += byte.toString(16).padStart(2, '0');
  return id;
}

/** The contract's list id: the only thing from a URL that ever becomes part of a file name. */
export const LIST_ID_PATTERN = /^[A-Za-z0-9_-]{16,64}$/;

export function isValidListId(candidate: string): boolean {
  return LIST_ID_PATTERN.test(candidate);
}

const SYNC_PREFIX = '/sync/';

/**
 * Extracts the list id from a request URL of the form `/sync/<listId>[?query]`.
 * Returns undefined for anything else; percent-encoding is not decoded on purpose, so
 * `%2e%2e` and friends can never turn into a path.
 */
export function listIdFromSyncUrl(url: string | undefined): string | undefined {
  if (url === undefined || !url.startsWith(SYNC_PREFIX)) return undefined;
  const queryStart = url.indexOf('?');
  const candidate = url.slice(SYNC_PREFIX.length, queryStart === -1 ? undefined : queryStart);
  return isValidListId(candidate) ? candidate : undefined;
}

/** Whether the URL asks for sync at all (`/sync/...`), whatever follows: see listIdFromSyncUrl. */
export function isSyncUrl(url: string | undefined): boolean {
  return url !== undefined && url.startsWith(SYNC_PREFIX);
}

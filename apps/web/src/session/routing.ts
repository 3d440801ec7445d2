/**
 * URLs of lists. The page URL of a list is its share link: `/l/<listId>`.
 */
import { useSyncExternalStore } from 'react';

const LIST_ID = /^[A-Za-z0-9_-]{16,64}$/;
const LIST_PATH = /^\/l\/([^/]+)\/?$/;

export function isListId(value: string): boolean {
  return LIST_ID.test(value);
}

function toBase64Url(bytes: Uint8Array): string {
  let binary = '';
  for (const byte of bytes) binary += String.fromCharCode(byte);
  return btoa(binary).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
}

/** 22 characters of base64url from 16 random bytes (128 bits: unguessable, so the link is the key). */
export function newListId(
  fillRandom: (bytes: Uint8Array) => Uint8Array = (bytes) => crypto.getRandomValues(bytes),
): string {
  return toBase64Url(fillRandom(new Uint8Array(16)));
}

export function listPath(listId: string): string {
  return '/l/' + listId;
}

export function parseListPath(pathname: string): string | null {
  const match = LIST_PATH.exec(pathname);
  const id = match?.[1];
  return id !== undefined && isListId(id) ? id : null;
}

/** Absolute URL of the list page, which is what people share. */
export function shareUrl(listId: string, origin: string = location.origin): string {
  return new URL(listPath(listId), origin).href;
}

/**
 * Where `/` (or any non-list path) should land: the list opened last on this
 * device, or a brand-new list id (its document is written only when someone adds).
 */
export function startListId(pathname: string, lastOpenedListId: string | null, makeId: () => string = newListId): {
  listId: string;
  redirect: boolean;
} {
  const fromPath = parseListPath(pathname);
  if (fromPath !== null) return { listId: fromPath, redirect: false };
  return { listId: lastOpenedListId ?? makeId(), redirect: true };
}

const ROUTE_EVENT = 'basket:route';

/** Client-side navigation to a list; components using useCurrentListId() follow. */
export function navigateToList(listId: string, options: { replace?: boolean } = {}): void {
  const path = listPath(listId);
  if (options.replace) history.replaceState(null, '', path);
  else history.pushState(null, '', path);
  window.dispatchEvent(new Event(ROUTE_EVENT));
}

function subscribeToRoute(onChange: () => void): () => void {
  window.addEventListener('popstate', onChange);
  window.addEventListener(ROUTE_EVENT, onChange);
  return () => {
    window.removeEventListener('popstate', onChange);
    window.removeEventListener(ROUTE_EVENT, onChange);
  };
}

/** The list id in the current URL (null when the URL is not a list page). */
export function useCurrentListId(): string | null {
  return useSyncExternalStore(subscribeToRoute, () => parseListPath(location.pathname));
}

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

/** Characters that can never be part of a list id (see LIST_ID), so a run of them after one is a slip. */
const TRAILING_NON_ID = /[^A-Za-z0-9_-]+$/;
/** `/l`, `/l/…` and `/L/…`: a path someone meant as a list's share link. */
const LIST_LINK_LIKE = /^\/l(?:\/(.*))?$/is;

/**
 * What a page path asks for:
 * - `list`: a list's share link as the app writes it (`/l/<id>`, `/l/<id>/`).
 * - `repaired`: a share link with a slip whose fix is unambiguous: `/L/<id>`, or punctuation
 *   stuck to its end when it was pasted from a sentence (`(https://…/l/<id>)`, `…/l/<id>.`).
 *   Nothing is repaired by guessing characters: an id cut short stays broken.
 * - `broken-link`: meant as a share link (`/l…`) but names no list. Sending it to some other
 *   list would let the person add items the family never sees, behind a "Synced".
 * - `start`: `/` or anything else: the list opened last here, or a new one (PRODUCT.md).
 */
export type ListRoute =
  | { readonly kind: 'list'; readonly listId: string }
  | { readonly kind: 'repaired'; readonly listId: string }
  | { readonly kind: 'broken-link' }
  | { readonly kind: 'start' };

function decodePath(pathname: string): string {
  try {
    return decodeURIComponent(pathname);
  } catch {
    // A stray `%` (say, a link cut in the middle of an escape) is no reason to refuse the rest.
    return pathname;
  }
}

export function routeOf(pathname: string): ListRoute {
  const exact = parseListPath(pathname);
  if (exact !== null) return { kind: 'list', listId: exact };
  const linkLike = LIST_LINK_LIKE.exec(decodePath(pathname));
  if (linkLike === null) return { kind: 'start' };
  const id = (linkLike[1] ?? '').replace(TRAILING_NON_ID, '');
  return isListId(id) ? { kind: 'repaired', listId: id } : { kind: 'broken-link' };
}

/** Where the app opens; `listId` null: the path is a broken share link (see ListRoute). */
export type StartList =
  | { readonly listId: string; readonly redirect: true }
  | { readonly listId: string; readonly redirect: false }
  | { readonly listId: null; readonly redirect: false };

/**
 * Where a page path should land: the list it names (a repaired link is redirected to its
 * canonical path); nowhere for a broken share link; else the list opened last on this device,
 * or a brand-new list id (its document is written only when someone adds).
 */
export function startListId(
  pathname: string,
  lastOpenedListId: string | null,
  makeId: () => string = newListId,
): StartList {
  const route = routeOf(pathname);
  switch (route.kind) {
    case 'list':
      return { listId: route.listId, redirect: false };
    case 'repaired':
      return { listId: route.listId, redirect: true };
    case 'broken-link':
      return { listId: null, redirect: false };
    case 'start':
      return { listId: lastOpenedListId ?? makeId(), redirect: true };
  }
}

const ROUTE_EVENT = 'basket:route';

/** Client-side navigation to a list; components using useCurrentPathname() follow. */
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

const readPathname = (): string => location.pathname;

/** The current URL's path, followed through navigateToList and back/forward. */
export function useCurrentPathname(): string {
  return useSyncExternalStore(subscribeToRoute, readPathname);
}

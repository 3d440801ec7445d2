/** Sessions open on this page, so the device's list registry can reach them (rename, leave). */
import type * as Y from 'yjs';
import type { ListSession } from './types.js';

const open = new Map<string, Set<ListSession>>();
const documents = new WeakMap<ListSession, Y.Doc>();

export function registerOpenSession(session: ListSession, doc: Y.Doc): () => void {
  const sessions = open.get(session.listId) ?? new Set<ListSession>();
  sessions.add(session);
  open.set(session.listId, sessions);
  documents.set(session, doc);
  return () => {
    sessions.delete(session);
    if (sessions.size === 0 && open.get(session.listId) === sessions) open.delete(session.listId);
  };
}

export function openSessionsOf(listId: string): readonly ListSession[] {
  return [...(open.get(listId) ?? [])];
}

/** The Y.Doc behind a session (for the title mirror in the device's registry). */
export function documentOf(session: ListSession): Y.Doc | undefined {
  return documents.get(session);
}

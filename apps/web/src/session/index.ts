/**
 * The session layer: documents, persistence, sync, presence and the device's
 * lists. The UI (src/ui) uses only what is exported here and ./types.ts.
 */
export type {
  SyncState,
  SyncStatus,
  Peer,
  Profile,
  KnownList,
  ListSession,
  ReconnectSummary,
  CachedView,
} from './types.js';

export { openListSession, relayUrl, MESSAGE_DURABLE_ACK, type ListSessionOptions } from './list-session.js';
export { createMemorySession, type MemoryListSession } from './memory-session.js';
export {
  useListSession,
  useSyncStatus,
  usePeers,
  useItems,
  useDeletedItems,
  SessionOpenerContext,
  type SessionOpener,
} from './hooks.js';
export { useProfile, PEER_COLORS, MAX_DISPLAY_NAME_LENGTH } from './profile.js';
export {
  useKnownLists,
  useListLeftElsewhere,
  createList,
  renameList,
  forgetList,
  type DeviceLists,
  type ListLeftElsewhere,
} from './device-lists.js';
export { deviceKnownLists } from './known-lists.js';
export { useKeptNotices } from './kept-notices.js';
export {
  newListId,
  isListId,
  listPath,
  parseListPath,
  shareUrl,
  startListId,
  navigateToList,
  routeOf,
  useCurrentPathname,
} from './routing.js';

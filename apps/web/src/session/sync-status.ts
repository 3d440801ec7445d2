/**
 * What the status line says, derived from the connection and the acks.
 * "Synced" only when every local change is covered by an ack, and an ack received through the
 * current connection covers all the document held as it opened (the relay may have lost some).
 */
import type { SyncStatus } from './types.js';

export interface ConnectionFacts {
  /** navigator.onLine (false means certainly offline; true means maybe online). */
  readonly online: boolean;
  /** The socket is open. */
  readonly connected: boolean;
  /**
   * A deliberate connection attempt (at open, on `online`) has not finished
   * yet: shown as "Syncing…" rather than flashing "Offline" at every start.
   * Automatic retries after a failure do not count: then it is "Offline".
   */
  readonly connecting?: boolean;
  /** The relay's state arrived (sync step 2) on this socket. */
  readonly synced: boolean;
  /** Set when the relay refused the list for good (close code 4400–4499). */
  readonly refusal: string | null;
  readonly pendingChanges: number;
  readonly lastSyncedAt: number | null;
  readonly ackedThisConnection: boolean;
  /** A write to this phone's copy of the list failed (LocalCopy.writeFailed). */
  readonly deviceCopyFailed?: boolean;
}

export function deriveSyncStatus(facts: ConnectionFacts): SyncStatus {
  const status = connectionStatus(facts);
  return facts.deviceCopyFailed === true ? { ...status, deviceCopyFailed: true } : status;
}

function connectionStatus(facts: ConnectionFacts): SyncStatus {
  const { pendingChanges, lastSyncedAt } = facts;
  if (facts.refusal !== null) return { state: 'offline', pendingChanges, lastSyncedAt, reason: facts.refusal };
  if (!facts.online) return { state: 'offline', pendingChanges, lastSyncedAt };
  if (!facts.connected) {
    return { state: facts.connecting === true ? 'syncing' : 'offline', pendingChanges, lastSyncedAt };
  }
  if (!facts.synced || !facts.ackedThisConnection || pendingChanges > 0) {
    return { state: 'syncing', pendingChanges, lastSyncedAt };
  }
  return { state: 'synced', pendingChanges, lastSyncedAt };
}

export function sameStatus(a: SyncStatus, b: SyncStatus): boolean {
  return (
    a.state === b.state &&
    a.pendingChanges === b.pendingChanges &&
    a.lastSyncedAt === b.lastSyncedAt &&
    a.reason === b.reason &&
    a.deviceCopyFailed === b.deviceCopyFailed
  );
}

/** Human wording for a permanent refusal by the relay. */
export function refusalReason(code: number, reason: string): string {
  // 1009 comes from the relay's WebSocket library, which gives no reason ([RR3]).
  const detail = reason.trim() || (code === 1009 ? 'message too large' : '');
  return detail !== '' ? `The server refused this list (${detail})` : `The server refused this list (code ${code})`;
}

import { describe, expect, it } from 'vitest';
import { deriveSyncStatus, type ConnectionFacts } from './sync-status.js';

const connectedAndAcked: ConnectionFacts = {
  online: true,
  connected: true,
  synced: true,
  refusal: null,
  pendingChanges: 0,
  lastSyncedAt: 5,
  ackedThisConnection: true,
};

describe('sync status', () => {
  it('is synced only when connected, synced, acked on this connection and nothing pending', () => {
    expect(deriveSyncStatus(connectedAndAcked)).toEqual({ state: 'synced', pendingChanges: 0, lastSyncedAt: 5 });
    expect(deriveSyncStatus({ ...connectedAndAcked, pendingChanges: 2 }).state).toBe('syncing');
    expect(deriveSyncStatus({ ...connectedAndAcked, ackedThisConnection: false }).state).toBe('syncing');
    expect(deriveSyncStatus({ ...connectedAndAcked, synced: false }).state).toBe('syncing');
  });

  it('is offline without a socket or when the browser says so, keeping the pending count', () => {
    expect(deriveSyncStatus({ ...connectedAndAcked, connected: false, pendingChanges: 3 })).toEqual({
      state: 'offline',
      pendingChanges: 3,
      lastSyncedAt: 5,
    });
    expect(deriveSyncStatus({ ...connectedAndAcked, online: false }).state).toBe('offline');
  });

  it('is offline with a reason when the relay refused the list', () => {
    const status = deriveSyncStatus({ ...connectedAndAcked, refusal: 'The server refused this list (code 4404)' });
    expect(status.state).toBe('offline');
    expect(status.reason).toContain('4404');
  });
});

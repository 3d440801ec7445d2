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

  it('shows Syncing during a deliberate first attempt, Offline once it failed or the browser is offline', () => {
    const attempt = { ...connectedAndAcked, connected: false, synced: false, ackedThisConnection: false, connecting: true };
    expect(deriveSyncStatus(attempt).state).toBe('syncing');
    expect(deriveSyncStatus({ ...attempt, connecting: false }).state).toBe('offline');
    expect(deriveSyncStatus({ ...attempt, online: false }).state).toBe('offline');
  });
});

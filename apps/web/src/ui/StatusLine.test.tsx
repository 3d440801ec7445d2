import { act, render, screen } from '@testing-library/react';
import { afterEach, describe, expect, it, vi } from 'vitest';
import type { SyncStatus } from '../session/types';
import { OFFLINE_ANNOUNCE_DELAY_MS, StatusLine } from './StatusLine';

const NOW = 1_700_000_000_000;
const status = (state: SyncStatus['state'], pendingChanges = 0): SyncStatus => ({ state, pendingChanges, lastSyncedAt: NOW });

describe('StatusLine announcements', () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  it('keeps the status element silent and announces only going offline and being synced again', () => {
    vi.useFakeTimers();
    const { container, rerender } = render(<StatusLine status={status('synced')} clock={() => NOW} />);
    const statusElement = screen.getByRole('status');
    const announced = container.querySelector('[aria-live="polite"]') as HTMLElement;
    expect(statusElement).toHaveAttribute('aria-live', 'off');
    expect(statusElement).toHaveTextContent(/^Synced$/);
    expect(announced).toHaveTextContent('');

    // Every tap: syncing with a change, then synced. Nothing is read out.
    rerender(<StatusLine status={status('syncing', 1)} clock={() => NOW} />);
    rerender(<StatusLine status={status('synced')} clock={() => NOW} />);
    expect(announced).toHaveTextContent('');

    rerender(<StatusLine status={status('offline')} clock={() => NOW} />);
    expect(statusElement).toHaveTextContent(/^Offline$/);
    act(() => vi.advanceTimersByTime(OFFLINE_ANNOUNCE_DELAY_MS));
    expect(announced).toHaveTextContent(/^Offline$/);
    rerender(<StatusLine status={status('offline', 2)} clock={() => NOW} />);
    rerender(<StatusLine status={status('syncing', 2)} clock={() => NOW} />);
    expect(announced).toHaveTextContent(/^Offline$/);
    rerender(<StatusLine status={status('synced')} clock={() => NOW} />);
    expect(announced).toHaveTextContent(/^Synced$/);
    expect(screen.getAllByRole('status')).toHaveLength(1);
  });
});

describe('StatusLine on flaky Wi-Fi', () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  it('says nothing when the list is back within a few seconds, and "Offline" once it lasts', () => {
    vi.useFakeTimers();
    const { container, rerender } = render(<StatusLine status={status('synced')} clock={() => NOW} />);
    const announced = container.querySelector('[aria-live="polite"]') as HTMLElement;
    for (let flip = 0; flip < 5; flip++) {
      rerender(<StatusLine status={status('offline', 1)} clock={() => NOW} />);
      act(() => vi.advanceTimersByTime(OFFLINE_ANNOUNCE_DELAY_MS - 500));
      rerender(<StatusLine status={status('synced')} clock={() => NOW} />);
      act(() => vi.advanceTimersByTime(1000));
    }
    expect(announced).toHaveTextContent('');
    rerender(<StatusLine status={status('offline', 1)} clock={() => NOW} />);
    act(() => vi.advanceTimersByTime(OFFLINE_ANNOUNCE_DELAY_MS));
    expect(announced).toHaveTextContent(/^Offline$/);
    rerender(<StatusLine status={status('synced')} clock={() => NOW} />);
    expect(announced).toHaveTextContent(/^Synced$/);
  });
});

describe('StatusLine when the phone cannot store the list', () => {
  it('says so in an alert beside the status, whose text stays exactly the status', () => {
    const { rerender } = render(<StatusLine status={status('synced')} clock={() => NOW} />);
    expect(screen.queryByRole('alert')).toBeNull();
    rerender(<StatusLine status={{ ...status('synced'), deviceCopyFailed: true }} clock={() => NOW} />);
    expect(screen.getByRole('alert')).toHaveTextContent(/storage may be full.*may not open offline/);
    expect(screen.getByRole('status')).toHaveTextContent(/^Synced$/);
  });
});

import { describe, expect, it } from 'vitest';
import type { Item } from '@basket/list-core';
import { contributorsText, initials, itemDetails, nameList, quantityText, statusText, syncedAgoText, timeAgo } from './format';

const NOW = Date.UTC(2026, 10, 21, 12, 0, 0);

function item(fields: Partial<Item>): Item {
  return {
    id: 'i1',
    name: 'Milk',
    quantity: 1,
    unit: '',
    note: '',
    category: 'dairy',
    checked: false,
    addedBy: 'Mum',
    addedAt: NOW,
    contributors: ['Mum'],
    ...fields,
  };
}

describe('statusText', () => {
  it('says "Offline" with the number of changes kept on this phone', () => {
    expect(statusText({ state: 'offline', pendingChanges: 0, lastSyncedAt: null })).toBe('Offline');
    expect(statusText({ state: 'offline', pendingChanges: 1, lastSyncedAt: null })).toBe(
      'Offline · 1 change on this phone',
    );
    expect(statusText({ state: 'offline', pendingChanges: 3, lastSyncedAt: NOW })).toBe(
      'Offline · 3 changes on this phone',
    );
  });

  it('[E2] says why when the relay refused the list for good, and still counts the changes only on this phone', () => {
    expect(
      statusText({ state: 'offline', pendingChanges: 2, lastSyncedAt: null, reason: 'The server refused this list' }),
    ).toBe('Offline · The server refused this list · 2 changes on this phone');
    expect(
      statusText({ state: 'offline', pendingChanges: 0, lastSyncedAt: null, reason: 'The server refused this list' }),
    ).toBe('Offline · The server refused this list');
  });

  it('says "Syncing…" while changes are on their way', () => {
    expect(statusText({ state: 'syncing', pendingChanges: 0, lastSyncedAt: null })).toBe('Syncing…');
    expect(statusText({ state: 'syncing', pendingChanges: 2, lastSyncedAt: null })).toBe(
      'Syncing… · 2 changes on this phone',
    );
  });

  it('says exactly "Synced" once synced, however long ago', () => {
    expect(statusText({ state: 'synced', pendingChanges: 0, lastSyncedAt: null })).toBe('Synced');
    expect(statusText({ state: 'synced', pendingChanges: 0, lastSyncedAt: NOW - 2 * 60_000 })).toBe('Synced');
  });
});

describe('syncedAgoText', () => {
  it('says how long ago the last acknowledgement came, only while synced', () => {
    expect(syncedAgoText({ state: 'synced', pendingChanges: 0, lastSyncedAt: NOW - 10_000 }, NOW)).toBe('just now');
    expect(syncedAgoText({ state: 'synced', pendingChanges: 0, lastSyncedAt: NOW - 2 * 60_000 }, NOW)).toBe('2 min ago');
    expect(syncedAgoText({ state: 'synced', pendingChanges: 0, lastSyncedAt: null }, NOW)).toBe('');
    expect(syncedAgoText({ state: 'offline', pendingChanges: 0, lastSyncedAt: NOW }, NOW)).toBe('');
    expect(syncedAgoText({ state: 'syncing', pendingChanges: 1, lastSyncedAt: NOW }, NOW)).toBe('');
  });
});

describe('timeAgo', () => {
  it('rounds down to minutes, hours and days', () => {
    expect(timeAgo(NOW - 59_999, NOW)).toBe('just now');
    expect(timeAgo(NOW - 60_000, NOW)).toBe('1 min ago');
    expect(timeAgo(NOW - 3 * 3_600_000 - 5, NOW)).toBe('3 h ago');
    expect(timeAgo(NOW - 30 * 3_600_000, NOW)).toBe('yesterday');
    expect(timeAgo(NOW - 4 * 86_400_000, NOW)).toBe('4 days ago');
  });

  it('treats a clock that is behind as "just now"', () => {
    expect(timeAgo(NOW + 5_000, NOW)).toBe('just now');
  });
});

describe('item wording', () => {
  it('shows quantity and unit, hiding a bare quantity of 1', () => {
    expect(quantityText({ quantity: 2, unit: 'l' })).toBe('2 l');
    expect(quantityText({ quantity: 1, unit: '' })).toBe('');
    expect(quantityText({ quantity: 1, unit: 'kg' })).toBe('1 kg');
    expect(quantityText({ quantity: 6, unit: '' })).toBe('6');
    expect(quantityText({ quantity: 0.333333, unit: 'kg' })).toBe('0.33 kg');
  });

  it('names both contributors of a merged duplicate (rule 2)', () => {
    expect(contributorsText({ contributors: ['Mum', 'Dad'] })).toBe('Mum + Dad');
    expect(contributorsText({ contributors: ['Mum', 'Mum'] })).toBe('');
    expect(contributorsText({ contributors: ['Mum'] })).toBe('');
  });

  it('joins quantity, note and contributors into the row details', () => {
    expect(itemDetails(item({ quantity: 2, unit: 'l', note: 'oat', contributors: ['Mum', 'Dad'] }))).toBe(
      '2 l · oat · Mum + Dad',
    );
    expect(itemDetails(item({}))).toBe('');
  });

  it('makes initials for presence avatars', () => {
    expect(initials('Mum')).toBe('M');
    expect(initials('anna berg')).toBe('AB');
    expect(initials('  Jean Paul Sartre ')).toBe('JS');
    expect(initials('')).toBe('?');
  });

  it('lists names in a sentence', () => {
    expect(nameList([])).toBe('');
    expect(nameList(['Eggs'])).toBe('Eggs');
    expect(nameList(['Eggs', 'Milk'])).toBe('Eggs and Milk');
    expect(nameList(['Eggs', 'Milk', 'Tea'])).toBe('Eggs, Milk and Tea');
    expect(nameList(['A', 'B', 'C', 'D', 'E'])).toBe('A, B, C and 2 more');
  });
});

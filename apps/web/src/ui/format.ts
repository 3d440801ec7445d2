/**
 * Words the screens show. Pure functions of their inputs (the clock is a
 * parameter), so the wording is tested without rendering.
 */
import type { Item } from '@basket/list-core';
import type { SyncStatus } from '../session/types';

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;

/** "just now", "2 min ago", "3 h ago", "yesterday", "4 days ago". */
export function timeAgo(at: number, now: number): string {
  const elapsed = Math.max(0, now - at);
  if (elapsed < MINUTE) return 'just now';
  if (elapsed < HOUR) return `${Math.floor(elapsed / MINUTE)} min ago`;
  if (elapsed < DAY) return `${Math.floor(elapsed / HOUR)} h ago`;
  const days = Math.floor(elapsed / DAY);
  return days === 1 ? 'yesterday' : `${days} days ago`;
}

/** "1 change", "3 changes": the unit of what is still only on this phone. */
export function changesCount(count: number): string {
  return count === 1 ? '1 change' : `${count} changes`;
}

function changesOnThisPhone(count: number): string {
  return `${changesCount(count)} on this phone`;
}

/**
 * The text of the status element (role="status"). Its whole text is a contract (PRODUCT.md):
 * browser tests match "Offline" and exactly "Synced". How long ago is syncedAgoText, shown
 * beside it, not in it.
 */
export function statusText(status: SyncStatus): string {
  switch (status.state) {
    case 'offline': {
      // A refusal leaves changes on this phone too: the line must still say so ([E2]).
      const parts = ['Offline', status.reason, status.pendingChanges > 0 ? changesOnThisPhone(status.pendingChanges) : ''];
      return parts.filter((part) => part).join(' · ');
    }
    case 'syncing':
      return status.pendingChanges > 0
        ? `Syncing… · ${changesOnThisPhone(status.pendingChanges)}`
        : 'Syncing…';
    case 'synced':
      return 'Synced';
  }
}

/** "just now", "2 min ago" while synced (when the last acknowledgement came); "" otherwise. */
export function syncedAgoText(status: SyncStatus, now: number): string {
  if (status.state !== 'synced' || status.lastSyncedAt === null) return '';
  return timeAgo(status.lastSyncedAt, now);
}

/** "2 l", "3", "" (a quantity of 1 with no unit says nothing worth showing). */
export function quantityText(item: Pick<Item, 'quantity' | 'unit'>): string {
  const quantity = Number.isInteger(item.quantity)
    ? String(item.quantity)
    : String(Math.round(item.quantity * 100) / 100);
  if (item.unit) return `${quantity} ${item.unit}`;
  return item.quantity === 1 ? '' : quantity;
}

/** "Mum + Dad" for a merged duplicate; "" when only one person added it. */
export function contributorsText(item: Pick<Item, 'contributors'>): string {
  const names = [...new Set(item.contributors.filter((name) => name.trim() !== ''))];
  return names.length > 1 ? names.join(' + ') : '';
}

/** The secondary line of an item row: quantity, note, contributors. */
export function itemDetails(item: Item): string {
  return [quantityText(item), item.note.trim(), contributorsText(item)]
    .filter((part) => part !== '')
    .join(' · ');
}

/** Up to two initials: "Mum" → "M", "Anna Berg" → "AB". */
export function initials(name: string): string {
  const words = name.trim().split(/\s+/).filter(Boolean);
  const letters = words.length > 1 ? [words[0], words[words.length - 1]] : words;
  const result = letters.map((word) => Array.from(word ?? '')[0] ?? '').join('');
  return result.toUpperCase() || '?';
}

/** "Eggs", "Eggs and Milk", "Eggs, Milk and 3 more". */
export function nameList(names: readonly string[], shown = 3): string {
  if (names.length === 0) return '';
  if (names.length === 1) return names[0] ?? '';
  if (names.length <= shown) {
    return `${names.slice(0, -1).join(', ')} and ${names[names.length - 1] ?? ''}`;
  }
  return `${names.slice(0, shown).join(', ')} and ${names.length - shown} more`;
}

import { foldForSearch, normalizeName } from './normalize.js';

/** One person's use of one name, stored under `historyKey(actor, normalizedName)`. */
export interface HistoryEntry {
  name: string;
  count: number;
  at: number;
}

/**
 * One key per person and name: each device only increments its own counters,
 * so concurrent adds on two phones never overwrite each other's counts.
 */
export function historyKey(actor: string, normalizedName: string): string {
  return `${actor}\u0001${normalizedName}`;
}

/**
 * Previously added names matching `prefix`, names starting with it first,
 * then the most frequently added, then the most recent.
 */
export function suggestNames(entries: Iterable<unknown>, prefix: string, limit: number): string[] {
  const wanted = foldForSearch(prefix);
  const byName = new Map<string, { name: string; count: number; at: number }>();
  for (const value of entries) {
    if (!isHistoryEntry(value)) continue;
    const key = normalizeName(value.name);
    const known = byName.get(key);
    if (known === undefined) byName.set(key, { name: value.name, count: value.count, at: value.at });
    else {
      known.count += value.count;
      if (value.at > known.at) {
        known.at = value.at;
        known.name = value.name;
      }
    }
  }
  const matches: { name: string; count: number; at: number; starts: boolean }[] = [];
  for (const entry of byName.values()) {
    const folded = foldForSearch(entry.name);
    const starts = folded.startsWith(wanted) || folded.split(' ').some((word) => word.startsWith(wanted));
    if (!starts && !folded.includes(wanted)) continue;
    matches.push({ ...entry, starts: folded.startsWith(wanted) });
  }
  matches.sort(
    (a, b) =>
      Number(b.starts) - Number(a.starts) || b.count - a.count || b.at - a.at || (a.name < b.name ? -1 : 1),
  );
  return matches.slice(0, Math.max(0, limit)).map((entry) => entry.name);
}

function isHistoryEntry(value: unknown): value is HistoryEntry {
  if (typeof value !== 'object' || value === null) return false;
  const entry = value as Record<string, unknown>;
  return typeof entry.name === 'string' && typeof entry.count === 'number' && typeof entry.at === 'number';
}

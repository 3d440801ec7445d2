/**
 * "While you were offline": what others added, checked and removed, from the
 * items that changed remotely during the first sync after a (re)connect.
 */
import type { Item } from '@basket/list-core';
import type { ReconnectSummary } from './types.js';

export function summarizeRemoteChanges(
  before: ReadonlyMap<string, Item>,
  changedIds: Iterable<string>,
  current: (id: string) => Item | undefined,
  /**
   * This person's name: what they did on another of their devices (the laptop at home, then the
   * phone in the shop) is not news to them, and "While you were offline, Mum added Tea" told Mum.
   */
  self?: string,
): ReconnectSummary | null {
  const byOthers = (actor: string | undefined): boolean => self === undefined || actor !== self;
  const added: string[] = [];
  const checked: string[] = [];
  const removed: string[] = [];
  const by = new Set<string>();
  for (const id of new Set(changedIds)) {
    const was = before.get(id);
    const now = current(id);
    if (now === undefined) continue;
    const wasVisible = was !== undefined && was.deletedAt === undefined;
    if (now.deletedAt !== undefined) {
      if (wasVisible && byOthers(now.deletedBy)) {
        removed.push(now.name);
        if (now.deletedBy) by.add(now.deletedBy);
      }
    } else if (was === undefined) {
      if (!byOthers(now.addedBy)) continue;
      added.push(now.name);
      by.add(now.addedBy);
    } else if (now.checked && !was.checked && byOthers(now.checkedBy)) {
      checked.push(now.name);
      if (now.checkedBy) by.add(now.checkedBy);
    }
  }
  if (added.length + checked.length + removed.length === 0) return null;
  return { added, checked, removed, by: [...by].filter((name) => name !== '') };
}

/** Snapshot of every item (visible and deleted) by id, taken when the socket opens. */
export function snapshotItems(visible: readonly Item[], deleted: readonly Item[]): Map<string, Item> {
  const snapshot = new Map<string, Item>();
  for (const item of deleted) snapshot.set(item.id, item);
  for (const item of visible) snapshot.set(item.id, item);
  return snapshot;
}

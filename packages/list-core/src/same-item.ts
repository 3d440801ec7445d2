import type { Item } from './api.js';

/**
 * Whether two snapshots of an item show the same thing: every field, contributors in order.
 * The view reuses an unchanged row's object by it, and a UI can use it to skip re-rendering
 * equal copies (e.g. rows restored from a cache).
 */
export function sameItemContent(a: Item, b: Item): boolean {
  return (
    a.id === b.id &&
    a.name === b.name &&
    a.quantity === b.quantity &&
    a.unit === b.unit &&
    a.note === b.note &&
    a.category === b.category &&
    a.checked === b.checked &&
    a.addedBy === b.addedBy &&
    a.addedAt === b.addedAt &&
    a.deletedAt === b.deletedAt &&
    a.deletedBy === b.deletedBy &&
    a.checkedBy === b.checkedBy &&
    a.checkedAt === b.checkedAt &&
    a.contributors.length === b.contributors.length &&
    a.contributors.every((actor, index) => actor === b.contributors[index])
  );
}

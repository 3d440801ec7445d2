/**
 * Groups the visible items into store sections (in the order a shopper walks
 * them) plus "In the cart" for checked items. One pass over the items per
 * list change; unchanged sections keep equal item arrays, so memoized
 * sections skip rendering.
 */
import { CATEGORIES, CATEGORY_LABELS, sameItemContent } from '@basket/list-core';
import type { Item } from '@basket/list-core';

export interface Section {
  readonly category: string;
  readonly label: string;
  readonly items: readonly Item[];
}

export interface GroupedItems {
  readonly sections: readonly Section[];
  readonly inCart: readonly Item[];
}

const knownCategories: readonly string[] = CATEGORIES;

export function categoryLabel(category: string): string {
  const labels: Readonly<Record<string, string>> = CATEGORY_LABELS;
  const known = labels[category];
  if (known !== undefined) return known;
  const trimmed = category.trim();
  return trimmed === '' ? (labels['other'] ?? 'Other') : trimmed[0]!.toUpperCase() + trimmed.slice(1);
}

export function groupItems(items: readonly Item[]): GroupedItems {
  const byCategory = new Map<string, Item[]>();
  const inCart: Item[] = [];
  for (const item of items) {
    if (item.checked) {
      inCart.push(item);
      continue;
    }
    const category = item.category || 'other';
    let bucket = byCategory.get(category);
    if (!bucket) {
      bucket = [];
      byCategory.set(category, bucket);
    }
    bucket.push(item);
  }
  const sections: Section[] = [];
  for (const category of knownCategories) {
    const bucket = byCategory.get(category);
    if (bucket) sections.push({ category, label: categoryLabel(category), items: bucket });
  }
  // Categories a newer app version (or a person) invented go last, alphabetically.
  const custom = [...byCategory.keys()].filter((category) => !knownCategories.includes(category)).sort();
  for (const category of custom) {
    sections.push({ category, label: categoryLabel(category), items: byCategory.get(category)! });
  }
  return { sections, inCart };
}

/** Shallow equality of item arrays: same length, same item objects in the same order. */
export function sameItems(a: readonly Item[], b: readonly Item[]): boolean {
  if (a === b) return true;
  if (a.length !== b.length) return false;
  for (let index = 0; index < a.length; index++) {
    if (!sameItem(a[index] as Item, b[index] as Item)) return false;
  }
  return true;
}

/**
 * Same object, or the same values: the live list replacing the cached rows of a cold start
 * brings new objects with the same content, which must not re-render 5,000 rows.
 */
export function sameItem(a: Item, b: Item): boolean {
  return a === b || sameItemContent(a, b);
}

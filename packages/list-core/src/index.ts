export type * from './api.js';
// The list-core implementation adds its exports here:
// ShoppingList, parseQuickAdd, CATEGORIES, CATEGORY_LABELS, builtInCategory, normalizeName.

export type * from './api.js';
export { ShoppingList, DEFAULT_TOMBSTONE_RETENTION_MS, SHARED_TYPES } from './shopping-list.js';
export { parseQuickAdd } from './quick-add.js';
export { CATEGORIES, CATEGORY_LABELS, builtInCategory, builtInNameCount } from './categories.js';
export { normalizeName } from './normalize.js';
export { sameItemContent } from './same-item.js';
export { cutToLength } from './schema.js';
export { ACTIVITY_CAP } from './activity-log.js';

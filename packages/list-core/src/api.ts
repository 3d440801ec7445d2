/**
 * The public shape of the Basket list model. `ShoppingList` (shopping-list.ts)
 * implements `ShoppingListApi`; the web app codes against these types only.
 *
 * The document schema and the required methods are contracts from
 * shared/PRODUCT.md; everything here beyond them is ours to evolve.
 */

/** Store sections, in the order a shopper walks them. */
export type Category =
  | 'produce'
  | 'bakery'
  | 'dairy'
  | 'meat-fish'
  | 'frozen'
  | 'pantry'
  | 'drinks'
  | 'household'
  | 'personal-care'
  | 'baby'
  | 'pets'
  | 'other';

/** A visible or deleted item as a plain, immutable snapshot. */
export interface Item {
  readonly id: string;
  readonly name: string;
  readonly quantity: number;
  readonly unit: string;
  readonly note: string;
  readonly category: Category | string;
  readonly checked: boolean;
  readonly addedBy: string;
  readonly addedAt: number;
  readonly deletedAt?: number;
  readonly deletedBy?: string;
  /** Everyone who added this item, including duplicates merged into it (rule 2). */
  readonly contributors: readonly string[];
  readonly checkedBy?: string;
  /** When the shown tick or untick was made; absent when the state comes from an add or an older version. */
  readonly checkedAt?: number;
}

export interface NewItem {
  name: string;
  quantity?: number;
  unit?: string;
  note?: string;
  /** Omitted: the list's remembered category for the name, else the built-in one. */
  category?: string;
}

export type ItemPatch = Partial<Pick<Item, 'name' | 'quantity' | 'unit' | 'note' | 'category'>>;

export interface ShoppingListOptions {
  /** Who is editing: the display name shown in "added by", activity and notices. */
  actor: string;
  /** Injected clock (ms since epoch). Default Date.now. */
  now?: () => number;
  /** How long tombstones are kept before purge. Default 30 days. */
  tombstoneRetentionMs?: number;
  /**
   * Given when the document may not hold the list's stored state yet (a device still reading it
   * while the person edits): until it resolves, writes that build on what the list holds (the
   * list's creation stamp and schema version, the person's history of names) wait. Done blind,
   * each would be a value written with no earlier one to follow, concurrent with the stored one:
   * one more per app session, which every later load of the list pays for (and the relay refuses
   * past a few thousand), and a history count started again from one.
   */
  whenStateLoaded?: Promise<unknown>;
}

/** What changed in one transaction, so a view can re-render only those rows. */
export interface ListChange {
  /** Ids whose visible snapshot changed, appeared or disappeared. */
  readonly changedIds: ReadonlySet<string>;
  /** True when the change came from another replica (sync), false for local edits. */
  readonly remote: boolean;
  /** True when the activity log changed (added in list-core; optional for older callers). */
  readonly activityChanged?: boolean;
  /** True when the list's title (meta.name) changed. */
  readonly titleChanged?: boolean;
}

export type ActivityKind =
  | 'added'
  | 'checked'
  | 'unchecked'
  | 'removed'
  | 'restored'
  | 'renamed'
  | 'updated'
  | 'merged'
  | 'cleared';

export interface ActivityEvent {
  readonly id: string;
  readonly kind: ActivityKind;
  readonly actor: string;
  readonly at: number;
  readonly itemId: string;
  readonly itemName: string;
  /** For 'updated' / 'renamed': the field and the values. */
  readonly field?: string;
  readonly from?: unknown;
  readonly to?: unknown;
  /** Set when a concurrent edit overwrote this event's value (rule 5). */
  readonly overwrittenBy?: string;
}

export type NoticeKind =
  /** Rule 4: someone removed an item this person had changed. */
  | 'removed-your-change'
  /** Rule 2: someone's duplicate was merged with this person's item. */
  | 'merged-duplicate'
  /** Rule 8: this person edited an item that had already been purged. */
  | 'edited-purged'
  /** Rule 5: a concurrent edit replaced this person's value. */
  | 'overwritten';

export interface Notice {
  readonly id: string;
  readonly kind: NoticeKind;
  /** Ready-to-show English sentence, e.g. "Dad removed Butter that you changed". */
  readonly message: string;
  readonly itemId: string;
  readonly itemName: string;
  readonly by: string;
  readonly at: number;
  /** True when restoreItem(itemId) undoes what happened. */
  readonly canRestore: boolean;
}

export interface ShoppingListApi {
  addItem(input: NewItem): string;
  updateItem(id: string, patch: ItemPatch): void;
  setChecked(id: string, checked: boolean): void;
  removeItem(id: string): void;
  restoreItem(id: string): void;
  /**
   * Tombstones exactly the items this replica sees checked; returns their ids (for undo). With
   * `onlyIds`, only those of them (rule 6: what the person saw checked, when that was a screen
   * drawn before the document loaded); ids not checked or not found are left alone.
   */
  clearChecked(onlyIds?: readonly string[]): string[];
  /** Undo for clearChecked/removeItem: restores the given ids. */
  restoreItems(ids: readonly string[]): void;

  /** Visible items, duplicates merged, in display order (unchecked first, by category, then name). Cached: unchanged items keep object identity between calls. */
  items(): readonly Item[];
  /** Tombstoned items, newest first. */
  deletedItems(): readonly Item[];
  item(id: string): Item | undefined;
  observe(callback: (change: ListChange) => void): () => void;

  /** The list's title (meta.name). */
  title(): string;
  setTitle(name: string): void;

  /** Previously added names starting with (or containing) prefix, most frequent first. */
  suggest(prefix: string, limit?: number): string[];
  /** The category the list remembers for name, else the built-in one. */
  categoryFor(name: string): string;

  /** Activity log, newest first. */
  activity(limit?: number): readonly ActivityEvent[];
  /** Notices for the local actor produced by remote changes, newest first. */
  notices(): readonly Notice[];
  onNotice(callback: (notice: Notice) => void): () => void;
  dismissNotice(id: string): void;

  /**
   * Who later edits are by (the person changed their name), without reopening the list. Edits
   * already made keep the name they were made under, and notices about them stop being "yours".
   */
  setActor(actor: string): void;

  /** Purge tombstones older than the retention period; returns how many were purged. */
  purgeTombstones(): number;
  /** Detach observers. */
  destroy(): void;
}

export interface ParsedQuickAdd {
  name: string;
  quantity: number;
  unit: string;
}

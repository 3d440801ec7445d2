import type * as Y from 'yjs';

/**
 * Field names inside an item's Y.Map. The first block is the PRODUCT.md
 * contract; the second is ours (merge bookkeeping, rules 2, 4 and 5).
 */
export const F = {
  name: 'name',
  quantity: 'quantity',
  unit: 'unit',
  note: 'note',
  category: 'category',
  checked: 'checked',
  addedBy: 'addedBy',
  addedAt: 'addedAt',
  deletedAt: 'deletedAt',
  deletedBy: 'deletedBy',

  checkedBy: 'checkedBy',
  /** Rule 2: when `checked` was last written (ms), so a merged item shows its latest tick or untick. */
  checkedAt: 'checkedAt',
  /** Rule 2: this item was folded into the item with this id; it is never shown on its own again. */
  mergedInto: 'mergedInto',
  mergedBy: 'mergedBy',
  mergedAt: 'mergedAt',
  /**
   * Rule 2: a person edited the merged item's quantity or unit after this member was folded in,
   * so the member's amount no longer counts: the item's own quantity is what they chose.
   */
  absorbedQuantity: 'absorbedQuantity',
  /** Rule 2: the same for the item's note: the member's note (and any "also <amount>") no longer counts. */
  absorbedNote: 'absorbedNote',
  /** Rule 2, written by older versions only: both of the above. */
  absorbed: 'absorbed',
  /**
   * Rule 4: the field stamps (see stampKey) the remover had seen, newline-separated; also the
   * members (seenMemberEntry), for older versions, which read them only here.
   */
  deletedSeen: 'deletedSeen',
  /**
   * Rule 2/7: on a member, the id of the item whose removal tombstoned it with the row. A member
   * the remover saw gets its own `deletedAt`: its `mergedInto` is one value, and another phone
   * merging the same duplicate into its own item at the same time can win it, which without the
   * member's own tombstone showed the removed duplicate again in that item's row.
   */
  deletedWith: 'deletedWith',
  /**
   * Purge: on a removal whose `deletedAt` (the remover's clock) is well before the latest time
   * the remover's document held, that time. A phone whose clock is months behind otherwise writes
   * removals every other phone purges at once, out of Recently deleted and past any Undo.
   * `deletedAt` itself stays the remover's time: rule 7 compares it with other phones' adds.
   */
  deletedAfter: 'deletedAfter',
} as const;

/**
 * Rules 4 and 5: per editable field, a stamp "<event id>.<actor>" naming the
 * activity event that wrote the current value and who made it. One extra
 * write per edit carries both facts; every write stays in the document's
 * history forever, so edits are kept to two writes (value and stamp).
 */
export function stampKey(field: string): string {
  return `stamp.${field}`;
}

export function makeStamp(eventId: string, actor: string): string {
  return `${eventId}.${actor}`;
}

export function stampEventId(stamp: string): string {
  const dot = stamp.indexOf('.');
  return dot < 0 ? stamp : stamp.slice(0, dot);
}

export function stampActor(stamp: string): string {
  const dot = stamp.indexOf('.');
  return dot < 0 ? '' : stamp.slice(dot + 1);
}

export const EDITABLE_FIELDS = ['name', 'quantity', 'unit', 'note', 'category'] as const;
export type EditableField = (typeof EDITABLE_FIELDS)[number];

export const SCHEMA_VERSION = 1;
export const MAX_NAME_LENGTH = 200;

export type ItemMap = Y.Map<unknown>;

/**
 * At most `maxLength` (default MAX_NAME_LENGTH) UTF-16 units (the web app's `maxLength` counts them too), cut between
 * two code points, still trimmed (PRODUCT.md: a name is trimmed, 1–200 chars). A plain slice can
 * land between the two halves of an emoji and leave a lone surrogate, which shows as a broken
 * character and makes `encodeURIComponent` throw; the cut can also land just after a space.
 * Used on what this phone writes and on what it reads from peers alike.
 */
export function cutToLength(text: string, maxLength = MAX_NAME_LENGTH): string {
  if (text.length <= maxLength) return text;
  let end = 0;
  for (const codePoint of text) {
    if (end + codePoint.length > maxLength) break;
    end += codePoint.length;
  }
  return text.slice(0, end).trimEnd();
}

/** One item's fields as read from the document, validated: peers are untrusted. */
export interface ItemNode {
  readonly id: string;
  readonly name: string;
  readonly groupKey: string;
  readonly quantity: number;
  readonly unit: string;
  readonly note: string;
  readonly category: string;
  readonly checked: boolean;
  readonly addedBy: string;
  readonly addedAt: number;
  readonly deletedAt: number | undefined;
  readonly deletedBy: string | undefined;
  /** Removed as a member of this item's row (F.deletedWith). */
  readonly deletedWith: string | undefined;
  /** F.deletedAfter: the removal is no older than this, whatever the remover's clock said. */
  readonly deletedAfter: number | undefined;
  readonly checkedBy: string | undefined;
  readonly checkedAt: number | undefined;
  readonly mergedInto: string | undefined;
  readonly mergedAt: number | undefined;
  readonly absorbedQuantity: boolean;
  readonly absorbedNote: boolean;
  /**
   * Rule 4: the stamps the remover had seen when tombstoning, newline-separated, and rule 7: the
   * members any remover had seen (`deletedSeen` and the seenMemberKey keys together).
   */
  readonly deletedSeen: string;
  /** Rule 5: per editable field, the id of the event that wrote its current value. */
  readonly stamps: Readonly<Partial<Record<EditableField, string>>>;
}

export function readString(map: ItemMap, key: string): string | undefined {
  const value = map.get(key);
  return typeof value === 'string' ? value : undefined;
}

export function readNumber(map: ItemMap, key: string): number | undefined {
  const value = map.get(key);
  return typeof value === 'number' && Number.isFinite(value) ? value : undefined;
}

export function readNode(id: string, map: ItemMap, groupKeyOf: (name: string) => string): ItemNode {
  const name = cutToLength(readString(map, F.name) ?? '');
  const quantity = readNumber(map, F.quantity);
  const normalized = groupKeyOf(name);
  return {
    id,
    name,
    groupKey: normalized.length > 0 ? normalized : `#${id}`,
    quantity: quantity !== undefined && quantity > 0 ? quantity : 1,
    unit: readString(map, F.unit) ?? '',
    note: readString(map, F.note) ?? '',
    category: readString(map, F.category) ?? 'other',
    checked: map.get(F.checked) === true,
    addedBy: readString(map, F.addedBy) ?? '',
    addedAt: readNumber(map, F.addedAt) ?? 0,
    deletedAt: readNumber(map, F.deletedAt),
    deletedBy: readString(map, F.deletedBy),
    deletedWith: readString(map, F.deletedWith),
    deletedAfter: readNumber(map, F.deletedAfter),
    checkedBy: readString(map, F.checkedBy),
    checkedAt: readNumber(map, F.checkedAt),
    mergedInto: readString(map, F.mergedInto),
    mergedAt: readNumber(map, F.mergedAt),
    absorbedQuantity: map.get(F.absorbedQuantity) === true || map.get(F.absorbed) === true,
    absorbedNote: map.get(F.absorbedNote) === true || map.get(F.absorbed) === true,
    deletedSeen: readDeletedSeen(map),
    stamps: readStamps(map),
  };
}

function readStamps(map: ItemMap): Partial<Record<EditableField, string>> {
  const stamps: Partial<Record<EditableField, string>> = {};
  for (const field of EDITABLE_FIELDS) {
    const stamp = readString(map, stampKey(field));
    if (stamp !== undefined) stamps[field] = stamp;
  }
  return stamps;
}

/** How `deletedSeen` lists a member merged into the item when it was removed (rule 7). */
export function seenMemberEntry(id: string): string {
  return `member:${id}`;
}

/**
 * Rule 7: one key per member a remover saw. `deletedSeen` is one value: of two phones removing
 * the item concurrently only one phone's list is kept, and a member the other one saw (its own
 * "Milk" typed again, then removed) would count as unseen and come back. Keys add up.
 */
export function seenMemberKey(id: string): string {
  return `${SEEN_MEMBER_PREFIX}${seenMemberEntry(id)}`;
}

const SEEN_MEMBER_PREFIX = `${F.deletedSeen}.`;

export function isSeenMemberKey(key: string): boolean {
  return key.startsWith(SEEN_MEMBER_PREFIX);
}

function readDeletedSeen(map: ItemMap): string {
  let seen = readString(map, F.deletedSeen) ?? '';
  for (const key of map.keys()) {
    if (isSeenMemberKey(key)) seen += `\n${key.slice(SEEN_MEMBER_PREFIX.length)}`;
  }
  return seen;
}

/** All of an item's stamps in one string: what a remover records as seen, and a cheap "edited?" check. */
export function stampsSignature(node: ItemNode): string {
  return EDITABLE_FIELDS.map((field) => node.stamps[field] ?? '').join('\n');
}

/**
 * When a node last said whether it is wanted: ticked or unticked at `checkedAt`, else added at
 * `addedAt` (an add asks for the item, so it counts as unticked then).
 */
export function checkTime(node: ItemNode): number {
  return node.checkedAt ?? node.addedAt;
}

/** Deterministic "older first" order used to pick a group's canonical item on every device. */
export function compareByAge(a: ItemNode, b: ItemNode): number {
  if (a.addedAt !== b.addedAt) return a.addedAt - b.addedAt;
  return a.id < b.id ? -1 : a.id > b.id ? 1 : 0;
}

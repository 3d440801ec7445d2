import * as Y from 'yjs';
import type {
  ActivityEvent,
  ActivityKind,
  Item,
  ItemPatch,
  ListChange,
  NewItem,
  Notice,
  ShoppingListApi,
  ShoppingListOptions,
} from './api.js';
import { compareOldestFirst, deriveActivity, winningChain, type StoredEvent } from './activity-log.js';
import { ActivityStore } from './activity-store.js';
import { builtInCategory } from './categories.js';
import { randomId } from './ids.js';
import { reportCallbackError } from './report-error.js';
import { ListView, type ViewDelta } from './list-view.js';
import { NoticeBoard } from './notice-board.js';
import { normalizeName } from './normalize.js';
import {
  EDITABLE_FIELDS,
  F,
  SCHEMA_VERSION,
  cutToLength,
  makeStamp,
  isSeenMemberKey,
  seenMemberEntry,
  seenMemberKey,
  stampActor,
  stampEventId,
  stampKey,
  stampsSignature,
  type EditableField,
  type ItemMap,
  type ItemNode,
} from './schema.js';
import { suggestNames, historyKey, type HistoryEntry } from './suggestions.js';

export const DEFAULT_TOMBSTONE_RETENTION_MS = 30 * 24 * 60 * 60 * 1000;
/**
 * A remover's clock this far behind the latest time its document held is recorded
 * (F.deletedAfter). Less skew moves a purge by less than this, which does not matter against a
 * retention of days, and is not worth a write kept in the document's history for good.
 */
const CLOCK_BEHIND_WORTH_RECORDING_MS = 60 * 60 * 1000;

/** Rule 8: the activity that counts as having changed an item, as "Milk, which you …, was removed" says it. */
const CHANGE_WORDS: Partial<Record<ActivityKind, string>> = {
  checked: 'checked off',
  unchecked: 'changed',
  restored: 'restored',
  updated: 'changed',
  renamed: 'changed',
};

/** Names of the shared types in the Y.Doc. `items` and `meta` are PRODUCT.md contracts. */
export const SHARED_TYPES = {
  items: 'items',
  meta: 'meta',
  activity: 'activity',
  categories: 'categories',
  history: 'history',
} as const;

/**
 * The shopping list over one Y.Doc. Every operation is one Yjs transaction;
 * the view is updated after each transaction (local or remote) from the ids
 * it touched, observers hear which rows changed, and remote transactions may
 * produce notices for the local person. Opening a list writes nothing.
 */
export class ShoppingList implements ShoppingListApi {
  readonly doc: Y.Doc;
  private currentActor: string;
  private readonly now: () => number;
  private readonly retentionMs: number;
  private readonly itemsMap: Y.Map<unknown>;
  private readonly meta: Y.Map<unknown>;
  private readonly log: ActivityStore;
  private readonly categories: Y.Map<unknown>;
  private readonly history: Y.Map<unknown>;
  private readonly view: ListView;
  private readonly observers = new Set<(change: ListChange) => void>();
  private readonly board = new NoticeBoard();
  private activityCache: readonly ActivityEvent[] | undefined;
  private destroyed = false;
  /** False while options.whenStateLoaded is pending: writes that build on the list's state wait. */
  private stateLoaded = true;
  /** Those writes, made once the state is loaded: the earliest time meta was wanted, and names to remember. */
  private metaWantedAt: number | undefined;
  private readonly namesToRemember: Array<{ name: string; at: number; actor: string }> = [];

  constructor(doc: Y.Doc, options: ShoppingListOptions) {
    this.doc = doc;
    this.currentActor = options.actor;
    this.now = options.now ?? Date.now;
    this.retentionMs = options.tombstoneRetentionMs ?? DEFAULT_TOMBSTONE_RETENTION_MS;
    this.itemsMap = doc.getMap(SHARED_TYPES.items);
    this.meta = doc.getMap(SHARED_TYPES.meta);
    this.log = new ActivityStore(doc.getMap(SHARED_TYPES.activity));
    this.categories = doc.getMap(SHARED_TYPES.categories);
    this.history = doc.getMap(SHARED_TYPES.history);
    this.view = new ListView(this.itemsMap, normalizeName);
    doc.on('afterTransaction', this.onAfterTransaction);
    if (options.whenStateLoaded !== undefined) {
      this.stateLoaded = false;
      const loaded = (): void => this.writeWhatWaitedForState();
      options.whenStateLoaded.then(loaded, loaded);
    }
  }

  /** Who edits now: read at every edit and every notice, never kept anywhere else. */
  get actor(): string {
    return this.currentActor;
  }

  setActor(actor: string): void {
    this.currentActor = actor;
  }

  // ---- edits ----------------------------------------------------------------

  addItem(input: NewItem): string {
    const name = cleanName(input.name);
    const id = randomId();
    const existingRow = this.view.visibleRowForGroup(normalizeName(name));
    const askAgain = existingRow !== undefined && this.view.item(existingRow)?.checked === true;
    const at = this.now();
    this.doc.transact(() => {
      this.ensureMeta(at);
      const map = new Y.Map<unknown>();
      map.set(F.name, name);
      map.set(F.quantity, cleanQuantity(input.quantity) ?? 1);
      map.set(F.unit, (input.unit ?? '').trim());
      map.set(F.note, (input.note ?? '').trim());
      map.set(F.category, input.category ?? this.categoryFor(name));
      map.set(F.checked, false);
      map.set(F.addedBy, this.actor);
      map.set(F.addedAt, at);
      if (existingRow !== undefined) {
        // Adding a name already on the list is one more vote for it: fold the
        // new entry in at once, and ask for it again if it was checked off.
        map.set(F.mergedInto, existingRow);
        map.set(F.mergedBy, this.actor);
        map.set(F.mergedAt, at);
        const root = this.itemMap(existingRow);
        if (root !== undefined && askAgain) {
          root.set(F.checked, false);
          root.set(F.checkedAt, this.nextCheckTime(existingRow, at));
        }
      }
      this.itemsMap.set(id, map);
      this.remember(name, at);
      this.append({ kind: 'added', itemId: existingRow ?? id, itemName: name, at });
    });
    return existingRow ?? id;
  }

  updateItem(id: string, patch: ItemPatch): void {
    const rowId = this.view.rowIdOf(id);
    if (rowId === undefined) return;
    const shown = this.view.item(rowId);
    const root = this.itemMap(rowId);
    if (shown === undefined || root === undefined) return;
    const changes = this.validPatch(shown, patch);
    if (changes.length === 0) return;
    const edited = new Set(changes.map(([field]) => field));
    const ownQuantity = this.view.node(rowId)?.quantity;
    if (edited.has('unit') && !edited.has('quantity') && ownQuantity !== shown.quantity) {
      // The members' amounts stop counting (below): keep the quantity the person saw as an
      // edit of its own, stamped, so a concurrent quantity change meets it under rule 5.
      changes.push(['quantity', shown.quantity]);
    }
    const at = this.now();
    this.doc.transact(() => {
      this.mergeVisibleGroup(rowId, at);
      this.absorbMembers(rowId, {
        quantity: edited.has('quantity') || edited.has('unit'),
        note: edited.has('note'),
      });
      for (const [field, value] of changes) {
        const eventId = randomId();
        const previousStamp = root.get(stampKey(field));
        root.set(field, value);
        root.set(stampKey(field), makeStamp(eventId, this.actor));
        this.append({
          id: eventId,
          kind: field === 'name' ? 'renamed' : 'updated',
          itemId: rowId,
          itemName: shown.name,
          field,
          from: shown[field],
          to: value,
          prev: typeof previousStamp === 'string' ? stampEventId(previousStamp) : '',
          at,
        });
        if (field === 'category') {
          const name = changes.find(([changed]) => changed === 'name')?.[1] ?? shown.name;
          this.categories.set(normalizeName(String(name)), value);
        }
      }
    });
  }

  setChecked(id: string, checked: boolean): void {
    const rowId = this.view.rowIdOf(id);
    if (rowId === undefined) return;
    const shown = this.view.item(rowId);
    const root = this.itemMap(rowId);
    if (shown === undefined || root === undefined || shown.checked === checked) return;
    const at = this.now();
    this.doc.transact(() => {
      root.set(F.checked, checked);
      root.set(F.checkedBy, this.actor);
      root.set(F.checkedAt, this.nextCheckTime(rowId, at));
      this.append({ kind: checked ? 'checked' : 'unchecked', itemId: rowId, itemName: shown.name, at });
    });
  }

  removeItem(id: string): void {
    const rowId = this.view.rowIdOf(id);
    if (rowId === undefined || !this.view.isVisibleRow(rowId)) return;
    const at = this.now();
    this.doc.transact(() => this.tombstoneRow(rowId, 'removed', at));
  }

  restoreItem(id: string): void {
    this.restoreItems([id]);
  }

  restoreItems(ids: readonly string[]): void {
    const rows = new Set<string>();
    for (const id of ids) {
      const rowId = this.view.rowIdOf(id);
      if (rowId !== undefined && this.view.isDeletedRow(rowId)) rows.add(rowId);
    }
    if (rows.size === 0) return;
    const at = this.now();
    this.doc.transact(() => {
      for (const rowId of rows) {
        const map = this.itemMap(rowId);
        if (map === undefined) continue;
        untombstone(map);
        // The members removed with it, as the row in Recently deleted shows them.
        for (const id of this.view.subtree(rowId)) {
          const member = this.view.node(id);
          const memberMap = this.itemMap(id);
          if (id === rowId || member?.deletedWith !== rowId || memberMap === undefined || this.view.rowIdOf(id) !== rowId) continue;
          untombstone(memberMap);
        }
        this.append({ kind: 'restored', itemId: rowId, itemName: readName(map), at });
      }
    });
  }

  clearChecked(onlyIds?: readonly string[]): string[] {
    const seen = onlyIds === undefined ? undefined : new Set(onlyIds.map((id) => this.view.rowIdOf(id) ?? id));
    const checked = this.view
      .items()
      .filter((item) => item.checked && (seen === undefined || seen.has(item.id)))
      .map((item) => item.id);
    if (checked.length === 0) return [];
    const at = this.now();
    this.doc.transact(() => {
      for (const rowId of checked) this.tombstoneRow(rowId, 'cleared', at);
    });
    return checked;
  }

  setTitle(name: string): void {
    const title = cutToLength(name.trim());
    if (title === this.title()) return;
    this.doc.transact(() => {
      this.ensureMeta(this.now());
      this.meta.set('name', title);
    });
  }

  purgeTombstones(): number {
    // A detached item still points at the deleted one it was merged into: once that is gone it
    // would count as an orphan. Normally written already (onAfterTransaction); not when the
    // document was loaded that way.
    const detached = this.view.detachedRoots();
    if (detached.length > 0) this.writeDetachments(detached);
    const cutoff = this.now() - this.retentionMs;
    const doomed: string[] = [];
    let purged = 0;
    for (const item of this.view.deletedItems()) {
      const deletedAfter = this.view.node(item.id)?.deletedAfter ?? -Infinity;
      if (Math.max(item.deletedAt ?? Infinity, deletedAfter) < cutoff) {
        doomed.push(...this.view.subtree(item.id));
        purged++;
      }
    }
    for (const orphan of this.view.orphans()) {
      if ((orphan.mergedAt ?? orphan.addedAt) < cutoff) {
        doomed.push(...this.view.subtree(orphan.id));
        purged++;
      }
    }
    if (doomed.length === 0) return 0;
    this.doc.transact(() => {
      for (const id of new Set(doomed)) this.itemsMap.delete(id);
    });
    return purged;
  }

  // ---- reads ----------------------------------------------------------------

  items(): readonly Item[] {
    return this.view.items();
  }

  deletedItems(): readonly Item[] {
    return this.view.deletedItems();
  }

  item(id: string): Item | undefined {
    return this.view.item(id);
  }

  title(): string {
    const name = this.meta.get('name');
    return typeof name === 'string' ? name : '';
  }

  categoryFor(name: string): string {
    const remembered = this.categories.get(normalizeName(name));
    return typeof remembered === 'string' && remembered.length > 0 ? remembered : builtInCategory(name);
  }

  suggest(prefix: string, limit = 8): string[] {
    const entries: HistoryEntry[] = [];
    for (const value of this.history.values()) entries.push(value as HistoryEntry);
    return suggestNames(entries, prefix, limit);
  }

  activity(limit?: number): readonly ActivityEvent[] {
    if (this.activityCache === undefined) {
      this.activityCache = Object.freeze(deriveActivity(this.log.events().values(), this.stampOf));
    }
    return limit === undefined ? this.activityCache : this.activityCache.slice(0, Math.max(0, limit));
  }

  notices(): readonly Notice[] {
    return this.board.list();
  }

  onNotice(callback: (notice: Notice) => void): () => void {
    return this.board.subscribe(callback);
  }

  dismissNotice(id: string): void {
    this.board.dismiss(id);
  }

  observe(callback: (change: ListChange) => void): () => void {
    this.observers.add(callback);
    return () => {
      this.observers.delete(callback);
    };
  }

  destroy(): void {
    if (this.destroyed) return;
    this.destroyed = true;
    this.doc.off('afterTransaction', this.onAfterTransaction);
    this.observers.clear();
    this.board.clear();
  }

  // ---- reacting to transactions --------------------------------------------

  private readonly onAfterTransaction = (transaction: Y.Transaction): void => {
    const changedIds = new Set<string>();
    let activityChanged = false;
    let titleChanged = false;
    const itemsType: unknown = this.itemsMap;
    const logType: unknown = this.log.type;
    const metaType: unknown = this.meta;
    for (const [type, keys] of transaction.changed) {
      if (type === itemsType) {
        for (const key of keys) if (key !== null) changedIds.add(key);
      } else if (type._item !== null && type._item.parent === itemsType && type._item.parentSub !== null) {
        changedIds.add(type._item.parentSub);
      } else if (type === logType) {
        this.log.keysChanged(keys);
        activityChanged = true;
      } else if (type === metaType) {
        titleChanged = keys.has('name');
      }
    }
    if (changedIds.size === 0 && !activityChanged && !titleChanged) return;
    const remote = !transaction.local;
    const delta = changedIds.size > 0 ? this.view.update(changedIds) : undefined;
    const editsChanged = delta !== undefined && revisionsChanged(delta, this.view);
    if (activityChanged || editsChanged) this.activityCache = undefined;
    if (remote && delta !== undefined) this.noticeRemoteChanges(delta);
    // A concurrent edit can only beat one of ours in a transaction that changes a field stamp.
    if (remote && editsChanged && delta !== undefined) this.noticeOverwrittenEdits(delta);
    if (delta !== undefined && delta.detachedMembers.length > 0) this.writeDetachments(delta.detachedMembers);
    if (delta !== undefined && delta.unmergedGroups.length > 0) this.mergeGroups(delta.unmergedGroups);
    if (this.observers.size === 0) return;
    if ((delta?.changedRowIds.size ?? 0) === 0 && !activityChanged && !titleChanged) return;
    const change: ListChange = {
      changedIds: delta?.changedRowIds ?? new Set(),
      remote,
      activityChanged,
      titleChanged,
    };
    for (const observer of Array.from(this.observers)) {
      try {
        observer(change);
      } catch (error) {
        // One broken view must not stop the others or the document's cleanup.
        reportCallbackError('observer', error);
      }
    }
  };

  private noticeRemoteChanges(delta: ViewDelta): void {
    // Rule 4, by removed row: what this person did that its remover had not seen. The person saw
    // one Butter, so they hear once, whichever of its duplicates (rule 2) held their change.
    const removedRows = new Map<string, { did: 'changed' | 'added'; by: string | undefined; name: string }>();
    for (const [id, before] of delta.nodesBefore) {
      if (before === undefined) continue;
      const after = this.view.node(id);
      if (after === undefined) {
        // Rule 8: an item this person changed was purged before the change got through.
        const did = before.deletedAt === undefined ? (this.ownChangeToPurged(before) ?? this.ownAddToPurged(id, delta)) : undefined;
        if (did !== undefined) {
          this.board.add({
            kind: 'edited-purged',
            message: `${before.name}, which you ${did}, was removed`,
            itemId: id,
            itemName: before.name,
            by: before.deletedBy ?? '',
            at: this.now(),
            canRestore: false,
          });
        }
        continue;
      }
      if (before.deletedAt === undefined && after.deletedAt !== undefined && after.deletedBy !== this.actor) {
        // A member removed with its row (deletedWith) is one of the row's duplicates: a change of
        // this person's on it counts for the row, as on the row's own item. Only the row's item
        // records the members its remover saw, so only it can tell an unseen add (rule 7).
        const did = after.deletedWith === undefined ? this.unseenByRemover(after) : this.ownChangeUnseen(after) ? 'changed' : undefined;
        if (did === undefined) continue;
        const rowId = this.view.rowIdOf(id) ?? id;
        const known = removedRows.get(rowId);
        if (known === undefined) removedRows.set(rowId, { did, by: after.deletedBy, name: after.name });
        // As in unseenByRemover: a change is what rule 4 tells; an unseen add alone is rule 7's.
        else if (did === 'changed') known.did = 'changed';
      }
    }
    for (const [rowId, removed] of removedRows) {
      const by = removed.by ?? 'Someone';
      const name = this.view.item(rowId)?.name ?? removed.name;
      this.board.add({
        kind: 'removed-your-change',
        message: `${by} removed ${name} that you ${removed.did}`,
        itemId: rowId,
        itemName: name,
        by,
        at: this.now(),
        canRestore: this.view.isDeletedRow(rowId),
      });
    }
    for (const rowId of delta.changedRowIds) {
      const after = this.view.isVisibleRow(rowId) ? this.view.item(rowId) : undefined;
      if (after === undefined || after.contributors.length < 2 || !after.contributors.includes(this.actor)) continue;
      const before = delta.rowsBefore.get(rowId)?.contributors ?? [];
      const added = after.contributors.filter((actor) => !before.includes(actor));
      if (added.length === 0) continue;
      // News only if this person's own entry was on the list before this transaction: a list
      // loaded from the device's copy (every reopen) or joined on another device arrives in one
      // remote transaction with the merge already in it, and must not tell it again.
      if (!this.ownEntryWasShown(rowId, delta)) continue;
      // Rule 2: someone else's duplicate was folded together with this person's item.
      const by = added.find((actor) => actor !== this.actor) ?? after.contributors.find((actor) => actor !== this.actor);
      if (by === undefined) continue;
      const yours = this.ownNameInRow(rowId) ?? after.name;
      this.board.add({
        kind: 'merged-duplicate',
        message: `${by} merged your ${yours} with theirs`,
        itemId: rowId,
        itemName: after.name,
        by,
        at: this.now(),
        canRestore: false,
      });
    }
  }

  /**
   * This person's field edits that currently stand overwritten by someone else, by item and
   * field. One person on two devices (phone and laptop, the same name) overwriting themselves is
   * in the activity log, but is no news to tell them.
   */
  private ownOverwrittenEdits(): Map<string, ActivityEvent[]> {
    const result = new Map<string, ActivityEvent[]>();
    for (const event of this.activity()) {
      if (event.actor !== this.actor || event.overwrittenBy === undefined || event.overwrittenBy === this.actor) continue;
      const key = `${event.itemId}\u0000${event.field ?? ''}`;
      const list = result.get(key);
      if (list === undefined) result.set(key, [event]);
      else list.push(event);
    }
    return result;
  }

  /** Did the row hold a live entry this person added that existed before the transaction of `delta`? */
  private ownEntryWasShown(rowId: string, delta: ViewDelta): boolean {
    for (const root of this.view.liveRootsOfRow(rowId)) {
      for (const id of this.view.subtree(root.id)) {
        const node = this.view.node(id);
        if (node === undefined || node.addedBy !== this.actor || node.deletedAt !== undefined) continue;
        // nodesBefore holds undefined for an item this transaction created; absent = untouched.
        if (!delta.nodesBefore.has(id) || delta.nodesBefore.get(id) !== undefined) return true;
      }
    }
    return false;
  }

  /** The name this person typed for their own entry in a merged row ("your Milk", not "their milks"). */
  private ownNameInRow(rowId: string): string | undefined {
    for (const root of this.view.liveRootsOfRow(rowId)) {
      for (const id of this.view.subtree(root.id)) {
        const node = this.view.node(id);
        if (node !== undefined && node.addedBy === this.actor && node.deletedAt === undefined) return node.name;
      }
    }
    return undefined;
  }

  /**
   * Rule 8: how this person changed an item that was purged while they still had it: a field
   * edit the remover had not seen, else their latest tick, untick, restore or edit in the
   * activity log (a tick or a restore leaves no stamp), as the notice words it.
   */
  private ownChangeToPurged(node: ItemNode): string | undefined {
    if (this.ownChangeUnseen(node)) return 'changed';
    let latest: StoredEvent | undefined;
    for (const event of this.log.events().values()) {
      if (event.itemId !== node.id || event.actor !== this.actor || CHANGE_WORDS[event.kind] === undefined) continue;
      if (latest === undefined || compareOldestFirst(latest, event) < 0) latest = event;
    }
    return latest === undefined ? undefined : CHANGE_WORDS[latest.kind];
  }

  /**
   * Rule 8: this person typed the name again while the purged item still showed on their phone,
   * so their add was folded into it (a member, at any depth, gone with it or left orphaned).
   * That request went with the purge: without a word it would vanish from their list.
   */
  private ownAddToPurged(rootId: string, delta: ViewDelta): 'added' | undefined {
    const nodeOf = (id: string): ItemNode | undefined => this.view.node(id) ?? delta.nodesBefore.get(id);
    const candidates = new Set(this.view.subtree(rootId));
    for (const [id, before] of delta.nodesBefore) if (before !== undefined && this.view.node(id) === undefined) candidates.add(id);
    for (const id of candidates) {
      const node = nodeOf(id);
      if (id === rootId || node === undefined || node.addedBy !== this.actor || node.deletedAt !== undefined) continue;
      // Walk up the merge chain (bounded: a peer can write a cycle) to see whether it ends at the purged item.
      let parent = node.mergedInto;
      for (let depth = 0; parent !== undefined && parent !== rootId && depth < 64; depth++) parent = nodeOf(parent)?.mergedInto;
      if (parent === rootId) return 'added';
    }
    return undefined;
  }

  /** Rule 4: a field of this deleted item holds an edit of this person's that its remover had not seen. */
  private ownChangeUnseen(node: ItemNode, seen = seenByRemover(node)): boolean {
    return EDITABLE_FIELDS.some((field) => {
      const stamp = node.stamps[field];
      return stamp !== undefined && stampActor(stamp) === this.actor && !seen.has(stamp);
    });
  }

  /**
   * What this person did to a deleted item that its remover had not seen: changed a field
   * (rule 4), or added it again while it was still on their list (rule 7, their add folded into
   * it before the removal).
   */
  private unseenByRemover(node: ItemNode): 'changed' | 'added' | undefined {
    const seen = seenByRemover(node);
    if (this.ownChangeUnseen(node, seen)) return 'changed';
    for (const id of this.view.subtree(node.id)) {
      const member = this.view.node(id);
      if (id !== node.id && member?.addedBy === this.actor && member.deletedAt === undefined && !seen.has(seenMemberEntry(id))) return 'added';
    }
    return undefined;
  }

  /**
   * Rule 5: one of this person's edits was winning before this remote
   * transaction (on the chain of the field's old stamp) and is overwritten now.
   */
  private noticeOverwrittenEdits(delta: ViewDelta): void {
    let mineOverwritten: Map<string, ActivityEvent[]> | undefined;
    const lost: ActivityEvent[] = [];
    for (const [id, before] of delta.nodesBefore) {
      const after = this.view.node(id);
      if (before === undefined || after === undefined || stampsSignature(before) === stampsSignature(after)) continue;
      for (const field of EDITABLE_FIELDS) {
        const previousStamp = before.stamps[field];
        // Cheap filter first: only a field whose value was this person's can newly be lost by them.
        if (previousStamp === after.stamps[field] || previousStamp === undefined || stampActor(previousStamp) !== this.actor) continue;
        mineOverwritten ??= this.ownOverwrittenEdits();
        const candidates = mineOverwritten.get(`${id}\u0000${field}`);
        if (candidates === undefined) continue;
        const wasWinning = winningChain(stampEventId(previousStamp), (eventId) => this.log.get(eventId));
        for (const event of candidates) if (wasWinning.has(event.id)) lost.push(event);
      }
    }
    for (const event of lost) {
      const current = this.view.item(event.itemId);
      const name = current?.name ?? event.itemName;
      const message =
        event.field === 'name'
          ? `${event.overwrittenBy} renamed ${event.itemName} to ${name}, replacing your "${String(event.to)}"`
          : `${event.overwrittenBy} changed the ${event.field ?? 'value'} of ${name}` +
            (current === undefined ? '' : ` to ${String(current[event.field as keyof Item] ?? '')}`) +
            `, replacing your ${String(event.to)}`;
      this.board.add({
        kind: 'overwritten',
        message,
        itemId: event.itemId,
        itemName: current?.name ?? event.itemName,
        by: event.overwrittenBy ?? '',
        at: this.now(),
        canRestore: false,
      });
    }
  }

  // ---- helpers ----------------------------------------------------------------

  private readonly stampOf = (itemId: string, field: string): string | undefined => {
    const map = this.itemMap(itemId);
    const stamp = map?.get(stampKey(field));
    return typeof stamp === 'string' ? stampEventId(stamp) : undefined;
  };

  private itemMap(id: string): ItemMap | undefined {
    const map = this.itemsMap.get(id);
    return map instanceof Y.Map ? (map as ItemMap) : undefined;
  }

  /**
   * A merged row shows its latest tick, untick or add (list-view.ts, shownCheck): a new one
   * must be later than those, even when another phone's clock runs ahead of this one.
   */
  private nextCheckTime(rowId: string, at: number): number {
    const shownSince = this.view.checkTimeOfRow(rowId);
    return shownSince === undefined ? at : Math.max(at, shownSince + 1);
  }

  private ensureMeta(at: number): void {
    if (!this.stateLoaded) {
      this.metaWantedAt ??= at;
      return;
    }
    if (this.meta.get('schemaVersion') !== undefined) return;
    this.meta.set('schemaVersion', SCHEMA_VERSION);
    this.meta.set('createdAt', at);
  }

  private tombstoneRow(rowId: string, kind: ActivityKind, at: number): void {
    const shown = this.view.item(rowId);
    const knownLatest = this.log.latestTime();
    for (const root of this.view.liveRootsOfRow(rowId)) {
      const map = this.itemMap(root.id);
      if (map === undefined) continue;
      const members = this.view.subtree(root.id).filter((id) => id !== root.id);
      map.set(F.deletedAt, at);
      if (knownLatest - at > CLOCK_BEHIND_WORTH_RECORDING_MS) map.set(F.deletedAfter, knownLatest);
      map.set(F.deletedBy, this.actor);
      map.set(F.deletedSeen, [stampsSignature(root), ...members.map(seenMemberEntry)].join('\n'));
      // Also one key each, which a concurrent removal by another phone cannot overwrite (rule 7).
      for (const id of members) map.set(seenMemberKey(id), true);
      // Each member shown in the row gets a tombstone of its own (F.deletedWith says why).
      for (const id of members) {
        const member = this.view.node(id);
        const memberMap = this.itemMap(id);
        if (member === undefined || memberMap === undefined || member.deletedAt !== undefined || this.view.rowIdOf(id) !== rowId) continue;
        memberMap.set(F.deletedAt, at);
        memberMap.set(F.deletedBy, this.actor);
        memberMap.set(F.deletedSeen, stampsSignature(member));
        memberMap.set(F.deletedWith, root.id);
      }
    }
    this.append({ kind, itemId: rowId, itemName: shown?.name ?? '', at });
  }

  /** Rule 2: write the merge the view already shows, so later renames or removals keep it one item. */
  private mergeGroups(groups: readonly string[][]): void {
    const at = this.now();
    this.doc.transact(() => {
      for (const [canonical, ...others] of groups) {
        if (canonical === undefined) continue;
        this.writeMerge(canonical, others, at);
      }
    });
  }

  /**
   * Rule 7: write what the view already shows, so the detached item stays its
   * own row once the deleted item it was merged into is purged.
   */
  private writeDetachments(ids: readonly string[]): void {
    this.doc.transact(() => {
      for (const id of ids) {
        const map = this.itemMap(id);
        if (map === undefined || map.get(F.mergedInto) === undefined) continue;
        map.delete(F.mergedInto);
        map.delete(F.mergedBy);
        map.delete(F.mergedAt);
        map.delete(F.absorbed);
        map.delete(F.absorbedQuantity);
        map.delete(F.absorbedNote);
      }
    });
  }

  private mergeVisibleGroup(rowId: string, at: number): void {
    const roots = this.view.liveRootsOfRow(rowId);
    if (roots.length > 1) this.writeMerge(rowId, roots.slice(1).map((root) => root.id), at);
  }

  private writeMerge(canonical: string, others: readonly string[], at: number): void {
    const target = this.itemMap(canonical);
    if (target === undefined) return;
    for (const id of others) {
      const map = this.itemMap(id);
      if (map === undefined || map.get(F.mergedInto) === canonical) continue;
      map.set(F.mergedInto, canonical);
      map.set(F.mergedBy, this.actor);
      map.set(F.mergedAt, at);
      this.append({ kind: 'merged', itemId: canonical, itemName: readName(target), from: id, to: canonical, at });
    }
  }

  /**
   * A person editing a merged item's quantity (or unit) or note starts from the
   * folded value and writes the one they want into the item itself, so the
   * members' part of that field stops counting; the other field's part still
   * counts. Nothing folded is copied into the item: an unstamped copy written
   * with a note edit could beat another phone's concurrent quantity edit while
   * the stamp still named that edit (rule 5). Members merged concurrently stay
   * unabsorbed and count.
   */
  private absorbMembers(rowId: string, fields: { quantity: boolean; note: boolean }): void {
    if (!fields.quantity && !fields.note) return;
    const roots = this.view.liveRootsOfRow(rowId);
    for (const group of roots.length > 0 ? roots : [this.view.node(rowId)]) {
      if (group === undefined) continue;
      for (const id of this.view.subtree(group.id)) {
        const node = this.view.node(id);
        const map = this.itemMap(id);
        if (id === rowId || node === undefined || map === undefined || node.deletedAt !== undefined) continue;
        if (fields.quantity && !node.absorbedQuantity) map.set(F.absorbedQuantity, true);
        if (fields.note && !node.absorbedNote) map.set(F.absorbedNote, true);
      }
    }
  }

  private validPatch(shown: Item, patch: ItemPatch): [EditableField, string | number][] {
    const changes: [EditableField, string | number][] = [];
    for (const field of EDITABLE_FIELDS) {
      const value = patch[field];
      if (value === undefined) continue;
      let clean: string | number | undefined;
      if (field === 'quantity') clean = cleanQuantity(value as number);
      else if (field === 'name') clean = typeof value === 'string' ? cleanName(value) : undefined;
      else clean = typeof value === 'string' ? value.trim() : undefined;
      if (clean === undefined || clean === shown[field]) continue;
      changes.push([field, clean]);
    }
    return changes;
  }

  /** What waited for the list's state (see ShoppingListOptions.whenStateLoaded), written as one local edit. */
  private writeWhatWaitedForState(): void {
    this.stateLoaded = true;
    if (this.destroyed || (this.metaWantedAt === undefined && this.namesToRemember.length === 0)) return;
    const metaAt = this.metaWantedAt;
    const names = this.namesToRemember.splice(0);
    this.metaWantedAt = undefined;
    this.doc.transact(() => {
      if (metaAt !== undefined) this.ensureMeta(metaAt);
      for (const { name, at, actor } of names) this.remember(name, at, actor);
    });
  }

  private remember(name: string, at: number, actor = this.actor): void {
    if (!this.stateLoaded) {
      this.namesToRemember.push({ name, at, actor });
      return;
    }
    const key = historyKey(actor, normalizeName(name));
    const previous = this.history.get(key) as HistoryEntry | undefined;
    this.history.set(key, { name, count: (previous?.count ?? 0) + 1, at });
  }

  private append(event: Omit<StoredEvent, 'id' | 'actor'> & { id?: string }): void {
    const stored: StoredEvent = { ...event, id: event.id ?? randomId(), actor: this.actor, n: this.log.nextCounter() };
    this.log.append(stored);
  }
}

/** Did a field stamp (rule 5) change, or vanish with a purged item? */
function revisionsChanged(delta: ViewDelta, view: ListView): boolean {
  for (const [id, before] of delta.nodesBefore) {
    if (before === undefined) continue;
    const after = view.node(id);
    if (after === undefined || stampsSignature(after) !== stampsSignature(before)) return true;
  }
  return false;
}

function cleanName(name: string): string {
  const trimmed = cutToLength(String(name ?? '').trim().replace(/\s+/g, ' '));
  if (trimmed.length === 0) throw new Error('An item needs a name');
  return trimmed;
}

/** The stamps and members a deleted item's remover had seen (deletedSeen, one per line). */
function seenByRemover(node: ItemNode): Set<string> {
  return new Set(node.deletedSeen.split('\n'));
}

function cleanQuantity(quantity: number | undefined): number | undefined {
  return typeof quantity === 'number' && Number.isFinite(quantity) && quantity > 0 ? quantity : undefined;
}

/** Undoes a removal on one item map: its tombstone and what the remover had seen. */
function untombstone(map: ItemMap): void {
  map.delete(F.deletedAt);
  map.delete(F.deletedAfter);
  map.delete(F.deletedBy);
  map.delete(F.deletedSeen);
  map.delete(F.deletedWith);
  for (const key of Array.from(map.keys())) if (isSeenMemberKey(key)) map.delete(key);
}

function readName(map: ItemMap): string {
  const name = map.get(F.name);
  return typeof name === 'string' ? name : '';
}

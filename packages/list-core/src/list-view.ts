import * as Y from 'yjs';
import type { Item } from './api.js';
import { amountText, convertAmount } from './amounts.js';
import { categoryRank } from './categories.js';
import { checkTime, compareByAge, readNode, seenMemberEntry, type ItemMap, type ItemNode } from './schema.js';
import { sameItemContent } from './same-item.js';
import { patchSorted } from './sorted.js';

/** What one batch of document changes did to the view. */
export interface ViewDelta {
  /** Row ids (visible or deleted) whose snapshot changed, appeared or disappeared. */
  readonly changedRowIds: Set<string>;
  /** Snapshot of each changed row before the batch (undefined: it did not exist). */
  readonly rowsBefore: Map<string, Item | undefined>;
  /** Each directly changed item's fields before the batch (undefined: it was new). */
  readonly nodesBefore: Map<string, ItemNode | undefined>;
  /** Groups that show as one row but are not merged in the document yet: canonical id first. */
  readonly unmergedGroups: string[][];
  /** Items that now show as their own row although the document still has them merged (rule 7). */
  readonly detachedMembers: string[];
}

const MAX_MERGE_DEPTH = 64;
const VISIBLE = 'v:';
const DELETED = 'd:';

/**
 * The items as a person sees them, derived from `doc.getMap('items')` and
 * kept up to date incrementally: `update(ids)` touches only the rows those
 * items belong to, and an unchanged row keeps its object identity.
 *
 * Items form trees through `mergedInto` (rule 2). A visible row is a group of
 * live roots with the same normalized name (normally one, more only until the
 * merge is written), folded with their live members. A deleted item whose
 * ancestors are live is a row of Recently deleted. Members of missing items
 * (purged, or not arrived yet) are hidden.
 *
 * Rule 7: an item merged into another after that one was deleted was added by
 * someone who had not seen the removal yet ("Milk" typed again on a phone
 * still showing Milk). Hiding it under the deletion would lose that request,
 * so it is detached: it counts as a live root of its own until the document
 * says so too (see `detachedMembers`).
 */
export class ListView {
  private readonly nodes = new Map<string, ItemNode>();
  private readonly children = new Map<string, Set<string>>();
  private readonly rowKeyOfNode = new Map<string, string>();
  private readonly liveRootsByGroup = new Map<string, Set<string>>();
  /** Rule 7: members shown as live roots, by group, and each one's group. */
  private readonly detachedRootsByGroup = new Map<string, Set<string>>();
  private readonly groupOfDetachedRoot = new Map<string, string>();
  private readonly visibleRowByGroup = new Map<string, string>();
  private readonly groupOfVisibleRow = new Map<string, string>();
  private readonly visible = new Map<string, Item>();
  private readonly deleted = new Map<string, Item>();
  private readonly sortKeys = new WeakMap<Item, string>();
  private sortedVisible: Item[] = [];
  private sortedDeleted: Item[] = [];

  constructor(
    private readonly itemsMap: Y.Map<unknown>,
    private readonly groupKeyOf: (name: string) => string,
  ) {
    this.update(Array.from(itemsMap.keys()));
  }

  items(): readonly Item[] {
    return this.sortedVisible;
  }

  deletedItems(): readonly Item[] {
    return this.sortedDeleted;
  }

  node(id: string): ItemNode | undefined {
    return this.nodes.get(id);
  }

  allNodes(): IterableIterator<ItemNode> {
    return this.nodes.values();
  }

  /** The row (visible or deleted) that shows item `id`, members resolved to their row. */
  rowIdOf(id: string): string | undefined {
    const key = this.rowKeyOfNode.get(id);
    if (key === undefined) return undefined;
    if (key.startsWith(DELETED)) return key.slice(DELETED.length);
    return this.visibleRowByGroup.get(key.slice(VISIBLE.length));
  }

  item(id: string): Item | undefined {
    const rowId = this.rowIdOf(id);
    return rowId === undefined ? undefined : (this.visible.get(rowId) ?? this.deleted.get(rowId));
  }

  isVisibleRow(rowId: string): boolean {
    return this.visible.has(rowId);
  }

  isDeletedRow(rowId: string): boolean {
    return this.deleted.has(rowId);
  }

  /** The visible row currently showing this normalized name, if any. */
  visibleRowForGroup(groupKey: string): string | undefined {
    return this.visibleRowByGroup.get(groupKey);
  }

  /** Live roots shown by a visible row, canonical first. */
  liveRootsOfRow(rowId: string): ItemNode[] {
    const group = this.groupOfVisibleRow.get(rowId);
    if (group === undefined) return [];
    return this.sortedRoots(group);
  }

  /**
   * Item `id` and every item merged into it, directly or not, alive or deleted,
   * except detached members (rule 7) and theirs: they show as rows of their own.
   */
  subtree(id: string): string[] {
    // A set, not a list: a peer can write a merge cycle, and that must not hang us.
    const seen = new Set<string>([id]);
    const stack = [id];
    while (stack.length > 0) {
      const kids = this.children.get(stack.pop() as string);
      if (!kids) continue;
      for (const kid of kids) {
        if (seen.has(kid) || this.groupOfDetachedRoot.has(kid)) continue;
        seen.add(kid);
        stack.push(kid);
      }
    }
    return Array.from(seen);
  }

  /**
   * The latest check time (schema.ts, checkTime) among the items a row shows: a tick or untick
   * must be later than this to show, whatever the clocks of the phones that wrote the others.
   */
  checkTimeOfRow(rowId: string): number | undefined {
    const visibleRoots = this.liveRootsOfRow(rowId);
    const node = this.nodes.get(rowId);
    const roots = visibleRoots.length > 0 ? visibleRoots : node === undefined ? [] : [node];
    let latest: number | undefined;
    for (const shown of [...roots, ...this.liveMembers(roots)]) latest = Math.max(latest ?? -Infinity, checkTime(shown));
    return latest;
  }

  /** Rule 7: items shown as rows of their own that the document still has merged. */
  detachedRoots(): string[] {
    return Array.from(this.groupOfDetachedRoot.keys());
  }

  /** Items whose merge chain ends at a missing item (purged elsewhere or not arrived). */
  orphans(): ItemNode[] {
    const result: ItemNode[] = [];
    for (const node of this.nodes.values()) {
      if (node.mergedInto !== undefined && !this.rowKeyOfNode.has(node.id)) result.push(node);
    }
    return result;
  }

  /** Re-reads the given item ids from the document and recomputes only the rows they touch. */
  update(changedIds: Iterable<string>): ViewDelta {
    const delta: ViewDelta = {
      changedRowIds: new Set(),
      rowsBefore: new Map(),
      nodesBefore: new Map(),
      unmergedGroups: [],
      detachedMembers: [],
    };
    const direct = new Set(changedIds);
    const affected = new Set<string>();
    for (const id of direct) this.collectSubtree(id, affected);
    const rowKeys = new Set<string>();
    for (const id of affected) {
      const key = this.rowKeyOfNode.get(id);
      if (key !== undefined) rowKeys.add(key);
    }
    for (const id of direct) this.reread(id, delta);
    for (const id of direct) this.collectSubtree(id, affected);
    for (const id of affected) {
      const placement = this.nodes.has(id) ? this.place(id) : undefined;
      this.setDetachedGroup(id, placement?.detachedGroup, delta);
      if (placement === undefined) this.rowKeyOfNode.delete(id);
      else {
        this.rowKeyOfNode.set(id, placement.key);
        rowKeys.add(placement.key);
      }
    }
    const removedVisible: Item[] = [];
    const addedVisible: Item[] = [];
    const removedDeleted: Item[] = [];
    const addedDeleted: Item[] = [];
    const track = (rowId: string, before: Item | undefined, after: Item | undefined, deletedList: boolean): void => {
      if (before === after) return;
      if (!delta.rowsBefore.has(rowId)) delta.rowsBefore.set(rowId, before);
      delta.changedRowIds.add(rowId);
      if (before) (deletedList ? removedDeleted : removedVisible).push(before);
      if (after) (deletedList ? addedDeleted : addedVisible).push(after);
    };
    for (const key of rowKeys) {
      if (key.startsWith(VISIBLE)) this.recomputeVisible(key.slice(VISIBLE.length), track, delta);
      else this.recomputeDeleted(key.slice(DELETED.length), key, track);
    }
    if (removedVisible.length > 0 || addedVisible.length > 0) {
      this.sortedVisible = patchSorted(this.sortedVisible, removedVisible, addedVisible, this.compareVisible, this.sortKeyOf);
    }
    if (removedDeleted.length > 0 || addedDeleted.length > 0) {
      this.sortedDeleted = patchSorted(this.sortedDeleted, removedDeleted, addedDeleted, compareDeleted);
    }
    return delta;
  }

  private reread(id: string, delta: ViewDelta): void {
    const old = this.nodes.get(id);
    if (!delta.nodesBefore.has(id)) delta.nodesBefore.set(id, old);
    if (old) {
      if (old.mergedInto !== undefined) {
        const siblings = this.children.get(old.mergedInto);
        siblings?.delete(id);
        if (siblings?.size === 0) this.children.delete(old.mergedInto);
      }
      if (isLiveRoot(old)) {
        const roots = this.liveRootsByGroup.get(old.groupKey);
        roots?.delete(id);
        if (roots?.size === 0) this.liveRootsByGroup.delete(old.groupKey);
      }
    }
    const map = this.itemsMap.get(id);
    if (!(map instanceof Y.Map)) {
      this.nodes.delete(id);
      return;
    }
    const node = readNode(id, map as ItemMap, this.groupKeyOf);
    this.nodes.set(id, node);
    if (node.mergedInto !== undefined) {
      let siblings = this.children.get(node.mergedInto);
      if (!siblings) this.children.set(node.mergedInto, (siblings = new Set()));
      siblings.add(id);
    }
    if (isLiveRoot(node)) {
      let roots = this.liveRootsByGroup.get(node.groupKey);
      if (!roots) this.liveRootsByGroup.set(node.groupKey, (roots = new Set()));
      roots.add(id);
    }
  }

  private collectSubtree(id: string, into: Set<string>): void {
    const stack = [id];
    while (stack.length > 0) {
      const current = stack.pop() as string;
      if (into.has(current) && current !== id) continue;
      into.add(current);
      const kids = this.children.get(current);
      if (kids) for (const kid of kids) if (!into.has(kid)) stack.push(kid);
    }
  }

  /**
   * Which row shows this item. Going down its merge chain from the root, a
   * member merged in after every deletion above it starts a chain of its own
   * (rule 7); in what is left, the topmost deleted item is the row, or if none
   * is deleted, the name group of the chain's top. `detachedGroup` is set when
   * the item itself is such a detached, live top.
   */
  private place(id: string): { key: string; detachedGroup: string | undefined } | undefined {
    const path: ItemNode[] = [];
    let current = this.nodes.get(id);
    while (current !== undefined) {
      path.push(current);
      if (current.mergedInto === undefined) break;
      if (path.length > MAX_MERGE_DEPTH) return undefined;
      current = this.nodes.get(current.mergedInto);
    }
    if (current === undefined) return undefined;
    let top = path.length - 1;
    let hiddenBy: ItemNode | undefined;
    let latestDeletion: number | undefined;
    const deletionsAbove: ItemNode[] = [];
    for (let index = path.length - 1; index >= 0; index--) {
      const step = path[index] as ItemNode;
      if (
        latestDeletion !== undefined &&
        step.mergedAt !== undefined &&
        // Equal times (one millisecond, as two phones' edits in a test on the default clock) say
        // nothing about the order, and the remover had not seen the member (below): keeping the
        // request visible loses nothing, where hiding it would drop B's new Milk (rule 7).
        step.mergedAt >= latestDeletion &&
        // A remover that saw the member removed it too, whatever the clocks say: the merging
        // phone's clock may run ahead of the remover's.
        !deletionsAbove.some((deleted) => sawMember(deleted, step.id))
      ) {
        top = index;
        hiddenBy = undefined;
        latestDeletion = undefined;
        deletionsAbove.length = 0;
      }
      if (step.deletedAt !== undefined) {
        hiddenBy ??= step;
        latestDeletion = Math.max(latestDeletion ?? step.deletedAt, step.deletedAt);
        deletionsAbove.push(step);
      }
    }
    if (hiddenBy !== undefined) return { key: DELETED + hiddenBy.id, detachedGroup: undefined };
    const head = path[top] as ItemNode;
    return { key: VISIBLE + head.groupKey, detachedGroup: top === 0 && path.length > 1 ? head.groupKey : undefined };
  }

  private setDetachedGroup(id: string, group: string | undefined, delta: ViewDelta): void {
    const previous = this.groupOfDetachedRoot.get(id);
    if (previous === group) return;
    if (previous !== undefined) {
      const ids = this.detachedRootsByGroup.get(previous);
      ids?.delete(id);
      if (ids?.size === 0) this.detachedRootsByGroup.delete(previous);
      this.groupOfDetachedRoot.delete(id);
    }
    if (group === undefined) return;
    let ids = this.detachedRootsByGroup.get(group);
    if (!ids) this.detachedRootsByGroup.set(group, (ids = new Set()));
    ids.add(id);
    this.groupOfDetachedRoot.set(id, group);
    if (previous === undefined) delta.detachedMembers.push(id);
  }

  private sortedRoots(group: string): ItemNode[] {
    const roots: ItemNode[] = [];
    for (const ids of [this.liveRootsByGroup.get(group), this.detachedRootsByGroup.get(group)]) {
      if (!ids) continue;
      for (const id of ids) {
        const node = this.nodes.get(id);
        if (node) roots.push(node);
      }
    }
    return roots.sort(compareByAge);
  }

  private recomputeVisible(
    group: string,
    track: (rowId: string, before: Item | undefined, after: Item | undefined, deletedList: boolean) => void,
    delta: ViewDelta,
  ): void {
    const roots = this.sortedRoots(group);
    const previousRow = this.visibleRowByGroup.get(group);
    const canonical = roots[0];
    if (previousRow !== undefined && previousRow !== canonical?.id && this.groupOfVisibleRow.get(previousRow) === group) {
      track(previousRow, this.visible.get(previousRow), undefined, false);
      this.visible.delete(previousRow);
      this.groupOfVisibleRow.delete(previousRow);
    }
    if (canonical === undefined) {
      this.visibleRowByGroup.delete(group);
      return;
    }
    const before = this.visible.get(canonical.id);
    const after = this.reuseIfEqual(before, this.fold(roots));
    this.visible.set(canonical.id, after);
    this.visibleRowByGroup.set(group, canonical.id);
    this.groupOfVisibleRow.set(canonical.id, group);
    track(canonical.id, before, after, false);
    if (roots.length > 1) delta.unmergedGroups.push(roots.map((root) => root.id));
  }

  private recomputeDeleted(
    id: string,
    key: string,
    track: (rowId: string, before: Item | undefined, after: Item | undefined, deletedList: boolean) => void,
  ): void {
    const before = this.deleted.get(id);
    const node = this.nodes.get(id);
    if (node === undefined || this.rowKeyOfNode.get(id) !== key) {
      this.deleted.delete(id);
      track(id, before, undefined, true);
      return;
    }
    const after = this.reuseIfEqual(before, this.fold([node]));
    this.deleted.set(id, after);
    track(id, before, after, true);
  }

  /**
   * One row's snapshot: the canonical item's own fields; the largest quantity
   * (in the canonical item's unit) of its live members whose amount is not yet
   * absorbed, and every distinct note of those whose note is not; everyone who
   * added any of them. An amount in a unit that does not convert ("500 g" of
   * pasta counted in packs) is kept as a note rather than compared as a bare
   * number, so it goes with the note. Checked as the latest of them says (see
   * `shownCheck`). Order-independent, so every device agrees.
   */
  private fold(roots: readonly ItemNode[]): Item {
    const canonical = roots[0] as ItemNode;
    const members = this.liveMembers(roots);
    let quantity = canonical.quantity;
    const notes = new Set<string>();
    const contributors = new Set<string>();
    const count = (node: ItemNode, amount: boolean, note: boolean): void => {
      const converted = convertAmount(node.quantity, node.unit, canonical.unit);
      if (converted !== undefined) {
        if (amount) quantity = Math.max(quantity, converted);
      }
      // A bare name ("Milk": 1, no unit) asks for some, not for one of something.
      else if (note && (node.unit.trim().length > 0 || node.quantity !== 1)) notes.add(`also ${amountText(node.quantity, node.unit)}`);
      if (note && node.note.trim().length > 0) notes.add(node.note.trim());
    };
    for (const root of roots) {
      count(root, true, true);
      if (root.addedBy.length > 0) contributors.add(root.addedBy);
    }
    for (const member of members) {
      if (member.addedBy.length > 0) contributors.add(member.addedBy);
      count(member, !member.absorbedQuantity, !member.absorbedNote);
    }
    const check = shownCheck(canonical, [...roots, ...members]);
    const others = Array.from(contributors)
      .filter((actor) => actor !== canonical.addedBy)
      .sort();
    const item: Mutable<Item> = {
      id: canonical.id,
      name: canonical.name,
      quantity,
      unit: canonical.unit,
      note: Array.from(notes).sort().join('; '),
      category: canonical.category,
      checked: check.checked,
      addedBy: canonical.addedBy,
      addedAt: canonical.addedAt,
      contributors: canonical.addedBy.length > 0 ? [canonical.addedBy, ...others] : others,
    };
    if (check.checkedBy !== undefined) item.checkedBy = check.checkedBy;
    if (check.checkedAt !== undefined) item.checkedAt = check.checkedAt;
    if (canonical.deletedAt !== undefined) item.deletedAt = canonical.deletedAt;
    if (canonical.deletedBy !== undefined) item.deletedBy = canonical.deletedBy;
    return Object.freeze(item);
  }

  /**
   * The live members folded into these roots, at any depth; not deleted ones, nor what hangs
   * under them. A deleted root also folds the members removed with it (`deletedWith`): they
   * were part of the row its remover saw, and its restore brings them back.
   */
  private liveMembers(roots: readonly ItemNode[]): ItemNode[] {
    const members: ItemNode[] = [];
    for (const root of roots) {
      const stack = [root];
      while (stack.length > 0) {
        const kids = this.children.get((stack.pop() as ItemNode).id);
        if (!kids) continue;
        for (const kidId of kids) {
          const kid = this.nodes.get(kidId);
          if (kid === undefined || this.groupOfDetachedRoot.has(kidId)) continue;
          if (kid.deletedAt !== undefined && (root.deletedAt === undefined || kid.deletedWith !== root.id)) continue;
          members.push(kid);
          stack.push(kid);
        }
      }
    }
    return members;
  }

  private reuseIfEqual(before: Item | undefined, after: Item): Item {
    if (before !== undefined && sameItemContent(before, after)) return before;
    this.sortKeys.set(
      after,
      `${after.checked ? 1 : 0}${String(categoryRank(after.category)).padStart(2, '0')}${after.name.toLowerCase()}\u0000${after.id}`,
    );
    return after;
  }

  private readonly sortKeyOf = (item: Item): string => this.sortKeys.get(item) ?? '';

  private readonly compareVisible = (a: Item, b: Item): number => {
    const keyA = this.sortKeys.get(a) ?? '';
    const keyB = this.sortKeys.get(b) ?? '';
    return keyA < keyB ? -1 : keyA > keyB ? 1 : 0;
  };
}

type Mutable<T> = { -readonly [K in keyof T]: T[K] };

/** Whether the removal of `deleted` recorded member `id` as seen (shopping-list.ts, seenMemberEntry). */
function sawMember(deleted: ItemNode, id: string): boolean {
  return `\n${deleted.deletedSeen}\n`.includes(`\n${seenMemberEntry(id)}\n`);
}

/**
 * Whose tick a row shows: the item among those it folds that was ticked, unticked or added last
 * (ties by id), so a tick on any duplicate sticks and a later add asks again, whoever typed
 * first. Documents from older versions carry no check times: they show the canonical item's,
 * as they did then.
 */
function shownCheck(canonical: ItemNode, nodes: readonly ItemNode[]): ItemNode {
  if (!nodes.some((node) => node.checkedAt !== undefined)) return canonical;
  let latest = canonical;
  for (const node of nodes) {
    const byTime = checkTime(node) - checkTime(latest);
    if (byTime > 0 || (byTime === 0 && node.id > latest.id)) latest = node;
  }
  return latest;
}

function isLiveRoot(node: ItemNode): boolean {
  return node.mergedInto === undefined && node.deletedAt === undefined;
}

function compareDeleted(a: Item, b: Item): number {
  const byTime = (b.deletedAt ?? 0) - (a.deletedAt ?? 0);
  if (byTime !== 0) return byTime;
  return a.id < b.id ? -1 : a.id > b.id ? 1 : 0;
}


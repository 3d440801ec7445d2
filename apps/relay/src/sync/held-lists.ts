/** What a list is measured by here: its size, which bounds its memory (see ListRoom.sizeBytes). */
export interface HeldList {
  readonly sizeBytes: number;
}

/**
 * The loaded lists one address's connections are on, with how many of its connections are on
 * each: its share of the room for loaded lists (MAX_LOADED_LIST_BYTES_PER_IP). A list counts in
 * full for every address holding it: a family's list held from home and from a phone's network
 * counts for both, and neither can be made to hold another's lists.
 */
export class HeldLists<List extends HeldList = HeldList> {
  private readonly connections = new Map<List, number>();

  hold(list: List): void {
    this.connections.set(list, (this.connections.get(list) ?? 0) + 1);
  }

  release(list: List): void {
    const count = this.connections.get(list);
    if (count === undefined) return;
    if (count <= 1) this.connections.delete(list);
    else this.connections.set(list, count - 1);
  }

  /** Sizes of the lists held, `except` one: one pass over the address's own lists. */
  bytes(except?: List): number {
    let total = 0;
    for (const list of this.connections.keys()) if (list !== except) total += list.sizeBytes;
    return total;
  }

  get size(): number {
    return this.connections.size;
  }
}

import type { ListStorage, SnapshotSource, StoredList } from './list-storage.js';

interface MemoryList {
  snapshot: Uint8Array | undefined;
  log: Uint8Array[];
}

/** Keeps lists in process memory: for tests and for running the relay without a disk. */
export class MemoryListStorage implements ListStorage {
  private readonly lists = new Map<string, MemoryList>();
  private closed = false;

  load(listId: string): Promise<StoredList> {
    this.assertOpen();
    const list = this.lists.get(listId);
    if (list === undefined) return Promise.resolve({ updates: [], storedBytes: 0, logBytes: 0 });
    const updates = list.snapshot === undefined ? [...list.log] : [list.snapshot, ...list.log];
    const logBytes = sumLengths(list.log);
    return Promise.resolve({ updates, storedBytes: logBytes + (list.snapshot?.length ?? 0), logBytes });
  }

  append(listId: string, updates: readonly Uint8Array[]): Promise<void> {
    this.assertOpen();
    if (updates.length === 0) return Promise.resolve();
    const list = this.lists.get(listId) ?? { snapshot: undefined, log: [] };
    list.log.push(...updates.map((u) => u.slice()));
    this.lists.set(listId, list);
    return Promise.resolve();
  }

  /** At once: in memory, no compaction waits for a turn (CompactOptions changes nothing). */
  async compact(listId: string, source: Uint8Array | SnapshotSource): Promise<void> {
    this.assertOpen();
    const snapshot = typeof source === 'function' ? await source() : source;
    if (snapshot === undefined) return;
    this.assertOpen();
    this.lists.set(listId, { snapshot: snapshot.slice(), log: [] });
  }

  release(): Promise<void> {
    return Promise.resolve();
  }

  close(): Promise<void> {
    this.closed = true;
    return Promise.resolve();
  }

  private assertOpen(): void {
    if (this.closed) throw new Error('storage is closed');
  }
}

function sumLengths(chunks: readonly Uint8Array[]): number {
  return chunks.reduce((total, c) => total + c.length, 0);
}

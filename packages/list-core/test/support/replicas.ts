import * as Y from 'yjs';
import { ShoppingList } from '../../src/index.js';
import type { Item } from '../../src/index.js';
import { FakeClock } from './test-network.js';

export interface Peer {
  readonly actor: string;
  readonly doc: Y.Doc;
  readonly list: ShoppingList;
}

/**
 * Separate replicas sharing one fake clock, each its own Y.Doc. `clientIds` fixes the Yjs
 * client ids, which decide which of two concurrent writes to one key wins.
 */
export function makePeers(
  actors: readonly string[],
  options: { retentionMs?: number; clientIds?: readonly number[] } = {},
): {
  clock: FakeClock;
  peers: Peer[];
} {
  const clock = new FakeClock();
  const peers = actors.map((actor, index) => {
    const doc = new Y.Doc();
    const clientId = options.clientIds?.[index];
    if (clientId !== undefined) doc.clientID = clientId;
    const list = new ShoppingList(doc, {
      actor,
      now: clock.now,
      ...(options.retentionMs === undefined ? {} : { tombstoneRetentionMs: options.retentionMs }),
    });
    return { actor, doc, list };
  });
  return { clock, peers };
}

/** The two orders every merge-rule test replays: A's updates reach B first, or B's reach A first. */
export const ORDERS = ['A→B first', 'B→A first'] as const;
export type Order = (typeof ORDERS)[number];

export function namesOf(items: readonly Item[]): string[] {
  return items.map((item) => item.name);
}

/** What must be identical on every replica after a full exchange. */
export function visibleState(list: ShoppingList): unknown {
  return {
    items: list.items(),
    deleted: list.deletedItems(),
    activity: list.activity(),
  };
}

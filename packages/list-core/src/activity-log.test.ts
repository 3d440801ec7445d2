import { describe, expect, it } from 'vitest';
import { deriveActivity, type StoredEvent } from './activity-log.js';

function edit(id: string, actor: string, prev: string, to: string, at: number): StoredEvent {
  return { id, kind: 'renamed', actor, at, itemId: 'item', itemName: 'Milk', field: 'name', from: 'Milk', to, prev };
}

describe('deriveActivity', () => {
  it('marks every edit that forked off the winning chain with the actor who won at the fork', () => {
    const events = [edit('a1', 'A', '', 'Oat', 1), edit('a2', 'A', 'a1', 'Oat 2', 2), edit('b1', 'B', '', 'Soy', 3)];
    const derived = deriveActivity(events, () => 'b1');
    expect(derived.map((event) => [event.id, event.overwrittenBy])).toEqual([
      ['b1', undefined],
      ['a2', 'B'],
      ['a1', 'B'],
    ]);
  });

  it('leaves sequential edits alone and ignores malformed entries from peers', () => {
    const events: unknown[] = [
      edit('a1', 'A', '', 'Oat', 1),
      edit('b1', 'B', 'a1', 'Soy', 2),
      { kind: 'added' },
      42,
      null,
      { id: 'x1', kind: 'teleported', actor: 'A', at: 3, itemId: 'item', itemName: 'Milk' },
    ];
    const derived = deriveActivity(events, () => 'b1');
    expect(derived.map((event) => event.overwrittenBy)).toEqual([undefined, undefined]);
  });

  it('collapses the same merge written by several devices', () => {
    const merge = (id: string, actor: string): StoredEvent => ({ id, kind: 'merged', actor, at: 5, itemId: 'root', itemName: 'Milk', from: 'member', to: 'root' });
    expect(deriveActivity([merge('m1', 'A'), merge('m2', 'B')], () => undefined)).toHaveLength(1);
  });

  it('keeps the merges of two different duplicates into one item', () => {
    const merge = (id: string, from: string): StoredEvent => ({ id, kind: 'merged', actor: 'A', at: 5, itemId: 'root', itemName: 'Milk', from, to: 'root' });
    expect(deriveActivity([merge('m1', 'first'), merge('m2', 'second')], () => undefined).map((event) => event.from)).toEqual(['second', 'first']);
  });
});

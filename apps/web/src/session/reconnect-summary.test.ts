import { describe, expect, it } from 'vitest';
import type { Item } from '@basket/list-core';
import { snapshotItems, summarizeRemoteChanges } from './reconnect-summary.js';

const item = (id: string, fields: Partial<Item> = {}): Item => ({
  id,
  name: id,
  quantity: 1,
  unit: '',
  note: '',
  category: 'other',
  checked: false,
  addedBy: 'Mum',
  addedAt: 1,
  contributors: ['Mum'],
  ...fields,
});

describe('reconnect summary', () => {
  it('reports what others added, checked and removed', () => {
    const before = snapshotItems([item('Bread'), item('Eggs')], [item('Old', { deletedAt: 1, deletedBy: 'Mum' })]);
    const now = new Map<string, Item>([
      ['Milk', item('Milk', { addedBy: 'Dad' })],
      ['Bread', item('Bread', { checked: true, checkedBy: 'Kid' })],
      ['Eggs', item('Eggs', { deletedAt: 5, deletedBy: 'Dad' })],
      ['Old', item('Old', { deletedAt: 1, deletedBy: 'Mum', note: 'x' })],
    ]);
    const summary = summarizeRemoteChanges(before, ['Milk', 'Bread', 'Eggs', 'Old', 'Gone'], (id) => now.get(id));
    expect(summary).toEqual({ added: ['Milk'], checked: ['Bread'], removed: ['Eggs'], by: ['Dad', 'Kid'] });
  });

  it("leaves out what this person did on another of their devices", () => {
    const before = snapshotItems([item('Bread'), item('Eggs')], []);
    const now = new Map<string, Item>([
      ['Tea', item('Tea', { addedBy: 'Mum' })],
      ['Bread', item('Bread', { checked: true, checkedBy: 'Mum' })],
      ['Eggs', item('Eggs', { deletedAt: 5, deletedBy: 'Mum' })],
    ]);
    expect(summarizeRemoteChanges(before, ['Tea', 'Bread', 'Eggs'], (id) => now.get(id), 'Mum')).toBeNull();
    expect(summarizeRemoteChanges(before, ['Tea', 'Bread', 'Eggs'], (id) => now.get(id), 'Dad')).toEqual({
      added: ['Tea'],
      checked: ['Bread'],
      removed: ['Eggs'],
      by: ['Mum'],
    });
  });

  it('says nothing when nothing a person would notice changed', () => {
    const before = snapshotItems([item('Bread')], []);
    const summary = summarizeRemoteChanges(before, ['Bread'], () => item('Bread', { quantity: 2 }));
    expect(summary).toBeNull();
  });
});

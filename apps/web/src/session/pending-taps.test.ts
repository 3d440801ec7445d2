import { describe, expect, it, vi } from 'vitest';
import * as Y from 'yjs';
import { createShoppingList } from './list-model';
import { createMemoryStore } from './device-storage';
import { keepPendingTaps } from './pending-taps';

describe('pending taps', () => {
  it('applies kept taps in order, skipping damaged entries', () => {
    const store = createMemoryStore();
    const list = createShoppingList(new Y.Doc(), 'Mum');
    const milk = list.addItem({ name: 'Milk' });
    const bread = list.addItem({ name: 'Bread' });
    store.setItem(
      'basket:pending-taps:list1',
      JSON.stringify([{ kind: 'check', id: milk, checked: true }, { kind: 'check', id: milk }, 'junk', { kind: 'remove', id: bread }, { kind: 'restore', ids: [bread] }]),
    );
    keepPendingTaps(store, 'list1').applyAll(list);
    expect(list.item(milk)?.checked).toBe(true);
    expect(list.item(bread)).toMatchObject({ name: 'Bread', checked: false }); // removed, then restored
    expect(list.items()).toHaveLength(2);
  });

  it('a tap that cannot be applied does not stop the others', () => {
    const store = createMemoryStore();
    const taps = keepPendingTaps(store, 'list2');
    const list = createShoppingList(new Y.Doc(), 'Mum');
    const eggs = list.addItem({ name: 'Eggs' });
    taps.add({ kind: 'remove', id: 'gone-already' });
    taps.add({ kind: 'check', id: eggs, checked: true });
    const warn = vi.spyOn(console, 'warn').mockImplementation(() => {});
    taps.applyAll(list);
    warn.mockRestore();
    expect(list.item(eggs)?.checked).toBe(true);
    taps.clear();
    expect(store.getItem('basket:pending-taps:list2')).toBeNull();
  });

  it('clear checked tapped on cached rows clears only the rows shown checked, not what others checked meanwhile (rule 6)', () => {
    const store = createMemoryStore();
    const list = createShoppingList(new Y.Doc(), 'Mum');
    const tea = list.addItem({ name: 'Tea' });
    const eggs = list.addItem({ name: 'Eggs' });
    list.setChecked(tea, true);
    // Mum's cached screen showed only Tea checked; Dad ticked Eggs in the shop since.
    list.setChecked(eggs, true);
    const taps = keepPendingTaps(store, 'list4');
    taps.add({ kind: 'clear-checked', ids: [tea] });
    keepPendingTaps(store, 'list4').applyAll(list);
    expect(list.items().map((item) => [item.name, item.checked])).toEqual([['Eggs', true]]);
    expect(list.deletedItems().map((item) => item.name)).toEqual(['Tea']);
  });

  it('keeps clear checked and a rename like any other tap', () => {
    const store = createMemoryStore();
    const list = createShoppingList(new Y.Doc(), 'Mum');
    const tea = list.addItem({ name: 'Tea' });
    list.addItem({ name: 'Rice' });
    list.setChecked(tea, true);
    const taps = keepPendingTaps(store, 'list3');
    taps.add({ kind: 'clear-checked' });
    taps.add({ kind: 'rename', title: 'Market' });
    keepPendingTaps(store, 'list3').applyAll(list); // as the next page would
    expect(list.title()).toBe('Market');
    expect(list.items().map((item) => item.name)).toEqual(['Rice']);
  });

  it("counts the taps waiting, an earlier page's too, each until it is applied", () => {
    const store = createMemoryStore();
    const list = createShoppingList(new Y.Doc(), 'Mum');
    const tea = list.addItem({ name: 'Tea' });
    keepPendingTaps(store, 'list5').add({ kind: 'check', id: tea, checked: true });
    const taps = keepPendingTaps(store, 'list5');
    expect(taps.waiting()).toBe(1);
    taps.add({ kind: 'remove', id: tea });
    expect(taps.waiting()).toBe(2);
    const waitingWhileApplied: number[] = [];
    list.observe(() => waitingWhileApplied.push(taps.waiting()));
    taps.applyAll(list);
    expect(waitingWhileApplied).toEqual([1, 0]);
    expect(taps.waiting()).toBe(0);
  });
});

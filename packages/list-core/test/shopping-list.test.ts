import * as Y from 'yjs';
import { describe, expect, it } from 'vitest';
import { ACTIVITY_CAP, ShoppingList } from '../src/index.js';
import type { ListChange } from '../src/index.js';
import { makePeers, namesOf } from './support/replicas.js';
import { exchange, sendState } from './support/test-network.js';

describe('ShoppingList', () => {
  it('opening a list writes nothing; the first edit writes meta', () => {
    const doc = new Y.Doc();
    const updates: Uint8Array[] = [];
    doc.on('update', (update: Uint8Array) => updates.push(update));
    const list = new ShoppingList(doc, { actor: 'A', now: () => 42 });
    expect(list.items()).toEqual([]);
    expect(list.title()).toBe('');
    expect(updates).toHaveLength(0);
    list.addItem({ name: 'Milk' });
    expect(doc.getMap('meta').toJSON()).toEqual({ schemaVersion: 1, createdAt: 42 });
  });

  it('an edit before the stored state is loaded writes no meta and no history blind: they wait for the state, and build on it', async () => {
    // Last week's list, as the device stored it: created at 1,000, Milk bought three times.
    const stored = new Y.Doc();
    const before = new ShoppingList(stored, { actor: 'Mum', now: () => 1000 });
    for (let i = 0; i < 3; i++) before.removeItem(before.addItem({ name: 'Milk' }));
    // Opened again; the person adds Milk before the stored copy is read.
    const doc = new Y.Doc();
    let stateLoaded: () => void = () => {};
    const whenStateLoaded = new Promise<void>((resolve) => (stateLoaded = resolve));
    const list = new ShoppingList(doc, { actor: 'Mum', now: () => 5000, whenStateLoaded });
    list.addItem({ name: 'Milk' });
    expect(doc.getMap('meta').size).toBe(0);
    expect(doc.getMap('history').size).toBe(0);
    expect(list.items().map((item) => item.name)).toEqual(['Milk']);
    Y.applyUpdate(doc, Y.encodeStateAsUpdate(stored));
    stateLoaded();
    await whenStateLoaded;
    expect(doc.getMap('meta').toJSON()).toEqual({ schemaVersion: 1, createdAt: 1000 });
    // Written blind, each key would hold a second value with no earlier one to follow.
    const valuesOf = (key: string): number => countMapValues(doc, doc.getMap('meta'), key);
    expect([valuesOf('schemaVersion'), valuesOf('createdAt')]).toEqual([1, 1]);
    const history = [...doc.getMap('history').values()] as Array<{ name: string; count: number }>;
    expect(history.map(({ name, count }) => [name, count])).toEqual([['Milk', 4]]);
  });

  it('a new list opened with whenStateLoaded gets its meta once the (empty) state is loaded', async () => {
    const doc = new Y.Doc();
    const list = new ShoppingList(doc, { actor: 'A', now: () => 42, whenStateLoaded: Promise.resolve() });
    await Promise.resolve();
    list.addItem({ name: 'Milk' });
    expect(doc.getMap('meta').toJSON()).toEqual({ schemaVersion: 1, createdAt: 42 });
  });

  it('stores the PRODUCT.md schema under a random id', () => {
    const doc = new Y.Doc();
    const list = new ShoppingList(doc, { actor: 'Mum', now: () => 7 });
    const id = list.addItem({ name: '  Greek yogurt ', quantity: 2, unit: 'pots', note: 'plain' });
    expect(id).toMatch(/^[A-Za-z0-9_-]{16}$/);
    const map = doc.getMap('items').get(id) as Y.Map<unknown>;
    expect(map).toBeInstanceOf(Y.Map);
    expect(map.get('name')).toBe('Greek yogurt');
    expect(map.get('quantity')).toBe(2);
    expect(map.get('unit')).toBe('pots');
    expect(map.get('note')).toBe('plain');
    expect(map.get('category')).toBe('dairy');
    expect(map.get('checked')).toBe(false);
    expect(map.get('addedBy')).toBe('Mum');
    expect(map.get('addedAt')).toBe(7);
    list.removeItem(id);
    expect(map.get('deletedAt')).toBe(7);
    expect(map.get('deletedBy')).toBe('Mum');
    expect(doc.getMap('items').get(id)).toBe(map);
  });

  it('trims the spaces a person typed around the unit and the note, and in the name', () => {
    const doc = new Y.Doc();
    const list = new ShoppingList(doc, { actor: 'Mum' });
    const id = list.addItem({ name: ' Oat   milk ', unit: ' l  ', note: '  semi-skimmed ' });
    const map = doc.getMap('items').get(id) as Y.Map<unknown>;
    expect([map.get('name'), map.get('unit'), map.get('note')]).toEqual(['Oat milk', 'l', 'semi-skimmed']);
    expect(list.item(id)).toMatchObject({ name: 'Oat milk', unit: 'l', note: 'semi-skimmed' });
    list.updateItem(id, { name: 'Soy \t milk' });
    expect(map.get('name')).toBe('Soy milk');
  });

  it('rejects an empty name and ignores invalid quantities', () => {
    const list = new ShoppingList(new Y.Doc(), { actor: 'A' });
    expect(() => list.addItem({ name: '   ' })).toThrow();
    const id = list.addItem({ name: 'Milk', quantity: -3 });
    expect(list.item(id)?.quantity).toBe(1);
    list.updateItem(id, { quantity: Number.NaN });
    expect(list.item(id)?.quantity).toBe(1);
  });

  it('saving an item without changing anything writes nothing and logs nothing', () => {
    const doc = new Y.Doc();
    const list = new ShoppingList(doc, { actor: 'A' });
    const id = list.addItem({ name: 'Milk', quantity: 2, unit: 'l', note: 'semi' });
    const updates: Uint8Array[] = [];
    doc.on('update', (update: Uint8Array) => updates.push(update));
    const activity = list.activity();
    list.updateItem(id, { name: ' Milk ', quantity: 2, unit: 'l', note: 'semi ', category: 'dairy' });
    expect(updates).toHaveLength(0);
    expect(list.activity()).toEqual(activity);
  });

  it('keeps unknown fields written by newer versions', () => {
    const doc = new Y.Doc();
    const list = new ShoppingList(doc, { actor: 'A' });
    const id = list.addItem({ name: 'Milk' });
    const map = doc.getMap('items').get(id) as Y.Map<unknown>;
    map.set('barcode', '4006381333931');
    list.updateItem(id, { name: 'Whole milk', quantity: 2 });
    list.setChecked(id, true);
    expect(map.get('barcode')).toBe('4006381333931');
  });

  it('orders unchecked items by store section then name, checked items last', () => {
    const list = new ShoppingList(new Y.Doc(), { actor: 'A' });
    list.addItem({ name: 'Toilet paper' });
    list.addItem({ name: 'milk' });
    const apples = list.addItem({ name: 'Apples' });
    list.addItem({ name: 'Bread' });
    list.addItem({ name: 'Butter' });
    list.setChecked(apples, true);
    expect(namesOf(list.items())).toEqual(['Bread', 'Butter', 'milk', 'Toilet paper', 'Apples']);
  });

  it('orders names within a section alphabetically, whatever their case', () => {
    const list = new ShoppingList(new Y.Doc(), { actor: 'A' });
    for (const name of ['Milk', 'eggs', 'Cheese', 'butter']) list.addItem({ name });
    expect(namesOf(list.items())).toEqual(['butter', 'Cheese', 'eggs', 'Milk']);
  });

  it('lists an item in a section of the family\'s own with Other, at the end', () => {
    const list = new ShoppingList(new Y.Doc(), { actor: 'A' });
    list.addItem({ name: 'Tomato seeds', category: 'garden' });
    list.addItem({ name: 'Flux capacitor' });
    list.addItem({ name: 'Rice' });
    expect(namesOf(list.items())).toEqual(['Rice', 'Flux capacitor', 'Tomato seeds']);
  });

  it('moving an item to another section shows it there at once', () => {
    const list = new ShoppingList(new Y.Doc(), { actor: 'A' });
    const tofu = list.addItem({ name: 'Tofu' });
    list.addItem({ name: 'Rice' });
    expect(namesOf(list.items())).toEqual(['Tofu', 'Rice']);
    list.updateItem(tofu, { category: 'household' });
    expect(list.item(tofu)?.category).toBe('household');
    expect(namesOf(list.items())).toEqual(['Rice', 'Tofu']);
  });

  it('items() is cached: unchanged rows keep their identity, changed ones are reported', () => {
    const { peers: [a, b] } = makePeers(['A', 'B']);
    const milk = a!.list.addItem({ name: 'Milk' });
    const eggs = a!.list.addItem({ name: 'Eggs' });
    exchange(a!.doc, b!.doc);
    const changes: ListChange[] = [];
    const stop = b!.list.observe((change) => changes.push(change));
    const before = b!.list.items();
    expect(b!.list.items()).toBe(before);
    a!.list.setChecked(milk, true);
    sendState(a!.doc, b!.doc);
    const after = b!.list.items();
    expect(after).not.toBe(before);
    expect(after.find((item) => item.id === eggs)).toBe(before.find((item) => item.id === eggs));
    expect(after.find((item) => item.id === milk)?.checked).toBe(true);
    expect(changes).toHaveLength(1);
    expect([...changes[0]!.changedIds]).toEqual([milk]);
    expect(changes[0]!.remote).toBe(true);
    b!.list.setChecked(eggs, true);
    expect(changes[1]!.remote).toBe(false);
    stop();
    b!.list.setChecked(eggs, false);
    expect(changes).toHaveLength(2);
  });

  it('adding a name already on the list folds into it and asks for it again', () => {
    const list = new ShoppingList(new Y.Doc(), { actor: 'A' });
    const milk = list.addItem({ name: 'Milk', quantity: 1 });
    list.setChecked(milk, true);
    expect(list.addItem({ name: 'milks', quantity: 2 })).toBe(milk);
    expect(list.items().map((item) => [item.name, item.quantity, item.checked])).toEqual([['Milk', 2, false]]);
  });

  it('editing a merged item starts from the merged values and can lower the quantity', () => {
    const { peers: [a, b] } = makePeers(['A', 'B']);
    const milk = a!.list.addItem({ name: 'Milk', quantity: 1, note: 'semi' });
    b!.list.addItem({ name: 'Milk', quantity: 4, note: 'oat' });
    exchange(a!.doc, b!.doc);
    const row = a!.list.items()[0]!;
    expect(row.quantity).toBe(4);
    a!.list.updateItem(row.id, { quantity: 2 });
    exchange(a!.doc, b!.doc);
    for (const peer of [a!, b!]) {
      expect(peer.list.items().map((item) => [item.quantity, item.note])).toEqual([[2, 'oat; semi']]);
    }
    expect(a!.list.item(milk)?.id).toBe(row.id);
  });

  it('editing a merged item\'s note leaves its quantity folded, and a rename leaves both', () => {
    const { clock, peers: [a, b] } = makePeers(['A', 'B']);
    a!.list.addItem({ name: 'Pasta', quantity: 1, unit: 'packs', note: 'penne' });
    clock.advance(10);
    b!.list.addItem({ name: 'pasta', quantity: 3, unit: 'packs', note: 'fusilli' });
    b!.list.addItem({ name: 'pasta', quantity: 500, unit: 'g' });
    exchange(a!.doc, b!.doc);
    const row = a!.list.items()[0]!.id;
    expect(a!.list.items().map((item) => [item.quantity, item.note])).toEqual([[3, 'also 500 g; fusilli; penne']]);
    a!.list.updateItem(row, { name: 'Pasta shells' });
    expect(a!.list.items().map((item) => [item.quantity, item.note])).toEqual([[3, 'also 500 g; fusilli; penne']]);
    a!.list.updateItem(row, { note: 'any shape' });
    expect(a!.list.items().map((item) => [item.quantity, item.note])).toEqual([[3, 'any shape']]);
    a!.list.updateItem(row, { quantity: 2 });
    exchange(a!.doc, b!.doc);
    for (const peer of [a!, b!]) expect(peer.list.items().map((item) => [item.quantity, item.note])).toEqual([[2, 'any shape']]);
  });

  it('a member an older version marked absorbed (absorbed: true) counts for neither quantity nor note', () => {
    const doc = new Y.Doc();
    for (const [id, quantity, note, extra] of [
      ['aaaaaaaaaaaa', 2, 'semi', {}],
      ['bbbbbbbbbbbb', 4, 'oat', { mergedInto: 'aaaaaaaaaaaa', mergedAt: 6, absorbed: true }],
    ] as const) {
      const map = new Y.Map<unknown>();
      for (const [key, value] of Object.entries({ name: 'Milk', quantity, note, addedBy: 'A', addedAt: 5, ...extra })) map.set(key, value);
      doc.getMap('items').set(id, map);
    }
    const list = new ShoppingList(doc, { actor: 'C', now: () => 10 });
    expect(list.items().map((item) => [item.id, item.quantity, item.note])).toEqual([['aaaaaaaaaaaa', 2, 'semi']]);
  });

  it('clearChecked returns the ids it removed and restoreItems undoes it', () => {
    const list = new ShoppingList(new Y.Doc(), { actor: 'A' });
    const bread = list.addItem({ name: 'Bread' });
    const eggs = list.addItem({ name: 'Eggs' });
    list.addItem({ name: 'Milk' });
    list.setChecked(bread, true);
    list.setChecked(eggs, true);
    const cleared = list.clearChecked();
    expect(cleared.sort()).toEqual([bread, eggs].sort());
    expect(namesOf(list.items())).toEqual(['Milk']);
    list.restoreItems(cleared);
    expect(namesOf(list.items())).toEqual(['Milk', 'Bread', 'Eggs']);
  });

  it('a restored item carries no trace of its removal, in the document or on screen', () => {
    const { clock, peers: [mum, dad] } = makePeers(['Mum', 'Dad']);
    const milk = mum!.list.addItem({ name: 'Milk' });
    clock.advance(1);
    dad!.list.addItem({ name: 'milk' });
    exchange(mum!.doc, dad!.doc);
    dad!.list.removeItem(milk);
    exchange(mum!.doc, dad!.doc);
    mum!.list.restoreItem(milk);
    exchange(mum!.doc, dad!.doc);
    for (const peer of [mum!, dad!]) {
      const shown = peer.list.items();
      expect(shown.map((item) => [item.name, item.deletedAt, item.deletedBy])).toEqual([['Milk', undefined, undefined]]);
      for (const [id, map] of peer.doc.getMap('items').entries()) {
        expect([id, [...(map as Y.Map<unknown>).keys()].filter((key) => key.startsWith('deleted'))]).toEqual([id, []]);
      }
    }
  });

  it('undoing Clear checked after someone added the item again brings it back to buy, not checked', () => {
    const { clock, peers: [mum, dad] } = makePeers(['Mum', 'Dad']);
    const bread = mum!.list.addItem({ name: 'Bread' });
    mum!.list.setChecked(bread, true);
    exchange(mum!.doc, dad!.doc);
    clock.advance(1000);
    const cleared = mum!.list.clearChecked();
    exchange(mum!.doc, dad!.doc);
    clock.advance(2000);
    dad!.list.addItem({ name: 'Bread' });
    exchange(mum!.doc, dad!.doc);
    clock.advance(2000);
    mum!.list.restoreItems(cleared);
    exchange(mum!.doc, dad!.doc);
    for (const peer of [mum!, dad!]) expect(peer.list.items().map((item) => [item.name, item.checked])).toEqual([['Bread', false]]);
  });

  it('unticking an item ticked on a phone whose clock runs ahead takes effect', () => {
    const { clock, peers: [a] } = makePeers(['A']);
    const b = new ShoppingList(new Y.Doc(), { actor: 'B', now: () => clock.now() + 10 * 60_000 });
    const milk = a!.list.addItem({ name: 'Milk' });
    clock.advance(1);
    b.setChecked(b.addItem({ name: 'Milk' }), true);
    exchange(a!.doc, b.doc);
    expect(a!.list.item(milk)?.checked).toBe(true);
    clock.advance(1);
    a!.list.setChecked(milk, false);
    expect(a!.list.item(milk)?.checked).toBe(false);
    exchange(a!.doc, b.doc);
    expect(b.item(milk)?.checked).toBe(false);
    b.setChecked(milk, true);
    exchange(a!.doc, b.doc);
    clock.advance(1);
    a!.list.addItem({ name: 'milk' });
    expect(a!.list.item(milk)?.checked).toBe(false);
  });

  it('a Milk ticked on one phone and typed again on another in the same millisecond shows the same tick whichever arrived first', () => {
    const rows = [['ticked', 'typed'], ['typed', 'ticked']].map((order) => {
      const doc = new Y.Doc();
      const list = new ShoppingList(doc, { actor: 'C', now: () => 100 });
      const write = (id: string, fields: Record<string, unknown>): void => {
        const map = new Y.Map<unknown>();
        for (const [key, value] of Object.entries({ name: 'Milk', quantity: 1, checked: false, ...fields })) map.set(key, value);
        doc.getMap('items').set(id, map);
      };
      write('aaaaaaaaaaaa', { addedBy: 'A', addedAt: 1 });
      const duplicates = {
        ticked: () => write('bbbbbbbbbbbb', { addedBy: 'B', addedAt: 2, checked: true, checkedBy: 'B', checkedAt: 5, mergedInto: 'aaaaaaaaaaaa', mergedAt: 6 }),
        typed: () => write('cccccccccccc', { addedBy: 'C', addedAt: 5, mergedInto: 'aaaaaaaaaaaa', mergedAt: 6 }),
      };
      for (const which of order) duplicates[which as keyof typeof duplicates]();
      return list.items();
    });
    expect(rows[0]).toHaveLength(1);
    expect(rows[1]).toEqual(rows[0]);
  });

  it('a merged item checked by an older version (no checkedAt) stays checked', () => {
    const doc = new Y.Doc();
    for (const [id, extra] of [
      ['aaaaaaaaaaaa', { addedAt: 5, checked: true, checkedBy: 'A' }],
      ['bbbbbbbbbbbb', { addedAt: 6, checked: false, mergedInto: 'aaaaaaaaaaaa', mergedAt: 6 }],
    ] as const) {
      const map = new Y.Map<unknown>();
      for (const [key, value] of Object.entries({ name: 'Milk', quantity: 1, addedBy: 'A', ...extra })) map.set(key, value);
      doc.getMap('items').set(id, map);
    }
    const list = new ShoppingList(doc, { actor: 'C', now: () => 10 });
    expect(list.items().map((item) => [item.id, item.checked, item.checkedBy])).toEqual([['aaaaaaaaaaaa', true, 'A']]);
  });

  it('deletedItems() is newest first', () => {
    let now = 1;
    const list = new ShoppingList(new Y.Doc(), { actor: 'A', now: () => now++ });
    const first = list.addItem({ name: 'Bread' });
    const second = list.addItem({ name: 'Eggs' });
    list.removeItem(first);
    list.removeItem(second);
    expect(namesOf(list.deletedItems())).toEqual(['Eggs', 'Bread']);
  });

  it('remembers a category a person sets for a name', () => {
    const { peers: [a, b] } = makePeers(['A', 'B']);
    const id = a!.list.addItem({ name: 'Tofu' });
    expect(a!.list.item(id)?.category).toBe('meat-fish');
    a!.list.updateItem(id, { category: 'dairy' });
    exchange(a!.doc, b!.doc);
    expect(b!.list.categoryFor('tofu')).toBe('dairy');
    a!.list.removeItem(id);
    exchange(a!.doc, b!.doc);
    const again = b!.list.addItem({ name: 'Tofu' });
    expect(b!.list.item(again)?.category).toBe('dairy');
  });

  it('renaming an item and moving it to another section in one edit remembers the section for the new name', () => {
    const list = new ShoppingList(new Y.Doc(), { actor: 'A' });
    const id = list.addItem({ name: 'Tofu' });
    list.updateItem(id, { name: 'Smoked tofu', category: 'pantry' });
    expect(list.item(id)?.category).toBe('pantry');
    expect(list.categoryFor('smoked tofu')).toBe('pantry');
    expect(list.categoryFor('tofu')).toBe('meat-fish');
  });

  it('suggests previously added names, most frequent first, including deleted ones', () => {
    const { clock, peers: [a, b] } = makePeers(['A', 'B']);
    const milk = a!.list.addItem({ name: 'Milk' });
    a!.list.removeItem(milk);
    clock.advance(1);
    b!.list.addItem({ name: 'Mint' });
    clock.advance(1);
    b!.list.addItem({ name: 'Milk' });
    a!.list.addItem({ name: 'Mushrooms' });
    exchange(a!.doc, b!.doc);
    expect(a!.list.suggest('mi')).toEqual(['Milk', 'Mint']);
    expect(a!.list.suggest('M', 2)).toEqual(['Milk', 'Mushrooms']);
    expect(a!.list.suggest('room')).toEqual(['Mushrooms']);
  });

  it('suggests the name a person added more often before a more recent one', () => {
    const { clock, peers: [a] } = makePeers(['A']);
    for (let time = 0; time < 2; time++) {
      a!.list.removeItem(a!.list.addItem({ name: 'Mint' }));
      clock.advance(1);
    }
    a!.list.addItem({ name: 'Milk' });
    expect(a!.list.suggest('mi')).toEqual(['Mint', 'Milk']);
  });

  it('keeps the activity log capped, newest first, and concurrent trims converge', () => {
    const { clock, peers: [a, b] } = makePeers(['A', 'B']);
    const milk = a!.list.addItem({ name: 'Milk' });
    exchange(a!.doc, b!.doc);
    for (let index = 0; index < ACTIVITY_CAP; index++) {
      clock.advance(1);
      a!.list.setChecked(milk, index % 2 === 0);
      b!.list.updateItem(milk, { note: `note ${index}` });
    }
    exchange(a!.doc, b!.doc);
    expect(a!.list.activity()).toEqual(b!.list.activity());
    a!.list.setChecked(milk, true);
    expect(a!.list.activity().length).toBeLessThanOrEqual(ACTIVITY_CAP);
    expect(a!.list.activity(1)[0]?.kind).toBe('checked');
    const times = a!.list.activity().map((event) => event.at);
    expect(times).toEqual([...times].sort((x, y) => y - x));
  });

  it('records who did what in the activity log', () => {
    const list = new ShoppingList(new Y.Doc(), { actor: 'Dad', now: () => 1 });
    const id = list.addItem({ name: 'Milk' });
    list.updateItem(id, { name: 'Oat milk' });
    list.setChecked(id, true);
    list.removeItem(id);
    list.restoreItem(id);
    expect(list.activity().map((event) => [event.kind, event.actor])).toEqual([
      ['restored', 'Dad'],
      ['removed', 'Dad'],
      ['checked', 'Dad'],
      ['renamed', 'Dad'],
      ['added', 'Dad'],
    ]);
    expect(list.activity().find((event) => event.kind === 'renamed')).toMatchObject({ from: 'Milk', to: 'Oat milk' });
  });

  it('logs a tick and an untick as what they are', () => {
    const list = new ShoppingList(new Y.Doc(), { actor: 'Kid', now: () => 1 });
    const id = list.addItem({ name: 'Milk' });
    list.setChecked(id, true);
    list.setChecked(id, false);
    expect(list.activity().map((event) => [event.kind, event.actor, event.itemName])).toEqual([
      ['unchecked', 'Kid', 'Milk'],
      ['checked', 'Kid', 'Milk'],
      ['added', 'Kid', 'Milk'],
    ]);
  });

  it('removing an item that is already in Recently deleted changes nothing', () => {
    const { clock, peers: [mum, dad] } = makePeers(['Mum', 'Dad']);
    const milk = mum!.list.addItem({ name: 'Milk' });
    mum!.list.removeItem(milk);
    exchange(mum!.doc, dad!.doc);
    const updates: Uint8Array[] = [];
    dad!.doc.on('update', (update: Uint8Array) => updates.push(update));
    clock.advance(1000);
    dad!.list.removeItem(milk);
    expect(updates).toHaveLength(0);
    expect(dad!.list.deletedItems().map((item) => [item.name, item.deletedBy])).toEqual([['Milk', 'Mum']]);
  });

  it('setActor: later edits are by the new name, earlier ones keep theirs, and the list stays open', () => {
    const doc = new Y.Doc();
    const list = new ShoppingList(doc, { actor: 'Guest 1A2B', now: () => 1 });
    const changes: ListChange[] = [];
    list.observe((change) => changes.push(change));
    const milk = list.addItem({ name: 'Milk' });
    list.removeItem(milk);
    list.setActor('Dad');
    expect(list.actor).toBe('Dad');
    list.restoreItem(milk);
    const eggs = list.addItem({ name: 'Eggs' });
    expect(list.activity().map((event) => [event.kind, event.actor])).toEqual([
      ['added', 'Dad'],
      ['restored', 'Dad'],
      ['removed', 'Guest 1A2B'],
      ['added', 'Guest 1A2B'],
    ]);
    expect(list.item(eggs)?.addedBy).toBe('Dad');
    expect(list.item(milk)?.addedBy).toBe('Guest 1A2B');
    expect(changes).toHaveLength(4);
  });

  it('notices can be observed and dismissed', () => {
    const { peers: [a, b] } = makePeers(['A', 'B']);
    const butter = a!.list.addItem({ name: 'Butter' });
    exchange(a!.doc, b!.doc);
    const heard: string[] = [];
    a!.list.onNotice((notice) => heard.push(notice.message));
    a!.list.updateItem(butter, { quantity: 2 });
    b!.list.removeItem(butter);
    exchange(b!.doc, a!.doc);
    expect(heard).toEqual(['B removed Butter that you changed']);
    a!.list.dismissNotice(a!.list.notices()[0]!.id);
    expect(a!.list.notices()).toEqual([]);
  });

  it('setTitle writes meta.name; destroy detaches', () => {
    const doc = new Y.Doc();
    const list = new ShoppingList(doc, { actor: 'A' });
    let calls = 0;
    list.observe(() => calls++);
    list.setTitle(' Weekend ');
    expect(list.title()).toBe('Weekend');
    expect(calls).toBe(1);
    list.destroy();
    doc.getMap('items').set('x', new Y.Map());
    expect(calls).toBe(1);
  });

  it('shows a peer\'s item with no, zero or negative quantity as 1, and with no category under Other', () => {
    const doc = new Y.Doc();
    const list = new ShoppingList(doc, { actor: 'A' });
    doc.transact(() => {
      for (const [id, name, quantity] of [
        ['zero', 'Bread', 0],
        ['negative', 'Eggs', -2],
        ['missing', 'Milk', undefined],
      ] as const) {
        const map = new Y.Map<unknown>();
        map.set('name', name);
        if (quantity !== undefined) map.set('quantity', quantity);
        map.set('addedBy', 'B');
        map.set('addedAt', 1);
        doc.getMap('items').set(id, map);
      }
    });
    expect(list.items().map((item) => [item.name, item.quantity, item.category])).toEqual([
      ['Bread', 1, 'other'],
      ['Eggs', 1, 'other'],
      ['Milk', 1, 'other'],
    ]);
  });

  it('ignores garbage written by a misbehaving peer', () => {
    const doc = new Y.Doc();
    const list = new ShoppingList(doc, { actor: 'A' });
    doc.transact(() => {
      doc.getMap('items').set('not-a-map', 5);
      const weird = new Y.Map<unknown>();
      weird.set('name', 12);
      weird.set('quantity', 'lots');
      weird.set('mergedInto', 'weird');
      doc.getMap('items').set('weird', weird);
      doc.getMap('activity').set('junk', { nonsense: true });
    });
    expect(list.items()).toEqual([]);
    expect(list.activity()).toEqual([]);
    expect(() => list.purgeTombstones()).not.toThrow();
  });
});

describe('a phone whose clock is wrong', () => {
  const DAY = 24 * 60 * 60 * 1000;

  /** A with a right clock, B with one two months behind (a phone whose date was reset). */
  function skewedPair() {
    const clock = { trueTime: 1_750_000_000_000 };
    const docA = new Y.Doc();
    const docB = new Y.Doc();
    const a = new ShoppingList(docA, { actor: 'A', now: () => clock.trueTime });
    const b = new ShoppingList(docB, { actor: 'B', now: () => clock.trueTime - 60 * DAY });
    return { clock, docA, docB, a, b };
  }

  it('removes an item that then stays in Recently deleted on every phone for the retention period, not purged at once', () => {
    const { clock, docA, docB, a, b } = skewedPair();
    const milk = a.addItem({ name: 'Milk' });
    exchange(docA, docB);
    clock.trueTime += 1000;
    b.removeItem(milk);
    exchange(docA, docB);
    expect(a.purgeTombstones()).toBe(0);
    expect(namesOf(a.deletedItems())).toEqual(['Milk']);
    exchange(docA, docB);
    expect(namesOf(b.deletedItems())).toEqual(['Milk']);
    // Past the retention period (from when A saw it go), it goes as any removal does.
    clock.trueTime += 31 * DAY;
    expect(a.purgeTombstones()).toBe(1);
    expect(a.deletedItems()).toEqual([]);
  });

  it('still records its removals at its own time, and one with a right clock records nothing more', () => {
    const { clock, docA, docB, a, b } = skewedPair();
    const milk = a.addItem({ name: 'Milk' });
    const eggs = a.addItem({ name: 'Eggs' });
    exchange(docA, docB);
    clock.trueTime += 1000;
    b.removeItem(milk);
    a.removeItem(eggs);
    exchange(docA, docB);
    const removedAt = new Map(a.deletedItems().map((item) => [item.name, item.deletedAt]));
    expect(removedAt.get('Milk')).toBe(clock.trueTime - 60 * DAY);
    expect(removedAt.get('Eggs')).toBe(clock.trueTime);
    const eggsMap = docA.getMap('items').get(eggs) as Y.Map<unknown>;
    expect([...eggsMap.keys()].filter((key) => key.startsWith('deleted')).sort()).toEqual(['deletedAt', 'deletedBy', 'deletedSeen']);
  });

  it('that wrote something before it heard from the others still keeps its removal in Recently deleted', () => {
    const { clock, docA, docB, a, b } = skewedPair();
    b.addItem({ name: 'Eggs' });
    const milk = a.addItem({ name: 'Milk' });
    exchange(docA, docB);
    clock.trueTime += 1000;
    b.removeItem(milk);
    exchange(docA, docB);
    expect(a.purgeTombstones()).toBe(0);
    expect(namesOf(a.deletedItems())).toEqual(['Milk']);
  });

  it('a removal it made and someone restored leaves no trace of it in the document', () => {
    const { clock, docA, docB, a, b } = skewedPair();
    const milk = a.addItem({ name: 'Milk' });
    exchange(docA, docB);
    clock.trueTime += 1000;
    b.removeItem(milk);
    exchange(docA, docB);
    a.restoreItem(milk);
    exchange(docA, docB);
    for (const doc of [docA, docB]) {
      const map = doc.getMap('items').get(milk) as Y.Map<unknown>;
      expect([...map.keys()].filter((key) => key.startsWith('deleted'))).toEqual([]);
    }
    expect(namesOf(b.items())).toEqual(['Milk']);
  });
});

describe('clearChecked with the ids a person saw checked', () => {
  it('clears only those still checked, leaving what was checked since and what was unticked', () => {
    const list = new ShoppingList(new Y.Doc(), { actor: 'Mum' });
    const tea = list.addItem({ name: 'Tea' });
    const rice = list.addItem({ name: 'Rice' });
    const eggs = list.addItem({ name: 'Eggs' });
    list.setChecked(tea, true);
    list.setChecked(eggs, true);
    expect(list.clearChecked([tea, rice, 'no-such-item'])).toEqual([tea]);
    expect(namesOf(list.items())).toEqual(['Rice', 'Eggs']);
    expect(list.clearChecked()).toEqual([eggs]);
  });
});

/** How many values (current or overwritten) the document holds for `key` of `map`. */
function countMapValues(doc: Y.Doc, map: Y.Map<unknown>, key: string): number {
  let count = 0;
  for (const structs of doc.store.clients.values()) {
    for (const struct of structs) if (struct instanceof Y.Item && struct.parent === map && struct.parentSub === key) count += 1;
  }
  return count;
}

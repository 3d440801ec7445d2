import * as Y from 'yjs';
import { describe, expect, it } from 'vitest';
import { ShoppingList } from '../src/index.js';
import { ORDERS, makePeers, namesOf, visibleState, type Order, type Peer } from './support/replicas.js';
import { exchange, sendState } from './support/test-network.js';

const DAY = 24 * 60 * 60 * 1000;
/** Yjs client ids for A and B, both ways round: they decide which of two concurrent writes to one key wins. */
const CLIENT_ID_ORDERS = [
  [1, 2],
  [2, 1],
] as const;

/** Full exchange between a and b, the first message going in the given direction. */
function sync(order: Order, a: Peer, b: Peer, ...more: Peer[]): void {
  if (order === 'A→B first') exchange(a.doc, b.doc, ...more.map((peer) => peer.doc));
  else exchange(b.doc, a.doc, ...more.map((peer) => peer.doc));
}


/** Writes an item straight into a document, as another phone (or an older version) left it. */
function writeItem(doc: Y.Doc, id: string, fields: Record<string, unknown>): void {
  const map = new Y.Map<unknown>();
  for (const [key, value] of Object.entries({ name: 'Milk', quantity: 1, checked: false, ...fields })) map.set(key, value);
  doc.getMap('items').set(id, map);
}

function expectConverged(...peers: Peer[]): void {
  const [first, ...rest] = peers;
  for (const peer of rest) expect(visibleState(peer.list)).toEqual(visibleState(first!.list));
}

describe.each(ORDERS)('merge rules, %s', (order) => {
  it('rule 1: A adds Milk while B adds Eggs → both items on both replicas', () => {
    const { peers: [a, b] } = makePeers(['A', 'B']);
    a!.list.addItem({ name: 'Milk' });
    b!.list.addItem({ name: 'Eggs' });
    sync(order, a!, b!);
    expect(namesOf(a!.list.items())).toEqual(['Eggs', 'Milk']);
    expectConverged(a!, b!);
  });

  it('rule 2: A adds "Milk", B adds "milks " → one Milk, larger quantity, both contributors and notes, A told', () => {
    const { peers: [a, b] } = makePeers(['A', 'B']);
    a!.list.addItem({ name: 'Milk', quantity: 1, note: 'semi-skimmed' });
    b!.list.addItem({ name: 'milks ', quantity: 3, note: 'lactose free' });
    sync(order, a!, b!);
    for (const peer of [a!, b!]) {
      expect(peer.list.items()).toHaveLength(1);
      const milk = peer.list.items()[0]!;
      expect(milk.quantity).toBe(3);
      expect([...milk.contributors].sort()).toEqual(['A', 'B']);
      expect(milk.note).toContain('semi-skimmed');
      expect(milk.note).toContain('lactose free');
    }
    expectConverged(a!, b!);
    expect(a!.list.notices().map((notice) => notice.message)).toContain('B merged your Milk with theirs');
    expect(b!.list.notices().map((notice) => notice.message)).toContain('A merged your milks with theirs');
  });

  it('rule 2: the merge is told once: not again when the list is loaded from the stored copy or on another device', () => {
    const { peers: [a, b] } = makePeers(['A', 'B']);
    a!.list.addItem({ name: 'Milk' });
    b!.list.addItem({ name: 'milks', quantity: 3 });
    sync(order, a!, b!);
    const reopened = new ShoppingList(new Y.Doc(), { actor: 'A' });
    Y.applyUpdate(reopened.doc, Y.encodeStateAsUpdate(a!.doc), 'stored copy');
    expect(reopened.items()).toHaveLength(1);
    expect(reopened.notices()).toEqual([]);
    reopened.destroy();
  });

  it('rule 2: tomato/tomatoes and berry/berries on three replicas merge the same way everywhere', () => {
    const { clock, peers: [a, b, c] } = makePeers(['A', 'B', 'C']);
    a!.list.addItem({ name: 'tomato', quantity: 2 });
    clock.advance(1);
    b!.list.addItem({ name: 'Tomatoes', quantity: 5 });
    c!.list.addItem({ name: 'berries' });
    clock.advance(1);
    a!.list.addItem({ name: 'Berry', quantity: 4 });
    // Pairwise first, so devices write different partial merges concurrently.
    sendState(a!.doc, b!.doc);
    sendState(c!.doc, b!.doc);
    sendState(b!.doc, c!.doc);
    sync(order, a!, b!, c!);
    expectConverged(a!, b!, c!);
    expect(a!.list.items().map((item) => [item.name, item.quantity])).toEqual([
      ['tomato', 5],
      ['berries', 4],
    ].sort((x, y) => (String(x[0]).toLowerCase() < String(y[0]).toLowerCase() ? -1 : 1)));
  });

  it('rule 2: merging is idempotent and a merged duplicate never comes back after renames, removals and later syncs', () => {
    const { clock, peers: [a, b, c] } = makePeers(['A', 'B', 'C']);
    a!.list.addItem({ name: 'Milk' });
    b!.list.addItem({ name: 'milk', quantity: 2 });
    c!.list.addItem({ name: 'MILK', quantity: 3 });
    sync(order, a!, b!);
    sync(order, b!, c!);
    sync(order, a!, b!, c!);
    expectConverged(a!, b!, c!);
    expect(a!.list.items()).toHaveLength(1);
    const milkId = a!.list.items()[0]!.id;
    clock.advance(10);
    a!.list.updateItem(milkId, { name: 'Oat milk' });
    sync(order, a!, b!, c!);
    expect(namesOf(c!.list.items())).toEqual(['Oat milk']);
    expect(c!.list.items()[0]!.quantity).toBe(3);
    b!.list.removeItem(milkId);
    sync(order, a!, b!, c!);
    for (const peer of [a!, b!, c!]) {
      expect(peer.list.items()).toEqual([]);
      expect(peer.list.deletedItems()).toHaveLength(1);
    }
    // A fourth device that saw none of it still ends with no Milk.
    const late = new Y.Doc();
    const lateList = new ShoppingList(late, { actor: 'D', now: clock.now });
    sync(order, a!, { actor: 'D', doc: late, list: lateList }, b!, c!);
    expect(lateList.items()).toEqual([]);
    c!.list.restoreItem(milkId);
    sync(order, a!, b!, c!);
    expect(namesOf(a!.list.items())).toEqual(['Oat milk']);
    expectConverged(a!, b!, c!);
  });

  it('rule 2: a device that had not seen the merge renames its duplicate → still one item after sync', () => {
    const { clock, peers: [a, b] } = makePeers(['A', 'B']);
    a!.list.addItem({ name: 'Milk', quantity: 2 });
    clock.advance(5);
    const theirs = b!.list.addItem({ name: 'milk' });
    sendState(b!.doc, a!.doc);
    expect(a!.list.items()).toHaveLength(1);
    b!.list.updateItem(theirs, { name: 'Oat milk' });
    sync(order, a!, b!);
    expectConverged(a!, b!);
    expect(a!.list.items().map((item) => [item.name, item.quantity])).toEqual([['Milk', 2]]);
  });

  it('rule 2: no name is shown twice even before any device wrote the merge', () => {
    const raw1 = new Y.Doc();
    const raw2 = new Y.Doc();
    for (const [doc, id, name, quantity] of [
      [raw1, 'aaaaaaaaaaaa', 'Milk', 1],
      [raw2, 'bbbbbbbbbbbb', ' milks', 2],
    ] as const) {
      const map = new Y.Map<unknown>();
      map.set('name', name);
      map.set('quantity', quantity);
      map.set('addedBy', id === 'aaaaaaaaaaaa' ? 'A' : 'B');
      map.set('addedAt', 5);
      doc.getMap('items').set(id, map);
    }
    const merged = new Y.Doc();
    if (order === 'A→B first') {
      sendState(raw1, merged);
      sendState(raw2, merged);
    } else {
      sendState(raw2, merged);
      sendState(raw1, merged);
    }
    const updates: Uint8Array[] = [];
    merged.on('update', (update: Uint8Array) => updates.push(update));
    const list = new ShoppingList(merged, { actor: 'C', now: () => 10 });
    expect(list.items().map((item) => [item.id, item.quantity])).toEqual([['aaaaaaaaaaaa', 2]]);
    expect(updates).toHaveLength(0);
  });

  it('rule 2: renaming the first Milk on a list opened with two Milks not yet merged in the document → still one item, renamed', () => {
    const doc = new Y.Doc();
    const items = [
      ['aaaaaaaaaaaa', { addedBy: 'A', addedAt: 5 }],
      ['bbbbbbbbbbbb', { name: ' milks', quantity: 2, addedBy: 'B', addedAt: 6 }],
    ] as const;
    for (const [id, fields] of order === 'A→B first' ? items : [...items].reverse()) writeItem(doc, id, fields);
    const list = new ShoppingList(doc, { actor: 'C', now: () => 10 });
    expect(list.items().map((item) => [item.id, item.quantity])).toEqual([['aaaaaaaaaaaa', 2]]);
    // The rename moves the first Milk out of the name group: the other must be merged into it first.
    list.updateItem('aaaaaaaaaaaa', { name: 'Oat milk' });
    expect(list.items().map((item) => [item.name, item.quantity, item.contributors])).toEqual([['Oat milk', 2, ['A', 'B']]]);
    const other = new ShoppingList(new Y.Doc(), { actor: 'D', now: () => 20 });
    sendState(doc, other.doc);
    expect(other.items().map((item) => [item.name, item.quantity])).toEqual([['Oat milk', 2]]);
  });

  it('rule 2: a tick on a merged Milk shows although a phone whose clock runs ahead added its duplicate "later", whichever of the two ids is larger', () => {
    for (const [older, newer] of [
      ['aaaaaaaaaaaa', 'zzzzzzzzzzzz'],
      ['zzzzzzzzzzzz', 'aaaaaaaaaaaa'],
    ] as const) {
      const doc = new Y.Doc();
      const items = [
        [older, { addedBy: 'A', addedAt: 100 }],
        [newer, { addedBy: 'B', addedAt: 5_000, mergedInto: older, mergedAt: 5_000 }],
      ] as const;
      for (const [id, fields] of order === 'A→B first' ? items : [...items].reverse()) writeItem(doc, id, fields);
      // A's clock reads 1 000: the tick must still come after B's add at 5 000, not tie with it.
      const list = new ShoppingList(doc, { actor: 'A', now: () => 1_000 });
      list.setChecked(older, true);
      expect({ older, shown: list.items().map((item) => [item.id, item.checked, item.checkedBy]) }).toEqual({
        older,
        shown: [[older, true, 'A']],
      });
    }
  });

  it('rule 2 with units: the larger amount in the first item\'s unit; an amount that does not convert is kept as a note', () => {
    const { clock, peers: [a, b] } = makePeers(['A', 'B']);
    a!.list.addItem({ name: 'Milk', quantity: 1, unit: 'l' });
    a!.list.addItem({ name: 'Sugar', quantity: 1, unit: 'kg' });
    a!.list.addItem({ name: 'Pasta', quantity: 2, unit: 'packs' });
    clock.advance(1000);
    b!.list.addItem({ name: 'milk', quantity: 500, unit: 'ml' });
    b!.list.addItem({ name: 'sugar', quantity: 1500, unit: 'g' });
    b!.list.addItem({ name: 'pasta', quantity: 500, unit: 'g' });
    sync(order, a!, b!);
    for (const peer of [a!, b!]) {
      expect(peer.list.items().map((item) => [item.name, item.quantity, item.unit, item.note])).toEqual([
        ['Milk', 1, 'l', ''],
        ['Pasta', 2, 'packs', 'also 500 g'],
        ['Sugar', 1.5, 'kg', ''],
      ]);
    }
    expectConverged(a!, b!);
  });

  it('rule 2 with units: a duplicate typed as a bare name ("Eggs") asks for some and adds no "also" note; "3 eggs" does', () => {
    const { clock, peers: [a, b] } = makePeers(['A', 'B']);
    a!.list.addItem({ name: 'Eggs', quantity: 1, unit: 'box' });
    a!.list.addItem({ name: 'Rice', quantity: 1, unit: 'bag' });
    clock.advance(1000);
    b!.list.addItem({ name: 'eggs' });
    b!.list.addItem({ name: 'rice', quantity: 3 });
    sync(order, a!, b!);
    for (const peer of [a!, b!]) {
      expect(peer.list.items().map((item) => [item.name, item.quantity, item.unit, item.note])).toEqual([
        ['Eggs', 1, 'box', ''],
        ['Rice', 1, 'bag', 'also 3'],
      ]);
    }
  });

  it('rule 2: B adds Milk, A (offline) adds Milk later and checks it off → one Milk, checked, everywhere', () => {
    const { clock, peers: [a, b] } = makePeers(['A', 'B']);
    b!.list.addItem({ name: 'Milk' });
    clock.advance(60_000);
    const milk = a!.list.addItem({ name: 'Milk' });
    clock.advance(60_000);
    a!.list.setChecked(milk, true);
    sync(order, a!, b!);
    for (const peer of [a!, b!]) {
      expect(peer.list.items().map((item) => [item.name, item.checked, item.checkedBy])).toEqual([['Milk', true, 'A']]);
    }
    expectConverged(a!, b!);
  });

  it('rule 2: A checks off Milk while B (offline) adds Milk again later → one Milk, not checked: B asked for more', () => {
    const { clock, peers: [a, b] } = makePeers(['A', 'B']);
    a!.list.addItem({ name: 'Milk' });
    clock.advance(60_000);
    const milk = a!.list.items()[0]!.id;
    a!.list.setChecked(milk, true);
    clock.advance(60_000);
    b!.list.addItem({ name: 'Milk' });
    sync(order, a!, b!);
    for (const peer of [a!, b!]) expect(peer.list.items().map((item) => [item.name, item.checked])).toEqual([['Milk', false]]);
    expectConverged(a!, b!);
  });

  it('rule 3: A checks Bread while B removes it → deleted everywhere; restoring brings it back checked', () => {
    const { peers: [a, b] } = makePeers(['A', 'B']);
    const bread = a!.list.addItem({ name: 'Bread' });
    sync(order, a!, b!);
    a!.list.setChecked(bread, true);
    b!.list.removeItem(bread);
    sync(order, a!, b!);
    for (const peer of [a!, b!]) {
      expect(peer.list.items()).toEqual([]);
      expect(peer.list.deletedItems().map((item) => [item.name, item.checked])).toEqual([['Bread', true]]);
    }
    b!.list.restoreItem(bread);
    sync(order, a!, b!);
    for (const peer of [a!, b!]) expect(peer.list.items().map((item) => [item.name, item.checked])).toEqual([['Bread', true]]);
    expectConverged(a!, b!);
  });

  it('concurrent ticks: A and B tick Bread in the same millisecond → both phones say the same person ticked it', () => {
    for (const clientIds of CLIENT_ID_ORDERS) {
      const { clock, peers: [a, b] } = makePeers(['A', 'B'], { clientIds });
      const bread = a!.list.addItem({ name: 'Bread' });
      sync(order, a!, b!);
      clock.advance(1000);
      a!.list.setChecked(bread, true);
      b!.list.setChecked(bread, true);
      sync(order, a!, b!);
      const checkedBy = [a!, b!].map((peer) => peer.list.item(bread)?.checkedBy);
      expect({ clientIds, checkedBy }).toEqual({ clientIds, checkedBy: [checkedBy[0], checkedBy[0]] });
      expect(['A', 'B']).toContain(checkedBy[0]);
      expectConverged(a!, b!);
    }
  });

  it('rule 4: A changes Butter\'s quantity while B removes it → deleted, A told, restore keeps A\'s quantity', () => {
    const { peers: [a, b] } = makePeers(['A', 'B']);
    const butter = a!.list.addItem({ name: 'Butter' });
    sync(order, a!, b!);
    a!.list.updateItem(butter, { quantity: 4 });
    b!.list.removeItem(butter);
    sync(order, a!, b!);
    for (const peer of [a!, b!]) {
      expect(peer.list.items()).toEqual([]);
      expect(namesOf(peer.list.deletedItems())).toEqual(['Butter']);
    }
    const notice = a!.list.notices().find((candidate) => candidate.kind === 'removed-your-change');
    expect(notice?.message).toBe('B removed Butter that you changed');
    expect(notice?.canRestore).toBe(true);
    expect(b!.list.notices()).toEqual([]);
    a!.list.restoreItem(notice!.itemId);
    sync(order, a!, b!);
    expect(b!.list.items().map((item) => [item.name, item.quantity])).toEqual([['Butter', 4]]);
  });

  it('rule 4: a remover who had already seen the change does not trigger a notice', () => {
    const { peers: [a, b] } = makePeers(['A', 'B']);
    const butter = a!.list.addItem({ name: 'Butter' });
    a!.list.updateItem(butter, { quantity: 2 });
    sync(order, a!, b!);
    b!.list.removeItem(butter);
    sync(order, a!, b!);
    expect(a!.list.notices()).toEqual([]);
  });

  it('rule 4 with a duplicate: B folds A\'s Butter into B\'s own and removes the row while A, offline, changes A\'s quantity → A told once, restore keeps A\'s quantity', () => {
    const { clock, peers: [a, b] } = makePeers(['A', 'B']);
    b!.list.addItem({ name: 'Butter' });
    clock.advance(10);
    const aButter = a!.list.addItem({ name: 'butter' });
    // A's Butter reaches B, who folds it into B's older Butter: one row, B's.
    sendState(a!.doc, b!.doc);
    expect(b!.list.items().map((item) => item.contributors)).toEqual([['B', 'A']]);
    clock.advance(60_000);
    a!.list.updateItem(aButter, { quantity: 4 });
    b!.list.removeItem(b!.list.items()[0]!.id);
    sync(order, a!, b!);
    for (const peer of [a!, b!]) {
      expect(peer.list.items()).toEqual([]);
      expect(namesOf(peer.list.deletedItems())).toEqual(['Butter']);
    }
    const told = a!.list.notices().filter((notice) => notice.kind === 'removed-your-change');
    expect(told.map((notice) => [notice.message, notice.canRestore])).toEqual([['B removed Butter that you changed', true]]);
    expect(b!.list.notices().filter((notice) => notice.kind === 'removed-your-change')).toEqual([]);
    a!.list.restoreItem(told[0]!.itemId);
    sync(order, a!, b!);
    expect(b!.list.items().map((item) => [item.name, item.quantity])).toEqual([['Butter', 4]]);
    expectConverged(a!, b!);
  });

  it('rule 4 with a duplicate: A changed both the row B removed and the duplicate B had folded into it → A told once, not once per duplicate', () => {
    const { clock, peers: [a, b, c] } = makePeers(['A', 'B', 'C']);
    c!.list.addItem({ name: 'Butter' });
    clock.advance(10);
    const bButter = b!.list.addItem({ name: 'butter' });
    sync(order, a!, b!);
    // C's older Butter reaches B first: B folds its own into it.
    sendState(c!.doc, b!.doc);
    clock.advance(60_000);
    a!.list.updateItem(bButter, { quantity: 4 });
    // Then A gets C's too, folds the same way, and changes the row (now C's Butter).
    sendState(c!.doc, a!.doc);
    const row = a!.list.items()[0]!.id;
    expect(row).not.toBe(bButter);
    clock.advance(1000);
    a!.list.updateItem(row, { note: 'unsalted' });
    b!.list.removeItem(row);
    sync(order, a!, b!, c!);
    for (const peer of [a!, b!, c!]) expect(peer.list.items()).toEqual([]);
    const told = a!.list.notices().filter((notice) => notice.kind === 'removed-your-change');
    expect(told.map((notice) => [notice.message, notice.itemId])).toEqual([['B removed Butter that you changed', row]]);
    expectConverged(a!, b!, c!);
  });

  it('rule 4 with duplicates: B opens the list with two Butters not yet merged in the document and removes the row at once, both holding changes of A\'s → A told once', () => {
    const { clock, peers: [a, c] } = makePeers(['A', 'C']);
    const cButter = c!.list.addItem({ name: 'Butter' });
    clock.advance(10);
    const aButter = a!.list.addItem({ name: 'butter' });
    // Both reach B's stored copy before B's phone opens it; opening a list writes nothing.
    const bDoc = new Y.Doc();
    Y.applyUpdate(bDoc, Y.encodeStateAsUpdate(c!.doc));
    Y.applyUpdate(bDoc, Y.encodeStateAsUpdate(a!.doc));
    const b: Peer = { actor: 'B', doc: bDoc, list: new ShoppingList(bDoc, { actor: 'B', now: clock.now }) };
    expect(b.list.items().map((item) => item.id)).toEqual([cButter]);
    clock.advance(60_000);
    a!.list.updateItem(aButter, { quantity: 4 });
    // C's Butter reaches A, who folds A's into it and changes the row.
    sendState(c!.doc, a!.doc);
    clock.advance(1);
    a!.list.updateItem(cButter, { note: 'unsalted' });
    clock.advance(60_000);
    b.list.removeItem(cButter);
    sync(order, a!, b, c!);
    for (const peer of [a!, b, c!]) expect(peer.list.items()).toEqual([]);
    const told = a!.list.notices().filter((notice) => notice.kind === 'removed-your-change');
    expect(told.map((notice) => [notice.message, notice.itemId])).toEqual([['B removed Butter that you changed', cButter]]);
    expectConverged(a!, b, c!);
  });

  it('rule 4: Mum changes Butter\'s quantity on her phone while her laptop, offline, removes it → deleted, and no notice telling Mum she removed her own change', () => {
    const { peers: [phone, laptop] } = makePeers(['Mum', 'Mum']);
    const butter = phone!.list.addItem({ name: 'Butter' });
    sync(order, phone!, laptop!);
    phone!.list.updateItem(butter, { quantity: 4 });
    laptop!.list.removeItem(butter);
    sync(order, phone!, laptop!);
    for (const device of [phone!, laptop!]) {
      expect(device.list.items()).toEqual([]);
      expect(device.list.notices()).toEqual([]);
    }
  });

  it('rule 4 with a duplicate: A changed A\'s Butter, which B folded into B\'s, then typed "Butter" again into the row; B removes it → A told once, that B removed what A changed', () => {
    const { clock, peers: [a, b] } = makePeers(['A', 'B']);
    const bButter = b!.list.addItem({ name: 'Butter' });
    clock.advance(10);
    const aButter = a!.list.addItem({ name: 'butter' });
    sendState(a!.doc, b!.doc);
    clock.advance(60_000);
    a!.list.updateItem(aButter, { quantity: 4 });
    // B's Butter (and B's merge) reach A before B removes it; A's change does not reach B.
    sendState(b!.doc, a!.doc);
    clock.advance(1);
    expect(a!.list.addItem({ name: 'Butter' })).toBe(bButter);
    clock.advance(60_000);
    b!.list.removeItem(bButter);
    sync(order, a!, b!);
    for (const peer of [a!, b!]) expect(peer.list.items()).toEqual([]);
    // Both are news to B's removal: A's second Butter (an add, under B's) and A's quantity (a
    // change, on A's duplicate). The change is what rule 4 tells.
    const told = a!.list.notices().filter((notice) => notice.kind === 'removed-your-change');
    expect(told.map((notice) => [notice.message, notice.itemId])).toEqual([['B removed Butter that you changed', bButter]]);
  });

  it('rule 4/7: A removed A\'s own Milk, which D had folded into B\'s; B, who never saw A\'s, removes B\'s Milk → A is not told B removed what A added', () => {
    const { clock, peers: [a, b, d] } = makePeers(['A', 'B', 'D']);
    const bMilk = b!.list.addItem({ name: 'Milk' });
    clock.advance(10);
    const aMilk = a!.list.addItem({ name: 'milk' });
    // D sees both and folds A's into B's older Milk.
    sendState(a!.doc, d!.doc);
    sendState(b!.doc, d!.doc);
    clock.advance(60_000);
    a!.list.removeItem(aMilk);
    // B's Milk reaches A after A's own is gone: nothing to fold there.
    sendState(b!.doc, a!.doc);
    expect(a!.list.items().map((item) => item.id)).toEqual([bMilk]);
    clock.advance(60_000);
    b!.list.removeItem(bMilk);
    // D's merge first, so B's removal meets A's removed Milk already under B's.
    sendState(d!.doc, a!.doc);
    sendState(b!.doc, a!.doc);
    sync(order, a!, b!, d!);
    for (const peer of [a!, b!, d!]) expect(peer.list.items()).toEqual([]);
    expect(a!.list.notices().filter((notice) => notice.kind === 'removed-your-change')).toEqual([]);
    expectConverged(a!, b!, d!);
  });

  it('rule 5: concurrent renames and re-quantities → one winner everywhere, the loser marked in the activity log', () => {
    const { clock, peers: [a, b] } = makePeers(['A', 'B']);
    const milk = a!.list.addItem({ name: 'Milk' });
    sync(order, a!, b!);
    clock.advance(1000);
    a!.list.updateItem(milk, { name: 'Oat milk', quantity: 2 });
    b!.list.updateItem(milk, { name: 'Soy milk', quantity: 3 });
    sync(order, a!, b!);
    expectConverged(a!, b!);
    const winner = a!.list.items()[0]!;
    expect(['Oat milk', 'Soy milk']).toContain(winner.name);
    const winnerActor = winner.name === 'Oat milk' ? 'A' : 'B';
    const loserActor = winnerActor === 'A' ? 'B' : 'A';
    expect(winner.quantity).toBe(winnerActor === 'A' ? 2 : 3);
    const renames = a!.list.activity().filter((event) => event.kind === 'renamed');
    expect(renames).toHaveLength(2);
    const lost = renames.find((event) => event.actor === loserActor)!;
    expect(lost.overwrittenBy).toBe(winnerActor);
    expect(lost.to).toBe(loserActor === 'A' ? 'Oat milk' : 'Soy milk');
    expect(renames.find((event) => event.actor === winnerActor)!.overwrittenBy).toBeUndefined();
    const loser = loserActor === 'A' ? a! : b!;
    expect(loser.list.notices().filter((notice) => notice.kind === 'overwritten')).toHaveLength(2);
    const winning = winnerActor === 'A' ? a! : b!;
    expect(winning.list.notices()).toEqual([]);
  });

  it('rule 5: Mum changes Milk\'s quantity on her phone and, offline, on her laptop → one value, the other in the activity log, and no notice telling Mum she replaced herself', () => {
    for (const clientIds of CLIENT_ID_ORDERS) {
      const { clock, peers: [phone, laptop] } = makePeers(['Mum', 'Mum'], { clientIds });
      const milk = phone!.list.addItem({ name: 'Milk' });
      sync(order, phone!, laptop!);
      clock.advance(1000);
      phone!.list.updateItem(milk, { quantity: 2 });
      laptop!.list.updateItem(milk, { quantity: 3 });
      sync(order, phone!, laptop!);
      expectConverged(phone!, laptop!);
      const lost = phone!.list.activity().filter((event) => event.overwrittenBy !== undefined);
      expect(lost.map((event) => [event.actor, event.overwrittenBy])).toEqual([['Mum', 'Mum']]);
      for (const device of [phone!, laptop!]) expect({ clientIds, notices: device.list.notices().map((notice) => notice.message) }).toEqual({ clientIds, notices: [] });
    }
  });

  it('rule 5: A and B both change Milk\'s quantity to 2 offline → 2 everywhere; nobody is told their 2 was replaced by a 2', () => {
    for (const clientIds of CLIENT_ID_ORDERS) {
      const { clock, peers: [a, b] } = makePeers(['A', 'B'], { clientIds });
      const milk = a!.list.addItem({ name: 'Milk' });
      sync(order, a!, b!);
      clock.advance(1000);
      a!.list.updateItem(milk, { quantity: 2, note: 'semi-skimmed' });
      b!.list.updateItem(milk, { quantity: 2, note: 'oat' });
      sync(order, a!, b!);
      expectConverged(a!, b!);
      expect(a!.list.items()[0]!.quantity).toBe(2);
      // The notes differ: that loser is replaced. The quantities are the same: nothing was.
      const replaced = a!.list.activity().filter((event) => event.overwrittenBy !== undefined);
      expect({ clientIds, replaced: replaced.map((event) => event.field) }).toEqual({ clientIds, replaced: ['note'] });
      const told = [...a!.list.notices(), ...b!.list.notices()].map((notice) => notice.message);
      expect({ clientIds, told: told.filter((message) => message.includes('quantity')) }).toEqual({ clientIds, told: [] });
    }
  });

  it('rule 5: sequential edits are not "overwritten"', () => {
    const { peers: [a, b] } = makePeers(['A', 'B']);
    const milk = a!.list.addItem({ name: 'Milk' });
    a!.list.updateItem(milk, { quantity: 2 });
    sync(order, a!, b!);
    b!.list.updateItem(milk, { quantity: 5 });
    sync(order, a!, b!);
    expect(a!.list.activity().filter((event) => event.overwrittenBy !== undefined)).toEqual([]);
    expect(a!.list.notices()).toEqual([]);
  });

  /** A's Milk (1) and B's Milk (3), added apart and merged into one row of 3; A's is the older. */
  const mergedMilk = (clientIds: readonly number[]) => {
    const { clock, peers: [a, b] } = makePeers(['A', 'B'], { clientIds });
    a!.list.addItem({ name: 'Milk', quantity: 1 });
    clock.advance(10);
    b!.list.addItem({ name: 'Milk', quantity: 3 });
    sync(order, a!, b!);
    return { clock, a, b };
  };

  it('rule 5: A lowers a merged Milk\'s quantity while B edits only its note → both edits stand, nothing overwritten', () => {
    for (const clientIds of CLIENT_ID_ORDERS) {
      const { clock, a, b } = mergedMilk(clientIds);
      const row = a!.list.items()[0]!;
      expect(row.quantity).toBe(3);
      clock.advance(1000);
      a!.list.updateItem(row.id, { quantity: 2 });
      b!.list.updateItem(row.id, { note: 'organic' });
      sync(order, a!, b!);
      for (const peer of [a!, b!]) {
        expect(peer.list.items().map((item) => [item.quantity, item.note])).toEqual([[2, 'organic']]);
        expect(peer.list.activity().filter((event) => event.overwrittenBy !== undefined)).toEqual([]);
        expect(peer.list.notices().filter((notice) => notice.kind === 'overwritten')).toEqual([]);
      }
      expectConverged(a!, b!);
    }
  });

  it('rule 5: A changes only the unit of a merged Milk while B changes its quantity → the shown quantity is the winning edit\'s', () => {
    for (const clientIds of CLIENT_ID_ORDERS) {
      const { clock, a, b } = mergedMilk(clientIds);
      const row = a!.list.items()[0]!.id;
      clock.advance(1000);
      a!.list.updateItem(row, { unit: 'l' });
      expect(a!.list.items().map((item) => [item.quantity, item.unit])).toEqual([[3, 'l']]);
      b!.list.updateItem(row, { quantity: 2 });
      sync(order, a!, b!);
      expectConverged(a!, b!);
      const shown = a!.list.items()[0]!;
      expect(shown.unit).toBe('l');
      const quantityEdits = a!.list.activity().filter((event) => event.field === 'quantity');
      expect(quantityEdits.map((event) => event.actor).sort()).toEqual(['A', 'B']);
      const standing = quantityEdits.filter((event) => event.overwrittenBy === undefined);
      expect(standing.map((event) => event.to)).toEqual([shown.quantity]);
    }
  });

  it('rule 6: A clears checked items while B, offline, checks Eggs → only what A saw checked is removed', () => {
    const { peers: [a, b] } = makePeers(['A', 'B']);
    const bread = a!.list.addItem({ name: 'Bread' });
    const eggs = a!.list.addItem({ name: 'Eggs' });
    a!.list.setChecked(bread, true);
    sync(order, a!, b!);
    expect(a!.list.clearChecked()).toEqual([bread]);
    b!.list.setChecked(eggs, true);
    sync(order, a!, b!);
    for (const peer of [a!, b!]) {
      expect(peer.list.items().map((item) => [item.name, item.checked])).toEqual([['Eggs', true]]);
      expect(namesOf(peer.list.deletedItems())).toEqual(['Bread']);
    }
    expectConverged(a!, b!);
  });

  it('rule 7: A removes Milk, B adds "Milk" again later → one visible Milk (the new one), old one in Recently deleted', () => {
    const { clock, peers: [a, b] } = makePeers(['A', 'B']);
    const oldMilk = a!.list.addItem({ name: 'Milk' });
    sync(order, a!, b!);
    a!.list.removeItem(oldMilk);
    sync(order, a!, b!);
    clock.advance(60_000);
    const newMilk = b!.list.addItem({ name: 'milk' });
    sync(order, a!, b!);
    expect(newMilk).not.toBe(oldMilk);
    for (const peer of [a!, b!]) {
      expect(peer.list.items().map((item) => item.id)).toEqual([newMilk]);
      expect(peer.list.deletedItems().map((item) => item.id)).toEqual([oldMilk]);
    }
    expectConverged(a!, b!);
  });

  it('rule 7, both offline: B types "Milk" while still seeing the Milk A has removed → B\'s Milk is visible, the old one in Recently deleted', () => {
    const { clock, peers: [a, b] } = makePeers(['A', 'B']);
    const oldMilk = a!.list.addItem({ name: 'Milk', quantity: 2 });
    sync(order, a!, b!);
    a!.list.removeItem(oldMilk);
    clock.advance(60_000);
    b!.list.addItem({ name: 'milk' });
    const newMilk = b!.doc
      .getMap('items')
      .toJSON() as Record<string, { mergedInto?: string; addedBy: string }>;
    const bMilk = Object.keys(newMilk).find((id) => id !== oldMilk);
    sync(order, a!, b!);
    for (const peer of [a!, b!]) {
      expect(peer.list.items().map((item) => [item.id, item.name, item.quantity, item.addedBy])).toEqual([[bMilk, 'milk', 1, 'B']]);
      expect(peer.list.deletedItems().map((item) => item.id)).toEqual([oldMilk]);
    }
    expectConverged(a!, b!);
    // The document now says so too: purging the old Milk leaves B's.
    for (const peer of [a!, b!]) expect(peer.doc.getMap('items').get(bMilk!)).toBeInstanceOf(Y.Map);
    expect((a!.doc.getMap('items').get(bMilk!) as Y.Map<unknown>).has('mergedInto')).toBe(false);
    clock.advance(31 * DAY);
    expect(a!.list.purgeTombstones()).toBe(1);
    sync(order, a!, b!);
    for (const peer of [a!, b!]) {
      expect(peer.list.items().map((item) => item.id)).toEqual([bMilk]);
      expect(peer.list.deletedItems()).toEqual([]);
    }
    expectConverged(a!, b!);
  });

  it('rule 7, both offline, the other way round: B types "Milk" before A removes it → the removal wins on both, B told', () => {
    const { clock, peers: [a, b] } = makePeers(['A', 'B']);
    const milk = a!.list.addItem({ name: 'Milk' });
    a!.list.setChecked(milk, true);
    sync(order, a!, b!);
    b!.list.addItem({ name: 'Milk' });
    clock.advance(60_000);
    a!.list.removeItem(milk);
    sync(order, a!, b!);
    for (const peer of [a!, b!]) {
      expect(peer.list.items()).toEqual([]);
      expect(peer.list.deletedItems().map((item) => item.id)).toEqual([milk]);
    }
    expect(b!.list.notices().map((notice) => [notice.message, notice.canRestore])).toEqual([['A removed Milk that you added', true]]);
    expect(a!.list.notices()).toEqual([]);
    // Had A seen B's add, B would not be told: A removed both knowingly.
    const { peers: [c, d] } = makePeers(['C', 'D']);
    const bread = c!.list.addItem({ name: 'Bread' });
    sync(order, c!, d!);
    d!.list.addItem({ name: 'bread' });
    sync(order, c!, d!);
    c!.list.removeItem(bread);
    sync(order, c!, d!);
    expect(d!.list.items()).toEqual([]);
    expect(d!.list.notices()).toEqual([]);
    expectConverged(a!, b!);
  });

  it('rule 7, offline: a replica that loads the merged document without having written the detachment still keeps B\'s Milk through the purge', () => {
    const { clock, peers: [a, b] } = makePeers(['A', 'B']);
    const oldMilk = a!.list.addItem({ name: 'Milk' });
    sync(order, a!, b!);
    a!.list.removeItem(oldMilk);
    clock.advance(60_000);
    b!.list.addItem({ name: 'Milk' });
    // Both edits reach a bare document (as the relay holds them), before any model saw them together.
    const stored = new Y.Doc();
    Y.applyUpdate(stored, Y.encodeStateAsUpdate(a!.doc));
    Y.applyUpdate(stored, Y.encodeStateAsUpdate(b!.doc));
    const late = new ShoppingList(stored, { actor: 'C', now: clock.now });
    const bMilk = late.items().map((item) => item.id);
    expect(bMilk).toHaveLength(1);
    expect(bMilk[0]).not.toBe(oldMilk);
    clock.advance(31 * DAY);
    expect(late.purgeTombstones()).toBe(1);
    expect(late.items().map((item) => item.id)).toEqual(bMilk);
  });

  it('rule 7 with B\'s clock ahead: a duplicate A saw folded in before removing it goes with the removal', () => {
    let now = 1_700_000_000_000;
    const make = (actor: string, skewMs: number): Peer => {
      const doc = new Y.Doc();
      return { actor, doc, list: new ShoppingList(doc, { actor, now: () => now + skewMs }) };
    };
    const a = make('A', 0);
    const b = make('B', 40);
    a.list.addItem({ name: 'Milk' });
    sync(order, a, b);
    b.list.addItem({ name: 'Milk', quantity: 2 });
    sync(order, a, b);
    expect(a.list.items().map((item) => item.quantity)).toEqual([2]);
    // 10 ms later by A's clock, which still reads before B's merge.
    now += 10;
    a.list.removeItem(a.list.items()[0]!.id);
    expect(a.list.items()).toEqual([]);
    sync(order, a, b);
    for (const peer of [a, b]) expect(peer.list.items()).toEqual([]);
    expectConverged(a, b);
  });

  it('rule 7 with B\'s clock ahead, in a document an older version wrote (the seen duplicate has no tombstone of its own) → still gone with the removal', () => {
    const doc = new Y.Doc();
    for (const [id, fields] of [
      ['aaaaaaaaaaaa', { addedAt: 50, deletedAt: 100, deletedBy: 'A', deletedSeen: '\n\n\n\n\nmember:bbbbbbbbbbbb' }],
      ['bbbbbbbbbbbb', { addedBy: 'B', addedAt: 140, mergedInto: 'aaaaaaaaaaaa', mergedAt: 140 }],
    ] as const) {
      const map = new Y.Map<unknown>();
      for (const [key, value] of Object.entries({ name: 'Milk', quantity: 1, checked: false, addedBy: 'A', ...fields })) map.set(key, value);
      doc.getMap('items').set(id, map);
    }
    const list = new ShoppingList(doc, { actor: 'C', now: () => 200 });
    expect(list.items()).toEqual([]);
    expect(list.deletedItems().map((item) => item.id)).toEqual(['aaaaaaaaaaaa']);
  });

  it('rule 7, two removals on one merge chain: a duplicate folded in between them goes with the later removal, which had not seen it', () => {
    const doc = new Y.Doc();
    const items = [
      ['aaaaaaaaaaaa', { addedBy: 'A', addedAt: 10, deletedAt: 100, deletedBy: 'A' }],
      ['bbbbbbbbbbbb', { addedBy: 'B', addedAt: 20, mergedInto: 'aaaaaaaaaaaa', mergedAt: 50, deletedAt: 300, deletedBy: 'C' }],
      ['cccccccccccc', { addedBy: 'D', addedAt: 200, mergedInto: 'bbbbbbbbbbbb', mergedAt: 200 }],
    ] as const;
    for (const [id, fields] of order === 'A→B first' ? items : [...items].reverse()) writeItem(doc, id, fields);
    // D's Milk came after A's removal of the top item but before C's removal of the one it was
    // folded into: C's removal, the latest above it, decides, as for B's Milk in rule 7 above.
    const list = new ShoppingList(doc, { actor: 'E', now: () => 400 });
    expect(list.items()).toEqual([]);
    expect(list.deletedItems().map((item) => item.id)).toEqual(['aaaaaaaaaaaa']);
  });

  it('rule 7, two removals: A types "Milk" again and then removes Milk while B, offline, removed it earlier → gone on both, whoever\'s removal is kept', () => {
    for (const clientIds of CLIENT_ID_ORDERS) {
      const { clock, peers: [a, b] } = makePeers(['A', 'B'], { clientIds });
      const milk = a!.list.addItem({ name: 'Milk' });
      sync(order, a!, b!);
      b!.list.removeItem(milk);
      clock.advance(5 * 60_000);
      // A's phone still shows Milk: the second "Milk" folds into it, and A then removes the row with both.
      expect(a!.list.addItem({ name: 'milk', quantity: 2 })).toBe(milk);
      clock.advance(60_000);
      a!.list.removeItem(milk);
      expect(a!.list.items()).toEqual([]);
      sync(order, a!, b!);
      for (const peer of [a!, b!]) expect({ clientIds, items: namesOf(peer.list.items()) }).toEqual({ clientIds, items: [] });
      expectConverged(a!, b!);
    }
  });

  it('rule 2 with a removal: Dad removes Milk with Mum\'s duplicate folded in while Kid, offline, folds Mum\'s into her own Milk → only Kid\'s Milk, whichever merge is kept', () => {
    for (const clientIds of [[1, 2, 3], [2, 1, 3], [3, 2, 1], [1, 3, 2]]) {
      const { clock, peers: [mum, dad, kid] } = makePeers(['Mum', 'Dad', 'Kid'], { clientIds });
      dad!.list.addItem({ name: 'Milk' });
      clock.advance(30_000);
      kid!.list.addItem({ name: 'milk' });
      clock.advance(30_000);
      mum!.list.addItem({ name: 'Milk', quantity: 3 });
      // Mum's Milk reaches Dad and Kid, who each fold it into their own (older) Milk.
      sendState(mum!.doc, dad!.doc);
      sendState(mum!.doc, kid!.doc);
      clock.advance(60_000);
      dad!.list.removeItem(dad!.list.items()[0]!.id);
      expect(dad!.list.deletedItems().map((item) => item.quantity)).toEqual([3]);
      exchange(mum!.doc, dad!.doc, kid!.doc);
      for (const peer of [mum!, dad!, kid!]) {
        expect({ clientIds, items: peer.list.items().map((item) => [item.name, item.quantity, item.contributors]) }).toEqual({
          clientIds,
          items: [['milk', 1, ['Kid']]],
        });
      }
      expectConverged(mum!, dad!, kid!);
      // Restoring what Dad removed brings Mum's 3 back.
      for (const row of dad!.list.deletedItems()) dad!.list.restoreItem(row.id);
      exchange(mum!.doc, dad!.doc, kid!.doc);
      for (const peer of [mum!, dad!, kid!]) expect(peer.list.items().map((item) => item.quantity)).toEqual([3]);
    }
  });

  /**
   * Dad, Kid and Mum each add Milk (Mum's 3 last); Mum's reaches Dad and Kid, and Dad removes the
   * row, which everyone hears of; then Kid removes her own Milk.
   */
  function kidRemovesHerMilkAfterDadRemovedMums(clientIds: number[]) {
    const { clock, peers: [mum, dad, kid] } = makePeers(['Mum', 'Dad', 'Kid'], { clientIds });
    dad!.list.addItem({ name: 'Milk' });
    clock.advance(30_000);
    const kidsMilk = kid!.list.addItem({ name: 'milk' });
    clock.advance(30_000);
    mum!.list.addItem({ name: 'Milk', quantity: 3 });
    sendState(mum!.doc, dad!.doc);
    sendState(mum!.doc, kid!.doc);
    clock.advance(60_000);
    dad!.list.removeItem(dad!.list.items()[0]!.id);
    exchange(mum!.doc, dad!.doc, kid!.doc);
    clock.advance(60_000);
    kid!.list.removeItem(kidsMilk);
    return { clock, mum, dad, kid, kidsMilk };
  }

  it('rule 2 with a removal, then Kid removes her Milk → her row in Recently deleted shows only what her removal took, not Mum\'s 3 that Dad removed', () => {
    for (const clientIds of [[1, 2, 3], [2, 1, 3], [3, 2, 1], [1, 3, 2]]) {
      const { mum, dad, kid, kidsMilk } = kidRemovesHerMilkAfterDadRemovedMums(clientIds);
      exchange(mum!.doc, dad!.doc, kid!.doc);
      for (const peer of [mum!, dad!, kid!]) {
        const kidsRow = peer.list.deletedItems().find((item) => item.id === kidsMilk);
        expect({ clientIds, kidsRow: [kidsRow?.quantity, kidsRow?.contributors] }).toEqual({ clientIds, kidsRow: [1, ['Kid']] });
      }
      expectConverged(mum!, dad!, kid!);
    }
  });

  it('rule 2 with a removal, then Kid removes her Milk and restores it → her Milk comes back without Mum\'s 3, which Dad removed', () => {
    for (const clientIds of [[1, 2, 3], [2, 1, 3], [3, 2, 1], [1, 3, 2]]) {
      const { clock, mum, dad, kid, kidsMilk } = kidRemovesHerMilkAfterDadRemovedMums(clientIds);
      clock.advance(60_000);
      kid!.list.restoreItem(kidsMilk);
      exchange(mum!.doc, dad!.doc, kid!.doc);
      for (const peer of [mum!, dad!, kid!]) {
        expect({ clientIds, items: peer.list.items().map((item) => [item.id, item.quantity, item.contributors]) }).toEqual({
          clientIds,
          items: [[kidsMilk, 1, ['Kid']]],
        });
      }
      expectConverged(mum!, dad!, kid!);
    }
  });

  it('rule 7, offline: restoring the old Milk folds B\'s new one back into it', () => {
    const { clock, peers: [a, b] } = makePeers(['A', 'B']);
    const oldMilk = a!.list.addItem({ name: 'Milk', quantity: 2 });
    sync(order, a!, b!);
    a!.list.removeItem(oldMilk);
    clock.advance(60_000);
    b!.list.addItem({ name: 'Milk', quantity: 3 });
    sync(order, a!, b!);
    a!.list.restoreItem(oldMilk);
    sync(order, a!, b!);
    for (const peer of [a!, b!]) {
      expect(peer.list.items().map((item) => [item.id, item.quantity])).toEqual([[oldMilk, 3]]);
      expect(peer.list.deletedItems()).toEqual([]);
    }
    expectConverged(a!, b!);
  });

  /** Two phones that both have Milk and Eggs (A added them): where the rule 8 cases start. */
  const milkAndEggsSynced = () => {
    const { clock, peers: [a, b] } = makePeers(['A', 'B']);
    const milk = a!.list.addItem({ name: 'Milk' });
    a!.list.addItem({ name: 'Eggs' });
    sync(order, a!, b!);
    return { clock, a, b, milk };
  };

  it('rule 8: A, offline past the retention, edits an item B purged → no crash, no resurrection, A told', () => {
    const { clock, a, b, milk } = milkAndEggsSynced();
    b!.list.removeItem(milk);
    clock.advance(31 * DAY);
    expect(b!.list.purgeTombstones()).toBe(1);
    expect(b!.doc.getMap('items').has(milk)).toBe(false);
    a!.list.updateItem(milk, { quantity: 6 });
    a!.list.setChecked(milk, true);
    expect(() => sync(order, a!, b!)).not.toThrow();
    for (const peer of [a!, b!]) {
      expect(namesOf(peer.list.items())).toEqual(['Eggs']);
      expect(peer.list.deletedItems()).toEqual([]);
      expect(peer.doc.getMap('items').has(milk)).toBe(false);
    }
    expect(a!.list.notices().map((notice) => notice.message)).toEqual(['Milk, which you changed, was removed']);
    expectConverged(a!, b!);
  });

  it('rule 8: A, offline past the retention, types "Milk" again while it still shows; B had removed and purged it → A told, nothing comes back', () => {
    const { clock, a, b, milk } = milkAndEggsSynced();
    b!.list.removeItem(milk);
    clock.advance(31 * DAY);
    expect(b!.list.purgeTombstones()).toBe(1);
    // A's phone still shows Milk: the new "milk" folds into it.
    expect(a!.list.addItem({ name: 'milk', quantity: 2 })).toBe(milk);
    expect(() => sync(order, a!, b!)).not.toThrow();
    for (const peer of [a!, b!]) expect(namesOf(peer.list.items())).toEqual(['Eggs']);
    expect(a!.list.notices().map((notice) => [notice.kind, notice.message])).toEqual([
      ['edited-purged', 'Milk, which you added, was removed'],
    ]);
    expect(b!.list.notices()).toEqual([]);
    expectConverged(a!, b!);
  });

  it('rule 8: A, offline past the retention, only ticks off an item B purged → A told', () => {
    const { clock, a, b, milk } = milkAndEggsSynced();
    b!.list.removeItem(milk);
    clock.advance(31 * DAY);
    expect(b!.list.purgeTombstones()).toBe(1);
    a!.list.setChecked(milk, true);
    sync(order, a!, b!);
    for (const peer of [a!, b!]) expect(namesOf(peer.list.items())).toEqual(['Eggs']);
    expect(a!.list.notices().map((notice) => [notice.kind, notice.message])).toEqual([
      ['edited-purged', 'Milk, which you checked off, was removed'],
    ]);
    expect(b!.list.notices()).toEqual([]);
    expectConverged(a!, b!);
  });

  it('rule 8: A, offline, restores an item B removed; B purges it before A is back → A told', () => {
    const { clock, a, b, milk } = milkAndEggsSynced();
    b!.list.removeItem(milk);
    sync(order, a!, b!);
    clock.advance(29 * DAY);
    a!.list.restoreItem(milk);
    clock.advance(2 * DAY);
    expect(b!.list.purgeTombstones()).toBe(1);
    sync(order, a!, b!);
    for (const peer of [a!, b!]) expect(namesOf(peer.list.items())).toEqual(['Eggs']);
    expect(a!.list.notices().map((notice) => [notice.kind, notice.message])).toEqual([
      ['edited-purged', 'Milk, which you restored, was removed'],
    ]);
    expectConverged(a!, b!);
  });

  it('rule 8: a purge of an item this person only added, or had seen removed, tells them nothing', () => {
    const { clock, peers: [a, b] } = makePeers(['A', 'B']);
    const milk = a!.list.addItem({ name: 'Milk' });
    const eggs = a!.list.addItem({ name: 'Eggs' });
    a!.list.setChecked(eggs, true);
    sync(order, a!, b!);
    b!.list.removeItem(milk);
    b!.list.removeItem(eggs);
    sync(order, a!, b!);
    clock.advance(31 * DAY);
    expect(b!.list.purgeTombstones()).toBe(2);
    sync(order, a!, b!);
    expect(a!.list.notices()).toEqual([]);
  });

  it('rule 8: tombstones younger than the retention are kept', () => {
    const { clock, peers: [a] } = makePeers(['A'], { retentionMs: 10 * DAY });
    const milk = a!.list.addItem({ name: 'Milk' });
    a!.list.removeItem(milk);
    clock.advance(9 * DAY);
    expect(a!.list.purgeTombstones()).toBe(0);
    clock.advance(2 * DAY);
    expect(a!.list.purgeTombstones()).toBe(1);
    expect(a!.list.deletedItems()).toEqual([]);
  });

  it('rule 8: an old duplicate merged into an item that has not reached this phone yet survives a purge and counts when it arrives', () => {
    const { clock, peers: [a, b, c, d] } = makePeers(['A', 'B', 'C', 'D'], { retentionMs: 10 * DAY });
    // D typed Milk first, offline; B typed milk, which reached A and C.
    d!.list.addItem({ name: 'Milk' });
    clock.advance(1);
    b!.list.addItem({ name: 'milk', quantity: 3 });
    sync(order, a!, b!, c!);
    clock.advance(20 * DAY);
    // D's list reaches C, which folds B's old milk into D's older Milk. Only C's merge reaches
    // A: D's Milk itself is still on its way.
    const written: Uint8Array[] = [];
    c!.doc.on('update', (update: Uint8Array, _origin: unknown, _doc: Y.Doc, transaction: Y.Transaction) => {
      if (transaction.local) written.push(update);
    });
    sendState(d!.doc, c!.doc);
    expect(written.length).toBeGreaterThan(0);
    for (const update of written) Y.applyUpdate(a!.doc, update);
    expect(a!.list.items()).toEqual([]);
    expect(a!.list.purgeTombstones()).toBe(0);
    sync(order, a!, b!, c!, d!);
    for (const peer of [a!, b!, c!, d!]) {
      expect(peer.list.items().map((item) => [item.name, item.quantity, [...item.contributors].sort()])).toEqual([['Milk', 3, ['B', 'D']]]);
    }
  });

  it('rule 8: a duplicate merged into an item that never arrived, merged exactly the retention ago, is kept; one millisecond older, it is purged', () => {
    const doc = new Y.Doc();
    // Added long before it was merged: the merge time, not the add time, counts.
    writeItem(doc, 'bbbbbbbbbbbb', { addedBy: 'B', addedAt: 500, mergedInto: 'aaaaaaaaaaaa', mergedAt: 1_000 });
    let now = 1_000 + 10 * DAY;
    const list = new ShoppingList(doc, { actor: 'C', now: () => now, tombstoneRetentionMs: 10 * DAY });
    expect(list.items()).toEqual([]);
    expect(list.purgeTombstones()).toBe(0);
    expect(doc.getMap('items').has('bbbbbbbbbbbb')).toBe(true);
    now += 1;
    expect(list.purgeTombstones()).toBe(1);
    expect(doc.getMap('items').has('bbbbbbbbbbbb')).toBe(false);
  });

  it('rule 8: a tombstone exactly as old as the retention is kept; one millisecond older, it is purged', () => {
    const { clock, peers: [a] } = makePeers(['A'], { retentionMs: 10 * DAY });
    const milk = a!.list.addItem({ name: 'Milk' });
    a!.list.removeItem(milk);
    clock.advance(10 * DAY);
    expect(a!.list.purgeTombstones()).toBe(0);
    expect(namesOf(a!.list.deletedItems())).toEqual(['Milk']);
    clock.advance(1);
    expect(a!.list.purgeTombstones()).toBe(1);
    expect(a!.doc.getMap('items').has(milk)).toBe(false);
  });
});

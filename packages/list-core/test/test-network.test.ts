import { describe, expect, it } from 'vitest';
import { normalizeName } from '../src/index.js';
import { FakeClock, TestNetwork, type Replica } from './support/test-network.js';

function state(replica: Replica) {
  return { items: replica.list.items(), deleted: replica.list.deletedItems(), activity: replica.list.activity() };
}

describe('the in-process test network', () => {
  it('queues updates until flushed and drops the queue of a replica that goes offline', () => {
    const network = new TestNetwork(1);
    const mum = network.add('Mum');
    const dad = network.add('Dad');
    mum.list.addItem({ name: 'Milk' });
    expect(network.pending()).toBe(1);
    expect(dad.list.items()).toEqual([]);
    network.disconnect(dad);
    expect(network.pending()).toBe(0);
    network.flush();
    expect(dad.list.items()).toEqual([]);
    network.connect(dad);
    network.flush();
    expect(dad.list.items().map((item) => item.name)).toEqual(['Milk']);
  });

  it('one add among three online phones costs one message per peer, and no merge chatter', () => {
    const network = new TestNetwork(1);
    const [mum] = [network.add('Mum'), network.add('Dad'), network.add('Sam')];
    mum!.list.addItem({ name: 'Milk' });
    network.flush();
    expect(network.delivered).toBe(2);
  });

  it.each(Array.from({ length: 12 }, (_, index) => index + 1))(
    'seed %i: offline edits on three phones, delivered in random order, converge (rules 2, 3, 4, 6, 7)',
    (seed) => {
      const clock = new FakeClock();
      const network = new TestNetwork(seed, clock.now);
      const mum = network.add('Mum');
      const dad = network.add('Dad');
      const sam = network.add('Sam');
      const bread = mum.list.addItem({ name: 'Bread' });
      const butter = mum.list.addItem({ name: 'Butter' });
      const eggs = dad.list.addItem({ name: 'Eggs' });
      network.flush(true);
      network.disconnect(dad);
      network.disconnect(sam);
      clock.advance(1_000);
      mum.list.setChecked(bread, true);
      mum.list.addItem({ name: 'Milk', quantity: 2 });
      dad.list.removeItem(bread);
      dad.list.addItem({ name: 'milks', quantity: 3 });
      dad.list.updateItem(butter, { quantity: 2 });
      sam.list.removeItem(butter);
      sam.list.setChecked(eggs, true);
      mum.list.clearChecked();
      network.settle(true);
      const [first, ...rest] = network.replicas;
      for (const replica of rest) expect(state(replica)).toEqual(state(first!));
      const names = mum.list.items().map((item) => normalizeName(item.name));
      expect(names.sort()).toEqual(['egg', 'milk']);
      expect(mum.list.items().find((item) => normalizeName(item.name) === 'milk')?.quantity).toBe(3);
      expect(mum.list.deletedItems().map((item) => item.name).sort()).toEqual(['Bread', 'Butter']);
      expect(dad.list.notices().map((notice) => notice.message)).toContain('Sam removed Butter that you changed');
    },
  );
});

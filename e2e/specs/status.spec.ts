/**
 * The status line tells the truth: "Offline" while the phone cannot reach the
 * relay, and "Synced" only once the relay has durably stored every change
 * (its type-100 acknowledgement). Never "Synced" before that.
 */
import { converge, listOf, startSharedList } from '../fixtures/family.js';
import { offlineModes } from '../fixtures/network.js';
import { syncStateOf } from '../fixtures/phone.js';
import { expect, test } from '../fixtures/test.js';

for (const mode of offlineModes) {
  test(`status says Offline while offline, and Synced once back only after the relay's ack [${mode}]`, async ({
    phones,
  }) => {
    const { a, b } = await startSharedList(phones, ['Bread']);
    await a.goOffline(mode);
    await a.waitOfflineShown();
    await a.add('Milk');
    await expect(a.status, 'offline with one change on this phone').toHaveText('Offline · 1 change on this phone');
    expect(await b.names(), 'the change is only on this phone').not.toContain('Milk');

    // Back online with the relay's acks dropped: the relay's own state (its sync step 2 on
    // reconnecting) and the held frames arriving say nothing about what it stored.
    await a.recordStatusTexts();
    a.network.dropAcks = true;
    const acksBefore = a.network.acksDropped;
    await a.goOnline();
    await expect(b.item('Milk'), 'the relay received the offline edit').toHaveCount(1);
    await expect
      .poll(() => a.network.acksDropped, { message: 'the relay acknowledged it (ack dropped)' })
      .toBeGreaterThan(acksBefore);
    await expect(a.status, 'back online, the change not acknowledged').toHaveText('Syncing… · 1 change on this phone');
    expect((await a.recordedStatusTexts()).map(syncStateOf), 'never Synced without an ack').not.toContain('synced');

    a.network.dropAcks = false;
    await a.add('Eggs');
    expect(await converge([a, b])).toEqual(listOf(['Bread', 'Eggs', 'Milk']));
  });
}

test('never "Synced" while the relay has not acknowledged: acks dropped, then relay killed and restarted', async ({
  phones,
  relay,
}) => {
  const { a, b } = await startSharedList(phones, ['Bread']);
  await a.recordStatusTexts();
  a.network.dropAcks = true;
  const acksBefore = a.network.acksDropped;

  await a.add('Milk');
  await a.add('Eggs');
  // B receiving the edits proves the relay got them, and a dropped ack proves
  // the relay answered: only the acknowledgement is missing on A.
  await expect(b.item('Milk')).toHaveCount(1);
  await expect(b.item('Eggs')).toHaveCount(1);
  await expect.poll(() => a.network.acksDropped, { message: 'the relay sent acks that were dropped' }).toBeGreaterThan(acksBefore);
  await expect(a.status).toContainText(/2 changes/);

  await relay.kill();
  await a.waitOfflineShown();
  const [initial, ...afterEdits] = await a.recordedStatusTexts();
  expect(syncStateOf(initial ?? ''), 'recording started while Synced').toBe('synced');
  expect(afterEdits.length, 'status changes were recorded').toBeGreaterThan(0);
  expect(afterEdits.map(syncStateOf), 'never Synced without an ack').not.toContain('synced');

  a.network.dropAcks = false;
  await relay.restart();
  expect(await converge([a, b])).toEqual(listOf(['Bread', 'Eggs', 'Milk']));
  const c = await phones.create('phone-c');
  await c.open(a.shareLink());
  expect(await converge([c]), 'the relay stored the edits').toEqual(listOf(['Bread', 'Eggs', 'Milk']));
});

test('never "Synced" while the relay is frozen (SIGSTOP), then killed and restarted', async ({ phones, relay }) => {
  const { a, b } = await startSharedList(phones, ['Bread']);
  await a.recordStatusTexts();
  relay.pause();
  await a.add('Tea');
  await expect(a.status, 'the change is waiting for the relay').toContainText(/1 change/);
  // The app's heartbeat notices a relay that answers nothing; until then it must not claim Synced.
  await a.waitOfflineShown(20_000);
  const [initial, ...afterEdit] = await a.recordedStatusTexts();
  expect(syncStateOf(initial ?? ''), 'recording started while Synced').toBe('synced');
  expect(afterEdit.map(syncStateOf), 'never Synced while the relay is frozen').not.toContain('synced');
  expect(await b.names(), 'a frozen relay relayed nothing').not.toContain('Tea');

  await relay.kill();
  await relay.restart();
  expect(await converge([a, b])).toEqual(listOf(['Bread', 'Tea']));
});

test('opened while the relay is unreachable (the network says online): Offline, not an endless Syncing…, then Synced', async ({
  phones,
  relay,
}) => {
  const { a, b } = await startSharedList(phones, ['Bread']);
  await a.waitServiceWorkerInControl();
  await relay.kill();
  await a.waitOfflineShown();

  // Store Wi-Fi with no way through: navigator.onLine stays true, every connection attempt fails.
  await a.reload();
  await expect(a.item('Bread')).toHaveCount(1);
  await a.waitOfflineShown();
  await a.add('Milk');
  await expect(a.status).toHaveText('Offline · 1 change on this phone');

  await relay.restart();
  expect(await converge([a, b])).toEqual(listOf(['Bread', 'Milk']));
});

import { afterEach, describe, expect, it, vi } from 'vitest';
import { followListsLeftElsewhere, forgetList, type ListLeftElsewhere } from './device-lists.js';
import { broadcastLeftLists } from './left-lists.js';
import { openListSession } from './list-session.js';
import { deleteLocalCopy, localDatabaseName } from './local-copy.js';
import { createKnownListsStore } from './known-lists.js';
import { deviceStorage } from './device-storage.js';
import { FakeRelay } from './testing/fake-relay.js';
import type { ListSession } from './types.js';

let counter = 0;
const newId = () => `leftliststest${String(++counter).padStart(6, '0')}x`;
/** Each test its own channel, so two tests' windows never hear each other. */
const newChannelName = () => `basket:left-lists-test-${counter}-${Math.random()}`;
const settle = (ms = 50) => new Promise((resolve) => setTimeout(resolve, ms));

const cleanups: Array<() => void> = [];
afterEach(() => {
  for (const cleanup of cleanups.splice(0)) cleanup();
});

function openInThisWindow(listId: string): ListSession {
  const relay = new FakeRelay();
  const network = Object.assign(new EventTarget(), { isOnline: () => true });
  const session = openListSession(listId, 'Mum', {
    serverUrl: 'ws://relay.test/sync',
    WebSocketPolyfill: relay.WebSocket,
    storage: deviceStorage(),
    network,
    crossTab: false,
  });
  cleanups.push(() => session.destroy());
  return session;
}

function storedKeysOf(listId: string): string[] {
  return Object.keys(localStorage).filter((key) => key.includes(listId));
}

async function databaseExists(listId: string): Promise<boolean> {
  const databases = await indexedDB.databases();
  return databases.some((database) => database.name === localDatabaseName(listId));
}

describe('a list left in another window of the app', () => {
  it('is closed in this window, which is told, and nothing of it stays on the device', async () => {
    const listId = newId();
    const channelName = newChannelName();
    const session = openInThisWindow(listId);
    await session.whenLoaded;
    session.list.setTitle('Party');
    session.list.addItem({ name: 'Candles' });
    // Synced first, so that any status from here on comes from the close or after it. Recording
    // from a fixed 50 ms after the edits counted the session's own "Synced" (~30 ms after opening,
    // later on a loaded machine) as if it came after the close: a flake.
    await vi.waitFor(() => expect(session.status()).toMatchObject({ state: 'synced', pendingChanges: 0 }));
    expect(await databaseExists(listId)).toBe(true);
    const states: string[] = [];
    session.onStatus((status) => states.push(status.state));

    const told: ListLeftElsewhere[] = [];
    cleanups.push(followListsLeftElsewhere((left) => told.push(left), deviceStorage(), broadcastLeftLists(channelName)));

    // The other window leaves: it tells the others, then deletes the device's copy.
    broadcastLeftLists(channelName).announce(listId);
    await deleteLocalCopy(listId);
    await vi.waitFor(() => expect(told).toEqual([{ listId, title: 'Party' }]));
    await settle();

    // Closed here: no status any more, and what closing saved (count, cached view) is gone again.
    session.list.addItem({ name: 'Balloons' });
    await settle();
    expect(states).toEqual([]);
    expect(storedKeysOf(listId)).toEqual([]);
    expect(await databaseExists(listId)).toBe(false);
  });

  it('leaves a list open here alone when another list was left, and tells only the other windows', async () => {
    const kept = newId();
    const leftInThisWindow = newId();
    const channelName = newChannelName();
    const session = openInThisWindow(kept);
    await session.whenLoaded;
    session.list.addItem({ name: 'Milk' });

    const toldHere: ListLeftElsewhere[] = [];
    const toldElsewhere: ListLeftElsewhere[] = [];
    const thisWindow = broadcastLeftLists(channelName);
    cleanups.push(followListsLeftElsewhere((left) => toldHere.push(left), deviceStorage(), thisWindow));
    cleanups.push(
      followListsLeftElsewhere((left) => toldElsewhere.push(left), deviceStorage(), broadcastLeftLists(channelName)),
    );

    await forgetList(leftInThisWindow, createKnownListsStore(deviceStorage()), deviceStorage(), thisWindow);
    await vi.waitFor(() => expect(toldElsewhere.map((left) => left.listId)).toEqual([leftInThisWindow]));
    await settle();
    expect(toldHere).toEqual([]);
    expect(session.list.items().map((item) => item.name)).toEqual(['Milk']);
    await settle(300);
    expect(storedKeysOf(kept).length).toBeGreaterThan(0);
  });

  it('ignores anything on the channel that is not a leave of a valid list id', async () => {
    const told: ListLeftElsewhere[] = [];
    const channelName = newChannelName();
    cleanups.push(followListsLeftElsewhere((left) => told.push(left), deviceStorage(), broadcastLeftLists(channelName)));
    const stranger = new BroadcastChannel(channelName);
    for (const message of [null, 'left', { type: 'left' }, { type: 'left', listId: '../x' }, { type: 'joined', listId: newId() }]) {
      stranger.postMessage(message);
    }
    stranger.postMessage({ type: 'left', listId: 'validlistid000000001' });
    await vi.waitFor(() => expect(told.map((left) => left.listId)).toEqual(['validlistid000000001']));
    stranger.close();
  });
});

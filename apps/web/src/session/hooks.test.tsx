import { describe, expect, it } from 'vitest';
import { act, render, renderHook, screen } from '@testing-library/react';
import { memo, type ReactNode } from 'react';
import type { Item, ShoppingListApi } from '@basket/list-core';
import { createMemorySession, type MemoryListSession } from './memory-session.js';
import {
  SessionOpenerContext,
  useDeletedItems,
  useItems,
  useListSession,
  usePeers,
  useSyncStatus,
  type SessionOpener,
} from './hooks.js';
import { deviceKnownLists } from './known-lists.js';
import { useKnownLists } from './device-lists.js';
import { deviceProfileStore } from './profile.js';

const LIST_A = 'hooksAhooksAhooksAhooks';
const LIST_B = 'hooksBhooksBhooksBhooks';

describe('useSyncStatus', () => {
  it('follows the session: offline with a pending count, then synced after the ack', () => {
    const session = createMemorySession(LIST_A, 'Mum');
    const { result } = renderHook(() => useSyncStatus(session));
    expect(result.current).toMatchObject({ state: 'offline', pendingChanges: 0 });
    act(() => void session.list.addItem({ name: 'Milk' }));
    expect(result.current).toMatchObject({ state: 'offline', pendingChanges: 1 });
    act(() => session.connect());
    expect(result.current.state).toBe('syncing');
    act(() => session.acknowledge());
    expect(result.current).toMatchObject({ state: 'synced', pendingChanges: 0 });
    session.destroy();
  });

  it('is offline without a session', () => {
    const { result } = renderHook(() => useSyncStatus(null));
    expect(result.current.state).toBe('offline');
  });
});

describe('usePeers', () => {
  it('lists the session peers and follows changes', () => {
    const session = createMemorySession(LIST_A, 'Mum');
    const { result } = renderHook(() => usePeers(session));
    expect(result.current.map((peer) => peer.name)).toEqual(['Mum']);
    act(() => session.setPeers([...session.peers(), { clientId: 9, name: 'Dad', color: '#000000', isSelf: false }]));
    expect(result.current.map((peer) => peer.name)).toEqual(['Mum', 'Dad']);
    session.destroy();
  });
});

describe('useItems', () => {
  it('re-renders only the rows whose item changed', () => {
    const session = createMemorySession(LIST_A, 'Mum');
    const list: ShoppingListApi = session.list;
    const milk = list.addItem({ name: 'Milk' });
    list.addItem({ name: 'Eggs' });
    const renders = new Map<string, number>();
    const Row = memo(function Row({ item }: { item: Item }) {
      renders.set(item.name, (renders.get(item.name) ?? 0) + 1);
      return <li>{item.name}</li>;
    });
    function Rows() {
      const items = useItems(list);
      return (
        <ul>
          {items.map((item) => (
            <Row key={item.id} item={item} />
          ))}
        </ul>
      );
    }
    render(<Rows />);
    expect(renders).toEqual(new Map([['Eggs', 1], ['Milk', 1]]));
    act(() => list.setChecked(milk, true));
    expect(renders).toEqual(new Map([['Eggs', 1], ['Milk', 2]]));
    act(() => void list.addItem({ name: 'Tea' }));
    expect(screen.getAllByRole('listitem')).toHaveLength(3);
    expect(renders.get('Eggs')).toBe(1);
    session.destroy();
  });

  it('useDeletedItems shows removed items', () => {
    const session = createMemorySession(LIST_A, 'Mum');
    const id = session.list.addItem({ name: 'Butter' });
    const { result } = renderHook(() => useDeletedItems(session.list));
    expect(result.current).toEqual([]);
    act(() => session.list.removeItem(id));
    expect(result.current.map((item) => item.name)).toEqual(['Butter']);
    session.destroy();
  });
});

describe('useListSession', () => {
  it('opens the list, registers it on the device, and closes it when the list changes', () => {
    const opened: MemoryListSession[] = [];
    const opener: SessionOpener = (listId, actor) => {
      const session = createMemorySession(listId, actor);
      opened.push(session);
      return session;
    };
    const wrapper = ({ children }: { children: ReactNode }) => (
      <SessionOpenerContext.Provider value={opener}>{children}</SessionOpenerContext.Provider>
    );
    const { result, rerender, unmount } = renderHook(({ id }: { id: string | null }) => useListSession(id), {
      wrapper,
      initialProps: { id: LIST_A },
    });
    expect(result.current?.listId).toBe(LIST_A);
    expect(deviceKnownLists().lastOpened()).toBe(LIST_A);
    act(() => result.current?.list.setTitle('Weekend'));
    expect(deviceKnownLists().lists().find((list) => list.id === LIST_A)?.title).toBe('Weekend');

    rerender({ id: LIST_B });
    expect(result.current?.listId).toBe(LIST_B);
    const first = opened.find((session) => session.listId === LIST_A);
    let statusCalls = 0;
    first?.onStatus(() => statusCalls++);
    first?.connect();
    expect(statusCalls).toBe(0);
    unmount();
  });

  it('a name change keeps the list open (the same session and document) and later edits carry it', () => {
    const opened: MemoryListSession[] = [];
    const storedCopies = new Map<string, Uint8Array>();
    const opener: SessionOpener = (listId, actor) => {
      const session = createMemorySession(listId, actor, { storedCopies });
      opened.push(session);
      return session;
    };
    const wrapper = ({ children }: { children: ReactNode }) => (
      <SessionOpenerContext.Provider value={opener}>{children}</SessionOpenerContext.Provider>
    );
    const { result, unmount } = renderHook(() => useListSession(LIST_A), { wrapper });
    const first = result.current!;
    const milk = first.list.addItem({ name: 'Milk' });
    first.list.removeItem(milk);
    // What the undo toast holds: this session, from before the name change.
    const undo = () => first.list.restoreItem(milk);

    act(() => deviceProfileStore().setDisplayName('Dad'));
    undo();

    expect(result.current).toBe(first);
    expect(opened).toHaveLength(1);
    expect(first.list.item(milk)?.deletedAt).toBeUndefined();
    expect(first.list.activity(1)[0]).toMatchObject({ kind: 'restored', actor: 'Dad' });
    expect(first.peers().find((peer) => peer.isSelf)?.name).toBe('Dad');
    unmount();
    const reopened = createMemorySession(LIST_A, 'Dad', { storedCopies });
    expect(reopened.list.items().map((item) => item.name)).toEqual(['Milk']);
    reopened.destroy();
  });

  it('useKnownLists forgets a list on this device', async () => {
    const { result } = renderHook(() => useKnownLists());
    let id = '';
    act(() => {
      id = result.current.create();
    });
    expect(result.current.lists.map((list) => list.id)).toContain(id);
    await act(() => result.current.forget(id));
    expect(result.current.lists.map((list) => list.id)).not.toContain(id);
  });
});

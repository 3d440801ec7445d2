import { act, configure, render, screen, waitFor, within } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { createMemorySession, SessionOpenerContext } from '../session';
import type { MemoryListSession } from '../session';
import { App } from './App';
import { focusVisibleWhileFocused } from './test-support';

// Component tests type key by key; on a loaded 2-core machine the 5 s default is too tight.
vi.setConfig({ testTimeout: 30_000 });
configure({ asyncUtilTimeout: 5_000 });

const LIST_A = 'listAAAAAAAAAAAAAAAA';
const LIST_B = 'listBBBBBBBBBBBBBBBB';

let opened: MemoryListSession[] = [];
/** This device's stored lists: opening a list again shows what was saved, as in the app. */
let storedCopies = new Map<string, Uint8Array>();

function renderApp() {
  const open = (listId: string, actor: string) => {
    const session = createMemorySession(listId, actor, { storedCopies });
    opened.push(session);
    return session;
  };
  return render(
    <SessionOpenerContext.Provider value={open}>
      <App />
    </SessionOpenerContext.Provider>,
  );
}

/** This device has opened LIST_A once (it is in its lists), and nothing is rendered now. */
async function knowListA(): Promise<void> {
  window.history.replaceState(null, '', `/l/${LIST_A}`);
  const first = renderApp();
  await screen.findByRole('textbox', { name: 'Add item' });
  first.unmount();
}

beforeEach(() => {
  opened = [];
  storedCopies = new Map();
});
afterEach(() => {
  window.history.replaceState(null, '', '/');
});

describe('App routing', () => {
  it('sends a fresh device from / to a brand-new list, ready to type', async () => {
    window.history.replaceState(null, '', '/');
    renderApp();
    const field = await screen.findByRole('textbox', { name: 'Add item' });
    expect(window.location.pathname).toMatch(/^\/l\/[A-Za-z0-9_-]{16,64}$/);
    expect(field).toBeEnabled();
    expect(opened.map((session) => `/l/${session.listId}`)).toContain(window.location.pathname);
  });

  it('opens the list named in the URL, and follows back/forward', async () => {
    window.history.replaceState(null, '', `/l/${LIST_A}`);
    const { unmount } = renderApp();
    await screen.findByRole('textbox', { name: 'Add item' });
    expect(opened.at(-1)?.listId).toBe(LIST_A);

    act(() => {
      window.history.pushState(null, '', `/l/${LIST_B}`);
      window.dispatchEvent(new PopStateEvent('popstate'));
    });
    await waitFor(() => expect(opened.at(-1)?.listId).toBe(LIST_B));
    unmount();
  });

  it('goes back to the list opened last when / is opened again', async () => {
    window.history.replaceState(null, '', `/l/${LIST_B}`);
    const first = renderApp();
    await screen.findByRole('textbox', { name: 'Add item' });
    first.unmount();

    window.history.replaceState(null, '', '/');
    renderApp();
    await screen.findByRole('textbox', { name: 'Add item' });
    expect(window.location.pathname).toBe(`/l/${LIST_B}`);
  });

  it('creates a new list from the lists menu and shows it in the URL', async () => {
    window.history.replaceState(null, '', `/l/${LIST_A}`);
    renderApp();
    const user = userEvent.setup();
    await user.click(await screen.findByRole('button', { name: 'Your lists' }));
    await user.click(screen.getByRole('button', { name: 'New list' }));
    await waitFor(() => expect(window.location.pathname).not.toBe(`/l/${LIST_A}`));
    expect(window.location.pathname).toMatch(/^\/l\/[A-Za-z0-9_-]{16,64}$/);
    await waitFor(() => expect(`/l/${opened.at(-1)?.listId}`).toBe(window.location.pathname));
  });

  it('switching lists from the keyboard leaves the focus on the opened list’s title, not on the page', async () => {
    window.history.replaceState(null, '', `/l/${LIST_A}`);
    const first = renderApp();
    const user = userEvent.setup();
    await user.type(await screen.findByRole('textbox', { name: 'Add item' }), 'Milk{Enter}');
    await user.click(screen.getByRole('button', { name: 'Shopping list, rename list' }));
    await user.type(screen.getByRole('textbox', { name: 'List name' }), '{Control>}a{/Control}Groceries{Enter}');
    first.unmount();
    window.history.replaceState(null, '', `/l/${LIST_B}`);
    renderApp();
    await user.click(await screen.findByRole('button', { name: 'Your lists' }));
    const menu = screen.getByRole('dialog', { name: 'Your lists' });
    const endKeyboardUse = focusVisibleWhileFocused();
    try {
      within(menu).getByRole('link', { name: /^Groceries/ }).focus();
      await user.keyboard('{Enter}');
      await waitFor(() => expect(window.location.pathname).toBe(`/l/${LIST_A}`));
      await waitFor(() => expect(screen.getByRole('button', { name: 'Groceries, rename list' })).toHaveFocus());
    } finally {
      endKeyboardUse();
    }
  });

  it('leaves a list: forgets it on this device and opens another one', async () => {
    await knowListA();
    window.history.replaceState(null, '', `/l/${LIST_B}`);
    renderApp();
    const user = userEvent.setup();
    await user.click(await screen.findByRole('button', { name: 'Your lists' }));
    await user.click(screen.getByRole('button', { name: 'Leave this list…' }));
    await user.click(screen.getByRole('button', { name: 'Leave list' }));

    await waitFor(() => expect(window.location.pathname).toBe(`/l/${LIST_A}`));
    await user.click(await screen.findByRole('button', { name: 'Your lists' }));
    const menu = screen.getByRole('dialog', { name: 'Your lists' });
    const hrefs = [...menu.querySelectorAll('a.list-link')].map((link) => link.getAttribute('href'));
    expect(hrefs).toContain(`/l/${LIST_A}`);
    expect(hrefs).not.toContain(`/l/${LIST_B}`);
  });

  it('leaving with changes the relay has not stored says they would be lost, and keeps the list by default', async () => {
    await knowListA();
    window.history.replaceState(null, '', `/l/${LIST_B}`);
    renderApp();
    const user = userEvent.setup();
    const session = opened.at(-1)!;
    act(() => session.connect());
    await user.type(await screen.findByRole('textbox', { name: 'Add item' }), 'Milk{Enter}');
    act(() => session.acknowledge());
    act(() => session.disconnect());
    await user.type(screen.getByRole('textbox', { name: 'Add item' }), 'Birthday cake{Enter}');
    await user.type(screen.getByRole('textbox', { name: 'Add item' }), 'Candles{Enter}');
    await waitFor(() => expect(screen.getByRole('status')).toHaveTextContent('Offline · 2 changes on this phone'));

    await user.click(screen.getByRole('button', { name: 'Your lists' }));
    await user.click(screen.getByRole('button', { name: 'Leave this list…' }));
    const confirm = screen.getByRole('group', { name: 'Leave this list?' });
    expect(confirm).toHaveTextContent('2 changes on this phone haven’t reached the family yet — they’ll be lost if you leave now.');
    expect(confirm).not.toHaveTextContent('the link brings it back');
    // The safe answer is the one a stray Enter or tap gives.
    expect(within(confirm).getByRole('button', { name: 'Keep it' })).toHaveFocus();
    expect(within(confirm).queryByRole('button', { name: 'Leave list' })).toBeNull();

    await user.keyboard('{Enter}');
    expect(screen.queryByRole('group', { name: 'Leave this list?' })).toBeNull();
    expect(screen.getByRole('button', { name: 'Leave this list…' })).toBeInTheDocument();
    expect(window.location.pathname).toBe(`/l/${LIST_B}`);
    // At once, not a frame later: an Escape pressed next must reach the dialog, not <body>.
    expect(screen.getByRole('button', { name: 'Leave this list…' })).toHaveFocus();

    // Once the relay has stored them, leaving loses nothing, and the dialog says so at once.
    await user.click(screen.getByRole('button', { name: 'Leave this list…' }));
    expect(screen.getByRole('button', { name: 'Leave and lose 2 changes' })).toBeInTheDocument();
    act(() => session.connect());
    act(() => session.acknowledge());
    const afterSync = screen.getByRole('group', { name: 'Leave this list?' });
    await waitFor(() => expect(afterSync).toHaveTextContent('It stays for everyone else; the link brings it back.'));
    await user.click(within(afterSync).getByRole('button', { name: 'Leave list' }));
    await waitFor(() => expect(window.location.pathname).toBe(`/l/${LIST_A}`));
  });

  it('someone who really means to leave with unsent changes can, by a button that names the loss', async () => {
    await knowListA();
    window.history.replaceState(null, '', `/l/${LIST_B}`);
    renderApp();
    const user = userEvent.setup();
    await user.type(await screen.findByRole('textbox', { name: 'Add item' }), 'Candles{Enter}');
    await user.click(screen.getByRole('button', { name: 'Your lists' }));
    await user.click(screen.getByRole('button', { name: 'Leave this list…' }));
    expect(screen.getByRole('group', { name: 'Leave this list?' })).toHaveTextContent(
      '1 change on this phone hasn’t reached the family yet — it’ll be lost if you leave now.',
    );
    await user.click(screen.getByRole('button', { name: 'Leave and lose 1 change' }));
    await waitFor(() => expect(window.location.pathname).toBe(`/l/${LIST_A}`));
  });
});

describe('a list left in another window of the app', () => {
  /** What another tab (or the installed app) says on the device when it leaves a list. */
  function leaveInAnotherWindow(listId: string): void {
    // It forgets the list in the device's registry (this window hears of it by a storage event) ...
    const registry = JSON.parse(localStorage.getItem('basket:lists') ?? '[]') as Array<{ id: string }>;
    localStorage.setItem('basket:lists', JSON.stringify(registry.filter((entry) => entry.id !== listId)));
    window.dispatchEvent(new StorageEvent('storage', { key: 'basket:lists' }));
    // ... and tells the other windows before it deletes the list's copy.
    const otherWindow = new BroadcastChannel('basket:left-lists');
    otherWindow.postMessage({ type: 'left', listId });
    otherWindow.close();
  }

  it('closes it here and says so, instead of taking edits with no copy on the phone; it can be opened again', async () => {
    await knowListA();
    window.history.replaceState(null, '', `/l/${LIST_B}`);
    renderApp();
    const user = userEvent.setup();
    await user.type(await screen.findByRole('textbox', { name: 'Add item' }), 'Candles{Enter}');
    const session = opened.at(-1)!;
    act(() => session.list.setTitle('Party'));
    const statuses: string[] = [];
    session.onStatus((status) => statuses.push(status.state));

    // Another list left elsewhere changes nothing here.
    leaveInAnotherWindow(LIST_A);
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(screen.getByRole('textbox', { name: 'Add item' })).toBeInTheDocument();

    leaveInAnotherWindow(LIST_B);
    const heading = await screen.findByRole('heading', { level: 1, name: 'You left “Party” on this phone' });
    await waitFor(() => expect(heading).toHaveFocus());
    expect(screen.queryByRole('textbox', { name: 'Add item' })).toBeNull();
    // The session is closed: going online no longer reports anything for the left list.
    act(() => session.connect());
    expect(statuses).toEqual([]);
    // The address stays: it is still this list's share link.
    expect(window.location.pathname).toBe(`/l/${LIST_B}`);

    await user.click(screen.getByRole('button', { name: 'Open it again' }));
    await screen.findByRole('textbox', { name: 'Add item' });
    expect(opened.at(-1)).not.toBe(session);
    expect(opened.at(-1)?.listId).toBe(LIST_B);
  });

  it('offers the device\'s other lists and a new one', async () => {
    await knowListA();
    window.history.replaceState(null, '', `/l/${LIST_B}`);
    renderApp();
    const user = userEvent.setup();
    await screen.findByRole('textbox', { name: 'Add item' });
    leaveInAnotherWindow(LIST_B);
    await screen.findByRole('heading', { level: 1, name: 'You left this list on this phone' });
    const links = [...document.querySelectorAll('a.list-link')];
    expect(links.map((link) => link.getAttribute('href'))).toEqual([`/l/${LIST_A}`]);
    await user.click(links[0]!);
    await waitFor(() => expect(window.location.pathname).toBe(`/l/${LIST_A}`));
    await screen.findByRole('textbox', { name: 'Add item' });
  });
});

describe('saving your name', () => {
  async function saveNameInListsMenu(user: ReturnType<typeof userEvent.setup>, name: string): Promise<void> {
    await user.click(screen.getByRole('button', { name: 'Your lists' }));
    const menu = screen.getByRole('dialog', { name: 'Your lists' });
    const field = within(menu).getByRole('textbox', { name: 'Your name (shown to the family)' });
    await user.clear(field);
    await user.type(field, name);
    await user.click(within(menu).getByRole('button', { name: 'Save name' }));
    await user.click(within(menu).getByRole('button', { name: 'Close' }));
    expect(screen.queryByRole('dialog', { name: 'Your lists' })).toBeNull();
  }

  it('keeps the list open: Undo of a removal made before it brings the item back, into the list this phone stores', async () => {
    window.history.replaceState(null, '', `/l/${LIST_A}`);
    renderApp();
    const user = userEvent.setup();
    await user.type(await screen.findByRole('textbox', { name: 'Add item' }), 'Milk{Enter}');
    await user.click(await screen.findByRole('button', { name: 'Remove Milk' }));
    await waitFor(() => expect(screen.queryByRole('checkbox', { name: 'Milk' })).toBeNull());

    await saveNameInListsMenu(user, 'Dad');
    await user.click(screen.getByRole('button', { name: 'Undo' }));

    expect(await screen.findByRole('checkbox', { name: 'Milk' })).toBeInTheDocument();
    // One session all along: the restore is in the document this device stores and syncs.
    expect(opened.filter((session) => session.listId === LIST_A)).toHaveLength(1);
    const reopened = createMemorySession(LIST_A, 'Dad', { storedCopies });
    await reopened.whenLoaded;
    expect(reopened.list.items().map((item) => item.name)).toEqual(['Milk']);
    reopened.destroy();
  });

  it('keeps the list open: Undo of "Clear checked" made before it brings the items back', async () => {
    window.history.replaceState(null, '', `/l/${LIST_A}`);
    renderApp();
    const user = userEvent.setup();
    const field = await screen.findByRole('textbox', { name: 'Add item' });
    await user.type(field, 'Bread{Enter}');
    await user.type(field, 'Eggs{Enter}');
    await user.click(await screen.findByRole('checkbox', { name: 'Bread' }));
    await user.click(screen.getByRole('button', { name: 'Clear checked' }));
    await waitFor(() => expect(screen.queryByRole('checkbox', { name: 'Bread' })).toBeNull());

    await saveNameInListsMenu(user, 'Gran');
    await user.click(screen.getByRole('button', { name: 'Undo' }));

    expect(await screen.findByRole('checkbox', { name: 'Bread' })).toBeChecked();
    expect(opened.filter((session) => session.listId === LIST_A)).toHaveLength(1);
  });

  it('later edits carry the new name, in the activity and in presence', async () => {
    window.history.replaceState(null, '', `/l/${LIST_A}`);
    renderApp();
    const user = userEvent.setup();
    await user.type(await screen.findByRole('textbox', { name: 'Add item' }), 'Tea{Enter}');
    await saveNameInListsMenu(user, 'Grandad');
    await user.type(screen.getByRole('textbox', { name: 'Add item' }), 'Jam{Enter}');

    const session = opened.at(-1)!;
    expect(session.list.items().find((item) => item.name === 'Jam')?.addedBy).toBe('Grandad');
    expect(session.peers().find((peer) => peer.isSelf)?.name).toBe('Grandad');
  });
});

describe('share links that arrive damaged', () => {
  it('a link that names no list says so, opens no list, and offers the device’s lists or a new one', async () => {
    await knowListA();
    const openedBefore = opened.length;

    const cut = `/l/${LIST_B.slice(0, 12)}`;
    window.history.replaceState(null, '', cut);
    renderApp();
    expect(await screen.findByRole('heading', { level: 1, name: 'This link doesn’t point to a list' })).toHaveFocus();
    expect(screen.getByText(/check it was copied whole/i)).toBeInTheDocument();
    expect(screen.queryByRole('textbox', { name: 'Add item' })).toBeNull();
    expect(screen.queryByRole('status')).toBeNull();
    // Nothing was opened in its place; the address stays as it came, to compare with the sent one.
    await act(() => new Promise((resolve) => setTimeout(resolve, 50)));
    expect(opened.length).toBe(openedBefore);
    expect(window.location.pathname).toBe(cut);

    const user = userEvent.setup();
    const toListA = screen.getAllByRole('link').find((link) => link.getAttribute('href') === `/l/${LIST_A}`);
    await user.click(toListA!);
    await waitFor(() => expect(window.location.pathname).toBe(`/l/${LIST_A}`));
    await screen.findByRole('textbox', { name: 'Add item' });

    // Back to the broken link, then start a new list from there.
    act(() => {
      window.history.back();
    });
    await waitFor(() => expect(window.location.pathname).toBe(cut));
    await user.click(await screen.findByRole('button', { name: 'Start a new list' }));
    await waitFor(() => expect(window.location.pathname).toMatch(/^\/l\/[A-Za-z0-9_-]{16,64}$/));
    expect(window.location.pathname).not.toBe(`/l/${LIST_A}`);
    await screen.findByRole('textbox', { name: 'Add item' });
  });

  it('a link with an unambiguous slip opens its list, at the canonical address', async () => {
    for (const slipped of [`/L/${LIST_B}`, `/l/${LIST_B})`, `/l/${LIST_B}.`, `/l/${LIST_B},`]) {
      window.history.replaceState(null, '', slipped);
      const view = renderApp();
      await waitFor(() => expect(window.location.pathname).toBe(`/l/${LIST_B}`));
      await screen.findByRole('textbox', { name: 'Add item' });
      expect(opened.at(-1)?.listId).toBe(LIST_B);
      view.unmount();
    }
  });
});

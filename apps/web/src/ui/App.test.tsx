import { act, configure, render, screen, waitFor } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { createMemorySession, SessionOpenerContext } from '../session';
import type { ListSession } from '../session/types';
import { App } from './App';

// Component tests type key by key; on a loaded 2-core machine the 5 s default is too tight.
vi.setConfig({ testTimeout: 30_000 });
configure({ asyncUtilTimeout: 5_000 });

const LIST_A = 'listAAAAAAAAAAAAAAAA';
const LIST_B = 'listBBBBBBBBBBBBBBBB';

let opened: ListSession[] = [];

function renderApp() {
  const open = (listId: string, actor: string) => {
    const session = createMemorySession(listId, actor);
    opened.push(session);
    return session;
  };
  return render(
    <SessionOpenerContext.Provider value={open}>
      <App />
    </SessionOpenerContext.Provider>,
  );
}

beforeEach(() => {
  opened = [];
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

  it('leaves a list: forgets it on this device and opens another one', async () => {
    window.history.replaceState(null, '', `/l/${LIST_A}`);
    const first = renderApp();
    await screen.findByRole('textbox', { name: 'Add item' });
    first.unmount();
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
});

/** Renders the list screen over an in-memory session (no IndexedDB, no network). */
import { render } from '@testing-library/react';
import { vi } from 'vitest';
import { createMemorySession } from '../session';
import type { MemoryListSession } from '../session';
import type { Profile } from '../session/types';
import { ListScreen } from './ListScreen';
import type { ListScreenProps } from './ListScreen';

export const TEST_LIST_ID = 'testList_0123456789';

export function renderListScreen(
  options: {
    actor?: string;
    profile?: Partial<Profile>;
    props?: Partial<ListScreenProps>;
    now?: () => number;
    session?: Omit<NonNullable<Parameters<typeof createMemorySession>[2]>, 'now'>;
  } = {},
) {
  const actor = options.actor ?? 'Mum';
  const session: MemoryListSession = createMemorySession(
    TEST_LIST_ID,
    actor,
    { ...options.session, ...(options.now ? { now: options.now } : {}) },
  );
  const profile: Profile = { displayName: actor, color: '#2f7d4f', nameChosen: true, ...options.profile };
  const props: ListScreenProps = {
    session,
    profile,
    onChangeName: () => {},
    knownLists: [{ id: TEST_LIST_ID, title: '', lastOpenedAt: 0 }],
    shareUrl: `http://localhost/l/${TEST_LIST_ID}`,
    listHref: (id) => `/l/${id}`,
    onOpenList: () => {},
    onCreateList: () => {},
    onLeaveList: () => {},
    ...options.props,
  };
  const view = render(<ListScreen {...props} />);
  return { ...view, session, list: session.list, props };
}

/**
 * As a browser does for a keyboard user: the focused control matches :focus-visible while Enter
 * or Space activates it. jsdom matches it only right after Tab, so without this the keyboard
 * paths of "focus goes to …, not <body>" (focusIfLost) cannot be exercised. Returns the undo.
 */
export function focusVisibleWhileFocused(): () => void {
  const matches = Element.prototype.matches;
  const spy = vi.spyOn(Element.prototype, 'matches').mockImplementation(function (this: Element, selector: string) {
    return selector === ':focus-visible' ? this === document.activeElement : matches.call(this, selector);
  });
  return () => spy.mockRestore();
}

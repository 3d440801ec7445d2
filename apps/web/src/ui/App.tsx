/**
 * The root: the URL says which list is open (`/l/<listId>`, which is also
 * its share link); `/` goes to the list opened last on this device, or to a
 * brand-new one, at once and without a prompt. A share link with an
 * unambiguous slip (`/L/…`, a `)` pasted with it) goes to its list; one that
 * names no list says so (BrokenLink) instead of opening another list. A list left
 * in another window of the app is closed here and says so (LeftList).
 */
import { useCallback, useEffect, useMemo } from 'react';
import {
  deviceKnownLists,
  listPath,
  navigateToList,
  routeOf,
  shareUrl,
  startListId,
  useCurrentPathname,
  useKnownLists,
  useListLeftElsewhere,
  useListSession,
  useProfile,
} from '../session';
import { BrokenLink } from './BrokenLink';
import { LeftList } from './LeftList';
import { ListScreen } from './ListScreen';
import './app.css';

export function App() {
  const pathname = useCurrentPathname();
  const route = useMemo(() => routeOf(pathname), [pathname]);
  const routeListId = route.kind === 'list' ? route.listId : null;
  const { left: leftElsewhere, reopen } = useListLeftElsewhere(routeListId);
  // Left in another window: closed here until the person opens it again.
  const listId = leftElsewhere === null ? routeListId : null;
  const session = useListSession(listId);
  const [profile, setDisplayName] = useProfile();
  const deviceLists = useKnownLists();

  useEffect(() => {
    if (route.kind === 'list' || route.kind === 'broken-link') return;
    const start = startListId(pathname, deviceKnownLists().lastOpened());
    if (start.listId !== null) navigateToList(start.listId, { replace: true });
  }, [route, pathname]);

  const openList = useCallback((id: string) => navigateToList(id), []);
  const { create, forget, lists } = deviceLists;
  const createList = useCallback(() => navigateToList(create()), [create]);
  const leaveList = useCallback(() => {
    if (listId === null) return;
    const next = lists.find((list) => list.id !== listId)?.id ?? create();
    navigateToList(next, { replace: true });
    void forget(listId);
  }, [listId, lists, create, forget]);

  if (route.kind === 'broken-link') {
    return (
      <BrokenLink
        href={window.location.href}
        lists={lists}
        listHref={listPath}
        onOpenList={openList}
        onCreateList={createList}
      />
    );
  }
  if (leftElsewhere !== null) {
    return (
      <LeftList
        title={leftElsewhere.title}
        lists={lists}
        listHref={listPath}
        onReopen={reopen}
        onOpenList={openList}
        onCreateList={createList}
      />
    );
  }
  if (session === null) {
    // One frame at most: the session opens from the local copy, never from the network.
    return <div className="app" aria-busy="true" />;
  }
  return (
    <ListScreen
      key={session.listId}
      session={session}
      profile={profile}
      onChangeName={setDisplayName}
      knownLists={lists}
      shareUrl={shareUrl(session.listId)}
      listHref={listPath}
      onOpenList={openList}
      onCreateList={createList}
      onLeaveList={leaveList}
    />
  );
}

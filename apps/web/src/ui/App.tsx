/**
 * The root: the URL says which list is open (`/l/<listId>`, which is also
 * its share link); `/` goes to the list opened last on this device, or to a
 * brand-new one, at once and without a prompt.
 */
import { useCallback, useEffect } from 'react';
import {
  deviceKnownLists,
  listPath,
  navigateToList,
  shareUrl,
  startListId,
  useCurrentListId,
  useKnownLists,
  useListSession,
  useProfile,
} from '../session';
import { ListScreen } from './ListScreen';
import './app.css';

export function App() {
  const listId = useCurrentListId();
  const session = useListSession(listId);
  const [profile, setDisplayName] = useProfile();
  const deviceLists = useKnownLists();

  useEffect(() => {
    if (listId !== null) return;
    const start = startListId(window.location.pathname, deviceKnownLists().lastOpened());
    navigateToList(start.listId, { replace: true });
  }, [listId]);

  const openList = useCallback((id: string) => navigateToList(id), []);
  const { create, forget, lists } = deviceLists;
  const createList = useCallback(() => navigateToList(create()), [create]);
  const leaveList = useCallback(() => {
    if (listId === null) return;
    const next = lists.find((list) => list.id !== listId)?.id ?? create();
    navigateToList(next, { replace: true });
    void forget(listId);
  }, [listId, lists, create, forget]);

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

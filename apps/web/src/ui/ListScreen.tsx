/**
 * The list screen: header (title, presence, share, lists), status line,
 * "Add item", the items by store section, and the undo toast and notices.
 * Everything reads and writes the local list model; nothing waits on the network.
 */
import { memo, useCallback, useEffect, useLayoutEffect, useMemo, useRef, useState } from 'react';
import type { ComponentProps } from 'react';
import type { Item, ItemPatch, NewItem, Notice, ShoppingListApi } from '@basket/list-core';
import { useDeletedItems, useItems, useKeptNotices, usePeers, useSyncStatus } from '../session';
import { EmptyList } from './EmptyList';
import type { KnownList, ListSession, Profile } from '../session/types';
import { ActivityLog } from './Activity';
import { AddItemField, findAddItemInput } from './AddItemField';
import { dropEarlyTyping } from './early-typing';
import { quantityText } from './format';
import type { AddResult } from './AddItemField';
import { ItemEditor } from './ItemEditor';
import { ItemList } from './ItemList';
import { checkboxId } from './ItemRow';
import type { ItemActions } from './ItemRow';
import { ListsMenu } from './ListsMenu';
import { NameBanner } from './NameBanner';
import { Notices, summaryText } from './Notices';
import { Presence } from './Presence';
import { RecentlyDeleted } from './RecentlyDeleted';
import { ShareDialog } from './ShareDialog';
import { StatusLine } from './StatusLine';
import { TitleEditor, UNTITLED } from './TitleEditor';
import { Toast } from './Toast';
import type { ToastMessage } from './Toast';
import { useListValue } from './useListValue';
import { useCachedRows } from './useCachedRows';
import { useNameBannerDismissed } from './useNameBannerDismissed';
import { useSettled } from './useSettled';
import { Icon } from './Icon';

type OpenDialog = 'share' | 'lists' | 'deleted' | 'activity' | null;

export interface ListScreenProps {
  session: ListSession;
  profile: Profile;
  onChangeName: (name: string) => void;
  knownLists: readonly KnownList[];
  shareUrl: string;
  listHref: (id: string) => string;
  onOpenList: (id: string) => void;
  onCreateList: () => void;
  onLeaveList: () => void;
}

const readTitle = (list: ShoppingListApi) => list.title();

/** "Milk is already on the list, now 2", "Milk is back on the list": an add folded into a row shown before. */
export function foldedAddMessage(before: Item, after: Item | undefined): string {
  const name = after?.name ?? before.name;
  const place = before.checked && after?.checked !== true ? 'is back on the list' : 'is already on the list';
  const amountChanged = after !== undefined && (after.quantity !== before.quantity || after.unit !== before.unit);
  const amount = amountChanged ? quantityText(after) : '';
  return `${name} ${place}${amount === '' ? '' : `, now ${amount}`}`;
}

/**
 * After a row disappears, focus goes to the next row of the list (or the one before it, or the
 * add field), never to <body>. The next row in the whole list, not only in its section: the
 * only row of "Bakery" is followed by "Dairy"'s first, and the add field at the top would make
 * a keyboard user find their place again after every such removal.
 */
function focusAfterRowLeaves(itemId: string): () => void {
  const checkbox = document.getElementById(checkboxId(itemId));
  const row = checkbox?.closest('li[data-item-id]');
  const hadFocus = !!row && row.contains(document.activeElement);
  if (!hadFocus) return () => {};
  const rows = [...document.querySelectorAll('li[data-item-id]')];
  const index = rows.indexOf(row);
  const neighbour = rows[index + 1] ?? rows[index - 1];
  const neighbourId = neighbour?.querySelector('input[type="checkbox"]')?.id;
  return () => {
    const target =
      (neighbourId ? document.getElementById(neighbourId) : null) ??
      findAddItemInput();
    target?.focus();
  };
}

/**
 * Called when a control may be about to go away (toast, notice, name banner, the lists menu when
 * switching): if it had keyboard focus and is gone next frame, focus goes to `target` rather than
 * falling to <body>. Only for keyboard focus: a tap must not pop the phone's keyboard up.
 */
function focusIfLost(target: () => HTMLElement | null = findAddItemInput): void {
  const active = document.activeElement;
  if (!(active instanceof HTMLElement) || !active.matches(':focus-visible')) return;
  requestAnimationFrame(() => {
    const now = document.activeElement;
    if (!active.isConnected && (now === null || now === document.body)) target()?.focus();
  });
}

/** The person is using the field (or left it): from then on its focus is theirs. */
const FIELD_USED = ['input', 'pointerdown', 'blur'] as const;

/**
 * "A fresh device opening / lands on a new empty list, ready to type" (PRODUCT.md): a list that
 * opens with nothing to show gets "Add item" focused in the commit that first shows it, not
 * once the stored copy has loaded, so keys typed right after the page loads land in it.
 *
 * A list with rows does not: on a phone, focus pops the keyboard over the list for everyone who
 * opens it just to read it. Without a cached view, rows may only show up after opening (from the
 * stored copy, or from the family on the first visit of a share link); then the focus is given
 * back when they arrive, unless the person has started using the field.
 */
function useFocusWhenOpenedEmpty(session: ListSession): void {
  useLayoutEffect(() => {
    const list = session.list;
    if ((session.cachedView?.items.length ?? 0) > 0 || list.items().length > 0) {
      // Nothing was ready to type into: keys typed at load must not turn up later in the field.
      dropEarlyTyping();
      return;
    }
    const field = findAddItemInput();
    if (field === null) return;
    // The field takes any keys typed before it existed as it gets focus (AddItemField).
    field.focus();
    let watching = true;
    const stop = (): void => {
      if (!watching) return;
      watching = false;
      unobserve();
      for (const type of FIELD_USED) field.removeEventListener(type, stop);
    };
    const unobserve = list.observe(() => {
      if (list.items().length === 0) return;
      if (document.activeElement === field) field.blur();
      stop();
    });
    for (const type of FIELD_USED) field.addEventListener(type, stop);
    return stop;
  }, [session]);
}

function DeletedItemsDialog({
  list,
  onRestore,
  onClose,
}: {
  list: ShoppingListApi;
  onRestore: (item: Item) => void;
  onClose: () => void;
}) {
  const deleted = useDeletedItems(list);
  return <RecentlyDeleted items={deleted} onRestore={onRestore} onClose={onClose} />;
}

function EditItemDialog({
  list,
  itemId,
  onClose,
}: {
  list: ShoppingListApi;
  itemId: string;
  onClose: () => void;
}) {
  // Read once: the editor edits a draft; a remote change meanwhile merges per field on save.
  const [item] = useState(() => list.item(itemId));
  // Someone may remove the item while the editor is open: saving would then write into the
  // deleted item and close, the edit gone from the list without a word. The editor says so, and
  // saving puts the item back with the edit (as Restore does for rule 4).
  const [removedBy, setRemovedBy] = useState(() => removerOf(list, itemId));
  useEffect(() => {
    const refresh = (): void => setRemovedBy(removerOf(list, itemId));
    refresh();
    return list.observe(refresh);
  }, [list, itemId]);
  useEffect(() => {
    if (!item) onClose();
  }, [item, onClose]);
  if (!item) return null;
  const save = (id: string, patch: ItemPatch) => {
    if (removerOf(list, id) !== undefined) list.restoreItem(id);
    list.updateItem(id, patch);
  };
  return (
    <ItemEditor
      item={item}
      visibleItems={() => list.items()}
      removedBy={removedBy}
      onSave={save}
      onClose={onClose}
    />
  );
}

/** Who removed the item (its row in Recently deleted), or undefined while it is on the list. */
function removerOf(list: ShoppingListApi, itemId: string): string | undefined {
  const item = list.item(itemId);
  return item?.deletedAt === undefined ? undefined : (item.deletedBy ?? '');
}

/**
 * The lists menu, with the count of changes the relay has not stored (what leaving would
 * lose). Its own component: the status changes often, and only this needs it besides the header.
 */
function SessionListsMenu({
  session,
  loaded,
  ...menu
}: Omit<ComponentProps<typeof ListsMenu>, 'pendingChanges'> & { session: ListSession; loaded: boolean }) {
  const status = useSyncStatus(session);
  return <ListsMenu {...menu} pendingChanges={loaded ? status.pendingChanges : null} />;
}

const Header = memo(function Header({
  session,
  title,
  renaming,
  onRenamingChange,
  onRename,
  onOpenDialog,
}: {
  session: ListSession;
  title: string;
  renaming: boolean;
  onRenamingChange: (renaming: boolean) => void;
  onRename: (title: string) => void;
  onOpenDialog: (dialog: OpenDialog) => void;
}) {
  const status = useSyncStatus(session);
  const peers = usePeers(session);
  return (
    <>
      <div className="header-row">
        <button
          type="button"
          className="icon-button"
          aria-label="Your lists"
          aria-haspopup="dialog"
          onClick={() => onOpenDialog('lists')}
        >
          <Icon name="menu" />
        </button>
        <h1 className="list-title">
          <TitleEditor title={title} editing={renaming} onEditingChange={onRenamingChange} onRename={onRename} />
        </h1>
        <Presence peers={peers} />
        <button
          type="button"
          className="icon-button"
          aria-label="Share list"
          aria-haspopup="dialog"
          onClick={() => onOpenDialog('share')}
        >
          <Icon name="share" />
        </button>
      </div>
      <StatusLine status={status} />
    </>
  );
});

export function ListScreen(props: ListScreenProps) {
  const { session, profile, onChangeName } = props;
  const list = session.list;
  const items = useItems(list);
  const [title, refreshTitle] = useListValue(list, readTitle);
  // Kept until dismissed, across reloads: news that arrived in the background is still told.
  const [notices, forgetNotice] = useKeptNotices(session);
  const [summary, setSummary] = useState('');
  const [toast, setToast] = useState<ToastMessage | null>(null);
  const [dialog, setDialog] = useState<OpenDialog>(null);
  const [editingItemId, setEditingItemId] = useState<string | null>(null);
  const [renaming, setRenaming] = useState(false);
  const [bannerDismissed, dismissBanner] = useNameBannerDismissed();
  const toastCount = useRef(0);
  // False until the local copy is loaded, so a cold start never flashes "Nothing to buy yet".
  const loaded = useSettled(session.whenLoaded);
  const emptyState = useMemo(() => <EmptyList session={session} />, [session]);
  useFocusWhenOpenedEmpty(session);
  const cached = useCachedRows(session, loaded, items);
  const { markChecked, markRemoved, unmark } = cached;
  /**
   * Showing cached rows, or taps on them still waiting for the stored copy: what is shown is not
   * all in the document yet, and a tap now waits behind those. Read through a ref, so the row
   * actions stay the same objects when the live list takes over (and 5,000 memoized rows need
   * not re-render).
   */
  const provisionalRows = useRef<readonly Item[] | null>(null);
  provisionalRows.current = cached.items;
  /** What is done to cached rows is applied once the document is loaded (which it triggers). */
  const whenReady = useCallback(
    (action: () => void) => {
      if (provisionalRows.current === null) {
        action();
        return;
      }
      void session.whenLoaded.then(action);
      session.loadNow();
    },
    [session],
  );

  useEffect(
    () =>
      session.onReconnectSummary((next) => {
        setSummary(summaryText(next));
      }),
    [session],
  );
  useEffect(() => {
    document.title = `${title.trim() || UNTITLED} · Basket`;
  }, [title]);

  /** Items removed one by one while the toast is up: one Undo brings them all back. */
  const removedBatch = useRef<Item[]>([]);
  const showToast = useCallback((message: string, undo?: () => void) => {
    toastCount.current += 1;
    removedBatch.current = [];
    setToast(undo ? { id: toastCount.current, message, undo } : { id: toastCount.current, message });
  }, []);
  const dismissToast = useCallback(() => {
    removedBatch.current = [];
    setToast(null);
    focusIfLost();
  }, []);
  const showRemovedToast = useCallback(
    (item: Item) => {
      const batch = [...removedBatch.current, item];
      const ids = batch.map((removed) => removed.id);
      const message =
        batch.length === 1
          ? `Removed ${item.name}`
          : batch.length === 2
            ? `Removed ${batch[0]!.name} and ${item.name}`
            : `Removed ${batch.length} items`;
      showToast(message, () => {
        unmark(ids);
        session.applyWhenLoaded({ kind: 'restore', ids });
      });
      removedBatch.current = batch;
    },
    [session, showToast, unmark],
  );

  const actions = useMemo<ItemActions>(
    () => ({
      toggle(item) {
        if (provisionalRows.current !== null) {
          markChecked(item.id, !item.checked);
          session.applyWhenLoaded({ kind: 'check', id: item.id, checked: !item.checked });
          return;
        }
        const checkbox = document.getElementById(checkboxId(item.id));
        const hadFocus = checkbox !== null && checkbox === document.activeElement;
        list.setChecked(item.id, !item.checked);
        // The row moves between sections (a new element); focus follows it.
        if (hadFocus) requestAnimationFrame(() => document.getElementById(checkboxId(item.id))?.focus());
      },
      remove(item) {
        const restoreFocus = focusAfterRowLeaves(item.id);
        if (provisionalRows.current === null) list.removeItem(item.id);
        else {
          markRemoved(item.id);
          session.applyWhenLoaded({ kind: 'remove', id: item.id });
        }
        showRemovedToast(item);
        requestAnimationFrame(restoreFocus);
      },
      edit(item) {
        // The editor reads the item from the document, so it opens once that is loaded.
        whenReady(() => setEditingItemId(item.id));
      },
    }),
    [list, session, showRemovedToast, markChecked, markRemoved, whenReady],
  );

  // A name already on the list is folded into its row (rule 2): no new row appears, so the
  // person is told where their Milk went instead of "Added Milk" and an unchanged screen.
  const addItem = useCallback(
    (item: NewItem): AddResult => {
      // The rows as they were (the model's cached array; an add makes a new one).
      const rowsBefore = list.items();
      const id = list.addItem(item);
      const before = rowsBefore.find((row) => row.id === id);
      if (before === undefined) return 'new-row';
      showToast(foldedAddMessage(before, list.item(id)));
      return 'folded';
    },
    [list, showToast],
  );
  const suggest = useCallback((prefix: string, limit: number) => list.suggest(prefix, limit), [list]);

  const clearChecked = useCallback(() => {
    const rows = provisionalRows.current;
    let ids: readonly string[];
    let undo: () => void;
    if (rows === null) {
      ids = list.clearChecked();
      undo = () => list.restoreItems(ids);
    } else {
      // On cached rows: hide the checked ones now; once loaded, the list clears those of them
      // still checked, not what others checked meanwhile (rule 6: only what the person saw).
      ids = rows.filter((item) => item.checked).map((item) => item.id);
      if (ids.length > 0) {
        ids.forEach(markRemoved);
        session.applyWhenLoaded({ kind: 'clear-checked', ids });
      }
      undo = () => {
        unmark(ids);
        session.applyWhenLoaded({ kind: 'restore', ids });
      };
    }
    if (ids.length === 0) return;
    showToast(ids.length === 1 ? 'Cleared 1 item from the cart' : `Cleared ${ids.length} items from the cart`, undo);
    // The button goes with the cart section. Keyboard focus goes to "Add item" rather than
    // <body>; a tap leaves focus alone, or the phone's keyboard would pop up over the list.
    focusIfLost();
  }, [list, session, markRemoved, unmark, showToast]);

  const rename = useCallback(
    (next: string) => {
      if (provisionalRows.current !== null) {
        // A title set before the stored one is loaded would be a concurrent write that may lose.
        session.applyWhenLoaded({ kind: 'rename', title: next });
        return;
      }
      list.setTitle(next);
      refreshTitle();
    },
    [list, session, refreshTitle],
  );

  const restoreDeleted = useCallback(
    (item: Item) => {
      list.restoreItem(item.id);
      showToast(`Restored ${item.name}`);
    },
    [list, showToast],
  );

  const restoreFromNotice = useCallback(
    (notice: Notice) => {
      // A notice kept from the last page shows before the stored list has loaded: the restore
      // then waits for its item (applied at once when loaded already).
      session.applyWhenLoaded({ kind: 'restore', ids: [notice.itemId] });
      forgetNotice(notice);
      showToast(`Restored ${notice.itemName}`);
      focusIfLost();
    },
    [session, forgetNotice, showToast],
  );
  const dismissNotice = useCallback(
    (notice: Notice) => {
      forgetNotice(notice);
      focusIfLost();
    },
    [forgetNotice],
  );

  // Recently deleted, Activity and the others read the document: no reason to wait for a pause.
  const openDialog = useCallback(
    (next: OpenDialog) => {
      if (provisionalRows.current !== null) session.loadNow();
      setDialog(next);
    },
    [session],
  );
  const closeDialog = useCallback(() => setDialog(null), []);
  const closeEditor = useCallback(() => setEditingItemId(null), []);
  const shownTitle = title.trim() || UNTITLED;

  return (
    <div className="app">
      <header className="app-header">
        <Header
          session={session}
          title={cached.title ?? title}
          renaming={renaming}
          onRenamingChange={setRenaming}
          onRename={rename}
          onOpenDialog={openDialog}
        />
        <AddItemField onAdd={addItem} suggest={suggest} />
      </header>
      {!profile.nameChosen && !bannerDismissed && (
        <NameBanner
          onSave={(name) => {
            onChangeName(name);
            focusIfLost();
          }}
          onDismiss={() => {
            dismissBanner();
            focusIfLost();
          }}
        />
      )}
      <main className="list-main">
        <ItemList
          items={cached.items ?? items}
          loaded={loaded}
          emptyState={emptyState}
          actions={actions}
          onClearChecked={clearChecked}
        />
        <div className="list-footer">
          <button type="button" className="text-button" aria-haspopup="dialog" onClick={() => openDialog('deleted')}>
            Recently deleted
          </button>
          <button type="button" className="text-button" aria-haspopup="dialog" onClick={() => openDialog('activity')}>
            Activity
          </button>
        </div>
      </main>
      <div className="tray" aria-live="polite">
        <Notices
          notices={notices}
          summary={summary}
          onRestore={restoreFromNotice}
          onDismiss={dismissNotice}
          onDismissSummary={() => {
            setSummary('');
            focusIfLost();
          }}
        />
        {/* A new element per toast: the tray is a live region, and the same message again
            ("Milk is already on the list") left in place would not be read out again. */}
        {toast && <Toast key={toast.id} toast={toast} onDismiss={dismissToast} />}
      </div>

      {dialog === 'share' && <ShareDialog url={props.shareUrl} title={shownTitle} onClose={closeDialog} />}
      {dialog === 'lists' && (
        <SessionListsMenu
          session={session}
          loaded={loaded}
          lists={props.knownLists}
          currentListId={session.listId}
          currentTitle={shownTitle}
          displayName={profile.displayName}
          listHref={props.listHref}
          onOpen={(id) => {
            closeDialog();
            props.onOpenList(id);
            // The list just opened is named by its title (the h1's button).
            focusIfLost(() => document.querySelector('.title-button'));
          }}
          onCreate={() => {
            closeDialog();
            props.onCreateList();
          }}
          onRename={() => {
            closeDialog();
            setRenaming(true);
          }}
          onLeave={() => {
            closeDialog();
            props.onLeaveList();
          }}
          onChangeName={onChangeName}
          onClose={closeDialog}
        />
      )}
      {dialog === 'deleted' && <DeletedItemsDialog list={list} onRestore={restoreDeleted} onClose={closeDialog} />}
      {dialog === 'activity' && <ActivityLog list={list} onClose={closeDialog} />}
      {editingItemId !== null && <EditItemDialog list={list} itemId={editingItemId} onClose={closeEditor} />}
    </div>
  );
}

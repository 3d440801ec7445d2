/**
 * Safari (WebKit) drops the list role of a <ul>/<ol> styled `list-style: none`, so VoiceOver no
 * longer says "list, 3 items". Each such list carries role="list" explicitly. jsdom keeps the
 * implicit role either way, so besides finding the list by its role these tests check the
 * attribute itself: without it they fail.
 */
import { render, screen, within } from '@testing-library/react';
import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import * as Y from 'yjs';
import { ShoppingList } from '@basket/list-core';
import type { Item } from '@basket/list-core';
import type { KnownList } from '../session/types';
import { ActivityLog } from './Activity';
import { ItemList } from './ItemList';
import type { ItemActions } from './ItemRow';
import { ListChoices } from './ListChoices';
import { ListsMenu } from './ListsMenu';
import { RecentlyDeleted } from './RecentlyDeleted';

// The stylesheet as written (vitest does not load CSS into jsdom): every selector whose rule
// removes the markers, e.g. ".item-rows" and ".plain-list".
const appCss = readFileSync(path.join(__dirname, 'app.css'), 'utf8');
const unmarkedListSelectors = [...appCss.matchAll(/([^{}]+)\{[^}]*list-style:\s*none[^}]*\}/g)].flatMap((rule) =>
  rule[1]!
    .replace(/\/\*[\s\S]*?\*\//g, '')
    .split(',')
    .map((selector) => selector.trim())
    .filter(Boolean),
);

/**
 * Every <ul>/<ol> in `container` that app.css styles without markers says its role out loud:
 * "list" (or a widget role such as the suggestions' "listbox").
 */
function expectEveryUnmarkedListHasARole(container: HTMLElement): void {
  const lists = [...container.querySelectorAll('ul, ol')].filter((list) =>
    unmarkedListSelectors.some((selector) => list.matches(selector)),
  );
  expect(lists.length).toBeGreaterThan(0);
  for (const list of lists) expect(list.getAttribute('role'), list.outerHTML.slice(0, 80)).toMatch(/^(list|listbox)$/);
}

/** The one list in `scope`: found by its role, carrying it explicitly, with `names` as its items. */
function expectList(scope: HTMLElement, names: readonly string[]): HTMLElement {
  const list = within(scope).getByRole('list');
  expect(list).toHaveAttribute('role', 'list');
  const items = within(list).getAllByRole('listitem');
  expect(items).toHaveLength(names.length);
  names.forEach((name, index) => expect(items[index]).toHaveTextContent(name));
  return list;
}

function item(name: string, fields: Partial<Item> = {}): Item {
  return {
    id: `id-${name}`,
    name,
    quantity: 1,
    unit: '',
    note: '',
    category: 'produce',
    checked: false,
    addedBy: 'Mum',
    addedAt: 0,
    contributors: ['Mum'],
    ...fields,
  };
}

const HOUR = 3_600_000;
const knownLists = (now: number): KnownList[] => [
  { id: 'listAAAAAAAAAAAAAAAA', title: 'Groceries', lastOpenedAt: now - HOUR },
  { id: 'listBBBBBBBBBBBBBBBB', title: 'Party', lastOpenedAt: now },
];

describe('lists styled without markers keep their list role (Safari/VoiceOver)', () => {
  it('the item list: each section is a list of its rows', () => {
    const actions: ItemActions = { toggle() {}, remove() {}, edit() {} };
    const { container } = render(
      <ItemList
        items={[item('Apples'), item('Bananas'), item('Bread', { category: 'bakery', checked: true })]}
        actions={actions}
        onClearChecked={() => {}}
      />,
    );
    const sections = screen.getAllByRole('region');
    expect(sections).toHaveLength(2);
    expectList(sections[0]!, ['Apples', 'Bananas']);
    expectList(sections[1]!, ['Bread']);
    expectEveryUnmarkedListHasARole(container);
  });

  it('the lists menu: this device’s lists', () => {
    const now = Date.now();
    const { container } = render(
      <ListsMenu
        lists={knownLists(now)}
        currentListId="listBBBBBBBBBBBBBBBB"
        currentTitle="Party"
        pendingChanges={0}
        displayName="Mum"
        listHref={(id) => `/l/${id}`}
        onOpen={() => {}}
        onCreate={() => {}}
        onRename={() => {}}
        onLeave={() => {}}
        onChangeName={() => {}}
        onClose={() => {}}
      />,
    );
    expectList(screen.getByRole('dialog', { name: 'Your lists' }), ['Party', 'Groceries']);
    expectEveryUnmarkedListHasARole(container.ownerDocument.body);
  });

  it('the list choices (broken link, list left): this device’s lists', () => {
    const now = Date.now();
    const { container } = render(
      <ListChoices lists={knownLists(now)} listHref={(id) => `/l/${id}`} onOpenList={() => {}} onCreateList={() => {}} />,
    );
    expectList(container, ['Party', 'Groceries']);
    expectEveryUnmarkedListHasARole(container);
  });

  it('Recently deleted: the deleted items', () => {
    const { container } = render(
      <RecentlyDeleted
        items={[item('Butter', { deletedAt: 1, deletedBy: 'Dad' }), item('Milk', { deletedAt: 0, deletedBy: 'Mum' })]}
        onRestore={() => {}}
        onClose={() => {}}
      />,
    );
    const list = expectList(screen.getByRole('dialog', { name: 'Recently deleted' }), ['Butter', 'Milk']);
    expect(within(list).getByRole('button', { name: 'Restore Butter' })).toBeInTheDocument();
    expectEveryUnmarkedListHasARole(container.ownerDocument.body);
  });

  it('Activity: the events, an ordered list', () => {
    const list = new ShoppingList(new Y.Doc(), { actor: 'Mum' });
    list.addItem({ name: 'Milk' });
    list.addItem({ name: 'Eggs' });
    const { container } = render(<ActivityLog list={list} onClose={() => {}} />);
    const dialog = screen.getByRole('dialog', { name: 'Activity' });
    const events = within(dialog).getByRole('list');
    expect(events.tagName).toBe('OL');
    expect(events).toHaveAttribute('role', 'list');
    const texts = within(events).getAllByRole('listitem').map((row) => row.textContent ?? '');
    expect(texts.some((text) => text.includes('Milk'))).toBe(true);
    expect(texts.some((text) => text.includes('Eggs'))).toBe(true);
    expectEveryUnmarkedListHasARole(container.ownerDocument.body);
  });
});

import { configure, render, screen, within } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { describe, expect, it, vi } from 'vitest';
import type { ComponentProps } from 'react';
import { ListsMenu } from './ListsMenu';

// Component tests type key by key; on a loaded 2-core machine the 5 s default is too tight.
vi.setConfig({ testTimeout: 30_000 });
configure({ asyncUtilTimeout: 5_000 });

const HOUR = 3_600_000;

function setup(overrides: Partial<ComponentProps<typeof ListsMenu>> = {}) {
  const now = Date.now();
  const props: ComponentProps<typeof ListsMenu> = {
    lists: [
      { id: 'listAAAAAAAAAAAAAAAA', title: 'Groceries', lastOpenedAt: now - 3 * HOUR },
      { id: 'listBBBBBBBBBBBBBBBB', title: 'Party', lastOpenedAt: now },
      { id: 'listCCCCCCCCCCCCCCCC', title: 'Hardware', lastOpenedAt: now - HOUR },
    ],
    currentListId: 'listBBBBBBBBBBBBBBBB',
    currentTitle: 'Party',
    pendingChanges: 0,
    displayName: 'Mum',
    listHref: (id) => `/l/${id}`,
    onOpen: vi.fn(),
    onCreate: vi.fn(),
    onRename: vi.fn(),
    onLeave: vi.fn(),
    onChangeName: vi.fn(),
    onClose: vi.fn(),
    ...overrides,
  };
  const view = render(<ListsMenu {...props} />);
  return { ...view, props, user: userEvent.setup(), menu: screen.getByRole('dialog', { name: 'Your lists' }) };
}

describe('ListsMenu', () => {
  it('lists this device’s lists, the one opened most recently first, marking the open one', () => {
    const { menu } = setup();
    const links = within(menu).getAllByRole('link');
    expect(links.map((link) => link.querySelector('.item-name')?.textContent)).toEqual(['Party', 'Hardware', 'Groceries']);
    expect(links[0]).toHaveAttribute('aria-current', 'page');
    expect(links[1]).not.toHaveAttribute('aria-current');
    expect(links[2]).not.toHaveAttribute('aria-current');
  });

  it('does not let "Leave list" be pressed before it knows whether changes would be lost', async () => {
    const { menu, props, rerender, user } = setup({ pendingChanges: null });
    await user.click(within(menu).getByRole('button', { name: 'Leave this list…' }));
    const confirm = screen.getByRole('group', { name: 'Leave this list?' });
    expect(confirm).toHaveTextContent('Checking for changes on this phone');
    const leave = within(confirm).getByRole('button', { name: 'Leave list' });
    expect(leave).toBeDisabled();
    await user.click(leave);
    expect(props.onLeave).not.toHaveBeenCalled();

    rerender(<ListsMenu {...props} pendingChanges={0} />);
    expect(within(confirm).getByRole('button', { name: 'Leave list' })).toBeEnabled();
    await user.click(within(confirm).getByRole('button', { name: 'Leave list' }));
    expect(props.onLeave).toHaveBeenCalledTimes(1);
  });

  it('saves a name without the spaces around it, and never an empty one', async () => {
    const { menu, props, user } = setup();
    const field = within(menu).getByRole('textbox', { name: 'Your name (shown to the family)' });
    await user.clear(field);
    await user.type(field, '   ');
    await user.click(within(menu).getByRole('button', { name: 'Save name' }));
    expect(props.onChangeName).not.toHaveBeenCalled();
    expect(within(menu).queryByText('Saved.')).toBeNull();

    await user.clear(field);
    await user.type(field, ' Anna ');
    await user.click(within(menu).getByRole('button', { name: 'Save name' }));
    expect(props.onChangeName).toHaveBeenCalledWith('Anna');
    expect(within(menu).getByText('Saved.')).toBeInTheDocument();
  });
});

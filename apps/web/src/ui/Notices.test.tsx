import { configure, render, screen } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { describe, expect, it, vi } from 'vitest';
import type { Notice } from '@basket/list-core';
import { Notices, summaryText } from './Notices';

// Component tests type key by key; on a loaded 2-core machine the 5 s default is too tight.
vi.setConfig({ testTimeout: 30_000 });
configure({ asyncUtilTimeout: 5_000 });

const removedYourChange: Notice = {
  id: 'n1',
  kind: 'removed-your-change',
  message: 'Dad removed Butter that you changed',
  itemId: 'butter',
  itemName: 'Butter',
  by: 'Dad',
  at: 0,
  canRestore: true,
};

describe('Notices', () => {
  it('offers a one-tap Restore when the notice can be undone', async () => {
    const restored: string[] = [];
    const dismissed: string[] = [];
    render(
      <Notices
        notices={[removedYourChange, { ...removedYourChange, id: 'n2', kind: 'overwritten', message: 'Dad changed Milk', canRestore: false }]}
        summary=""
        onRestore={(notice) => restored.push(notice.itemId)}
        onDismiss={(notice) => dismissed.push(notice.id)}
        onDismissSummary={() => {}}
      />,
    );
    const user = userEvent.setup();
    const restore = screen.getByRole('button', { name: 'Restore' });
    expect(restore).toHaveAccessibleDescription('Dad removed Butter that you changed');
    await user.click(restore);
    expect(restored).toEqual(['butter']);

    expect(screen.getByText('Dad changed Milk')).toBeInTheDocument();
    expect(screen.getAllByRole('button', { name: 'Restore' })).toHaveLength(1);
    await user.click(screen.getAllByRole('button', { name: 'Dismiss' })[1]!);
    expect(dismissed).toEqual(['n2']);
  });
});

describe('summaryText', () => {
  it('says who did what while this phone was offline', () => {
    expect(summaryText({ added: ['Eggs', 'Milk'], checked: [], removed: ['Butter'], by: ['Dad', 'Anna'] })).toBe(
      'While you were offline, Dad and Anna added Eggs and Milk and removed Butter.',
    );
    expect(summaryText({ added: [], checked: [], removed: [], by: ['Dad'] })).toBe('');
  });
});

import { render, screen } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { describe, expect, it } from 'vitest';
import { Dialog } from './Dialog';

function renderDialogOverPage() {
  const closed: string[] = [];
  const view = render(
    <>
      <button type="button">Behind the dialog</button>
      <Dialog title="Recently deleted" onClose={() => closed.push('closed')}>
        <button type="button">Inside</button>
      </Dialog>
      <button type="button">After the dialog</button>
    </>,
  );
  return { ...view, closed, user: userEvent.setup(), panel: screen.getByRole('dialog', { name: 'Recently deleted' }) };
}

describe('Dialog keyboard trap', () => {
  // Recently deleted focuses the panel itself once its last row is restored (the row goes): Tab
  // and Shift+Tab from there must stay in the dialog, or Escape no longer reaches it.
  it('Shift+Tab from the panel itself goes to its last control, not to the page behind', async () => {
    const { user, panel } = renderDialogOverPage();
    panel.focus();
    await user.tab({ shift: true });
    expect(panel).toContainElement(document.activeElement as HTMLElement);
    expect(screen.getByRole('button', { name: 'Inside' })).toHaveFocus();
  });

  it('Tab from its last control goes back to its first, not to the page behind', async () => {
    const { user } = renderDialogOverPage();
    screen.getByRole('button', { name: 'Inside' }).focus();
    await user.tab();
    expect(screen.getByRole('button', { name: 'Close' })).toHaveFocus();
  });

  it('Tab from the panel itself goes to its first control', async () => {
    const { user, panel } = renderDialogOverPage();
    panel.focus();
    await user.tab();
    expect(screen.getByRole('button', { name: 'Close' })).toHaveFocus();
  });
});

import { render, screen } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { describe, expect, it, vi } from 'vitest';
import { Toast } from './Toast';

function setup() {
  const undo = vi.fn();
  const onDismiss = vi.fn();
  render(
    <>
      <input type="checkbox" aria-label="Milk" />
      <input type="text" aria-label="Add item" />
      <Toast toast={{ id: 1, message: 'Removed Eggs', undo }} onDismiss={onDismiss} />
    </>,
  );
  return { undo, onDismiss, user: userEvent.setup() };
}

describe('Toast', () => {
  it('undoes with Ctrl+Z or ⌘Z from anywhere but a text field, without reaching the button', async () => {
    const { undo, onDismiss, user } = setup();
    expect(screen.getByRole('button', { name: 'Undo' })).toHaveAttribute('aria-keyshortcuts', 'Control+Z Meta+Z');
    await user.click(screen.getByRole('checkbox', { name: 'Milk' }));
    await user.keyboard('{Control>}z{/Control}');
    expect(undo).toHaveBeenCalledTimes(1);
    expect(onDismiss).toHaveBeenCalledTimes(1);
    await user.keyboard('{Meta>}z{/Meta}');
    expect(undo).toHaveBeenCalledTimes(2);
  });

  it('leaves Ctrl+Shift+Z (redo) and Ctrl+Alt+Z alone', async () => {
    const { undo, onDismiss, user } = setup();
    await user.click(screen.getByRole('checkbox', { name: 'Milk' }));
    await user.keyboard('{Control>}{Shift>}z{/Shift}{/Control}');
    await user.keyboard('{Meta>}{Shift>}z{/Shift}{/Meta}');
    await user.keyboard('{Control>}{Alt>}z{/Alt}{/Control}');
    expect(undo).not.toHaveBeenCalled();
    expect(onDismiss).not.toHaveBeenCalled();
  });

  it('leaves Ctrl+Z to a text field being typed in', async () => {
    const { undo, user } = setup();
    await user.click(screen.getByRole('textbox', { name: 'Add item' }));
    await user.keyboard('eggs{Control>}z{/Control}');
    expect(undo).not.toHaveBeenCalled();
  });
});

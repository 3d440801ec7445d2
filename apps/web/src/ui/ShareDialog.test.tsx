import { configure, render, screen } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { describe, expect, it, vi } from 'vitest';
import { ShareDialog } from './ShareDialog';

vi.setConfig({ testTimeout: 30_000 });
configure({ asyncUtilTimeout: 10_000 });

const URL_OF_LIST = 'http://localhost/l/testList_0123456789';

describe('ShareDialog', () => {
  it('shows the link, copies it, and draws its QR code once the encoder has loaded', async () => {
    const user = userEvent.setup();
    render(<ShareDialog url={URL_OF_LIST} title="Saturday shop" onClose={() => {}} />);
    expect(screen.getByRole('dialog', { name: 'Share this list' })).toBeInTheDocument();
    expect(screen.getByRole('textbox', { name: 'Link to this list' })).toHaveValue(URL_OF_LIST);

    const copy = screen.getByRole('button', { name: 'Copy link' });
    expect(copy).toHaveFocus();
    await user.click(copy);
    expect(await navigator.clipboard.readText()).toBe(URL_OF_LIST);
    expect(screen.getByText('Link copied.')).toBeInTheDocument();

    const qr = await screen.findByRole('img', { name: 'QR code of the link' });
    expect(qr.querySelector('svg')).not.toBeNull();
  });

  it('offers the system share sheet only where there is one', async () => {
    const share = vi.fn(() => Promise.resolve());
    Object.defineProperty(navigator, 'share', { value: share, configurable: true });
    try {
      const user = userEvent.setup();
      const withShareSheet = render(<ShareDialog url={URL_OF_LIST} title="Saturday shop" onClose={() => {}} />);
      await user.click(screen.getByRole('button', { name: 'Share…' }));
      expect(share).toHaveBeenCalledWith({ title: 'Basket: Saturday shop', url: URL_OF_LIST });
      withShareSheet.unmount();
    } finally {
      Reflect.deleteProperty(navigator, 'share');
    }
    render(<ShareDialog url={URL_OF_LIST} title="Saturday shop" onClose={() => {}} />);
    expect(screen.getByRole('button', { name: 'Copy link' })).toBeInTheDocument();
    expect(screen.queryByRole('button', { name: 'Share…' })).toBeNull();
  });
});

import { configure, render, screen } from '@testing-library/react';
import { expect, it, vi } from 'vitest';
import { ShareDialog } from './ShareDialog';

configure({ asyncUtilTimeout: 10_000 });

// The QR encoder is a lazily loaded chunk: after an update, or offline before it was cached, an
// old page may not get it. Its own file, since the mock holds for every test in a file.
vi.mock('qrcode', () => ({ toString: () => Promise.reject(new Error('Failed to fetch dynamically imported module')) }));

it('says the QR code could not be loaded, and points to the link, when its encoder is missing', async () => {
  render(<ShareDialog url="http://localhost/l/testList_0123456789" title="Saturday shop" onClose={() => {}} />);
  expect(await screen.findByText('The QR code could not be loaded here; share or copy the link instead.')).toBeInTheDocument();
  expect(screen.queryByRole('img', { name: 'QR code of the link' })).toBeNull();
  expect(screen.queryByText('Scan with the other phone’s camera to open the list.')).toBeNull();
  expect(screen.getByRole('button', { name: 'Copy link' })).toBeInTheDocument();
});

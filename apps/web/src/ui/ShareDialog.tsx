/**
 * Share a list: the system share sheet where there is one, the link to copy,
 * and a QR code to scan from the other phone. The QR encoder is imported
 * lazily so it stays out of the initial bundle.
 */
import { useEffect, useState } from 'react';
import { Dialog } from './Dialog';

interface ShareDialogProps {
  url: string;
  title: string;
  onClose: () => void;
}

async function copyText(text: string): Promise<boolean> {
  try {
    await navigator.clipboard.writeText(text);
    return true;
  } catch {
    return false;
  }
}

function useQrSvg(url: string): string | null {
  const [svg, setSvg] = useState<string | null>(null);
  useEffect(() => {
    let cancelled = false;
    import('qrcode')
      .then((qrcode) => qrcode.toString(url, { type: 'svg', margin: 1, errorCorrectionLevel: 'M' }))
      .then((markup) => {
        if (!cancelled) setSvg(markup);
      })
      .catch(() => {
        // Offline before the chunk was cached: the link and the share sheet still work.
        if (!cancelled) setSvg('');
      });
    return () => {
      cancelled = true;
    };
  }, [url]);
  return svg;
}

export function ShareDialog({ url, title, onClose }: ShareDialogProps) {
  const [copyState, setCopyState] = useState<'idle' | 'copied' | 'failed'>('idle');
  const qrSvg = useQrSvg(url);
  const canShare = typeof navigator.share === 'function';

  return (
    <Dialog title="Share this list" onClose={onClose}>
      <p className="muted">Anyone with this link can see and edit “{title}”.</p>
      <div className="share-link-row">
        <input
          className="share-link"
          type="text"
          readOnly
          aria-label="Link to this list"
          value={url}
          onFocus={(event) => event.currentTarget.select()}
        />
      </div>
      <div className="dialog-actions">
        {canShare && (
          <button
            type="button"
            className="primary-button"
            onClick={() => {
              navigator.share({ title: `Basket: ${title}`, url }).catch(() => {
                // The person closed the share sheet; nothing to do.
              });
            }}
          >
            Share…
          </button>
        )}
        <button
          type="button"
          className={canShare ? 'text-button' : 'primary-button'}
          data-autofocus
          onClick={() => {
            void copyText(url).then((copied) => setCopyState(copied ? 'copied' : 'failed'));
          }}
        >
          Copy link
        </button>
      </div>
      <p className="muted copy-feedback" aria-live="polite">
        {copyState === 'copied' ? 'Link copied.' : copyState === 'failed' ? 'Could not copy; select the link above.' : ''}
      </p>
      <figure className="qr">
        {qrSvg === null ? (
          <div className="qr-placeholder" aria-hidden="true" />
        ) : qrSvg === '' ? (
          <div className="qr-placeholder" aria-hidden="true" />
        ) : (
          <div className="qr-code" role="img" aria-label="QR code of the link" dangerouslySetInnerHTML={{ __html: qrSvg }} />
        )}
        <figcaption className="muted">
          {qrSvg === ''
            ? 'The QR code could not be loaded here; share or copy the link instead.'
            : 'Scan with the other phone’s camera to open the list.'}
        </figcaption>
      </figure>
    </Dialog>
  );
}

/**
 * Shown for a share link that names no list (cut short, garbled). Opening some other list
 * instead would look fine ("Synced") while everything added went where the family never
 * looks; so the app says so and lets the person pick one of their lists or start a new one.
 */
import { useEffect, useRef } from 'react';
import type { KnownList } from '../session/types';
import { ListChoices } from './ListChoices';

export const BROKEN_LINK_TITLE = 'This link doesn’t point to a list';

interface BrokenLinkProps {
  /** The address as it arrived, so it can be compared with the one that was sent. */
  href: string;
  lists: readonly KnownList[];
  listHref: (id: string) => string;
  onOpenList: (id: string) => void;
  onCreateList: () => void;
}

export function BrokenLink({ href, lists, listHref, onOpenList, onCreateList }: BrokenLinkProps) {
  const heading = useRef<HTMLHeadingElement>(null);

  useEffect(() => {
    // Screen readers start at the explanation, not at the top of an unfamiliar page.
    heading.current?.focus();
  }, []);

  return (
    <div className="app">
      <main className="broken-link">
        <h1 ref={heading} tabIndex={-1}>
          {BROKEN_LINK_TITLE}
        </h1>
        <p>
          Check it was copied whole: part of it may be missing or changed. Whoever shared the list can send the
          link again, or show its QR code.
        </p>
        <p className="muted">
          You opened <span className="broken-href">{href}</span>
        </p>
        <ListChoices lists={lists} listHref={listHref} onOpenList={onOpenList} onCreateList={onCreateList} />
      </main>
    </div>
  );
}

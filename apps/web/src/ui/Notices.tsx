/**
 * Merge notices for this person ("Dad removed Butter that you changed") with
 * a one-tap Restore, and the "while you were offline" summary.
 */
import type { Notice } from '@basket/list-core';
import type { ReconnectSummary } from '../session/types';
import { nameList } from './format';
import { Icon } from './Icon';

export function summaryText(summary: ReconnectSummary): string {
  const parts: string[] = [];
  if (summary.added.length > 0) parts.push(`added ${nameList(summary.added)}`);
  if (summary.checked.length > 0) parts.push(`checked ${nameList(summary.checked)}`);
  if (summary.removed.length > 0) parts.push(`removed ${nameList(summary.removed)}`);
  if (parts.length === 0) return '';
  const who = summary.by.length > 0 ? nameList(summary.by) : 'Others';
  return `While you were offline, ${who} ${nameList(parts, parts.length)}.`;
}

interface NoticeCardProps {
  notice: Notice;
  onRestore: (notice: Notice) => void;
  onDismiss: (notice: Notice) => void;
}

function NoticeCard({ notice, onRestore, onDismiss }: NoticeCardProps) {
  const messageId = `notice-${notice.id}`;
  return (
    <div className="notice card">
      <span id={messageId} className="toast-message">
        {notice.message}
      </span>
      {notice.canRestore && (
        <button
          type="button"
          className="text-button toast-action"
          aria-describedby={messageId}
          onClick={() => onRestore(notice)}
        >
          Restore
        </button>
      )}
      <button
        type="button"
        className="icon-button"
        aria-label="Dismiss"
        aria-describedby={messageId}
        onClick={() => onDismiss(notice)}
      >
        <Icon name="close" />
      </button>
    </div>
  );
}

interface NoticesProps {
  notices: readonly Notice[];
  summary: string;
  onRestore: (notice: Notice) => void;
  onDismiss: (notice: Notice) => void;
  onDismissSummary: () => void;
}

const SHOWN_NOTICES = 3;

export function Notices({ notices, summary, onRestore, onDismiss, onDismissSummary }: NoticesProps) {
  return (
    <>
      {summary && (
        <div className="notice card summary">
          <span className="toast-message">{summary}</span>
          <button type="button" className="icon-button" aria-label="Dismiss" onClick={onDismissSummary}>
            <Icon name="close" />
          </button>
        </div>
      )}
      {notices.slice(0, SHOWN_NOTICES).map((notice) => (
        <NoticeCard key={notice.id} notice={notice} onRestore={onRestore} onDismiss={onDismiss} />
      ))}
    </>
  );
}

import type { Notice } from './api.js';
import { randomId } from './ids.js';
import { reportCallbackError } from './report-error.js';

const MAX_NOTICES = 50;

/** Notices for the local person: kept in memory only, never in the shared document. */
export class NoticeBoard {
  private notices: readonly Notice[] = [];
  private readonly listeners = new Set<(notice: Notice) => void>();

  add(fields: Omit<Notice, 'id'>): Notice {
    const notice: Notice = Object.freeze({ id: randomId(), ...fields });
    this.notices = [notice, ...this.notices].slice(0, MAX_NOTICES);
    for (const listener of Array.from(this.listeners)) {
      try {
        listener(notice);
      } catch (error) {
        reportCallbackError('notice listener', error);
      }
    }
    return notice;
  }

  list(): readonly Notice[] {
    return this.notices;
  }

  dismiss(id: string): void {
    this.notices = this.notices.filter((notice) => notice.id !== id);
  }

  subscribe(listener: (notice: Notice) => void): () => void {
    this.listeners.add(listener);
    return () => {
      this.listeners.delete(listener);
    };
  }

  clear(): void {
    this.listeners.clear();
  }
}

/**
 * Moves chosen 'update' listeners of a Y.Doc (the IndexedDB and WebSocket providers') out of the
 * edit itself to just after the next paint.
 *
 * Why: adding an item to a long list must paint within the frame. The providers' listeners cost
 * ~1 ms per edit (an IndexedDB transaction, a WebSocket send, a BroadcastChannel post); run inside
 * the keystroke they pushed the new row into the following frame. None of that work needs to come
 * before the paint: IndexedDB commits asynchronously anyway, and the relay's acknowledgement is
 * what "Synced" waits for.
 *
 * Guarantees: every deferred listener still sees every update, in order, with its origin; nothing
 * waits more than one frame (or `fallbackMs` when frames are throttled); everything queued runs at
 * once when the page is hidden or closed, and before the listeners' owners are destroyed (flush).
 */
import type * as Y from 'yjs';

export type UpdateListener = (update: Uint8Array, origin: unknown) => void;

interface QueuedUpdate {
  readonly update: Uint8Array;
  readonly origin: unknown;
  /** The deferred listeners when the update happened: one added later never sees an older update. */
  readonly listeners: readonly UpdateListener[];
}

export interface AfterPaintScheduler {
  /** Calls `callback` after the next paint (or soon, where there are no frames). */
  afterPaint(callback: () => void): void;
  setTimeout(callback: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

/** Calls `callback` after the next paint; where no frames come (hidden page, no DOM), in the next task. */
export function afterNextPaint(callback: () => void): void {
  if (typeof requestAnimationFrame === 'function' && typeof document !== 'undefined' && !document.hidden) {
    // rAF runs before the paint; the task it queues runs after it.
    requestAnimationFrame(() => setTimeout(callback, 0));
  } else {
    setTimeout(callback, 0);
  }
}

const browserScheduler: AfterPaintScheduler = {
  afterPaint: afterNextPaint,
  setTimeout: (callback, ms) => setTimeout(callback, ms),
  clearTimeout: (handle) => clearTimeout(handle as ReturnType<typeof setTimeout>),
};

export class AfterPaintUpdates {
  private listeners: UpdateListener[] = [];
  private queue: QueuedUpdate[] = [];
  /** The fallback timer: set exactly while a flush is pending. */
  private fallback: unknown = undefined;
  private destroyed = false;
  private readonly onPageHide = (): void => this.flush();
  private readonly onVisibilityChange = (): void => {
    if (document.visibilityState === 'hidden') this.flush();
  };

  constructor(
    private readonly doc: Y.Doc,
    private readonly scheduler: AfterPaintScheduler = browserScheduler,
    /** Upper bound of the wait when frames do not come (a throttled or hidden page). */
    private readonly fallbackMs = 100,
  ) {
    doc.on('update', this.enqueue);
    // A closing or backgrounded page may never paint again.
    if (typeof document !== 'undefined') {
      addEventListener('pagehide', this.onPageHide);
      document.addEventListener('visibilitychange', this.onVisibilityChange);
    }
  }

  /** Takes `listener` off the document's 'update' event and calls it after the next paint instead. */
  defer(listener: UpdateListener): void {
    if (this.destroyed) return;
    this.doc.off('update', listener);
    this.listeners = [...this.listeners, listener];
  }

  /** Runs every queued update through its listeners now. */
  flush(): void {
    if (this.fallback !== undefined) {
      this.scheduler.clearTimeout(this.fallback);
      this.fallback = undefined;
    }
    // A listener may edit the document (and so enqueue): drain until empty.
    while (this.queue.length > 0) {
      const batch = this.queue;
      this.queue = [];
      for (const { update, origin, listeners } of batch) {
        for (const listener of listeners) {
          try {
            listener(update, origin);
          } catch (error) {
            // One failing listener must not keep the update from the others.
            console.error('[basket] an update listener failed', error);
          }
        }
      }
    }
  }

  /** Flushes, then stops: the document's updates are no longer seen. */
  destroy(): void {
    if (this.destroyed) return;
    this.flush();
    this.destroyed = true;
    this.listeners = [];
    this.doc.off('update', this.enqueue);
    if (typeof document !== 'undefined') {
      removeEventListener('pagehide', this.onPageHide);
      document.removeEventListener('visibilitychange', this.onVisibilityChange);
    }
  }

  private readonly enqueue = (update: Uint8Array, origin: unknown): void => {
    if (this.listeners.length === 0) return;
    this.queue.push({ update, origin, listeners: this.listeners });
    if (this.fallback !== undefined) return;
    this.scheduler.afterPaint(() => this.flush());
    this.fallback = this.scheduler.setTimeout(() => this.flush(), this.fallbackMs);
  };
}

/**
 * Leaving a list is told to the app's other windows on this device (two tabs, or the installed
 * app and a tab opened from a share link), over a BroadcastChannel.
 *
 * Why: leaving deletes the list's IndexedDB copy, which closes it under every other window
 * that has the list open. Such a window kept showing the list and taking edits that went to no
 * copy on the device (only to localStorage, which the leave had just cleared), and its writes on
 * the way out brought the list's localStorage entries back. Told, it closes the list and says
 * it was left (device-lists.ts: followListsLeftElsewhere).
 *
 * The message is `{ type: 'left', listId }`; anything else on the channel is ignored.
 */
import { isRecord } from './device-storage.js';
import { isListId } from './routing.js';

export const LEFT_LISTS_CHANNEL = 'basket:left-lists';

export interface LeftListsChannel {
  /** Tells the other windows that this device left the list. */
  announce(listId: string): void;
  /** Calls `callback` with each list another window left; returns stop. */
  onLeftElsewhere(callback: (listId: string) => void): () => void;
}

function leftListId(data: unknown): string | null {
  if (!isRecord(data) || data['type'] !== 'left') return null;
  const listId = data['listId'];
  return typeof listId === 'string' && isListId(listId) ? listId : null;
}

/**
 * The channel between this browser's windows. One BroadcastChannel per window sends and
 * listens, so a window is not told of its own leave (a channel never receives its own
 * messages, but does receive those of another channel of the same page). It is open only while
 * someone listens (an open one would also keep a Node test process alive). Without
 * BroadcastChannel (no supported browser lacks it) nothing is told.
 */
export function broadcastLeftLists(name: string = LEFT_LISTS_CHANNEL): LeftListsChannel {
  const available = typeof BroadcastChannel !== 'undefined';
  const listeners = new Set<(listId: string) => void>();
  let channel: BroadcastChannel | null = null;
  return {
    announce(listId) {
      if (!available) return;
      const sender = channel ?? new BroadcastChannel(name);
      sender.postMessage({ type: 'left', listId });
      // Delivery is queued at postMessage: closing a one-off sender does not cancel it.
      if (sender !== channel) sender.close();
    },
    onLeftElsewhere(callback) {
      if (!available) return () => {};
      listeners.add(callback);
      if (channel === null) {
        const opened = new BroadcastChannel(name);
        opened.onmessage = (event: MessageEvent<unknown>) => {
          const listId = leftListId(event.data);
          if (listId === null) return;
          for (const listener of [...listeners]) listener(listId);
        };
        channel = opened;
      }
      return () => {
        listeners.delete(callback);
        if (listeners.size > 0 || channel === null) return;
        channel.close();
        channel = null;
      };
    },
  };
}

let deviceChannel: LeftListsChannel | null = null;

/** This window's channel to the others. */
export function deviceLeftLists(): LeftListsChannel {
  deviceChannel ??= broadcastLeftLists();
  return deviceChannel;
}

/**
 * Keeps the socket honest on flapping store Wi-Fi.
 *
 * y-websocket only notices a silent socket after 30 s (a module constant), and
 * a browser may keep a dead socket "open" for minutes. So every few seconds we
 * ask the relay for awareness (query-awareness, type 3; the relay answers with
 * an awareness message) and reconnect when nothing at all has arrived for a
 * while. A connection attempt that hangs is restarted the same way.
 *
 * Silence is only counted while the page runs. A phone whose screen was off, or a tab the
 * browser froze, runs no timers and reads no socket: on resume the last message looks minutes
 * old although the connection is fine (the relay cannot answer a page that is not running).
 * Restarting it then flashed "Syncing…" at every unlock. So after a freeze (a tick far later
 * than its interval, or the page's resume / visibilitychange / pageshow events) the socket is
 * probed at once and judged on what arrives from then on: a live one answers within a round
 * trip, a dead one is restarted `silentAfterMs` after the resume, as any silent socket is.
 *
 * Nor is the relay silent while this phone's own upload is still leaving it. A large frame (the
 * sync step 2 after many offline edits: 42 kB at 3 kB/s is 14 s) goes out before the probe
 * queued behind it, so the relay cannot answer until it is through. Restarted at 8 s, the phone
 * showed "Offline" and uploaded it all again, again and again. So a fall of the socket's
 * `bufferedAmount` since the last tick counts as life: silence is counted from the last message
 * or the last time bytes were seen leaving. A socket whose buffer does not move is restarted as
 * before. (Bytes the operating system has taken are no longer in `bufferedAmount`: a frame that
 * fits its send buffer is not seen moving, and only the probe's answer tells.)
 */
import * as encoding from 'lib0/encoding';

export const MESSAGE_QUERY_AWARENESS = 3;

export interface WatchedProvider {
  wsconnected: boolean;
  wsconnecting: boolean;
  /** Date.now() of the last message from the relay (set by y-websocket). */
  wsLastMessageReceived: number;
  shouldConnect: boolean;
  ws: { send(data: Uint8Array): void; readonly bufferedAmount: number } | null;
  connect(): void;
  disconnect(): void;
}

export interface Timers {
  now(): number;
  setInterval(callback: () => void, ms: number): unknown;
  clearInterval(handle: unknown): void;
}

export const realTimers: Timers = {
  now: () => Date.now(),
  setInterval: (callback, ms) => setInterval(callback, ms),
  clearInterval: (handle) => clearInterval(handle as ReturnType<typeof setInterval>),
};

export interface HeartbeatOptions {
  /** How often to probe. */
  intervalMs?: number;
  /** Silence after which the socket is considered dead. */
  silentAfterMs?: number;
  /** How long a connection attempt may hang. */
  connectTimeoutMs?: number;
  /**
   * A tick this much later than the one before means the page was frozen or throttled in the
   * background meanwhile; default twice the interval.
   */
  frozenAfterMs?: number;
  timers?: Timers;
  /** Tells when the page is shown or resumed again; default the browser's page events. */
  page?: PageLifecycle;
  onDeadSocket?: () => void;
}

/** When a page that may have been frozen or hidden runs again. */
export interface PageLifecycle {
  /** Calls `callback` each time the page is resumed or shown again; returns stop. */
  onResume(callback: () => void): () => void;
}

/**
 * Chromium fires `resume` on the document after unfreezing a page; every browser fires
 * `visibilitychange` when a hidden page is shown and `pageshow` when one comes back from the
 * back/forward cache. Timers may run before or after these events, which is why the tick gap
 * is watched as well.
 */
export function browserPageLifecycle(): PageLifecycle {
  return {
    onResume(callback) {
      if (typeof document === 'undefined' || typeof window === 'undefined') return () => {};
      const onVisibilityChange = (): void => {
        if (document.visibilityState === 'visible') callback();
      };
      document.addEventListener('resume', callback);
      document.addEventListener('visibilitychange', onVisibilityChange);
      window.addEventListener('pageshow', callback);
      return () => {
        document.removeEventListener('resume', callback);
        document.removeEventListener('visibilitychange', onVisibilityChange);
        window.removeEventListener('pageshow', callback);
      };
    },
  };
}

function queryAwarenessMessage(): Uint8Array {
  const encoder = encoding.createEncoder();
  encoding.writeVarUint(encoder, MESSAGE_QUERY_AWARENESS);
  return encoding.toUint8Array(encoder);
}

/** Starts the heartbeat; returns stop. */
export function startHeartbeat(provider: WatchedProvider, options: HeartbeatOptions = {}): () => void {
  const { intervalMs = 3000, silentAfterMs = 8000, connectTimeoutMs = 7000, timers = realTimers } = options;
  const frozenAfterMs = options.frozenAfterMs ?? 2 * intervalMs;
  const page = options.page ?? browserPageLifecycle();
  const probe = queryAwarenessMessage();
  let connectingSince: number | null = null;
  let lastTickAt = timers.now();
  // The relay's silence is counted from the later of its last message and the page's last
  // resume: time the page spent frozen is not silence the relay can be blamed for.
  let resumedAt = Number.NEGATIVE_INFINITY;
  // The socket's bufferedAmount at the last tick, and when it was last seen falling.
  let upload: { socket: WatchedProvider['ws']; buffered: number } | null = null;
  let uploadMovedAt = Number.NEGATIVE_INFINITY;

  const watchUpload = (now: number): void => {
    const socket = provider.ws;
    const buffered = socket?.bufferedAmount ?? 0;
    if (upload !== null && upload.socket === socket && buffered < upload.buffered) uploadMovedAt = now;
    upload = { socket, buffered };
  };

  const restart = (): void => {
    connectingSince = null;
    upload = null;
    uploadMovedAt = Number.NEGATIVE_INFINITY;
    options.onDeadSocket?.();
    provider.disconnect();
    provider.connect();
  };

  const sendProbe = (): void => {
    try {
      provider.ws?.send(probe);
    } catch {
      restart();
    }
  };

  const resumed = (): void => {
    resumedAt = timers.now();
    // A connection attempt is given its full time again too: it could not progress while frozen.
    connectingSince = provider.wsconnecting ? resumedAt : null;
    if (provider.shouldConnect && provider.wsconnected) sendProbe();
  };

  const handle = timers.setInterval(() => {
    const now = timers.now();
    const sinceLastTick = now - lastTickAt;
    lastTickAt = now;
    if (!provider.shouldConnect) {
      connectingSince = null;
      return;
    }
    if (sinceLastTick > frozenAfterMs) {
      resumed();
      return;
    }
    if (provider.wsconnected) {
      connectingSince = null;
      watchUpload(now);
      if (now - Math.max(provider.wsLastMessageReceived, resumedAt, uploadMovedAt) > silentAfterMs) {
        restart();
        return;
      }
      sendProbe();
    } else if (provider.wsconnecting) {
      connectingSince ??= now;
      if (now - connectingSince > connectTimeoutMs) restart();
    } else {
      connectingSince = null;
    }
  }, intervalMs);
  const stopFollowingPage = page.onResume(resumed);

  return () => {
    timers.clearInterval(handle);
    stopFollowingPage();
  };
}

export interface NetworkEvents {
  addEventListener(type: 'online' | 'offline', listener: () => void): void;
  removeEventListener(type: 'online' | 'offline', listener: () => void): void;
}

/** Follows the browser's online/offline events: disconnect at once, reconnect at once. */
export function followNetwork(
  provider: Pick<WatchedProvider, 'connect' | 'disconnect'>,
  events: NetworkEvents,
  onChange: () => void,
): () => void {
  const goOffline = (): void => {
    provider.disconnect();
    onChange();
  };
  const goOnline = (): void => {
    provider.connect();
    onChange();
  };
  events.addEventListener('offline', goOffline);
  events.addEventListener('online', goOnline);
  return () => {
    events.removeEventListener('offline', goOffline);
    events.removeEventListener('online', goOnline);
  };
}

/**
 * Keeps the socket honest on flapping store Wi-Fi.
 *
 * y-websocket only notices a silent socket after 30 s (a module constant), and
 * a browser may keep a dead socket "open" for minutes. So every few seconds we
 * ask the relay for awareness (query-awareness, type 3; the relay answers with
 * an awareness message) and reconnect when nothing at all has arrived for a
 * while. A connection attempt that hangs is restarted the same way.
 */
import * as encoding from 'lib0/encoding';

export const MESSAGE_QUERY_AWARENESS = 3;

export interface WatchedProvider {
  wsconnected: boolean;
  wsconnecting: boolean;
  /** Date.now() of the last message from the relay (set by y-websocket). */
  wsLastMessageReceived: number;
  shouldConnect: boolean;
  ws: { send(data: Uint8Array): void } | null;
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
  timers?: Timers;
  onDeadSocket?: () => void;
}

function queryAwarenessMessage(): Uint8Array {
  const encoder = encoding.createEncoder();
  encoding.writeVarUint(encoder, MESSAGE_QUERY_AWARENESS);
  return encoding.toUint8Array(encoder);
}

/** Starts the heartbeat; returns stop. */
export function startHeartbeat(provider: WatchedProvider, options: HeartbeatOptions = {}): () => void {
  const { intervalMs = 3000, silentAfterMs = 8000, connectTimeoutMs = 7000, timers = realTimers } = options;
  const probe = queryAwarenessMessage();
  let connectingSince: number | null = null;

  const restart = (): void => {
    connectingSince = null;
    options.onDeadSocket?.();
    provider.disconnect();
    provider.connect();
  };

  const handle = timers.setInterval(() => {
    if (!provider.shouldConnect) {
      connectingSince = null;
      return;
    }
    const now = timers.now();
    if (provider.wsconnected) {
      connectingSince = null;
      if (now - provider.wsLastMessageReceived > silentAfterMs) {
        restart();
        return;
      }
      try {
        provider.ws?.send(probe);
      } catch {
        restart();
      }
    } else if (provider.wsconnecting) {
      connectingSince ??= now;
      if (now - connectingSince > connectTimeoutMs) restart();
    } else {
      connectingSince = null;
    }
  }, intervalMs);

  return () => timers.clearInterval(handle);
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

import type { Duplex } from 'node:stream';
import type { WebSocket } from 'ws';

/**
 * What `ws` holds of a peer's frames before it hands them over: `ws` keeps no public count, and
 * a frame is buffered whole (up to `maxPayload`) before its 'message' event, so a peer that sends
 * most of a large frame and stops holds that much of the relay's memory. These are the fields of
 * ws 8's Receiver (`_bufferedBytes`: read, not yet parsed into a frame; `_messageLength`: the
 * earlier fragments of a fragmented message) and the socket it reads from; `test/hostile-input`
 * [H22] fails if a `ws` upgrade renames them.
 */
interface WsInternals {
  readonly _socket?: Duplex | null;
  readonly _receiver?: { readonly _bufferedBytes?: number; readonly _messageLength?: number } | null;
}

/** Bytes `ws` has read from `socket`'s peer and not yet handed over as messages. */
export function unhandledIncomingBytes(socket: WebSocket): number {
  const receiver = (socket as unknown as WsInternals)._receiver;
  if (receiver === null || receiver === undefined) return 0;
  return (receiver._bufferedBytes ?? 0) + (receiver._messageLength ?? 0);
}

/** The TCP socket under `socket`, to learn of each read; undefined once it is gone. */
export function rawSocketOf(socket: WebSocket): Duplex | undefined {
  return (socket as unknown as WsInternals)._socket ?? undefined;
}

/**
 * WebSocket close codes. 4400–4499 are permanent (y-websocket stops reconnecting: resending
 * the same frame would fail again); everything else is transient and the client retries.
 */
export const CloseCode = {
  /** Transient: the relay is restarting (SIGTERM); reconnect. */
  serviceRestart: 1012,
  /** Transient: overloaded (rate limit, too many loaded lists); reconnect with backoff. */
  tryAgainLater: 1013,
  /** Transient: the relay failed to store or load the list; reconnect. */
  internalError: 1011,
  /** Permanent: a frame that is not valid y-websocket protocol (or a text frame). */
  malformedMessage: 4400,
  /** Permanent: the URL's list id does not match the contract's pattern (list-id.ts); it never will. */
  invalidListId: 4400,
  /** Permanent: a single message larger than MAX_MESSAGE_BYTES. */
  messageTooLarge: 4413,
  /** Permanent: the list reached MAX_LIST_BYTES; more updates would be refused again. */
  listTooLarge: 4422,
} as const;

export type CloseCodeValue = (typeof CloseCode)[keyof typeof CloseCode];

/**
 * How long a closed socket's peer has to answer the close handshake before the socket is cut:
 * one that never answers would otherwise hold it (and a shutdown) for `ws`'s 30 s.
 */
export const CLOSE_HANDSHAKE_MS = 5000;

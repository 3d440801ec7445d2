/**
 * An in-process stand-in for the relay, speaking the y-websocket protocol
 * plus the durable ack (type 100) over a fake WebSocket. Messages are
 * delivered asynchronously; acks can be held back to test "Syncing…".
 */
import * as Y from 'yjs';
import * as encoding from 'lib0/encoding';
import * as decoding from 'lib0/decoding';
import * as syncProtocol from 'y-protocols/sync';
import * as awarenessProtocol from 'y-protocols/awareness';

const SYNC = 0;
const AWARENESS = 1;
const QUERY_AWARENESS = 3;
const ACK = 100;

type Listener = ((event: { code: number; reason: string; data?: ArrayBuffer }) => void) | null;

export class FakeRelay {
  readonly doc = new Y.Doc();
  readonly awareness = new awarenessProtocol.Awareness(this.doc);
  readonly sockets = new Set<FakeSocketBase>();
  /** Connections attempted so far. */
  attempts = 0;
  reachable = true;
  autoAck = true;
  /** Close code for every new connection (e.g. 4403), or null to accept. */
  refuseWith: number | null = null;
  /**
   * Answers a phone's sync step 1 in place of the relay's usual answer when it returns true (e.g.
   * the first part of an answer sent in parts, then the socket cut).
   */
  answerSyncStep1: ((socket: FakeSocketBase) => boolean) | null = null;
  readonly WebSocket: typeof WebSocket;

  constructor() {
    this.awareness.setLocalState(null);
    // eslint-disable-next-line @typescript-eslint/no-this-alias
    const relay = this;
    class BoundSocket extends FakeSocketBase {
      constructor(url: string) {
        super(url, relay);
      }
    }
    this.WebSocket = BoundSocket as unknown as typeof WebSocket;
    this.doc.on('update', (update: Uint8Array, origin: unknown) => {
      const message = this.updateMessage(update);
      for (const socket of this.sockets) if (socket !== origin) socket.deliver(message);
    });
    this.awareness.on('update', ({ added, updated, removed }: Record<string, number[]>, origin: unknown) => {
      const changed = [...(added ?? []), ...(updated ?? []), ...(removed ?? [])];
      const encoder = encoding.createEncoder();
      encoding.writeVarUint(encoder, AWARENESS);
      encoding.writeVarUint8Array(encoder, awarenessProtocol.encodeAwarenessUpdate(this.awareness, changed));
      const message = encoding.toUint8Array(encoder);
      for (const socket of this.sockets) if (socket !== origin) socket.deliver(message);
    });
  }

  /** Sends the durable ack (the stored state vector) to every connection. */
  ack(): void {
    for (const socket of this.sockets) socket.deliver(this.ackMessage());
  }

  /** Drops every connection as a dead network would (no close handshake from the relay side). */
  dropAll(code = 1006): void {
    for (const socket of [...this.sockets]) socket.serverClose(code, '');
  }

  /** A sync update message carrying `update`, as the relay sends one on. */
  updateMessage(update: Uint8Array): Uint8Array {
    const encoder = encoding.createEncoder();
    encoding.writeVarUint(encoder, SYNC);
    syncProtocol.writeUpdate(encoder, update);
    return encoding.toUint8Array(encoder);
  }

  ackMessage(): Uint8Array {
    const encoder = encoding.createEncoder();
    encoding.writeVarUint(encoder, ACK);
    encoding.writeVarUint8Array(encoder, Y.encodeStateVector(this.doc));
    return encoding.toUint8Array(encoder);
  }

  opened(socket: FakeSocketBase): void {
    this.sockets.add(socket);
    const encoder = encoding.createEncoder();
    encoding.writeVarUint(encoder, SYNC);
    syncProtocol.writeSyncStep1(encoder, this.doc);
    socket.deliver(encoding.toUint8Array(encoder));
    if (this.awareness.getStates().size > 0) {
      const greeting = encoding.createEncoder();
      encoding.writeVarUint(greeting, AWARENESS);
      encoding.writeVarUint8Array(
        greeting,
        awarenessProtocol.encodeAwarenessUpdate(this.awareness, [...this.awareness.getStates().keys()]),
      );
      socket.deliver(encoding.toUint8Array(greeting));
    }
  }

  receive(socket: FakeSocketBase, data: Uint8Array): void {
    const decoder = decoding.createDecoder(data);
    const encoder = encoding.createEncoder();
    const type = decoding.readVarUint(decoder);
    if (type === SYNC) {
      if (data[1] === syncProtocol.messageYjsSyncStep1 && this.answerSyncStep1?.(socket)) return;
      encoding.writeVarUint(encoder, SYNC);
      const syncType = syncProtocol.readSyncMessage(decoder, encoder, this.doc, socket);
      if (encoding.length(encoder) > 1) socket.deliver(encoding.toUint8Array(encoder));
      if (syncType !== syncProtocol.messageYjsSyncStep1 && this.autoAck) socket.deliver(this.ackMessage());
    } else if (type === AWARENESS) {
      awarenessProtocol.applyAwarenessUpdate(this.awareness, decoding.readVarUint8Array(decoder), socket);
    } else if (type === QUERY_AWARENESS) {
      encoding.writeVarUint(encoder, AWARENESS);
      encoding.writeVarUint8Array(
        encoder,
        awarenessProtocol.encodeAwarenessUpdate(this.awareness, [...this.awareness.getStates().keys()]),
      );
      socket.deliver(encoding.toUint8Array(encoder));
    }
  }

  closed(socket: FakeSocketBase): void {
    this.sockets.delete(socket);
  }
}

export class FakeSocketBase {
  static readonly CONNECTING = 0;
  static readonly OPEN = 1;
  static readonly CLOSING = 2;
  static readonly CLOSED = 3;
  readonly CONNECTING = 0;
  readonly OPEN = 1;
  readonly CLOSING = 2;
  readonly CLOSED = 3;
  readyState = 0;
  binaryType = 'arraybuffer';
  onopen: (() => void) | null = null;
  onmessage: Listener = null;
  onclose: Listener = null;
  onerror: ((event: unknown) => void) | null = null;

  constructor(
    readonly url: string,
    private readonly relay: FakeRelay,
  ) {
    relay.attempts++;
    setTimeout(() => {
      if (this.readyState !== 0) return;
      if (!relay.reachable) return this.serverClose(1006, '');
      if (relay.refuseWith !== null) return this.serverClose(relay.refuseWith, 'refused');
      this.readyState = 1;
      this.onopen?.();
      relay.opened(this);
    }, 1);
  }

  send(data: Uint8Array | ArrayBuffer): void {
    if (this.readyState !== 1) return;
    const bytes = new Uint8Array(data instanceof ArrayBuffer ? data : data.slice().buffer);
    // Like a real socket, what was sent before close() still reaches the relay.
    setTimeout(() => this.relay.receive(this, bytes), 1);
  }

  /** A message from the relay to this client. */
  deliver(message: Uint8Array): void {
    setTimeout(() => {
      if (this.readyState !== 1) return;
      this.onmessage?.({ code: 0, reason: '', data: message.slice().buffer });
    }, 1);
  }

  serverClose(code: number, reason: string): void {
    if (this.readyState === 3) return;
    this.readyState = 3;
    this.relay.closed(this);
    setTimeout(() => this.onclose?.({ code, reason }), 1);
  }

  close(): void {
    if (this.readyState === 3) return;
    this.readyState = 3;
    this.relay.closed(this);
  }
}

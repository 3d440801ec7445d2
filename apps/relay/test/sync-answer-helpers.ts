import * as decoding from 'lib0/decoding';
import WebSocket from 'ws';
import * as Y from 'yjs';
import { MemoryListStorage } from '../src/storage/memory-storage.js';
import { ListRoom } from '../src/sync/list-room.js';
import { decodeIncomingMessage, encodeSyncStep1, MESSAGE_DURABLE_ACK } from '../src/sync/protocol.js';
import type { SyncAnswerCutter } from '../src/sync/sync-answer-parts.js';
import type { FakePeer } from './room-fakes.js';
import { fakePeer, roomOptions } from './room-fakes.js';

export const SYNC_STEP_1 = 0;
export const SYNC_STEP_2 = 1;
export const SYNC_UPDATE = 2;

/** What a relay message carries: a sync message (its type and update), an ack (its vector), or another type. */
export type Received =
  | { readonly kind: 'sync'; readonly syncType: number; readonly update: Uint8Array; readonly bytes: number }
  | { readonly kind: 'ack'; readonly vector: Map<number, number>; readonly bytes: number }
  | { readonly kind: 'other'; readonly bytes: number };

export type ReceivedSync = Received & { readonly kind: 'sync' };

export function received(message: Uint8Array): Received {
  const decoder = decoding.createDecoder(message);
  const type = decoding.readVarUint(decoder);
  if (type === MESSAGE_DURABLE_ACK) return { kind: 'ack', vector: Y.decodeStateVector(decoding.readVarUint8Array(decoder)), bytes: message.length };
  if (type !== 0) return { kind: 'other', bytes: message.length };
  const syncType = decoding.readVarUint(decoder);
  return { kind: 'sync', syncType, update: decoding.readVarUint8Array(decoder), bytes: message.length };
}

/** `ws` sockets that call `onMessage` with every relay message before y-websocket handles it. */
export function recordingSocket(onMessage: (message: Received) => void): new (url: string, protocols?: string | string[]) => WebSocket {
  return class RecordingSocket extends WebSocket {
    constructor(url: string, protocols?: string | string[]) {
      super(url, protocols);
      this.on('message', (data: Buffer) => onMessage(received(new Uint8Array(data))));
    }
  };
}

export interface AnsweringList {
  readonly list: ListRoom;
  readonly phone: FakePeer;
  readonly metrics: ReturnType<typeof roomOptions>['metrics'];
}

/**
 * A loaded list holding `updates`, whose answers are cut at `partBytes` (SYNC_ANSWER_PART_BYTES
 * unless given) by `cutter` (on the event loop without one), with one phone attached (its greeting dropped).
 */
export async function listWith(updates: readonly Uint8Array[], partBytes?: number, cutter?: SyncAnswerCutter): Promise<AnsweringList> {
  const storage = new MemoryListStorage();
  const options = roomOptions(storage, { maxListBytes: 64 * 1024 * 1024 });
  if (updates.length > 0) await storage.append(options.listId, updates);
  const list = new ListRoom({ ...options, ...(partBytes === undefined ? {} : { syncAnswerPartBytes: partBytes }), ...(cutter === undefined ? {} : { syncAnswerCutter: cutter }) });
  await list.load();
  const phone = fakePeer(1);
  list.attach(phone);
  phone.sent.length = 0;
  return { list, phone, metrics: options.metrics };
}

/** Sends the list a sync request with `stateVector` from `phone`, and returns what it was sent at once. */
export function answerTo(list: ListRoom, phone: FakePeer, stateVector: Uint8Array): Received[] {
  phone.sent.length = 0;
  list.receive(phone, decodeIncomingMessage(encodeSyncStep1(stateVector)), 0);
  return phone.sent.map(received);
}

/** The sync messages among `messages`. */
export function syncMessages(messages: readonly Received[]): ReceivedSync[] {
  return messages.filter((message): message is ReceivedSync => message.kind === 'sync');
}

/** An index into `value` at most `at`, not inside a surrogate pair (an app never cuts one). */
export function textIndex(value: string, at: number): number {
  let index = Math.min(at, value.length);
  const code = value.charCodeAt(index - 1);
  if (index < value.length && code >= 0xd800 && code <= 0xdbff) index -= 1;
  return index;
}

/**
 * The doc's state written again by a fresh doc: Yjs merges adjacent GC structs and pieces of an
 * item only within the transaction that integrates them, so two docs holding the same content
 * can differ in how their structs are cut; written again they do not.
 */
export function normalized(doc: Y.Doc): Uint8Array {
  const copy = new Y.Doc();
  Y.applyUpdate(copy, Y.encodeStateAsUpdate(doc));
  return Y.encodeStateAsUpdate(copy);
}

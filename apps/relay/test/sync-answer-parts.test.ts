import fc from 'fast-check';
import * as decoding from 'lib0/decoding';
import WebSocket from 'ws';
import * as Y from 'yjs';
import { describe, expect, it } from 'vitest';
import { MemoryListStorage } from '../src/storage/memory-storage.js';
import { ListRoom } from '../src/sync/list-room.js';
import { decodeIncomingMessage, encodeSyncStep1, encodeSyncStep2, encodeSyncUpdate } from '../src/sync/protocol.js';
import { SYNC_ANSWER_PART_BYTES } from '../src/sync/sync-answer-parts.js';
import { connectPhone, newListId, startRelay, waitFor } from './helpers.js';
import { fakePeer, roomOptions } from './room-fakes.js';

/** What a relay message carries: sync step 1 (0), step 2 (1) or update (2), or another type. */
type Received = { readonly kind: 'sync'; readonly syncType: number; readonly update: Uint8Array; readonly bytes: number } | { readonly kind: 'other'; readonly bytes: number };

function received(message: Uint8Array): Received {
  const decoder = decoding.createDecoder(message);
  if (decoding.readVarUint(decoder) !== 0) return { kind: 'other', bytes: message.length };
  const syncType = decoding.readVarUint(decoder);
  return { kind: 'sync', syncType, update: decoding.readVarUint8Array(decoder), bytes: message.length };
}

/** The message headers around a part: its type, sync type and length (≤ 5 bytes). */
const MESSAGE_HEADER_BYTES = 8;

const SYNC_STEP_2 = 1;
const SYNC_UPDATE = 2;

/**
 * A list of about 1 MB as three phones of a family built it over time: items with the app's
 * fields (a few with a 1 KiB note), some deleted, and a 150 kB note pasted in one go (one item,
 * larger than a part).
 */
function familyList(): Y.Doc {
  const phones = [11, 22, 33].map((client) => {
    const doc = new Y.Doc();
    doc.clientID = client;
    return doc;
  });
  const share = (): void => {
    for (const from of phones) for (const to of phones) if (from !== to) Y.applyUpdate(to, Y.encodeStateAsUpdate(from, Y.encodeStateVector(to)));
  };
  for (let round = 0; round < 110; round++) {
    phones.forEach((phone, p) => {
      const items = phone.getMap<Y.Map<unknown>>('items');
      phone.transact(() => {
        for (let i = 0; i < 50; i++) {
          const item = new Y.Map<unknown>();
          item.set('name', `Item ${round}-${p}-${i} from the family's long-kept list`);
          item.set('quantity', i % 4);
          item.set('note', i % 25 === 0 ? 'n'.repeat(1024) : '');
          item.set('checked', i % 3 === 0);
          items.set(`item-${round}-${p}-${i}`, item);
        }
      });
      if (round % 10 === 9) for (const key of [...items.keys()].filter((_, k) => k % 7 === p)) items.delete(key);
    });
    share();
  }
  phones[1]?.getText('notes').insert(0, 'Recipe: '.repeat(18_750));
  share();
  return phones[0] as Y.Doc;
}

/** `ws` sockets that record every message the relay sends, before y-websocket handles it. */
function recordingSocket(messages: Received[]): new (url: string, protocols?: string | string[]) => WebSocket {
  return class RecordingSocket extends WebSocket {
    constructor(url: string, protocols?: string | string[]) {
      super(url, protocols);
      this.on('message', (data: Buffer) => messages.push(received(new Uint8Array(data))));
    }
  };
}

/** A loaded list holding `updates`, whose answers are cut at `partBytes`, with one phone attached (its greeting dropped). */
async function listWith(updates: readonly Uint8Array[], partBytes: number) {
  const storage = new MemoryListStorage();
  const options = roomOptions(storage, { maxListBytes: 64 * 1024 * 1024 });
  if (updates.length > 0) await storage.append(options.listId, updates);
  const list = new ListRoom({ ...options, syncAnswerPartBytes: partBytes });
  await list.load();
  const phone = fakePeer(1);
  list.attach(phone);
  phone.sent.length = 0;
  return { list, phone, metrics: options.metrics };
}

/** Sends a sync request from a phone holding `phoneDoc` and returns what the list answered. */
function answerTo(list: ListRoom, phone: ReturnType<typeof fakePeer>, phoneDoc: Y.Doc): Received[] {
  phone.sent.length = 0;
  list.receive(phone, decodeIncomingMessage(encodeSyncStep1(Y.encodeStateVector(phoneDoc))), 0);
  return phone.sent.map(received);
}

function copyOf(doc: Y.Doc): Y.Doc {
  const copy = new Y.Doc();
  Y.applyUpdate(copy, Y.encodeStateAsUpdate(doc));
  return copy;
}

/**
 * Applies the answer's messages to `phoneDoc` in order, as y-websocket does, checking what an
 * unmodified phone relies on: sync updates, then one sync step 2 last; each message within
 * `partBytes` (or one struct that cannot be cut); nothing held back after any of them.
 */
function applyAnswer(answer: readonly Received[], phoneDoc: Y.Doc, partBytes: number): void {
  expect(answer.length).toBeGreaterThan(0);
  answer.forEach((message, i) => {
    if (message.kind !== 'sync') throw new Error('not a sync message');
    expect(message.syncType).toBe(i === answer.length - 1 ? SYNC_STEP_2 : SYNC_UPDATE);
    if (message.bytes > partBytes + MESSAGE_HEADER_BYTES) {
      const { structs, ds } = Y.decodeUpdate(message.update);
      expect({ structs: structs.length, deletingClients: ds.clients.size }, `a part of ${message.bytes} bytes`).toEqual({ structs: 1, deletingClients: 0 });
    }
    Y.applyUpdate(phoneDoc, message.update);
    expect({ pendingStructs: phoneDoc.store.pendingStructs, pendingDs: phoneDoc.store.pendingDs }, `after part ${i + 1} of ${answer.length}`).toEqual({ pendingStructs: null, pendingDs: null });
  });
}

type Value = number | string;
type Edit =
  | { readonly kind: 'set'; readonly client: number; readonly key: string; readonly value: string }
  | { readonly kind: 'item'; readonly client: number; readonly key: string; readonly name: string }
  | { readonly kind: 'remove'; readonly client: number; readonly key: string }
  | { readonly kind: 'insert'; readonly client: number; readonly at: number; readonly values: Value[] }
  | { readonly kind: 'cut'; readonly client: number; readonly at: number; readonly length: number }
  | { readonly kind: 'type'; readonly client: number; readonly at: number; readonly text: string }
  | { readonly kind: 'erase'; readonly client: number; readonly at: number; readonly length: number }
  | { readonly kind: 'share'; readonly client: number; readonly to: number };

/** Text with multi-byte characters and surrogate pairs, which a cut must not split. */
const text = (maxLength: number): fc.Arbitrary<string> => fc.string({ unit: fc.constantFrom('a', 'b', ' ', 'é', '€', '😀'), maxLength, size: 'max' });
const client = fc.nat({ max: 3 });
const key = fc.constantFrom('milk', 'eggs', 'bread', 'tea', 'rice');
const editArbitrary: fc.Arbitrary<Edit> = fc.oneof(
  fc.record({ kind: fc.constant('set' as const), client, key, value: text(300) }),
  fc.record({ kind: fc.constant('item' as const), client, key, name: text(80) }),
  fc.record({ kind: fc.constant('remove' as const), client, key }),
  fc.record({ kind: fc.constant('insert' as const), client, at: fc.nat(), values: fc.array(fc.oneof(fc.integer(), text(20)), { minLength: 1, maxLength: 40 }) }),
  fc.record({ kind: fc.constant('cut' as const), client, at: fc.nat(), length: fc.integer({ min: 1, max: 10 }) }),
  fc.record({ kind: fc.constant('type' as const), client, at: fc.nat(), text: text(600) }),
  fc.record({ kind: fc.constant('erase' as const), client, at: fc.nat(), length: fc.integer({ min: 1, max: 50 }) }),
  fc.record({ kind: fc.constant('share' as const), client, to: client }),
);

function edit(phones: readonly Y.Doc[], change: Edit): void {
  const phone = phones[change.client % phones.length] as Y.Doc;
  const items = phone.getMap<unknown>('items');
  const rows = phone.getArray<Value>('rows');
  const notes = phone.getText('notes');
  switch (change.kind) {
    case 'set':
      items.set(change.key, change.value);
      return;
    case 'item': {
      const item = new Y.Map<unknown>();
      item.set('name', change.name);
      item.set('checked', false);
      items.set(change.key, item);
      return;
    }
    case 'remove':
      items.delete(change.key);
      return;
    case 'insert':
      rows.insert(change.at % (rows.length + 1), change.values);
      return;
    case 'cut':
      if (rows.length > 0) rows.delete(change.at % rows.length, Math.min(change.length, rows.length - (change.at % rows.length)));
      return;
    case 'type':
      notes.insert(textIndex(notes.toString(), change.at), change.text);
      return;
    case 'erase': {
      const notesText = notes.toString();
      if (notesText.length === 0) return;
      const start = textIndex(notesText, change.at);
      const end = textIndex(notesText, start + change.length);
      if (end > start) notes.delete(start, end - start);
      return;
    }
    case 'share': {
      const to = phones[change.to % phones.length] as Y.Doc;
      Y.applyUpdate(to, Y.encodeStateAsUpdate(phone, Y.encodeStateVector(to)));
      return;
    }
  }
}

/** An index into `value` at most `at`, not inside a surrogate pair (an app never cuts one). */
function textIndex(value: string, at: number): number {
  let index = Math.min(at, value.length);
  const code = value.charCodeAt(index - 1);
  if (index < value.length && code >= 0xd800 && code <= 0xdbff) index -= 1;
  return index;
}

describe('large sync answers sent in parts', () => {
  it('[SA1] a phone joining a ~1 MB list gets it in messages no larger than a part, synced only once the last has arrived, with exactly the relay\'s list', async () => {
    const family = familyList();
    const stored = Y.encodeStateAsUpdate(family);
    expect(stored.length).toBeGreaterThan(900_000);
    const storage = new MemoryListStorage();
    const listId = newListId();
    await storage.append(listId, [stored]);
    const running = await startRelay({ storage });
    const messages: Received[] = [];
    const phone = connectPhone(running.syncUrl, listId, new Y.Doc(), undefined, recordingSocket(messages));
    let syncMessagesWhenSynced: number | undefined;
    phone.provider.on('sync', (synced: boolean) => {
      if (synced) syncMessagesWhenSynced ??= messages.filter((message) => message.kind === 'sync').length;
    });
    try {
      await waitFor(() => phone.provider.synced, 15_000, 'the phone synced');
      const answer = messages.filter((message): message is Received & { kind: 'sync' } => message.kind === 'sync' && message.syncType !== 0);
      expect(Math.max(...messages.map((message) => message.bytes)), 'the largest message').toBeLessThanOrEqual(SYNC_ANSWER_PART_BYTES + MESSAGE_HEADER_BYTES);
      expect(answer.length).toBeGreaterThanOrEqual(Math.floor(stored.length / SYNC_ANSWER_PART_BYTES));
      expect(answer.map((message) => message.syncType)).toEqual([...Array<number>(answer.length - 1).fill(SYNC_UPDATE), SYNC_STEP_2]);
      // Synced by the last part, not before: the relay's greeting (step 1) and the parts.
      expect(syncMessagesWhenSynced).toBe(answer.length + 1);
      // About the same bytes as the one message was, for the send backlog's bounds.
      const parts = answer.reduce((sum, message) => sum + message.bytes, 0);
      expect(parts).toBeLessThan(encodeSyncStep2(stored).length * 1.01);

      const relayList = new Y.Doc();
      Y.applyUpdate(relayList, stored);
      expect(phone.doc.store.pendingStructs).toBeNull();
      expect(Y.encodeStateAsUpdate(phone.doc)).toEqual(Y.encodeStateAsUpdate(relayList));
      expect(phone.doc.getText('notes').length).toBe(150_000);
      expect(running.relay.metrics.syncAnswersInParts.get()).toBe(1);
    } finally {
      phone.destroy();
      await running.close();
    }
  });

  it('[SA2] the parts applied in order to a phone at any earlier state give the same list as the one answer (fast-check: maps, arrays, text, deletions, several clients)', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.uniqueArray(fc.oneof(fc.integer({ min: 0, max: 300 }), fc.integer({ min: 0, max: 2 ** 32 - 1 })), { minLength: 1, maxLength: 4 }),
        fc.array(editArbitrary, { minLength: 1, maxLength: 60, size: 'max' }),
        fc.nat(),
        fc.nat(),
        fc.integer({ min: 128, max: 2048 }),
        async (clients, edits, phoneStep, phoneOf, partBytes) => {
          const phones = clients.map((id) => {
            const doc = new Y.Doc();
            doc.clientID = id;
            return doc;
          });
          // The phone asking: a copy of one of them, as it was after some of the edits (or new).
          let phoneState = Y.encodeStateAsUpdate(new Y.Doc());
          const phoneAt = phoneStep % (edits.length + 1);
          edits.forEach((change, i) => {
            if (i === phoneAt) phoneState = Y.encodeStateAsUpdate(phones[phoneOf % phones.length] as Y.Doc);
            edit(phones, change);
          });
          const { list, phone } = await listWith(phones.map((doc) => Y.encodeStateAsUpdate(doc)), partBytes);
          try {
            const asked = new Y.Doc();
            Y.applyUpdate(asked, phoneState);
            const oneAnswer = Y.encodeStateAsUpdate(list.doc, Y.encodeStateVector(asked));
            const expected = copyOf(asked);
            Y.applyUpdate(expected, oneAnswer);
            const answer = answerTo(list, phone, asked);
            if (oneAnswer.length <= partBytes) expect(phone.sent).toEqual([encodeSyncStep2(oneAnswer)]);
            applyAnswer(answer, asked, partBytes);
            expect(Y.encodeStateAsUpdate(asked)).toEqual(Y.encodeStateAsUpdate(expected));
            expect(asked.getText('notes').toString()).toBe(list.doc.getText('notes').toString());
          } finally {
            list.destroy();
          }
        },
      ),
      { numRuns: 150 },
    );
  });

  it('[SA3] an answer up to the bound is one sync step 2, as before; one byte over it is sent in parts', async () => {
    const doc = new Y.Doc();
    for (let i = 0; i < 200; i++) doc.getMap('items').set(`item-${i}`, `Item ${i} on a short list`);
    const stored = Y.encodeStateAsUpdate(doc);
    const empty = new Y.Doc();
    const answerBytes = Y.encodeStateAsUpdate(doc, Y.encodeStateVector(empty)).length;

    const atBound = await listWith([stored], answerBytes);
    expect(answerTo(atBound.list, atBound.phone, empty)).toHaveLength(1);
    expect(atBound.phone.sent).toEqual([encodeSyncStep2(Y.encodeStateAsUpdate(atBound.list.doc))]);
    expect(atBound.metrics.syncAnswersInParts.get()).toBe(0);
    atBound.list.destroy();

    const overBound = await listWith([stored], answerBytes - 1);
    const answer = answerTo(overBound.list, overBound.phone, empty);
    expect(answer.length).toBeGreaterThan(1);
    const phoneDoc = new Y.Doc();
    applyAnswer(answer, phoneDoc, answerBytes - 1);
    expect(Y.encodeStateAsUpdate(phoneDoc)).toEqual(Y.encodeStateAsUpdate(overBound.list.doc));
    expect(overBound.metrics.syncAnswersInParts.get()).toBe(1);
    overBound.list.destroy();
  });

  it('[SA4] deletions alone over the bound come in parts of deletions, after which the phone has the same list', async () => {
    const doc = new Y.Doc();
    doc.clientID = 5;
    const rows = doc.getArray<number>('rows');
    for (let i = 0; i < 3000; i++) rows.push([i]);
    const before = copyOf(doc);
    // Every other row deleted: 1,500 ranges, a few bytes each.
    doc.transact(() => {
      for (let i = rows.length - 2; i >= 0; i -= 2) rows.delete(i, 1);
    });
    const partBytes = 1024;
    const { list, phone } = await listWith([Y.encodeStateAsUpdate(doc)], partBytes);
    try {
      const answer = answerTo(list, phone, before);
      expect(answer.length).toBeGreaterThan(3);
      for (const message of answer) expect(message.bytes).toBeLessThanOrEqual(partBytes + MESSAGE_HEADER_BYTES);
      applyAnswer(answer, before, partBytes);
      expect(before.getArray('rows').toJSON()).toEqual(rows.toJSON());
      expect(Y.encodeStateAsUpdate(before)).toEqual(Y.encodeStateAsUpdate(list.doc));
    } finally {
      list.destroy();
    }
  });

  it('[SA5] updates the relay holds back (their dependency missing) are in the parts too, and the phone holds them back the same way', async () => {
    const author = new Y.Doc();
    author.clientID = 9;
    const updates: Uint8Array[] = [];
    author.on('update', (update: Uint8Array) => updates.push(update));
    const notes = author.getText('notes');
    for (let i = 0; i < 40; i++) notes.insert(notes.length, `Line ${i} of a note typed on the bus\n`.repeat(20));
    const first = updates.slice(0, 20);
    const missing = updates[20] as Uint8Array;
    const heldBack = updates.slice(21);
    const partBytes = 4096;
    const { list, phone } = await listWith(first, partBytes);
    try {
      // Another phone's later edits arrive without the one they build on: the relay holds them back.
      for (const update of heldBack) list.receive(phone, decodeIncomingMessage(encodeSyncUpdate(update)), 0);
      expect(list.doc.store.pendingStructs).not.toBeNull();
      const asking = new Y.Doc();
      const oneAnswer = Y.encodeStateAsUpdate(list.doc, Y.encodeStateVector(asking));
      const answer = answerTo(list, phone, asking);
      expect(answer.length).toBeGreaterThan(1);
      const expected = new Y.Doc();
      Y.applyUpdate(expected, oneAnswer);
      for (const [i, message] of answer.entries()) {
        if (message.kind !== 'sync') throw new Error('not a sync message');
        expect(message.syncType).toBe(i === answer.length - 1 ? SYNC_STEP_2 : SYNC_UPDATE);
        expect(message.bytes).toBeLessThanOrEqual(partBytes + MESSAGE_HEADER_BYTES);
        Y.applyUpdate(asking, message.update);
      }
      expect(asking.getText('notes').toString()).toBe(expected.getText('notes').toString());
      expect(asking.store.pendingStructs).not.toBeNull();
      // Once the missing edit arrives, both have the author's whole note.
      Y.applyUpdate(asking, missing);
      Y.applyUpdate(expected, missing);
      expect(asking.store.pendingStructs).toBeNull();
      expect(asking.getText('notes').toString()).toBe(notes.toString());
      expect(Y.encodeStateAsUpdate(asking)).toEqual(Y.encodeStateAsUpdate(expected));
    } finally {
      list.destroy();
    }
  });

  it('[SA6] a text item that cannot be cut (one surrogate pair under a long root name) goes whole in a part: phones joining the list sync (every answer threw, and they were closed with 1011 for ever)', async () => {
    // A root text with a 17 kB name, its first item (written with the name) starting with an
    // emoji: the first piece, "😀", is over a quarter part by the name alone and cannot be cut.
    const writerDoc = new Y.Doc();
    writerDoc.getText('n'.repeat(17_000)).insert(0, '😀x');
    writerDoc.getMap('items').set('note', 'z'.repeat(70_000));
    const running = await startRelay();
    const listId = newListId();
    const writer = connectPhone(running.syncUrl, listId, writerDoc);
    const joinerDoc = new Y.Doc();
    let joiner: ReturnType<typeof connectPhone> | undefined;
    const closes: number[] = [];
    try {
      await waitFor(() => writer.isFullyStored(), 15_000, 'the writer acknowledged');
      // Joining once the list holds it: what it gets is the relay's answer, not the writer's update passed on.
      joiner = connectPhone(running.syncUrl, listId, joinerDoc);
      joiner.provider.on('connection-close', (event: { code: number } | null) => {
        if (event) closes.push(event.code);
      });
      await waitFor(() => joinerDoc.getMap('items').get('note') !== undefined || closes.length > 0, 10_000, 'the joiner synced or was closed');
      expect(closes).toEqual([]);
      expect(joinerDoc.getText('n'.repeat(17_000)).toString()).toBe('😀x');
      expect(joinerDoc.getMap('items').get('note')).toBe('z'.repeat(70_000));
    } finally {
      writer.destroy();
      joiner?.destroy();
      await running.close();
    }
  }, 30_000);
});

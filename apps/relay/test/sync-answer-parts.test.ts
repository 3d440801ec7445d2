import fc from 'fast-check';
import * as Y from 'yjs';
import { afterEach, describe, expect, it } from 'vitest';
import { MemoryListStorage } from '../src/storage/memory-storage.js';
import { decodeIncomingMessage, encodeSyncStep1, encodeSyncStep2, encodeSyncUpdate } from '../src/sync/protocol.js';
import { SYNC_ANSWER_PART_BYTES } from '../src/sync/sync-answer-parts.js';
import type { RunningRelay } from './helpers.js';
import { connectPhone, newListId, openRawSocket, startRelay, waitFor } from './helpers.js';
import type { Received } from './sync-answer-helpers.js';
import { answerTo, listWith, normalized, received, recordingSocket, SYNC_STEP_1, SYNC_STEP_2, SYNC_UPDATE, syncMessages, textIndex } from './sync-answer-helpers.js';

/** The message headers around a part: its type, sync type and length (≤ 5 bytes). */
const MESSAGE_HEADER_BYTES = 8;

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

/** A doc whose root types are instantiated as an app bound to them would (Yjs only runs Y.Text's formatting cleanup on a Y.Text). */
function appDoc(clientID?: number): Y.Doc {
  const doc = new Y.Doc();
  if (clientID !== undefined) doc.clientID = clientID;
  doc.getMap('items');
  doc.getArray('rows');
  doc.getText('notes');
  doc.getXmlFragment('xml');
  return doc;
}

/**
 * Mum writes "Buy milk" and makes "milk" bold; Dad (who has Mum's text) types "Xoat" inside the
 * bold word (an editor passes the bold attribute), deletes "milk", then the stray "X". Each
 * holds their own edits; Dad's are not yet in Mum's doc.
 */
function boldedNotes(): { mum: Y.Doc; dad: Y.Doc } {
  const mum = new Y.Doc();
  mum.clientID = 300;
  mum.getText('notes').insert(0, 'Buy milk\n');
  mum.getText('notes').format(4, 4, { bold: true });
  const dad = new Y.Doc();
  dad.clientID = 100;
  Y.applyUpdate(dad, Y.encodeStateAsUpdate(mum));
  const dadNotes = dad.getText('notes');
  dadNotes.insert(8, 'Xoat', { bold: true });
  dadNotes.delete(4, 4);
  dadNotes.delete(4, 1);
  return { mum, dad };
}

/** The doc's content in a form independent of how Yjs cut its structs and of map key order. */
function content(doc: Y.Doc): string {
  return JSON.stringify(
    {
      items: doc.getMap('items').toJSON(),
      rows: doc.getArray('rows').toJSON(),
      notes: doc.getText('notes').toDelta(),
      xml: doc.getXmlFragment('xml').toString(),
    },
    (_key, value: unknown) => {
      if (value instanceof Y.Doc) return `subdocument ${value.guid}`;
      if (value instanceof Uint8Array) return `binary ${Array.from(value).join(',')}`;
      if (value !== null && typeof value === 'object' && !Array.isArray(value)) {
        const record = value as Record<string, unknown>;
        return Object.fromEntries(Object.keys(record).sort().map((key) => [key, record[key]]));
      }
      return value;
    },
  );
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
function applyAnswer(answer: readonly Received[], phoneDoc: Y.Doc, partBytes: number, nothingHeldBack = true): void {
  expect(answer.length).toBeGreaterThan(0);
  answer.forEach((message, i) => {
    if (message.kind !== 'sync') throw new Error('not a sync message');
    expect(message.syncType).toBe(i === answer.length - 1 ? SYNC_STEP_2 : SYNC_UPDATE);
    if (message.bytes > partBytes + MESSAGE_HEADER_BYTES) {
      const { structs, ds } = Y.decodeUpdate(message.update);
      expect({ structs: structs.length, deletingClients: ds.clients.size }, `a part of ${message.bytes} bytes`).toEqual({ structs: 1, deletingClients: 0 });
    }
    Y.applyUpdate(phoneDoc, message.update);
    if (nothingHeldBack) expect({ pendingStructs: phoneDoc.store.pendingStructs, pendingDs: phoneDoc.store.pendingDs }, `after part ${i + 1} of ${answer.length}`).toEqual({ pendingStructs: null, pendingDs: null });
  });
}

type Edit =
  | { kind: 'item'; client: number; key: number; name: string }
  | { kind: 'field'; client: number; key: number; value: string }
  | { kind: 'remove'; client: number; key: number }
  | { kind: 'binary'; client: number; key: number; size: number }
  | { kind: 'subdoc'; client: number; key: number }
  | { kind: 'rows'; client: number; at: number; values: Array<number | string> }
  | { kind: 'rowTypes'; client: number; at: number; text: string }
  | { kind: 'cutRows'; client: number; at: number; length: number }
  | { kind: 'type'; client: number; at: number; text: string }
  | { kind: 'erase'; client: number; at: number; length: number }
  | { kind: 'embed'; client: number; at: number; src: string }
  | { kind: 'xml'; client: number; at: number; text: string }
  | { kind: 'share'; client: number; to: number };

/** Text with multi-byte characters and surrogate pairs, which a cut must not split. */
const text = (maxLength: number): fc.Arbitrary<string> => fc.string({ unit: fc.constantFrom('a', 'b', ' ', 'é', '€', '😀', '\n'), maxLength, size: 'max' });
const client = fc.nat({ max: 7 });
const key = fc.nat({ max: 5 });
const editArbitrary: fc.Arbitrary<Edit> = fc.oneof(
  fc.record({ kind: fc.constant('item' as const), client, key, name: text(60) }),
  fc.record({ kind: fc.constant('field' as const), client, key, value: text(300) }),
  fc.record({ kind: fc.constant('remove' as const), client, key }),
  fc.record({ kind: fc.constant('binary' as const), client, key, size: fc.nat({ max: 900 }) }),
  fc.record({ kind: fc.constant('subdoc' as const), client, key }),
  fc.record({ kind: fc.constant('rows' as const), client, at: fc.nat(), values: fc.array(fc.oneof(fc.integer(), text(20)), { minLength: 1, maxLength: 30 }) }),
  fc.record({ kind: fc.constant('rowTypes' as const), client, at: fc.nat(), text: text(40) }),
  fc.record({ kind: fc.constant('cutRows' as const), client, at: fc.nat(), length: fc.integer({ min: 1, max: 8 }) }),
  fc.record({ kind: fc.constant('type' as const), client, at: fc.nat(), text: text(400) }),
  fc.record({ kind: fc.constant('erase' as const), client, at: fc.nat(), length: fc.integer({ min: 1, max: 40 }) }),
  fc.record({ kind: fc.constant('embed' as const), client, at: fc.nat(), src: text(20) }),
  fc.record({ kind: fc.constant('xml' as const), client, at: fc.nat(), text: text(60) }),
  fc.record({ kind: fc.constant('share' as const), client, to: client }),
);

/** One phone's edit of its list (`client` picks the phone), or a phone sharing its list with another. */
function edit(docs: readonly Y.Doc[], change: Edit): void {
  const doc = docs[change.client % docs.length] as Y.Doc;
  const items = doc.getMap<unknown>('items');
  const rows = doc.getArray<unknown>('rows');
  const notes = doc.getText('notes');
  const xml = doc.getXmlFragment('xml');
  switch (change.kind) {
    case 'item': {
      const item = new Y.Map<unknown>();
      const details = new Y.Map<unknown>();
      details.set('shop', change.name);
      item.set('name', change.name);
      item.set('details', details);
      items.set(`k${change.key}`, item);
      return;
    }
    case 'field': {
      const item = items.get(`k${change.key}`);
      if (item instanceof Y.Map) {
        item.set('name', change.value);
        const details = item.get('details');
        if (details instanceof Y.Map) details.set('note', change.value);
      } else items.set(`k${change.key}`, change.value);
      return;
    }
    case 'remove':
      items.delete(`k${change.key}`);
      return;
    case 'binary':
      items.set(`b${change.key}`, new Uint8Array(change.size).map((_, i) => i % 251));
      return;
    case 'subdoc':
      items.set(`s${change.key % 2}`, new Y.Doc({ guid: `sub-${change.client}-${change.key}` }));
      return;
    case 'rows':
      rows.insert(change.at % (rows.length + 1), change.values);
      return;
    case 'rowTypes': {
      const nested = new Y.Array<unknown>();
      nested.insert(0, [1, change.text]);
      const nestedText = new Y.Text();
      nestedText.insert(0, change.text);
      rows.insert(change.at % (rows.length + 1), [nested, nestedText]);
      return;
    }
    case 'cutRows':
      if (rows.length > 0) {
        const start = change.at % rows.length;
        rows.delete(start, Math.min(change.length, rows.length - start));
      }
      return;
    case 'type':
      notes.insert(textIndex(notes.toString(), change.at % (notes.length + 1)), change.text);
      return;
    case 'erase': {
      const value = notes.toString();
      if (value.length === 0) return;
      const start = textIndex(value, change.at % value.length);
      const end = textIndex(value, start + change.length);
      if (end > start) notes.delete(start, end - start);
      return;
    }
    case 'embed':
      notes.insertEmbed(textIndex(notes.toString(), change.at % (notes.length + 1)), { image: change.src });
      return;
    case 'xml': {
      const paragraph = new Y.XmlElement('p');
      paragraph.setAttribute('class', change.text.slice(0, 5));
      const body = new Y.XmlText();
      body.insert(0, change.text);
      paragraph.insert(0, [body]);
      xml.insert(change.at % (xml.length + 1), [paragraph]);
      return;
    }
    case 'share': {
      const to = docs[change.to % docs.length] as Y.Doc;
      Y.applyUpdate(to, Y.encodeStateAsUpdate(doc, Y.encodeStateVector(to)));
      return;
    }
  }
}

describe('large sync answers sent in parts', () => {
  const cleanups: Array<() => Promise<void> | void> = [];
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  });

  /** A relay (closed after the test) serving a new list stored as `updates`. */
  const relayServing = async (updates: readonly Uint8Array[]): Promise<{ running: RunningRelay; listId: string; storage: MemoryListStorage }> => {
    const storage = new MemoryListStorage();
    const listId = newListId();
    await storage.append(listId, updates);
    const running = await startRelay({ storage });
    cleanups.push(() => running.close());
    return { running, listId, storage };
  };

  it('[SA1] a phone joining a ~1 MB list gets it in messages no larger than a part, synced only once the last has arrived, with exactly the relay\'s list', async () => {
    const family = familyList();
    const stored = Y.encodeStateAsUpdate(family);
    expect(stored.length).toBeGreaterThan(900_000);
    const { running, listId } = await relayServing([stored]);
    const messages: Received[] = [];
    const phone = connectPhone(running.syncUrl, listId, new Y.Doc(), undefined, recordingSocket((message) => messages.push(message)));
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
    }
  });

  it('[SA2] the parts applied in order to a phone at any earlier state, with or without offline edits, give the same list as the one answer, nothing held back (fast-check: maps, nested maps, removed nested maps, binaries, subdocuments, arrays of types, text and embeds, XML, several clients, updates the relay holds back)', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.uniqueArray(fc.oneof(fc.integer({ min: 1, max: 300 }), fc.integer({ min: 0, max: 2 ** 32 - 1 })), { minLength: 1, maxLength: 8 }),
        fc.array(editArbitrary, { minLength: 10, maxLength: 80, size: 'max' }),
        fc.nat(),
        fc.nat(),
        fc.option(fc.nat(), { nil: undefined }),
        fc.boolean(),
        fc.integer({ min: 128, max: 2048 }),
        async (clients, edits, phoneStep, phoneOf, withheld, offlineEdits, partBytes) => {
          const phones = clients.map((id) => appDoc(id));
          const updates: Uint8Array[] = [];
          for (const doc of phones) doc.on('update', (update: Uint8Array) => updates.push(update));
          // The phone asking: a copy of one of them, as it was after some of the edits (or new).
          let phoneState = Y.encodeStateAsUpdate(new Y.Doc());
          const phoneAt = phoneStep % (edits.length + 1);
          edits.forEach((change, i) => {
            if (i === phoneAt) phoneState = Y.encodeStateAsUpdate(phones[phoneOf % phones.length] as Y.Doc);
            edit(phones, change);
          });
          // The relay got every update but perhaps one (it holds back what builds on it).
          const withheldIndex = withheld === undefined || updates.length === 0 ? -1 : withheld % updates.length;
          const { list, phone } = await listWith(
            updates.filter((_, i) => i !== withheldIndex),
            partBytes,
          );
          try {
            const relayHoldsBack = list.doc.store.pendingStructs !== null || list.doc.store.pendingDs !== null;
            const asked = appDoc();
            Y.applyUpdate(asked, phoneState);
            if (offlineEdits) {
              asked.clientID = 4_000_000_000;
              asked.getMap('items').set('k1', 'changed offline');
              asked.getText('notes').insert(0, 'offline ');
              if (asked.getArray('rows').length > 0) asked.getArray('rows').delete(0, 1);
            }
            const oneAnswer = Y.encodeStateAsUpdate(list.doc, Y.encodeStateVector(asked));
            const expected = copyOf(asked);
            Y.applyUpdate(expected, oneAnswer);
            const answer = answerTo(list, phone, Y.encodeStateVector(asked));
            if (oneAnswer.length <= partBytes) expect(phone.sent).toEqual([encodeSyncStep2(oneAnswer)]);
            applyAnswer(answer, asked, partBytes, !relayHoldsBack);
            if (withheldIndex >= 0) {
              Y.applyUpdate(asked, updates[withheldIndex] as Uint8Array);
              Y.applyUpdate(expected, updates[withheldIndex] as Uint8Array);
            }
            expect(content(asked)).toBe(content(expected));
            expect(normalized(asked)).toEqual(normalized(expected));
          } finally {
            list.destroy();
          }
        },
      ),
      { numRuns: 150 },
    );
  }, 120_000);

  it('[SA3] an answer up to the bound is one sync step 2, as before; one byte over it is sent in parts', async () => {
    const doc = new Y.Doc();
    for (let i = 0; i < 200; i++) doc.getMap('items').set(`item-${i}`, `Item ${i} on a short list`);
    const stored = Y.encodeStateAsUpdate(doc);
    const empty = new Y.Doc();
    const answerBytes = Y.encodeStateAsUpdate(doc, Y.encodeStateVector(empty)).length;

    const atBound = await listWith([stored], answerBytes);
    expect(answerTo(atBound.list, atBound.phone, Y.encodeStateVector(empty))).toHaveLength(1);
    expect(atBound.phone.sent).toEqual([encodeSyncStep2(Y.encodeStateAsUpdate(atBound.list.doc))]);
    expect(atBound.metrics.syncAnswersInParts.get()).toBe(0);
    atBound.list.destroy();

    const overBound = await listWith([stored], answerBytes - 1);
    const answer = answerTo(overBound.list, overBound.phone, Y.encodeStateVector(empty));
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
      const answer = answerTo(list, phone, Y.encodeStateVector(before));
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
      const answer = answerTo(list, phone, Y.encodeStateVector(asking));
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
      const answerParts: number[] = [];
      joiner = connectPhone(
        running.syncUrl,
        listId,
        joinerDoc,
        undefined,
        recordingSocket((message) => {
          if (message.kind === 'sync' && message.syncType !== SYNC_STEP_1) answerParts.push(message.bytes);
        }),
      );
      joiner.provider.on('connection-close', (event: { code: number } | null) => {
        if (event) closes.push(event.code);
      });
      await waitFor(() => joinerDoc.getMap('items').get('note') !== undefined || closes.length > 0, 10_000, 'the joiner synced or was closed');
      expect(closes).toEqual([]);
      expect(joinerDoc.getText('n'.repeat(17_000)).toString()).toBe('😀x');
      expect(joinerDoc.getMap('items').get('note')).toBe('z'.repeat(70_000));
      // In parts: the cut worked (were it to throw on the decode worker, the answer would go whole).
      expect(answerParts.length).toBeGreaterThan(1);
    } finally {
      writer.destroy();
      joiner?.destroy();
      await running.close();
    }
  }, 30_000);

  it('[AP3] formatted text: a phone bound to the text (Yjs cleans up formatting after each remote transaction) gets the same text as from the one answer, whatever the part size', async () => {
    // boldedNotes: Dad's deleted "X" sits between the bold start and "oat". Parts are cut in
    // integration order, so a part can end with Dad's deleted "X" while "oat" comes in the next:
    // the phone's Y.Text then sees the bold start and end with nothing between them, and Yjs's
    // formatting cleanup (run after every remote transaction) deletes the bold start as
    // redundant. When "oat" arrives it is no longer bold. In one answer nothing is in between,
    // and a list holding formatting is answered in one.
    const { mum, dad } = boldedNotes();
    Y.applyUpdate(mum, Y.encodeStateAsUpdate(dad, Y.encodeStateVector(mum)));
    const stored = Y.encodeStateAsUpdate(mum);

    const oneGo = appDoc();
    Y.applyUpdate(oneGo, stored);
    const want = JSON.stringify(oneGo.getText('notes').toDelta());
    expect(want).toBe(JSON.stringify([{ insert: 'Buy ' }, { insert: 'oat', attributes: { bold: true } }, { insert: '\n' }]));

    const differing: Array<{ partBytes: number; phone: string }> = [];
    for (let partBytes = 12; partBytes < stored.length; partBytes += 4) {
      const { list, phone } = await listWith([stored], partBytes);
      try {
        const asking = appDoc();
        for (const message of syncMessages(answerTo(list, phone, Y.encodeStateVector(asking)))) Y.applyUpdate(asking, message.update);
        const got = JSON.stringify(asking.getText('notes').toDelta());
        if (got !== want) differing.push({ partBytes, phone: got });
      } finally {
        list.destroy();
      }
    }
    expect(differing).toEqual([]);
  });

  it('[AP4] an unmodified y-websocket phone joining a list with formatted text over a part gets it in one message, keeps the formatting, and sends no cleanup back: the stored list keeps it for every phone', async () => {
    // [AP3]'s edits, and 125 kB of attachments (another phone) between Mum's and Dad's structs in
    // integration order: cut at SYNC_ANSWER_PART_BYTES, the second part would end with Dad's
    // deleted "X" and hold no formatting item of the text, and the phone's cleanup would delete
    // the bold start and send that to the relay.
    const { mum, dad } = boldedNotes();
    const aunt = new Y.Doc();
    aunt.clientID = 200;
    aunt.getMap('attachments').set('a', 'a'.repeat(60_000));
    aunt.getMap('attachments').set('b', 'b'.repeat(65_453));
    const storage = new MemoryListStorage();
    const listId = newListId();
    await storage.append(listId, [Y.encodeStateAsUpdate(mum), Y.encodeStateAsUpdate(aunt), Y.encodeStateAsUpdate(dad)]);
    const notesOf = async (): Promise<string> => {
      const doc = appDoc();
      Y.applyUpdate(doc, Y.mergeUpdates((await storage.load(listId)).updates));
      return JSON.stringify(doc.getText('notes').toDelta());
    };
    const want = await notesOf();
    expect(want).toBe(JSON.stringify([{ insert: 'Buy ' }, { insert: 'oat', attributes: { bold: true } }, { insert: '\n' }]));

    const running = await startRelay({ storage });
    cleanups.push(() => running.close());
    const parts: number[] = [];
    // An editor bound to the text (y-prosemirror, y-quill) has called getText before syncing.
    const phone = connectPhone(
      running.syncUrl,
      listId,
      appDoc(),
      undefined,
      recordingSocket((message) => {
        if (message.kind === 'sync' && message.syncType !== SYNC_STEP_1) parts.push(message.bytes);
      }),
    );
    cleanups.push(() => phone.destroy());
    await waitFor(() => phone.provider.synced, 15_000, 'the phone synced');
    // An edit after the sync: once it is acknowledged, whatever the phone sent before it is stored.
    phone.doc.getMap('items').set('seen', true);
    await waitFor(() => phone.isFullyStored(), 15_000, 'the phone\'s edit acknowledged');

    expect(parts).toHaveLength(1);
    expect(parts[0]).toBeGreaterThan(SYNC_ANSWER_PART_BYTES);
    expect({ phone: JSON.stringify(phone.doc.getText('notes').toDelta()), storedOnTheRelay: await notesOf() }).toEqual({ phone: want, storedOnTheRelay: want });
  }, 40_000);

  it('[AP7] a phone with an offline edit joining a ~1 MB list while another phone edits: every ack it gets names only what it already holds, one covers its edit, and it ends with the relay\'s list, nothing held back', async () => {
    const family = new Y.Doc();
    family.clientID = 11;
    const items = family.getMap<Y.Map<unknown>>('items');
    family.transact(() => {
      for (let i = 0; i < 6000; i++) {
        const item = new Y.Map<unknown>();
        item.set('name', `Item ${i} on the family's long-kept list`);
        item.set('note', i % 50 === 0 ? 'n'.repeat(2000) : '');
        items.set(`item-${i}`, item);
      }
    });
    family.transact(() => {
      for (let i = 0; i < 6000; i += 3) items.delete(`item-${i}`);
    });
    const stored = Y.encodeStateAsUpdate(family);
    expect(stored.length).toBeGreaterThan(300_000);
    const { running, listId, storage } = await relayServing([stored]);

    const other = connectPhone(running.syncUrl, listId, new Y.Doc());
    cleanups.push(() => other.destroy());
    await waitFor(() => other.provider.synced, 15_000, 'the other phone synced');

    const joinerDoc = new Y.Doc();
    joinerDoc.getMap('items').set('offline-item', 'bread');
    const ackProblems: string[] = [];
    let answerMessages = 0;
    let acksAfterSynced = 0;
    const joiner = connectPhone(
      running.syncUrl,
      listId,
      joinerDoc,
      undefined,
      recordingSocket((message) => {
        if (message.kind === 'sync' && message.syncType !== SYNC_STEP_1) answerMessages += 1;
        if (message.kind !== 'ack') return;
        // Before y-websocket handles this message: the doc holds everything before it.
        const held = Y.decodeStateVector(Y.encodeStateVector(joinerDoc));
        for (const [client, clock] of message.vector) if ((held.get(client) ?? 0) < clock) ackProblems.push(`ack names ${client}:${clock}, phone holds ${held.get(client) ?? 0}`);
        if (joiner.provider.synced) acksAfterSynced += 1;
      }),
    );
    cleanups.push(() => joiner.destroy());
    // The other phone edits while the joiner's answer is sent and applied.
    let edits = 0;
    const editing = setInterval(() => {
      other.doc.getMap<Y.Map<unknown>>('items').get('item-1')?.set('name', `renamed ${edits++}`);
    }, 5);
    try {
      await waitFor(() => joiner.provider.synced, 20_000, 'the joiner synced');
    } finally {
      clearInterval(editing);
    }
    other.doc.getMap('items').set('last', 'edit');
    await waitFor(() => joiner.isFullyStored() && other.isFullyStored(), 15_000, 'both phones acknowledged');
    await waitFor(() => joiner.doc.getMap('items').get('last') === 'edit', 15_000, 'the last edit reached the joiner');

    expect(answerMessages).toBeGreaterThan(2);
    expect(ackProblems).toEqual([]);
    expect({ pendingStructs: joiner.doc.store.pendingStructs, pendingDs: joiner.doc.store.pendingDs }).toEqual({ pendingStructs: null, pendingDs: null });
    const relayCopy = new Y.Doc();
    Y.applyUpdate(relayCopy, Y.mergeUpdates((await storage.load(listId)).updates));
    expect(normalized(joiner.doc)).toEqual(normalized(relayCopy));
    expect(normalized(other.doc)).toEqual(normalized(relayCopy));
    expect(relayCopy.getMap('items').get('offline-item')).toBe('bread');
    expect(acksAfterSynced).toBeGreaterThan(0);
  }, 60_000);

  it('[AP8] two sync requests in a row from one socket: two whole answers, one after the other, never interleaved, each ending with its sync step 2', async () => {
    const doc = new Y.Doc();
    doc.getText('notes').insert(0, 'Recipe: '.repeat(40_000));
    for (let i = 0; i < 3000; i++) doc.getMap('items').set(`item-${i}`, `Item ${i}`);
    const stored = Y.encodeStateAsUpdate(doc);
    const { running, listId } = await relayServing([stored]);
    const socket = await openRawSocket(running.syncUrl, listId);
    cleanups.push(() => socket.terminate());
    const messages: Received[] = [];
    socket.on('message', (data: Buffer) => messages.push(received(new Uint8Array(data))));
    const emptyVector = Y.encodeStateVector(new Y.Doc());
    socket.send(encodeSyncStep1(emptyVector));
    socket.send(encodeSyncStep1(emptyVector));
    const answersDone = (): number => messages.filter((message) => message.kind === 'sync' && message.syncType === SYNC_STEP_2).length;
    await waitFor(() => answersDone() >= 2, 15_000, 'two answers');

    const answerMessages = messages.filter((message): message is Received & { kind: 'sync' } => message.kind === 'sync' && message.syncType !== SYNC_STEP_1);
    const cut = answerMessages.findIndex((message) => message.syncType === SYNC_STEP_2) + 1;
    const answers = [answerMessages.slice(0, cut), answerMessages.slice(cut)];
    for (const answer of answers) {
      expect(answer.length).toBeGreaterThan(1);
      expect(answer.map((message) => message.syncType)).toEqual([...Array<number>(answer.length - 1).fill(SYNC_UPDATE), SYNC_STEP_2]);
      const phoneDoc = new Y.Doc();
      for (const message of answer) {
        Y.applyUpdate(phoneDoc, message.update);
        expect(phoneDoc.store.pendingStructs).toBeNull();
      }
      expect(normalized(phoneDoc)).toEqual(normalized(doc));
    }
  }, 30_000);
});

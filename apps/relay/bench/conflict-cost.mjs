/**
 * What an update of concurrent inserts at one position costs Yjs to apply, and what the relay's
 * check costs to refuse it: `node bench/conflict-cost.mjs` (after `pnpm build`).
 * Each of n clients, unaware of the others, sets the same map key; the n updates are merged.
 */
import * as Y from 'yjs';
import { decodeIncomingMessage, encodeSyncUpdate } from '../dist/sync/protocol.js';

for (const clients of [5_000, 10_000, 20_000, 40_000]) {
  const updates = [];
  for (let i = 0; i < clients; i++) {
    const doc = new Y.Doc();
    doc.clientID = i + 1;
    doc.getMap('items').set('milk', 1);
    updates.push(Y.encodeStateAsUpdate(doc));
  }
  const merged = Y.mergeUpdates(updates);
  let refusedIn = performance.now();
  let refusal = 'accepted';
  try {
    decodeIncomingMessage(encodeSyncUpdate(merged));
  } catch (error) {
    refusal = String(error);
  }
  refusedIn = performance.now() - refusedIn;
  const applyStart = performance.now();
  Y.applyUpdate(new Y.Doc(), merged);
  const applyMs = performance.now() - applyStart;
  console.log(
    JSON.stringify({ clients, updateBytes: merged.length, yjsApplyMs: Math.round(applyMs), relayDecodeMs: Math.round(refusedIn), relay: refusal }),
  );
}

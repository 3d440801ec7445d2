import { parentPort } from 'node:worker_threads';
import { decodeIncomingMessage, ProtocolError } from './protocol.js';
import type { DecodeRequest, DecodeResponse } from './off-thread-decoder.js';
import { syncAnswerMessages } from './sync-answer-parts.js';
import { cutStoredList, STRUCTS_PER_SLICE } from './update-slices.js';

/**
 * Decodes large frames for OffThreadDecoder, off the relay's event loop. Runs the very same check
 * as the main thread; only the result crosses back (structured clone).
 */
const port = parentPort;
if (port === null) throw new Error('decode-worker.js runs as a worker thread only');
port.on('message', (request: DecodeRequest) => {
  const started = performance.now();
  const outcome = answer(() => {
    // A stored list's large updates cut into slices, and its heap estimated (update-slices.ts).
    if ('storedList' in request) return { cut: cutStoredList(request.storedList, request.minBytes, STRUCTS_PER_SLICE) };
    // A large sync answer in parts (sync-answer-parts.ts): its heap is this worker's, not the relay's.
    if ('syncAnswer' in request) return { answerMessages: syncAnswerMessages(request.syncAnswer, request.maxPartBytes) };
    // Rewriting GC runs and cutting slices cost the event loop nothing here (gc-runs.ts, update-slices.ts).
    return { message: decodeIncomingMessage(request.frame, { ...request.options, joinGcRuns: true, sliceStructs: STRUCTS_PER_SLICE }) };
  });
  const response: DecodeResponse = { id: request.id, ms: performance.now() - started, ...outcome };
  port.postMessage(response);
});
// The relay times each check from here on (OffThreadDecoder.armCheckTimer), not the start-up.
port.postMessage({ ready: true });

/** What `work` returns, or what it threw, in a form that crosses back to the relay. */
function answer<T>(work: () => T): T | { error: { protocol: boolean; message: string } } {
  try {
    return work();
  } catch (error) {
    return { error: { protocol: error instanceof ProtocolError, message: error instanceof Error ? error.message : String(error) } };
  }
}

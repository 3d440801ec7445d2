import { parentPort } from 'node:worker_threads';
import type { DecodeOptions, IncomingMessage } from './protocol.js';
import { decodeIncomingMessage, ProtocolError } from './protocol.js';
import type { DecodeRequest, DecodeResponse } from './off-thread-decoder.js';
import { storedUpdateSlices, STRUCTS_PER_SLICE } from './update-slices.js';

/**
 * Decodes large frames for OffThreadDecoder, off the relay's event loop. Runs the very same check
 * as the main thread; only the result crosses back (structured clone).
 */
const port = parentPort;
if (port === null) throw new Error('decode-worker.js runs as a worker thread only');
port.on('message', (request: DecodeRequest) => {
  const started = performance.now();
  const outcome = 'stored' in request ? sliced(request.stored) : checked(request.frame, request.options);
  const response: DecodeResponse = { id: request.id, ms: performance.now() - started, ...outcome };
  port.postMessage(response);
});

/** A stored update cut into slices (update-slices.ts); none if it is small or cannot be cut. */
function sliced(update: Uint8Array): { slices: Uint8Array[] | undefined } | { error: { protocol: boolean; message: string } } {
  try {
    return { slices: storedUpdateSlices(update, STRUCTS_PER_SLICE) };
  } catch (error) {
    return { error: { protocol: false, message: error instanceof Error ? error.message : String(error) } };
  }
}

function checked(frame: Uint8Array, options: DecodeOptions): { message: IncomingMessage } | { error: { protocol: boolean; message: string } } {
  try {
    // Rewriting GC runs and cutting slices cost the event loop nothing here (gc-runs.ts, update-slices.ts).
    return { message: decodeIncomingMessage(frame, { ...options, joinGcRuns: true, sliceStructs: STRUCTS_PER_SLICE }) };
  } catch (error) {
    return { error: { protocol: error instanceof ProtocolError, message: error instanceof Error ? error.message : String(error) } };
  }
}

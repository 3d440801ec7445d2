import { parentPort } from 'node:worker_threads';
import type { DecodeOptions, IncomingMessage } from './protocol.js';
import { decodeIncomingMessage, ProtocolError } from './protocol.js';
import type { DecodeRequest, DecodeResponse } from './off-thread-decoder.js';
import { STRUCTS_PER_SLICE } from './update-slices.js';

/**
 * Decodes large frames for OffThreadDecoder, off the relay's event loop. Runs the very same check
 * as the main thread; only the result crosses back (structured clone).
 */
const port = parentPort;
if (port === null) throw new Error('decode-worker.js runs as a worker thread only');
port.on('message', ({ id, frame, options }: DecodeRequest) => {
  const started = performance.now();
  const outcome = checked(frame, options);
  const response: DecodeResponse = { id, ms: performance.now() - started, ...outcome };
  port.postMessage(response);
});

function checked(frame: Uint8Array, options: DecodeOptions): { message: IncomingMessage } | { error: { protocol: boolean; message: string } } {
  try {
    // Rewriting GC runs and cutting slices cost the event loop nothing here (gc-runs.ts, update-slices.ts).
    return { message: decodeIncomingMessage(frame, { ...options, joinGcRuns: true, sliceStructs: STRUCTS_PER_SLICE }) };
  } catch (error) {
    return { error: { protocol: error instanceof ProtocolError, message: error instanceof Error ? error.message : String(error) } };
  }
}

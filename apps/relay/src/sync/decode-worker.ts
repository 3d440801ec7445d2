import { parentPort } from 'node:worker_threads';
import type { DecodeOptions, IncomingMessage } from './protocol.js';
import { decodeIncomingMessage, ProtocolError } from './protocol.js';
import type { DecodeRequest, DecodeResponse } from './off-thread-decoder.js';

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
    // Rewriting GC runs costs the event loop nothing here (see gc-runs.ts).
    return { message: decodeIncomingMessage(frame, { ...options, joinGcRuns: true }) };
  } catch (error) {
    return { error: { protocol: error instanceof ProtocolError, message: error instanceof Error ? error.message : String(error) } };
  }
}

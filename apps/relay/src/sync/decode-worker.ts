import { parentPort } from 'node:worker_threads';
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
  let response: DecodeResponse;
  try {
    // Rewriting GC runs costs the event loop nothing here (see gc-runs.ts).
    response = { id, ms: 0, message: decodeIncomingMessage(frame, { ...options, joinGcRuns: true }) };
  } catch (error) {
    const protocol = error instanceof ProtocolError;
    response = { id, ms: 0, error: { protocol, message: error instanceof Error ? error.message : String(error) } };
  }
  response.ms = performance.now() - started;
  port.postMessage(response);
});

/**
 * Benchmark-only: our relay with its storage in memory (no files, no fsync), to measure what the
 * benchmark harness itself costs. Its durable-ack latency is the floor this machine and load
 * generator can show for any relay; ours-on-disk minus this is what storage costs.
 * Never a way to run the relay: acknowledgements from it mean "in memory", not "on disk".
 */
import { configFromEnvironment } from '../src/config.js';
import { RelayServer } from '../src/http/relay-server.js';
import { createJsonLogger } from '../src/log.js';
import { MemoryListStorage } from '../src/storage/memory-storage.js';

const config = configFromEnvironment(process.env);
const { port, host, dataDir: _dataDir, staticDir, logLevel, ...limits } = config;
const relay = new RelayServer({ limits, storage: new MemoryListStorage(), logger: createJsonLogger(logLevel), staticDir });
process.on('SIGTERM', () => {
  void relay.close().then(() => process.exit(0));
});
await relay.listen(port, host);

/**
 * Benchmark-only (`BENCH_TARGETS=ours,oursInMemory,reference`): our relay with its storage in
 * memory (no files, no fsync). It was meant to show what the harness alone costs, but it is no
 * floor: since the tenth session's generator it has had higher latencies than ours on disk
 * (README, Benchmark). Never a way to run the relay: its acknowledgements mean "in memory".
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

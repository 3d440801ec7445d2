/**
 * Relay benchmark: `pnpm --filter @basket/relay bench` (or `pnpm bench:relay` at the root).
 *
 * For our relay and for the y-websocket reference server (@y/websocket-server 0.1.1), in the
 * same run and with the same load: ramp up BENCH_CONNECTIONS simulated phones over BENCH_LISTS
 * lists, send BENCH_RATE updates/s for BENCH_SECONDS, then restart the server and time how long
 * loading every list takes. Server and load generator run in separate processes.
 * BENCH_ROUNDS (5) rounds, each target once per round in a rotated order; medians are printed.
 * The last line of output is one JSON object: {"ours": {...}, "reference": {...}}.
 */
import type { ChildProcess } from 'node:child_process';
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

const relayRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const config = {
  connections: Number(process.env['BENCH_CONNECTIONS'] ?? 5000),
  lists: Number(process.env['BENCH_LISTS'] ?? 1000),
  updatesPerSecond: Number(process.env['BENCH_RATE'] ?? 2000),
  seconds: Number(process.env['BENCH_SECONDS'] ?? 15),
  warmupSeconds: Number(process.env['BENCH_WARMUP_SECONDS'] ?? 3),
  rounds: Math.max(1, Number(process.env['BENCH_ROUNDS'] ?? 5)),
};

type Figures = Record<string, number | string | null>;

/**
 * The Node flags our relay runs with (package.json `start`, the root `relay` script, the
 * Dockerfile): a 64 MB young generation, see "Node flags" in the README. The reference server
 * runs as it ships, with Node's defaults. `BENCH_RELAY_NODE_FLAGS=` (empty) measures ours with
 * the defaults too.
 */
const RELAY_NODE_FLAGS = nodeFlags(process.env['BENCH_RELAY_NODE_FLAGS'] ?? '--max-semi-space-size=64 --min-semi-space-size=64');
/** `BENCH_REFERENCE_NODE_FLAGS` gives the reference server flags too, e.g. the same as ours. */
const REFERENCE_NODE_FLAGS = nodeFlags(process.env['BENCH_REFERENCE_NODE_FLAGS'] ?? '');
/**
 * The load generator times every message on its own event loop, so its pauses are in every
 * latency, ours and the reference's alike. With Node's default young generation its 5,000 phones
 * made it stop about 80 times a run for 8–10 ms; with 64 MB, about 16 times (docs/benchmark-history.md, tenth
 * session). `BENCH_GENERATOR_NODE_FLAGS=` (empty) measures with the defaults.
 */
const GENERATOR_NODE_FLAGS = nodeFlags(process.env['BENCH_GENERATOR_NODE_FLAGS'] ?? '--max-semi-space-size=64 --min-semi-space-size=64');

/**
 * `BENCH_GENERATOR_NICE=10` runs the load generator at a lower CPU priority, standing in for
 * phones that in real use do not share the relay's cores. Off by default: it helped ours and
 * hurt the reference in the ninth session's pairs, for reasons not understood (docs/benchmark-history.md).
 */
const GENERATOR_NICENESS = Number(process.env['BENCH_GENERATOR_NICE'] ?? 0);
if (!Number.isInteger(GENERATOR_NICENESS) || GENERATOR_NICENESS < 0 || GENERATOR_NICENESS > 19) {
  throw new Error('BENCH_GENERATOR_NICE must be an integer from 0 to 19');
}

function nodeFlags(spaceSeparated: string): string[] {
  return spaceSeparated.split(' ').filter((flag) => flag !== '');
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => resolve(typeof address === 'object' && address !== null ? address.port : 0));
    });
  });
}

/** Runs `command` under a raised open-file limit (the hard limit; 5,000 sockets need more than 1,024). */
function spawnWithFileLimit(command: string[], env: NodeJS.ProcessEnv, stdio: 'pipe' | 'ignore' = 'pipe', niceness = 0): ChildProcess {
  const quoted = command.map((part) => `'${part.replace(/'/g, `'\\''`)}'`).join(' ');
  const nice = niceness === 0 ? '' : `nice -n ${niceness} `;
  return spawn('bash', ['-c', `ulimit -n "$(ulimit -Hn)" 2>/dev/null; exec ${nice}${quoted}`], {
    env,
    stdio: ['pipe', stdio, 'inherit'],
  });
}

function rssMb(pid: number | undefined): number {
  if (pid === undefined) return NaN;
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const kb = Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? NaN);
    return Math.round((kb / 1024) * 10) / 10;
  } catch {
    return NaN;
  }
}

/** User + system CPU seconds the process has used (all its threads), from /proc. */
function cpuSeconds(pid: number | undefined): number {
  if (pid === undefined) return NaN;
  try {
    // Fields after the command name (which may hold spaces): utime and stime are the 12th and 13th.
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.split(' ') ?? [];
    return (Number(fields[11]) + Number(fields[12])) / 100;
  } catch {
    return NaN;
  }
}

interface Target {
  readonly name: 'ours' | 'oursInMemory' | 'reference';
  /** `dataDir` is fresh for each measurement and kept across its restart. */
  start(port: number, dataDir: string): Promise<ChildProcess>;
}

async function waitForPort(port: number, child: ChildProcess): Promise<void> {
  const deadline = Date.now() + 15_000;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`server exited with ${child.exitCode}`);
    const open = await new Promise<boolean>((resolve) => {
      const socket = createConnectionSafe(port);
      socket.once('connect', () => {
        socket.destroy();
        resolve(true);
      });
      socket.once('error', () => resolve(false));
    });
    if (open) return;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error(`port ${port} did not open`);
}

import { connect as createConnectionSafeImpl } from 'node:net';
function createConnectionSafe(port: number): ReturnType<typeof createConnectionSafeImpl> {
  return createConnectionSafeImpl(port, '127.0.0.1');
}

function stopServer(child: ChildProcess, signal: NodeJS.Signals): Promise<void> {
  return new Promise((resolve) => {
    if (child.exitCode !== null) {
      resolve();
      return;
    }
    const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
    child.once('exit', () => {
      clearTimeout(timer);
      resolve();
    });
    child.kill(signal);
  });
}

/** Runs the load generator and answers each phase line after `onPhase` has sampled the server. */
async function runGenerator(
  options: Record<string, unknown>,
  onPhase: (line: Figures, generatorPid: number | undefined) => void | Promise<void>,
): Promise<Figures[]> {
  const generator = spawnWithFileLimit(
    [process.execPath, ...GENERATOR_NODE_FLAGS, '--import', 'tsx', path.join(relayRoot, 'bench/load-generator.ts'), JSON.stringify(options)],
    process.env,
    'pipe',
    GENERATOR_NICENESS,
  );
  const lines: Figures[] = [];
  const reader = createInterface({ input: generator.stdout as NodeJS.ReadableStream });
  reader.on('line', (line) => {
    let parsed: Figures;
    try {
      parsed = JSON.parse(line) as Figures;
    } catch {
      return;
    }
    lines.push(parsed);
    void Promise.resolve(onPhase(parsed, generator.pid)).finally(() => generator.stdin?.write('go\n'));
  });
  const code = await new Promise<number | null>((resolve) => generator.once('exit', resolve));
  if (code !== 0) throw new Error(`load generator exited with ${code}`);
  return lines;
}

/**
 * Time the process's main thread spent runnable but waiting for a CPU (ms, from the scheduler's
 * /proc/<pid>/schedstat): on two cores shared by relay, load generator and kernel, this is the
 * part of every latency that no code in either process can remove.
 */
function runQueueWaitMs(pid: number | undefined): number {
  if (pid === undefined) return NaN;
  try {
    return Number(readFileSync(`/proc/${pid}/schedstat`, 'utf8').split(' ')[1]) / 1e6;
  } catch {
    return NaN;
  }
}

/** CPU time counters of the whole machine, to tell how much a hypervisor took away (steal). */
function cpuTimes(): { steal: number; total: number } {
  const fields = (readFileSync('/proc/stat', 'utf8').split('\n')[0] ?? '').trim().split(/\s+/).slice(1).map(Number);
  return { steal: fields[7] ?? 0, total: fields.reduce((a, b) => a + b, 0) };
}

async function measure(target: Target): Promise<Figures> {
  const dataDir = mkdtempSync(path.join(tmpdir(), 'basket-bench-'));
  try {
    return await measureIn(target, dataDir);
  } finally {
    rmSync(dataDir, { recursive: true, force: true });
  }
}

async function measureIn(target: Target, dataDir: string): Promise<Figures> {
  const port = await freePort();
  const cpuAtStart = existsSync('/proc/stat') ? cpuTimes() : undefined;
  const url = `ws://127.0.0.1:${port}/sync`;
  let server = await target.start(port, dataDir);
  await waitForPort(port, server);
  await new Promise((resolve) => setTimeout(resolve, 300));
  const baselineRss = rssMb(server.pid);
  let rampedRss = NaN;
  let loadedRss = NaN;
  let peakRss = baselineRss;
  const sampler = setInterval(() => {
    peakRss = Math.max(peakRss, rssMb(server.pid));
  }, 250);
  let serverSide: Figures = {};
  let cpuAtSteadyStart = NaN;
  let cpuMsPerUpdate = NaN;
  let waitAtSteadyStart = { server: NaN, generator: NaN, at: NaN };
  let waitPerSecond = { server: NaN, generator: NaN };
  let metricsAtWarmupEnd: Promise<string | undefined> = Promise.resolve(undefined);
  const steadyLines = await runGenerator({ mode: 'steady', url, ...config }, async (line, generatorPid) => {
    if (line['phase'] === 'ramped') rampedRss = rssMb(server.pid);
    // The generator has made every update of the steady phase and starts sending them now.
    if (line['phase'] === 'prepared') {
      waitAtSteadyStart = { server: runQueueWaitMs(server.pid), generator: runQueueWaitMs(generatorPid), at: performance.now() };
      cpuAtSteadyStart = cpuSeconds(server.pid);
      await scrapeMetrics(port); // starts the event-loop window
      metricsAtWarmupEnd = new Promise((resolve) => setTimeout(resolve, config.warmupSeconds * 1000)).then(() => scrapeMetrics(port));
    }
    if (line['phase'] === 'steady-done') {
      const seconds = (performance.now() - waitAtSteadyStart.at) / 1000;
      waitPerSecond = {
        server: (runQueueWaitMs(server.pid) - waitAtSteadyStart.server) / seconds,
        generator: (runQueueWaitMs(generatorPid) - waitAtSteadyStart.generator) / seconds,
      };
      loadedRss = rssMb(server.pid);
      // Server CPU per update over the steady phase: steadier than latencies on a shared host.
      const sent = Number(line['updatesSent']);
      cpuMsPerUpdate = Math.round(((cpuSeconds(server.pid) - cpuAtSteadyStart) * 1000 * 1000) / sent) / 1000;
      const before = await metricsAtWarmupEnd;
      const after = await scrapeMetrics(port);
      if (before !== undefined && after !== undefined) serverSide = serverFigures(before, after);
    }
    console.log(`[${target.name}] ${JSON.stringify(line)}`);
  });
  if (Object.keys(serverSide).length > 0) console.log(`[${target.name}] server side ${JSON.stringify(serverSide)}`);
  clearInterval(sampler);
  const ramped = steadyLines.find((l) => l['phase'] === 'ramped') ?? {};
  const steady = steadyLines.find((l) => l['phase'] === 'steady-done') ?? {};

  // Restart and time loading every list (ours from disk; the reference keeps lists only in memory).
  await stopServer(server, 'SIGTERM');
  server = await target.start(port, dataDir);
  await waitForPort(port, server);
  const loadLines = await runGenerator({ mode: 'load', url, ...config }, (line) => {
    console.log(`[${target.name}] ${JSON.stringify(line)}`);
  });
  await stopServer(server, 'SIGTERM');
  const loaded = loadLines.find((l) => l['phase'] === 'loaded') ?? {};
  const perListKb = ((rampedRss - baselineRss) * 1024) / config.lists;
  const cpuAtEnd = cpuAtStart === undefined ? undefined : cpuTimes();
  // On a shared host every latency figure is worth less the more CPU was stolen: print it.
  const stealPercent =
    cpuAtStart === undefined || cpuAtEnd === undefined
      ? null
      : Math.round((1000 * (cpuAtEnd.steal - cpuAtStart.steal)) / Math.max(1, cpuAtEnd.total - cpuAtStart.total)) / 10;
  return {
    connections: (steady['connections'] as number | undefined) ?? null,
    connectionsRamped: (ramped['open'] as number | undefined) ?? null,
    rampMs: (ramped['rampMs'] as number | undefined) ?? null,
    updatesPerSec: (steady['updatesPerSec'] as number | undefined) ?? null,
    deliveredRatio: (steady['deliveredRatio'] as number | undefined) ?? null,
    fanoutP50Ms: (steady['fanoutP50Ms'] as number | undefined) ?? null,
    fanoutP99Ms: (steady['fanoutP99Ms'] as number | undefined) ?? null,
    ackP50Ms: (steady['ackP50Ms'] as number | undefined) ?? null,
    ackP99Ms: (steady['ackP99Ms'] as number | undefined) ?? null,
    rssMb: loadedRss,
    peakRssMb: peakRss,
    baselineRssMb: baselineRss,
    memoryPerLoadedListKb: Math.round(perListKb * 10) / 10,
    loadListsMs: (loaded['loadListsMs'] as number | undefined) ?? null,
    serverCpuMsPerUpdate: Number.isNaN(cpuMsPerUpdate) ? null : cpuMsPerUpdate,
    cpuStealPercent: stealPercent,
    // ms per second that each main thread was ready to run but had no CPU, over the steady phase.
    serverRunQueueWaitMsPerS: Number.isNaN(waitPerSecond.server) ? null : Math.round(waitPerSecond.server * 10) / 10,
    generatorRunQueueWaitMsPerS: Number.isNaN(waitPerSecond.generator) ? null : Math.round(waitPerSecond.generator * 10) / 10,
    ...serverSide,
  };
}

/**
 * Our relay's own view from /metrics (the reference has none), over the measured window only:
 * where durable-ack time goes — the write+fsync itself, or waiting for the event loop.
 */
async function scrapeMetrics(port: number): Promise<string | undefined> {
  try {
    const response = await fetch(`http://127.0.0.1:${port}/metrics`);
    const text = await response.text();
    return response.ok && text.includes('basket_relay_') ? text : undefined;
  } catch {
    return undefined;
  }
}

function serverFigures(before: string, after: string): Figures {
  const figures: Figures = {};
  for (const [name, key] of [
    ['basket_relay_fsync_seconds', 'serverFsync'],
    ['basket_relay_ack_seconds', 'serverAck'],
    ['basket_relay_journal_write_seconds', 'serverJournalWrite'],
  ] as const) {
    const window = subtractBuckets(histogramBuckets(after, name), histogramBuckets(before, name));
    figures[`${key}P50Ms`] = bucketQuantileMs(window, 0.5);
    figures[`${key}P99Ms`] = bucketQuantileMs(window, 0.99);
  }
  figures['serverEventLoopDelayP99Ms'] = gaugeMs(after, 'basket_relay_event_loop_delay_p99_seconds');
  figures['serverEventLoopDelayMaxMs'] = gaugeMs(after, 'basket_relay_event_loop_delay_max_seconds');
  figures['serverUpdatesPerListBatch'] = windowMean(before, after, 'basket_relay_group_commit_updates');
  // The group commit across lists: updates carried by one O_DSYNC journal write.
  figures['serverUpdatesPerJournalWrite'] = windowMean(before, after, 'basket_relay_journal_write_records');
  // Checkpoints ending in the window and their time: the first one creates every list's log, so
  // a round holding it is not comparable with one that does not.
  const checkpoints = windowCountAndSum(before, after, 'basket_relay_checkpoint_seconds');
  figures['serverCheckpoints'] = checkpoints.count;
  figures['serverCheckpointSeconds'] = Math.round(checkpoints.sum * 100) / 100;
  return figures;
}

/** Mean of a histogram's observations between two scrapes (null when there were none). */
function windowMean(before: string, after: string, name: string): number | null {
  const { count, sum } = windowCountAndSum(before, after, name);
  return count > 0 ? Math.round((sum / count) * 100) / 100 : null;
}

/** How many observations a histogram got between two scrapes, and their sum. */
function windowCountAndSum(before: string, after: string, name: string): { count: number; sum: number } {
  const field = (text: string, suffix: string): number => Number(new RegExp(`^${name}_${suffix} (\\S+)$`, 'm').exec(text)?.[1] ?? NaN);
  return { count: field(after, 'count') - field(before, 'count'), sum: field(after, 'sum') - field(before, 'sum') };
}

function gaugeMs(text: string, name: string): number | null {
  const match = new RegExp(`^${name} (\\S+)$`, 'm').exec(text);
  return match === null ? null : Math.round(Number(match[1]) * 1000 * 100) / 100;
}

/** Cumulative [upper bound, count] pairs of a Prometheus histogram, +Inf last. */
function histogramBuckets(text: string, name: string): Array<[number, number]> {
  const buckets: Array<[number, number]> = [];
  for (const match of text.matchAll(new RegExp(`^${name}_bucket\\{le="([^"]+)"\\} (\\S+)$`, 'gm'))) {
    buckets.push([match[1] === '+Inf' ? Infinity : Number(match[1]), Number(match[2])]);
  }
  return buckets;
}

function subtractBuckets(after: Array<[number, number]>, before: Array<[number, number]>): Array<[number, number]> {
  return after.map(([bound, count], i) => [bound, count - (before[i]?.[1] ?? 0)]);
}

/** Upper bound of the bucket holding quantile `q`. */
function bucketQuantileMs(buckets: Array<[number, number]>, q: number): number | null {
  const total = buckets.at(-1)?.[1] ?? 0;
  if (total === 0) return null;
  const bucket = buckets.find(([, count]) => count >= q * total);
  return bucket === undefined || bucket[0] === Infinity ? null : bucket[0] * 1000;
}

async function main(): Promise<void> {
  if (!existsSync(path.join(relayRoot, 'dist/main.js'))) {
    execFileSync(path.join(relayRoot, 'node_modules/.bin/tsc'), ['-p', 'tsconfig.build.json'], { cwd: relayRoot });
  }
  const oursEnvironment = (port: number, dataDir: string): NodeJS.ProcessEnv => ({
    ...process.env,
    PORT: String(port),
    HOST: '127.0.0.1',
    DATA_DIR: dataDir,
    STATIC_DIR: path.join(dataDir, 'no-web-app'),
    LOG_LEVEL: 'warn',
    UV_THREADPOOL_SIZE: process.env['UV_THREADPOOL_SIZE'] ?? '64',
    MAX_CONNECTIONS_PER_IP: '100000',
    MAX_DELIVERIES_PER_IP_PER_SECOND: '100000000',
    MAX_LOOP_MS_PER_IP_PER_SECOND: '100000',
    MAX_STORED_BYTES_PER_IP_PER_HOUR: String(Number.MAX_SAFE_INTEGER),
    MAX_LOADED_LISTS: String(Math.max(10_000, config.lists * 2)),
  });
  const ours: Target = {
    name: 'ours',
    start: (port, dataDir) =>
      Promise.resolve(
        spawnWithFileLimit([process.execPath, ...RELAY_NODE_FLAGS, path.join(relayRoot, 'dist/main.js')], oursEnvironment(port, dataDir), 'ignore'),
      ),
  };
  const oursInMemory: Target = {
    name: 'oursInMemory',
    start: (port, dataDir) =>
      Promise.resolve(
        spawnWithFileLimit(
          [process.execPath, ...RELAY_NODE_FLAGS, '--import', 'tsx', path.join(relayRoot, 'bench/memory-relay.ts')],
          oursEnvironment(port, dataDir),
          'ignore',
        ),
      ),
  };
  const reference: Target = {
    name: 'reference',
    // Keeps lists in memory only: no DATA_DIR.
    start: (port) =>
      Promise.resolve(
        spawnWithFileLimit(
          [process.execPath, ...REFERENCE_NODE_FLAGS, path.join(relayRoot, 'node_modules/@y/websocket-server/src/server.js')],
          { ...process.env, PORT: String(port), HOST: '127.0.0.1' },
          'ignore',
        ),
      ),
  };
  console.log(
    `relay benchmark: ${config.connections} connections over ${config.lists} lists, ` +
      `${config.updatesPerSecond} updates/s for ${config.seconds} s, latencies measured after a ${config.warmupSeconds} s warm-up ` +
      `(override with BENCH_CONNECTIONS, BENCH_LISTS, BENCH_RATE, BENCH_SECONDS, BENCH_WARMUP_SECONDS; BENCH_TARGETS=ours,oursInMemory,reference picks targets; BENCH_RELAY_NODE_FLAGS, BENCH_REFERENCE_NODE_FLAGS and BENCH_GENERATOR_NODE_FLAGS set Node flags; BENCH_ROUNDS=${config.rounds} rounds, medians printed)`,
  );
  // BENCH_TARGETS=ours (comma-separated) measures only some targets, for quicker experiments.
  // The in-memory relay is opt-in: it was meant as the harness's floor, and no longer is one
  // (docs/benchmark-history.md, tenth session).
  const wanted = new Set((process.env['BENCH_TARGETS'] ?? 'ours,reference').split(','));
  const targets = [ours, oursInMemory, reference].filter((target) => wanted.has(target.name));
  // On a shared host the machine's state drifts from minute to minute: each round measures every
  // target once, in a rotated order (so no target always goes first), and the figures printed are
  // the medians over rounds, with every round's latencies listed to show the spread.
  const measured = new Map<Target['name'], Figures[]>(targets.map((target) => [target.name, []]));
  for (let round = 0; round < config.rounds; round++) {
    for (let i = 0; i < targets.length; i++) {
      const target = targets[(i + round) % targets.length] as Target;
      console.log(`round ${round + 1}/${config.rounds}: ${target.name}`);
      measured.get(target.name)?.push(await measure(target));
    }
  }
  const oursFigures = medianFigures(measured.get('ours') ?? []);
  const floorFigures = medianFigures(measured.get('oursInMemory') ?? []);
  const referenceFigures = medianFigures(measured.get('reference') ?? []);
  const ratio = (key: string): string => {
    const a = oursFigures[key];
    const b = referenceFigures[key];
    return typeof a === 'number' && typeof b === 'number' && b !== 0 ? (a / b).toFixed(2) : 'n/a';
  };
  console.log(`\nmedians over ${config.rounds} round(s)`);
  console.log('figure                ours        in memory   reference   ours/reference');
  for (const key of ['connections', 'updatesPerSec', 'fanoutP50Ms', 'fanoutP99Ms', 'ackP50Ms', 'ackP99Ms', 'rssMb', 'memoryPerLoadedListKb', 'loadListsMs', 'serverCpuMsPerUpdate', 'cpuStealPercent']) {
    const shown = (figures: Figures): string => String(figures[key] ?? '-').padEnd(12);
    console.log(`${key.padEnd(22)}${shown(oursFigures)}${shown(floorFigures)}${shown(referenceFigures)}${ratio(key)}`);
  }
  console.log('every round:');
  for (const key of ['fanoutP99Ms', 'ackP99Ms', 'cpuStealPercent', 'serverRunQueueWaitMsPerS', 'generatorRunQueueWaitMsPerS', 'serverCheckpointSeconds']) {
    const perRound = (name: Target['name']): string => (measured.get(name) ?? []).map((f) => String(f[key] ?? '-')).join(', ') || '-';
    console.log(`${key.padEnd(28)}ours ${perRound('ours')} | in memory ${perRound('oursInMemory')} | reference ${perRound('reference')}`);
  }
  if (wanted.has('oursInMemory')) {
    console.log('(in memory: our relay with MemoryListStorage, no disk; not a floor: it has done worse than ours on disk since the tenth session, cause not traced)');
  }
  console.log('(reference: no durable ack; it keeps lists only in memory, so its loadListsMs loads empty lists)');
  console.log(JSON.stringify({ ours: oursFigures, reference: referenceFigures, oursInMemory: floorFigures, rounds: config.rounds }));
}

/** Per figure, the median over rounds (null when no round has it as a number). */
function medianFigures(perRound: readonly Figures[]): Figures {
  const result: Figures = {};
  for (const key of new Set(perRound.flatMap((figures) => Object.keys(figures)))) {
    const values = perRound.map((figures) => figures[key]).filter((v): v is number => typeof v === 'number' && !Number.isNaN(v)).sort((a, b) => a - b);
    if (values.length === 0) {
      result[key] = null;
      continue;
    }
    const middle = Math.floor(values.length / 2);
    const median = values.length % 2 === 1 ? (values[middle] as number) : ((values[middle - 1] as number) + (values[middle] as number)) / 2;
    result[key] = Math.round(median * 100) / 100;
  }
  return result;
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});

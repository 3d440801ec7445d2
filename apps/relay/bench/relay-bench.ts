/**
 * Relay benchmark: `pnpm --filter @basket/relay bench` (or `pnpm bench:relay` at the root).
 *
 * For our relay and for the y-websocket reference server (@y/websocket-server 0.1.1), in the
 * same run and with the same load: ramp up BENCH_CONNECTIONS simulated phones over BENCH_LISTS
 * lists, send BENCH_RATE updates/s for BENCH_SECONDS, then restart the server and time how long
 * loading every list takes. Server and load generator run in separate processes.
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
};

type Figures = Record<string, number | string | null>;

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
function spawnWithFileLimit(command: string[], env: NodeJS.ProcessEnv, stdio: 'pipe' | 'ignore' = 'pipe'): ChildProcess {
  const quoted = command.map((part) => `'${part.replace(/'/g, `'\\''`)}'`).join(' ');
  return spawn('bash', ['-c', `ulimit -n "$(ulimit -Hn)" 2>/dev/null; exec ${quoted}`], {
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

interface Target {
  readonly name: 'ours' | 'reference';
  start(port: number): Promise<ChildProcess>;
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
  onPhase: (line: Figures) => void,
): Promise<Figures[]> {
  const generator = spawnWithFileLimit(
    [process.execPath, '--import', 'tsx', path.join(relayRoot, 'bench/load-generator.ts'), JSON.stringify(options)],
    process.env,
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
    onPhase(parsed);
    generator.stdin?.write('go\n');
  });
  const code = await new Promise<number | null>((resolve) => generator.once('exit', resolve));
  if (code !== 0) throw new Error(`load generator exited with ${code}`);
  return lines;
}

async function measure(target: Target): Promise<Figures> {
  const port = await freePort();
  const url = `ws://127.0.0.1:${port}/sync`;
  let server = await target.start(port);
  await waitForPort(port, server);
  await new Promise((resolve) => setTimeout(resolve, 300));
  const baselineRss = rssMb(server.pid);
  let rampedRss = NaN;
  let loadedRss = NaN;
  let peakRss = baselineRss;
  const sampler = setInterval(() => {
    peakRss = Math.max(peakRss, rssMb(server.pid));
  }, 250);
  const steadyLines = await runGenerator({ mode: 'steady', url, ...config }, (line) => {
    if (line['phase'] === 'ramped') rampedRss = rssMb(server.pid);
    if (line['phase'] === 'steady-done') loadedRss = rssMb(server.pid);
    console.log(`[${target.name}] ${JSON.stringify(line)}`);
  });
  clearInterval(sampler);
  const ramped = steadyLines.find((l) => l['phase'] === 'ramped') ?? {};
  const steady = steadyLines.find((l) => l['phase'] === 'steady-done') ?? {};

  // Restart and time loading every list (ours from disk; the reference keeps lists only in memory).
  await stopServer(server, 'SIGTERM');
  server = await target.start(port);
  await waitForPort(port, server);
  const loadLines = await runGenerator({ mode: 'load', url, ...config }, (line) => {
    console.log(`[${target.name}] ${JSON.stringify(line)}`);
  });
  await stopServer(server, 'SIGTERM');
  const loaded = loadLines.find((l) => l['phase'] === 'loaded') ?? {};
  const perListKb = ((rampedRss - baselineRss) * 1024) / config.lists;
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
  };
}

async function main(): Promise<void> {
  if (!existsSync(path.join(relayRoot, 'dist/main.js'))) {
    execFileSync(path.join(relayRoot, 'node_modules/.bin/tsc'), ['-p', 'tsconfig.build.json'], { cwd: relayRoot });
  }
  const dataDir = mkdtempSync(path.join(tmpdir(), 'basket-bench-'));
  const ours: Target = {
    name: 'ours',
    start: (port) =>
      Promise.resolve(
        spawnWithFileLimit([process.execPath, path.join(relayRoot, 'dist/main.js')], {
          ...process.env,
          PORT: String(port),
          HOST: '127.0.0.1',
          DATA_DIR: dataDir,
          STATIC_DIR: path.join(dataDir, 'no-web-app'),
          LOG_LEVEL: 'warn',
          UV_THREADPOOL_SIZE: process.env['UV_THREADPOOL_SIZE'] ?? '64',
          MAX_CONNECTIONS_PER_IP: '100000',
          MAX_LOADED_LISTS: String(Math.max(10_000, config.lists * 2)),
        }, 'ignore'),
      ),
  };
  const reference: Target = {
    name: 'reference',
    start: (port) =>
      Promise.resolve(
        spawnWithFileLimit(
          [process.execPath, path.join(relayRoot, 'node_modules/@y/websocket-server/src/server.js')],
          { ...process.env, PORT: String(port), HOST: '127.0.0.1' },
          'ignore',
        ),
      ),
  };
  console.log(
    `relay benchmark: ${config.connections} connections over ${config.lists} lists, ` +
      `${config.updatesPerSecond} updates/s for ${config.seconds} s, latencies measured after a ${config.warmupSeconds} s warm-up ` +
      `(override with BENCH_CONNECTIONS, BENCH_LISTS, BENCH_RATE, BENCH_SECONDS, BENCH_WARMUP_SECONDS)`,
  );
  try {
    const oursFigures = await measure(ours);
    const referenceFigures = await measure(reference);
    const ratio = (key: string): string => {
      const a = oursFigures[key];
      const b = referenceFigures[key];
      return typeof a === 'number' && typeof b === 'number' && b !== 0 ? (a / b).toFixed(2) : 'n/a';
    };
    console.log('\nfigure              ours        reference   ours/reference');
    for (const key of ['connections', 'updatesPerSec', 'fanoutP50Ms', 'fanoutP99Ms', 'ackP50Ms', 'ackP99Ms', 'rssMb', 'memoryPerLoadedListKb', 'loadListsMs']) {
      console.log(`${key.padEnd(20)}${String(oursFigures[key]).padEnd(12)}${String(referenceFigures[key]).padEnd(12)}${ratio(key)}`);
    }
    console.log('(reference: no durable ack; it keeps lists only in memory, so its loadListsMs loads empty lists)');
    console.log(JSON.stringify({ ours: oursFigures, reference: referenceFigures }));
  } finally {
    rmSync(dataDir, { recursive: true, force: true });
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});

import type { ChildProcess } from 'node:child_process';
import { execFileSync, spawn } from 'node:child_process';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import type WebSocket from 'ws';
import * as Y from 'yjs';
import { LOCK_FILE_NAME } from '../src/storage/data-dir-lock.js';
import { encodeSyncUpdate } from '../src/sync/protocol.js';
import { closeCodeOf, firstAck, newListId, openRawSocket, temporaryDirectory, waitFor, whenListening } from './helpers.js';

const relayRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

interface LaunchedRelay {
  readonly child: ChildProcess;
  /** Everything it wrote on stdout so far. */
  output(): string;
  /** Its exit code, or the signal that ended it. */
  readonly exitCode: Promise<number | string | null>;
}

interface SpawnedRelay extends LaunchedRelay {
  readonly syncUrl: string;
  readonly baseUrl: string;
}

/** The relay from its sources (tsx), in its own process, as `node dist/main.js` runs it. */
function launchRelay(dataDir: string, env: NodeJS.ProcessEnv = {}): LaunchedRelay {
  const child = spawn(process.execPath, ['--import', 'tsx', path.join(relayRoot, 'src/main.ts')], {
    cwd: relayRoot,
    env: {
      ...process.env,
      PORT: '0',
      HOST: '127.0.0.1',
      DATA_DIR: dataDir,
      STATIC_DIR: path.join(dataDir, 'no-web-app'),
      LOG_LEVEL: 'info',
      ...env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  spawned.push(child);
  let output = '';
  child.stdout?.on('data', (chunk: Buffer) => {
    output += chunk.toString();
  });
  child.stderr?.resume();
  const exitCode = new Promise<number | string | null>((resolve) => child.once('exit', (code, signal) => resolve(code ?? signal)));
  return { child, output: () => output, exitCode };
}

/** A launched relay, once it listens. */
async function spawnRelay(dataDir: string, env: NodeJS.ProcessEnv = {}): Promise<SpawnedRelay> {
  const relay = launchRelay(dataDir, env);
  const { port } = await whenListening(relay.child);
  return { ...relay, syncUrl: `ws://127.0.0.1:${port}/sync`, baseUrl: `http://127.0.0.1:${port}` };
}

/** The pids of the `flock` helper holding `dataDir`'s lock and of every process under it (`sh`, `cat`). */
function lockHelperPids(dataDir: string, pattern = `^flock .*${path.join(dataDir, LOCK_FILE_NAME)}`): number[] {
  const pgrep = (args: string[]): number[] => {
    try {
      return execFileSync('pgrep', args).toString().trim().split('\n').filter(Boolean).map(Number);
    } catch {
      return [];
    }
  };
  const pids = pgrep(['-f', pattern]);
  for (let i = 0; i < pids.length; i++) pids.push(...pgrep(['-P', String(pids[i])]));
  if (pids.length === 0) throw new Error('no lock helper found');
  return pids;
}

/** lockHelperPids, with none found as an empty list. */
function tryPids(find: () => number[]): number[] {
  try {
    return find();
  } catch {
    return [];
  }
}

function withTimeout<T>(promise: Promise<T>, ms: number, fallback: T): Promise<T> {
  return Promise.race([promise, new Promise<T>((resolve) => setTimeout(() => resolve(fallback), ms))]);
}

const spawned: ChildProcess[] = [];
const cleanups: Array<() => Promise<void> | void> = [];

afterEach(async () => {
  for (const child of spawned.splice(0)) {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  }
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

/** A new directory for this test, removed after it. */
async function dataDirForTest(prefix: string): Promise<string> {
  const { dir, remove } = await temporaryDirectory(prefix);
  cleanups.push(remove);
  return dir;
}

/** Writes one item to `listId` through a raw socket and waits for its durable ack. */
async function writeAcknowledged(syncUrl: string, listId: string, key: string): Promise<WebSocket> {
  const socket = await openRawSocket(syncUrl, listId);
  const acked = firstAck(socket, 10_000);
  const doc = new Y.Doc();
  doc.getMap('items').set(key, key);
  socket.send(encodeSyncUpdate(Y.encodeStateAsUpdate(doc)));
  await acked;
  return socket;
}

/**
 * One acknowledged item on each of `count` new lists, its socket left open: a shutdown then has
 * work to do (flush, close, compact). Resolves with the close code each socket gets (-1: none).
 */
async function phonesOnNewLists(syncUrl: string, count: number): Promise<{ closeCodes: Promise<number[]> }> {
  const sockets: WebSocket[] = [];
  for (let i = 0; i < count; i++) sockets.push(await writeAcknowledged(syncUrl, newListId(), `item${i}`));
  return { closeCodes: Promise.all(sockets.map((socket) => closeCodeOf(socket, 8000).catch(() => -1))) };
}

describe('the relay under a service manager (systemd, Docker): its lock, its settings, its stop', () => {
  it('[SV1] a service manager stopping the whole service (SIGTERM to every process in its cgroup, as systemd does) still gets a clean shutdown: 1012 and exit 0', async () => {
    const dataDir = await dataDirForTest('basket-sv1-');
    const relay = await spawnRelay(dataDir);
    const phones = await phonesOnNewLists(relay.syncUrl, 8);
    // systemd's default KillMode=control-group sends SIGTERM to every process of the unit at once:
    // the relay, and the `flock` helper (with its `cat`) that holds DATA_DIR's lock.
    const pids = [relay.child.pid as number, ...lockHelperPids(dataDir)];
    for (const pid of pids) process.kill(pid, 'SIGTERM');
    const code = await withTimeout(relay.exitCode, 20_000, 'still running');
    // The helper ending read as a lost lock: the relay logged relay.data_dir_lock_lost and exited
    // 1 at once, in the middle of its shutdown (the shutdown compaction and the storage's last
    // checkpoint never ran; a flush still in flight was cut short). It now ignores the signal.
    const outcome = { code, closeCodes: await phones.closeCodes, lockLost: relay.output().includes('relay.data_dir_lock_lost') };
    expect(outcome).toEqual({ code: 0, closeCodes: Array(8).fill(1012), lockLost: false });
  }, 40_000);

  it('[SV2] a relay run as a service user whose login shell is nologin (systemd sets SHELL from User=) takes its DATA_DIR lock and starts', async () => {
    const dataDir = await dataDirForTest('basket-sv2-');
    // util-linux `flock … -c CMD` runs CMD with $SHELL, not /bin/sh: under a system account's
    // shell (/usr/sbin/nologin, /bin/false) the helper prints "This account is currently not
    // available." and exits 1, and the relay refuses to start with relay.data_dir_lock_failed.
    const started = spawnRelay(dataDir, { SHELL: '/usr/sbin/nologin' });
    const outcome = await started.then(
      () => 'listening',
      (error: Error) => error.message.slice(0, 600),
    );
    expect(outcome).toBe('listening');
  }, 30_000);

  it('[SV4] a relay started by hand whose terminal or SSH session closes (SIGHUP) shuts down cleanly: 1012 and exit 0', async () => {
    const dataDir = await dataDirForTest('basket-sv4-');
    const relay = await spawnRelay(dataDir);
    const phones = await phonesOnNewLists(relay.syncUrl, 4);
    relay.child.kill('SIGHUP');
    // Unhandled, SIGHUP ended the process at once: no flush, no shutdown compaction, and phones
    // saw their sockets drop (1006) instead of being told to reconnect.
    const outcome = { code: await withTimeout(relay.exitCode, 20_000, 'still running'), closeCodes: await phones.closeCodes };
    expect(outcome).toEqual({ code: 0, closeCodes: Array(4).fill(1012) });
  }, 40_000);

  it('[SV5] a relay stopped while it waits for the DATA_DIR lock (the old relay still flushing) exits 0 at once and leaves no lock helper waiting', async () => {
    const dataDir = await dataDirForTest('basket-sv5-');
    const lockPath = path.join(dataDir, LOCK_FILE_NAME);
    const holder = spawn('flock', ['--exclusive', lockPath, 'sleep', '60'], { stdio: 'ignore' });
    spawned.push(holder);
    await waitFor(() => tryPids(() => lockHelperPids(dataDir, `^flock --exclusive ${lockPath} sleep`)).length > 0, 5000, 'the other relay holds the lock');
    const relay = launchRelay(dataDir, { DATA_DIR_LOCK_WAIT_MS: '30000' });
    const waitingHelper = `^flock --exclusive --timeout .*${lockPath}`;
    await waitFor(() => tryPids(() => lockHelperPids(dataDir, waitingHelper)).length > 0, 10_000, 'the relay waits for the lock');
    relay.child.kill('SIGTERM');
    const code = await withTimeout(relay.exitCode, 3000, 'still running');
    // The signal ended the process before its handlers were installed: killed by SIGTERM, no
    // relay.stopping line, and its flock helper went on waiting for the lock it no longer wanted.
    await waitFor(() => tryPids(() => lockHelperPids(dataDir, waitingHelper)).length === 0, 2000, 'the helper to go').catch(() => undefined);
    const outcome = {
      code,
      loggedStopping: relay.output().includes('"event":"relay.stopping"'),
      helpersLeft: tryPids(() => lockHelperPids(dataDir, waitingHelper)).length,
    };
    expect(outcome).toEqual({ code: 0, loggedStopping: true, helpersLeft: 0 });
  }, 30_000);

  it('[SV6] something thrown that is not an Error (throw null) is logged and the relay keeps serving', async () => {
    const dataDir = await dataDirForTest('basket-sv6-');
    // A preload that throws null when asked, as a dependency's callback might.
    const preload = path.join(dataDir, 'throw-null.mjs');
    await fs.writeFile(preload, "import { isMainThread } from 'node:worker_threads';\nif (isMainThread) process.on('SIGUSR2', () => setImmediate(() => { throw null; }));\n");
    const relay = await spawnRelay(dataDir, { NODE_OPTIONS: `--import=${pathToFileURL(preload).href}` });
    relay.child.kill('SIGUSR2');
    await waitFor(() => relay.output().includes('relay.uncaught_exception') || relay.child.exitCode !== null, 5000, 'the throw').catch(() => undefined);
    // The handler read `error.stack` of null and threw itself, which ends Node at once (exit 7).
    const healthz = await fetch(`${relay.baseUrl}/healthz`).then(
      (response) => response.status,
      () => 'unreachable',
    );
    expect({ healthz, logged: relay.output().includes('relay.uncaught_exception'), exitCode: relay.child.exitCode }).toEqual({
      healthz: 200,
      logged: true,
      exitCode: null,
    });
  }, 30_000);
});

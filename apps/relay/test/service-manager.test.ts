import type { ChildProcess } from 'node:child_process';
import { execFileSync, spawn } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import type WebSocket from 'ws';
import * as Y from 'yjs';
import { LOCK_FILE_NAME } from '../src/storage/data-dir-lock.js';
import { encodeSyncUpdate } from '../src/sync/protocol.js';
import { closeCodeOf, firstAck, newListId, openRawSocket, temporaryDirectory, whenListening } from './helpers.js';

const relayRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

interface SpawnedRelay {
  readonly child: ChildProcess;
  readonly syncUrl: string;
  readonly baseUrl: string;
  /** Everything it wrote on stdout so far. */
  output(): string;
  readonly exitCode: Promise<number | null>;
}

/** The relay from its sources (tsx), in its own process, as `node dist/main.js` runs it. */
async function spawnRelay(dataDir: string, env: NodeJS.ProcessEnv = {}): Promise<SpawnedRelay> {
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
  const exitCode = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const { port } = await whenListening(child);
  return { child, syncUrl: `ws://127.0.0.1:${port}/sync`, baseUrl: `http://127.0.0.1:${port}`, output: () => output, exitCode };
}

/** The pids of the `flock` helper holding `dataDir`'s lock and of every process under it (`sh`, `cat`). */
function lockHelperPids(dataDir: string): number[] {
  const pgrep = (args: string[]): number[] => {
    try {
      return execFileSync('pgrep', args).toString().trim().split('\n').filter(Boolean).map(Number);
    } catch {
      return [];
    }
  };
  const pids = pgrep(['-f', `^flock .*${path.join(dataDir, LOCK_FILE_NAME)}`]);
  for (let i = 0; i < pids.length; i++) pids.push(...pgrep(['-P', String(pids[i])]));
  if (pids.length === 0) throw new Error('no lock helper found');
  return pids;
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

describe('the relay under a service manager (systemd, Docker): its lock, its settings, its stop', () => {
  it('[SV1] a service manager stopping the whole service (SIGTERM to every process in its cgroup, as systemd does) still gets a clean shutdown: 1012 and exit 0', async () => {
    const dataDir = await dataDirForTest('basket-sv1-');
    const relay = await spawnRelay(dataDir);
    // Several lists with phones on them: the shutdown has work to do (flush, close, compact).
    const sockets: WebSocket[] = [];
    for (let i = 0; i < 8; i++) sockets.push(await writeAcknowledged(relay.syncUrl, newListId(), `item${i}`));
    const closes = sockets.map((socket) => closeCodeOf(socket, 8000).catch(() => -1));
    // systemd's default KillMode=control-group sends SIGTERM to every process of the unit at once:
    // the relay, and the `flock` helper (with its `cat`) that holds DATA_DIR's lock.
    const pids = [relay.child.pid as number, ...lockHelperPids(dataDir)];
    for (const pid of pids) process.kill(pid, 'SIGTERM');
    const code = await withTimeout(relay.exitCode, 20_000, 'still running' as unknown as number);
    // The helper ending read as a lost lock: the relay logged relay.data_dir_lock_lost and exited
    // 1 at once, in the middle of its shutdown (the shutdown compaction and the storage's last
    // checkpoint never ran; a flush still in flight was cut short). It now ignores the signal.
    const outcome = { code, closeCodes: await Promise.all(closes), lockLost: relay.output().includes('relay.data_dir_lock_lost') };
    expect(outcome).toEqual({ code: 0, closeCodes: sockets.map(() => 1012), lockLost: false });
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
});


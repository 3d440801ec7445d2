/**
 * The README's full-disk claims (Storage, "A full (or failing) disk"), end to end on a real full
 * disk: the relay runs as its own process (src/main.ts under tsx, as service-manager.test.ts runs
 * it) with DATA_DIR on a small tmpfs mounted for the test, which a filler file fills to the last
 * byte. Phones are unmodified y-websocket clients.
 *
 * Mounting needs root (CAP_SYS_ADMIN). Where a probe mount fails the tests are skipped, and say
 * why: no other way shows a disk filling under the relay's own process.
 */
import type { ChildProcess } from 'node:child_process';
import { execFileSync, spawn } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, promises as fs, rmdirSync, writeSync } from 'node:fs';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import type { Phone } from './helpers.js';
import { connectPhone, newListId, waitFor, whenListening } from './helpers.js';

/** Whether a tmpfs can be mounted here (root with CAP_SYS_ADMIN): tried once, on a directory removed after. */
function canMountTmpfs(): boolean {
  const dir = mkdtempSync(path.join(tmpdir(), 'basket-fd-probe-'));
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=64k', 'tmpfs', dir], { stdio: 'pipe' });
    execFileSync('umount', [dir], { stdio: 'pipe' });
    return true;
  } catch {
    return false;
  } finally {
    rmdirSync(dir);
  }
}
const MOUNTABLE = canMountTmpfs();
if (!MOUNTABLE) console.warn('full-disk.test.ts: skipped, this run cannot mount a tmpfs (needs root with CAP_SYS_ADMIN)');

const relayRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const PAGE = 4096;

interface SpawnedRelay {
  readonly child: ChildProcess;
  readonly syncUrl: string;
  readonly baseUrl: string;
  /** Everything it wrote on stdout and stderr so far (empty when stdout goes to a file). */
  output(): string;
  readonly exited: Promise<number | null>;
}

const spawned: ChildProcess[] = [];
const phones: Phone[] = [];
const cleanups: Array<() => Promise<void> | void> = [];

afterEach(async () => {
  for (const phone of phones.splice(0)) phone.destroy();
  for (const child of spawned.splice(0)) {
    if (child.exitCode === null && child.signalCode === null) {
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGKILL');
      await exited;
    }
  }
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** A tmpfs of `bytes` mounted on a new directory; unmounted (and removed) after the test, whatever its outcome. */
async function smallDisk(bytes: number): Promise<string> {
  const dir = await mkdtemp(path.join(tmpdir(), 'basket-fd-'));
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${bytes}`, 'tmpfs', dir], { stdio: 'pipe' });
  } catch (error) {
    await fs.rmdir(dir).catch(() => undefined);
    const stderr = (error as { stderr?: Buffer }).stderr?.toString().trim() || String(error);
    throw new Error(
      `cannot mount a tmpfs on ${dir}: mounting needs root (CAP_SYS_ADMIN), which this run lacks (${stderr}). ` +
        'These tests need a real full disk.',
    );
  }
  cleanups.push(async () => {
    // The relay's lock helper (flock, holding relay.lock open) ends just after the relay: wait for it.
    for (let attempt = 0; ; attempt++) {
      try {
        execFileSync('umount', [dir], { stdio: 'pipe' });
        break;
      } catch (error) {
        if (attempt >= 30) {
          execFileSync('umount', ['-l', dir], { stdio: 'pipe' });
          break;
        }
        await sleep(100);
      }
    }
    await fs.rmdir(dir).catch(() => undefined);
  });
  return dir;
}

/** Fills the disk holding `dir` to the last byte with one file, whose path it returns (delete it to give the room back). */
function fillDisk(dir: string, name = 'filler'): string {
  const filler = path.join(dir, name);
  const fd = openSync(filler, 'a');
  try {
    for (let chunk = 1 << 20; ; ) {
      try {
        const written = writeSync(fd, Buffer.alloc(chunk, 0x55));
        if (written < chunk) chunk = Math.max(1, chunk >> 1);
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== 'ENOSPC') throw error;
        if (chunk === 1) break;
        chunk >>= 1;
      }
    }
  } finally {
    closeSync(fd);
  }
  const free = execFileSync('df', ['-B1', '--output=avail', dir]).toString().split('\n')[1]?.trim();
  if (free !== '0') throw new Error(`the disk is not full: ${free} bytes free`);
  return filler;
}

function relayEnvironment(dataDir: string, env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  return {
    ...process.env,
    PORT: '0',
    HOST: '127.0.0.1',
    DATA_DIR: dataDir,
    STATIC_DIR: path.join(relayRoot, 'no-web-app-in-this-test'),
    LOG_LEVEL: 'info',
    // The default reserve (256 MiB) is larger than these disks: every new list would wait for it.
    NEW_LIST_RESERVE_BYTES: '0',
    CHECKPOINT_INTERVAL_MS: '500',
    ...env,
  };
}

/** The relay from its sources, in its own process; resolves once it listens, or with why it did not. */
async function startRelay(dataDir: string, env: NodeJS.ProcessEnv = {}): Promise<SpawnedRelay | { readonly failed: string }> {
  const child = spawn(process.execPath, ['--import', 'tsx', path.join(relayRoot, 'src/main.ts')], {
    cwd: relayRoot,
    env: relayEnvironment(dataDir, env),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  spawned.push(child);
  let output = '';
  child.stdout?.on('data', (chunk: Buffer) => {
    output += chunk.toString();
  });
  child.stderr?.on('data', (chunk: Buffer) => {
    output += chunk.toString();
  });
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const port = await whenListening(child).then(
    (listening) => listening.port,
    () => undefined,
  );
  if (port === undefined) {
    const code = await exited;
    const lastError = output.split('\n').filter((line) => line.includes('"level":"error"')).at(-1) ?? output.slice(-400);
    return { failed: `exited with ${code}: ${lastError}` };
  }
  return { child, syncUrl: `ws://127.0.0.1:${port}/sync`, baseUrl: `http://127.0.0.1:${port}`, output: () => output, exited };
}

async function spawnRelay(dataDir: string, env: NodeJS.ProcessEnv = {}): Promise<SpawnedRelay> {
  const relay = await startRelay(dataDir, env);
  if ('failed' in relay) throw new Error(`the relay did not start: ${relay.failed}`);
  return relay;
}

async function stop(relay: SpawnedRelay, signal: NodeJS.Signals): Promise<number | null> {
  relay.child.kill(signal);
  return relay.exited;
}

function phone(relay: SpawnedRelay, listId: string): Phone {
  const connected = connectPhone(relay.syncUrl, listId);
  phones.push(connected);
  return connected;
}

/** Sets `items` through one phone and waits for the durable ack covering them. */
async function writeAcknowledged(relay: SpawnedRelay, listId: string, items: Record<string, string>): Promise<void> {
  const writer = phone(relay, listId);
  await waitFor(() => writer.provider.synced, 10_000, 'the writer to sync');
  for (const [key, value] of Object.entries(items)) writer.doc.getMap('items').set(key, value);
  await waitFor(() => writer.isFullyStored(), 10_000, 'the durable ack');
  writer.destroy();
}

/**
 * A phone on `listId` watched for `ms`: how often its connection was closed, whether it is synced,
 * and the item keys it was served.
 */
async function watchPhone(relay: SpawnedRelay, listId: string, ms: number): Promise<{ closes: number; synced: boolean; items: string[] }> {
  const watcher = phone(relay, listId);
  let closes = 0;
  watcher.provider.on('connection-close', () => {
    closes += 1;
  });
  await sleep(ms);
  return { closes, synced: watcher.provider.synced, items: Object.keys(watcher.doc.getMap('items').toJSON()).sort() };
}

describe.skipIf(!MOUNTABLE)('the relay on a real full disk (a tmpfs filled to the last byte)', () => {
  it('[FD1] a relay restarted on a full disk whose relay.lock holds no owner yet (a DATA_DIR restored without it, or emptied by an owner write that failed) starts and serves its lists', async () => {
    const disk = await smallDisk(4 << 20);
    const dataDir = path.join(disk, 'data');
    const listId = newListId();
    const first = await spawnRelay(dataDir);
    await writeAcknowledged(first, listId, { milk: 'Milk' });
    await stop(first, 'SIGKILL');
    // A DATA_DIR copied back from a backup (or moved) without its lock file. The same holds for an
    // empty relay.lock: fs.writeFile truncates the file before it writes the owner, so one owner
    // write that fails on a full disk leaves it empty, and every later start needs a new block too.
    await fs.rm(path.join(dataDir, 'relay.lock'));
    fillDisk(disk);

    const restarted = await startRelay(dataDir);
    // The lock itself is taken (flock creates the file, which needs no block); only the owner
    // note written into it (pid, host, start time; read only for a second relay's message) needs
    // room. Its ENOSPC was reported as relay.data_dir_lock_failed and the relay exited 1: every
    // phone offline until someone freed room, though the lists can be served (a relay whose
    // relay.lock already holds an owner starts on the same full disk and does).
    const outcome = 'failed' in restarted ? { started: restarted.failed } : { started: 'listening', served: await watchPhone(restarted, listId, 1500) };
    expect(outcome).toEqual({ started: 'listening', served: { closes: 0, synced: true, items: ['milk'] } });
  }, 40_000);

  it('[FD4] a relay whose log file is on the disk that filled logs again once the disk has room: its recovery and its stop are in the log', async () => {
    const disk = await smallDisk(4 << 20);
    const dataDir = path.join(disk, 'data');
    // stdout to a file on the same disk, as `pnpm run relay >> relay.log`, nohup or systemd's
    // StandardOutput=append: do.
    const logFile = path.join(disk, 'relay.log');
    const logFd = openSync(logFile, 'a');
    const child = spawn(process.execPath, ['--import', 'tsx', path.join(relayRoot, 'src/main.ts')], {
      cwd: relayRoot,
      env: relayEnvironment(dataDir, {}),
      stdio: ['ignore', logFd, 'ignore'],
    });
    closeSync(logFd);
    spawned.push(child);
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    const logText = (): Promise<string> => fs.readFile(logFile, 'utf8');
    let port: number | undefined;
    await waitFor(
      () => {
        void logText().then((text) => {
          const match = /"event":"relay.listening"[^\n]*"port":(\d+)/.exec(text);
          if (match) port = Number(match[1]);
        });
        return port !== undefined;
      },
      15_000,
      'relay.listening in the log file',
    );
    const relay: SpawnedRelay = { child, syncUrl: `ws://127.0.0.1:${port}/sync`, baseUrl: `http://127.0.0.1:${port}`, output: () => '', exited };
    const listId = newListId();
    const alice = phone(relay, listId);
    await waitFor(() => alice.provider.synced, 10_000, 'sync');
    alice.doc.getMap('items').set('milk', 'Milk');
    await waitFor(() => alice.isFullyStored(), 10_000, 'the first ack');

    // The log file ends on a block boundary, then the disk fills: the next line needs a new block.
    const { size } = await fs.stat(logFile);
    if (size % PAGE !== 0) await fs.appendFile(logFile, ' '.repeat(PAGE - (size % PAGE) - 1) + '\n');
    const filler = fillDisk(disk);
    for (let i = 0; i < 10; i++) alice.doc.getMap('items').set(`item${i}`, 'x'.repeat(300));
    // Its writes fail (list.write_failed, checkpoint_failed: lines the log cannot take now).
    await sleep(2500);
    await fs.unlink(filler);
    // The relay recovers (README: the first write that succeeds acknowledges them all) ...
    await waitFor(() => alice.isFullyStored(), 20_000, 'the backlog acknowledged once there is room');
    await sleep(300);
    // ... and logs it: streamLineWriter marked stdout broken at the first failed write and dropped
    // every line after it for good, the recovery, this stop and any error after it.
    const code = await stop(relay, 'SIGTERM');
    const text = await logText();
    expect({
      code,
      loggedStopping: text.includes('"event":"relay.stopping"'),
      loggedStopped: text.includes('"event":"relay.stopped"'),
    }).toEqual({ code: 0, loggedStopping: true, loggedStopped: true });
  }, 45_000);
});

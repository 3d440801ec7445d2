/**
 * Helpers for tests that run the relay's own process on a real full disk: a small tmpfs mounted
 * for the test (root with CAP_SYS_ADMIN), which a filler file fills to the last byte. Used by
 * full-disk.test.ts and damaged-on-full-disk.test.ts; a test file calls `cleanUpFullDiskTest`
 * after each test (it kills the relays, closes the phones and unmounts the disks it started).
 */
import type { ChildProcess } from 'node:child_process';
import { execFileSync, spawn } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, promises as fs, rmdirSync, writeSync } from 'node:fs';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Phone } from './helpers.js';
import { connectPhone, waitFor, whenListening } from './helpers.js';

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
/** Whether `testFile`'s tests can run here; where they cannot, says so once, as they are skipped. */
export function canMountTmpfsOrWarn(testFile: string): boolean {
  const mountable = canMountTmpfs();
  if (!mountable) console.warn(`${testFile}: skipped, this run cannot mount a tmpfs (needs root with CAP_SYS_ADMIN)`);
  return mountable;
}

export const relayRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
export const PAGE = 4096;

export interface SpawnedRelay {
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

/** A relay process the test started itself: killed after the test, like those of startRelay. */
export function killAfterTest(child: ChildProcess): void {
  spawned.push(child);
}

/** Kills the relays, closes the phones and unmounts the disks the test started, whatever its outcome. */
export async function cleanUpFullDiskTest(): Promise<void> {
  for (const phone of phones.splice(0)) phone.destroy();
  for (const child of spawned.splice(0)) {
    if (child.exitCode === null && child.signalCode === null) {
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGKILL');
      await exited;
    }
  }
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
}

export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** A tmpfs of `bytes` mounted on a new directory; unmounted (and removed) after the test, whatever its outcome. */
export async function smallDisk(bytes: number): Promise<string> {
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
export function fillDisk(dir: string, name = 'filler'): string {
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

export function relayEnvironment(dataDir: string, env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
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
export async function startRelay(dataDir: string, env: NodeJS.ProcessEnv = {}): Promise<SpawnedRelay | { readonly failed: string }> {
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

export async function spawnRelay(dataDir: string, env: NodeJS.ProcessEnv = {}): Promise<SpawnedRelay> {
  const relay = await startRelay(dataDir, env);
  if ('failed' in relay) throw new Error(`the relay did not start: ${relay.failed}`);
  return relay;
}

export async function stop(relay: SpawnedRelay, signal: NodeJS.Signals): Promise<number | null> {
  relay.child.kill(signal);
  return relay.exited;
}

export function phone(relay: SpawnedRelay, listId: string): Phone {
  const connected = connectPhone(relay.syncUrl, listId);
  phones.push(connected);
  return connected;
}

/** Sets `items` through one phone and waits for the durable ack covering them. */
export async function writeAcknowledged(relay: SpawnedRelay, listId: string, items: Record<string, string>): Promise<void> {
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
export async function watchPhone(relay: SpawnedRelay, listId: string, ms: number): Promise<{ closes: number; synced: boolean; items: string[] }> {
  const watcher = phone(relay, listId);
  let closes = 0;
  watcher.provider.on('connection-close', () => {
    closes += 1;
  });
  await sleep(ms);
  return { closes, synced: watcher.provider.synced, items: Object.keys(watcher.doc.getMap('items').toJSON()).sort() };
}

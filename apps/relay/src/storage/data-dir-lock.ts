import { spawn } from 'node:child_process';
import { promises as fs } from 'node:fs';
import { hostname } from 'node:os';
import path from 'node:path';
import { makeDirectoryDurable } from './durable-directory.js';

/**
 * One relay per DATA_DIR. Two relays on one directory (a second container on the same volume, a
 * rolling update that starts the new relay before the old one stopped) would each replay and
 * delete the other's journal segments and append to the same list logs: acknowledged edits lost.
 *
 * The lock is a kernel advisory lock (flock) on `DATA_DIR/relay.lock`. Node cannot take one
 * itself, so util-linux's `flock` takes it and then runs `cat` on a pipe from this process:
 * when the relay exits for any reason, SIGKILL included, the pipe closes, `cat` and `flock` exit
 * and the kernel drops the lock at once. A restart therefore never waits for a timeout, and
 * unlike a lock file with a heartbeat, a relay whose event loop stalls cannot have its lock
 * taken from under it.
 */
export const LOCK_FILE_NAME = 'relay.lock';

/** Exit status `flock` uses for "somebody else holds it" (distinct from its own errors). */
const CONFLICT_EXIT_CODE = 75;
/** The shell's exit status when it finds no such command to exec. */
const COMMAND_NOT_FOUND_EXIT_CODE = 127;

export interface LockOwner {
  readonly pid: number;
  readonly host: string;
  readonly since: string;
}

export type LockOutcome =
  /** `ownerUnwritten`: why the owner note could not be written (a full disk); the lock is held all the same. */
  | { readonly kind: 'acquired'; readonly lock: DataDirLock; readonly ownerUnwritten?: string }
  /** Another process holds it; `owner` is what that relay wrote into the lock file, if readable. */
  | { readonly kind: 'held'; readonly owner: LockOwner | undefined }
  /** No `flock` command here (macOS, Windows): the relay runs unlocked and says so. */
  | { readonly kind: 'unavailable'; readonly reason: string }
  /** `signal` aborted the wait (the relay is being stopped): nothing is held, no helper is left. */
  | { readonly kind: 'abandoned' };

export interface DataDirLock {
  /** Resolves if the lock is lost while held (its helper process died): stop writing at once. */
  readonly lost: Promise<string>;
  release(): Promise<void>;
}

export interface LockOptions {
  /** How long to wait for a lock that is held: a previous relay may still be flushing. */
  readonly waitMs: number;
  /** The command to run; tests point it at a missing one. */
  readonly flockCommand?: string;
  /** Gives up waiting: a relay told to stop while another still holds the lock ([SV5]). */
  readonly signal?: AbortSignal;
}

export async function lockDataDir(dataDir: string, options: LockOptions): Promise<LockOutcome> {
  // The relay creates DATA_DIR here, before the storage, which then finds it there: synced into
  // its parent here, or a power loss could take DATA_DIR away, with every file acknowledged in it.
  await makeDirectoryDurable(dataDir);
  const lockPath = path.join(dataDir, LOCK_FILE_NAME);
  const helper = spawn(
    '/bin/sh',
    [
      '-c',
      // Ignored signals stay ignored across exec, in flock and in the shell and `cat` it starts:
      // a service manager's stop (systemd signals every process of the service) or Ctrl-C (the
      // whole foreground group) would otherwise end the helper first, which reads as a lost lock
      // while the relay is still flushing ([SV1]). The relay's exit still ends it: the pipe closes.
      `trap '' TERM INT HUP; exec "$@"`,
      'data-dir-lock',
      options.flockCommand ?? 'flock',
      '--exclusive',
      '--timeout',
      (options.waitMs / 1000).toFixed(3),
      '--conflict-exit-code',
      String(CONFLICT_EXIT_CODE),
      lockPath,
      // A command, not `-c`: flock would run that with $SHELL, a service account's nologin ([SV2]).
      '/bin/sh',
      '-c',
      'echo locked; exec cat >/dev/null',
    ],
    { stdio: ['pipe', 'pipe', 'pipe'], detached: true },
  );
  let stderr = '';
  helper.stderr.setEncoding('utf8').on('data', (chunk: string) => {
    stderr += chunk;
  });
  const exited = new Promise<number | null>((resolve) => helper.once('exit', (code) => resolve(code)));
  const started = await new Promise<'locked' | 'exited' | 'aborted' | { error: NodeJS.ErrnoException }>((resolve) => {
    if (options.signal?.aborted) resolve('aborted');
    options.signal?.addEventListener('abort', () => resolve('aborted'), { once: true });
    let stdout = '';
    helper.stdout.setEncoding('utf8').on('data', (chunk: string) => {
      stdout += chunk;
      if (stdout.includes('locked\n')) resolve('locked');
    });
    helper.once('error', (error: NodeJS.ErrnoException) => resolve({ error }));
    void exited.then(() => resolve('exited'));
  });
  if (typeof started === 'object') {
    if (started.error.code === 'ENOENT') return { kind: 'unavailable', reason: 'no /bin/sh to run flock on this system' };
    throw started.error;
  }
  if (started === 'aborted') {
    // The helper ignores TERM ([SV1]) and would otherwise wait on, then take the lock for a
    // moment once the other relay lets go: a new relay starting then would wait for nothing.
    // Detached, it leads its own process group, which holds `flock` and whatever it started.
    if (helper.pid !== undefined) {
      try {
        process.kill(-helper.pid, 'SIGKILL');
      } catch {
        // Already gone.
      }
      await exited;
    }
    return { kind: 'abandoned' };
  }
  if (started === 'exited') {
    const code = await exited;
    if (code === CONFLICT_EXIT_CODE) return { kind: 'held', owner: await readOwner(lockPath) };
    if (code === COMMAND_NOT_FOUND_EXIT_CODE) return { kind: 'unavailable', reason: 'no flock command on this system' };
    throw new Error(`could not lock ${lockPath}: flock exited with ${code}: ${stderr.trim()}`);
  }
  // Ours now: say who holds it, for the message a second relay prints.
  const owner: LockOwner = { pid: process.pid, host: hostname(), since: new Date().toISOString() };
  let ownerUnwritten: string | undefined;
  try {
    await fs.writeFile(lockPath, JSON.stringify(owner) + '\n');
  } catch (error) {
    // Only a second relay's message reads it. On a full disk (a DATA_DIR restored without its
    // lock file) it needs a block the relay cannot have, and refusing to start then kept every
    // list offline, though they can be served and their phones kept until room is made ([FD1]).
    ownerUnwritten = error instanceof Error ? error.message : String(error);
  }
  // The helper must not keep this process alive, nor its pipes hold the event loop open.
  helper.unref();
  for (const stream of [helper.stdin, helper.stdout, helper.stderr]) (stream as unknown as { unref?: () => void }).unref?.();
  let releasing = false;
  return {
    kind: 'acquired',
    ...(ownerUnwritten === undefined ? {} : { ownerUnwritten }),
    lock: {
      // Never settles after a release: the helper exiting then is what was asked for.
      lost: new Promise((resolve) => {
        void exited.then((code) => {
          if (!releasing) resolve(`lock helper exited with ${code} ${stderr.trim()}`.trim());
        });
      }),
      async release() {
        releasing = true;
        // Waited for, its exit must keep the process alive: a command with nothing else running
        // (the backup's restore) ended with its top-level await unsettled (exit status 13).
        helper.ref();
        helper.stdin.end();
        await exited;
      },
    },
  };
}

async function readOwner(lockPath: string): Promise<LockOwner | undefined> {
  try {
    const parsed = JSON.parse(await fs.readFile(lockPath, 'utf8')) as Partial<LockOwner>;
    return typeof parsed.pid === 'number' && typeof parsed.host === 'string' && typeof parsed.since === 'string'
      ? { pid: parsed.pid, host: parsed.host, since: parsed.since }
      : undefined;
  } catch {
    return undefined;
  }
}

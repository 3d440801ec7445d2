/**
 * Power loss, not SIGKILL ([PL1]–[PL5], [PL7]–[PL10]).
 *
 * [PL1]–[PL5] are what a power loss could do until the thirty-first session: each lost an
 * acknowledged update after an earlier kill, restart or failed write ([PL2] on ext4 or XFS as they
 * really behave, the others under the strict model below). [PL7]–[PL9] run the same check over
 * single runs (normal work, repairs, injected failures); [PL10] shows the check finds the losses
 * of a storage that skips a sync. (A [PL6] showed a journal write torn with its first page lost
 * and a later one kept read as damage, the segment quarantined, though every acknowledged record
 * is still replayed: a false alarm, left so, as reading such damage as a torn tail would cut, not
 * keep, a file whose damage was real.)
 *
 * The crash tests kill the relay with SIGKILL, which keeps the page cache. A power loss (or a
 * kernel crash) keeps only what fsync, fdatasync or an O_DSYNC write made durable: file data, a
 * file's size, and each directory entry a create, rename, link or unlink made may be lost, each
 * independently of the order they were made in (POSIX plus what fsync promises; a rename is taken
 * as atomic, as every journaling file system makes it). An O_DSYNC write that returned makes its
 * bytes durable and a file size reaching its end: exactly the size then (what Linux file systems
 * do), or, for some adversaries, possibly a larger size from before an unsynced truncation (all
 * POSIX promises).
 *
 * Here every file-system call the storage makes is recorded (`node:fs` wrapped, pass-through), a
 * model replays the trace, and after each recorded call it builds the files a power loss there
 * could leave, for several adversaries (what was not synced: all kept, as SIGKILL leaves it; all
 * lost; the worst mix, unlinks kept and everything else lost; random mixes). Each set of files
 * goes into a fresh DATA_DIR, and a new DiskListStorage must load every acknowledged update (an
 * append that resolved before that point) and quarantine nothing that was not damaged to begin
 * with.
 *
 * A "kill" of a run (PL1, PL3, PL5) is a storage abandoned mid-operation: a test seam that never
 * returns, or throws, where a SIGKILL would stop the process. The files stay as the page cache
 * holds them, and the next run starts on them, as a restarted relay would.
 */
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, promises as recordedFs, readdirSync, readFileSync, rmSync, statSync, writeFileSync, writeSync } from 'node:fs';
import type { FileHandle } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import * as Y from 'yjs';
import { describe, expect, it, vi } from 'vitest';
import type { CompactionStep, QuarantineStep } from '../src/storage/disk-storage.js';
import { lockDataDir } from '../src/storage/data-dir-lock.js';
import { DiskListStorage } from '../src/storage/disk-storage.js';
import { syncDirectory } from '../src/storage/file-ops.js';
import { writeAt } from '../src/storage/journal.js';
import { frameRecord } from '../src/storage/record-framing.js';
import type { Logger } from '../src/log.js';
import { directoryPerTest, waitFor } from './helpers.js';

// ---------------------------------------------------------------------------------------------
// Recording: node:fs, wrapped. Every mutation and every sync is reported to `recorder.sink`.
// ---------------------------------------------------------------------------------------------

const recorder = vi.hoisted(() => ({
  sink: undefined as ((event: unknown) => void) | undefined,
  /** fd → the recorder's id of the handle open on it (fds are reused, handle ids are not). */
  handleOfFd: new Map<number, number>(),
  nextHandle: 1,
}));

vi.mock('node:fs', async (importOriginal) => {
  const real = await importOriginal<typeof import('node:fs')>();
  const { default: nodePath } = await import('node:path');
  const emit = (event: FsEvent): void => recorder.sink?.(event);
  const { O_TRUNC, O_DSYNC } = real.constants;
  const flagsOf = (flags: unknown): { truncate: boolean; dsync: boolean } => {
    if (typeof flags === 'number') return { truncate: (flags & O_TRUNC) !== 0, dsync: (flags & O_DSYNC) !== 0 };
    const text = typeof flags === 'string' ? flags : 'r';
    return { truncate: text.startsWith('w'), dsync: false };
  };
  const wrapHandle = (handle: FileHandle, h: number): FileHandle =>
    new Proxy(handle, {
      get(target, prop) {
        switch (prop) {
          case 'writeFile':
            // Only ever called on a handle just opened with 'w'/'wx' (temp files): written from 0.
            return async (data: Uint8Array) => {
              await target.writeFile(data);
              emit({ op: 'write', h, offset: 0, data: Buffer.from(data) });
            };
          case 'sync':
          case 'datasync':
            return async () => {
              await (prop === 'sync' ? target.sync() : target.datasync());
              emit({ op: 'sync', h });
            };
          case 'truncate':
            return async (length = 0) => {
              await target.truncate(length);
              emit({ op: 'truncate', h, length });
            };
          case 'close':
            return async () => {
              recorder.handleOfFd.delete(target.fd);
              await target.close();
            };
        }
        const value: unknown = Reflect.get(target, prop, target);
        return typeof value === 'function' ? (value as (...args: unknown[]) => unknown).bind(target) : value;
      },
    });
  const open = async (file: string, flags?: string | number, mode?: number): Promise<FileHandle> => {
    const filePath = nodePath.resolve(file);
    const existed = real.existsSync(filePath);
    const handle = await real.promises.open(file, flags, mode);
    const h = recorder.nextHandle++;
    const { truncate, dsync } = flagsOf(flags);
    const dir = real.statSync(filePath).isDirectory();
    recorder.handleOfFd.set(handle.fd, h);
    emit({ op: 'open', h, path: filePath, created: !existed, truncated: truncate && existed, dsync, dir });
    return wrapHandle(handle, h);
  };
  const write = (...args: unknown[]): unknown => {
    const callback = args.at(-1);
    if (args.length === 6 && typeof callback === 'function') {
      const [fd, buffer, offset, length, position] = args as [number, Uint8Array, number, number, number];
      real.write(fd, buffer, offset, length, position, (error, written) => {
        const h = recorder.handleOfFd.get(fd);
        if (!error && h !== undefined) emit({ op: 'write', h, offset: position, data: Buffer.from(buffer.subarray(offset, offset + written)) });
        (callback as (error: unknown, written: number) => void)(error, written);
      });
      return undefined;
    }
    return (real.write as unknown as (...a: unknown[]) => unknown)(...args);
  };
  const resolved = (p: unknown): string => nodePath.resolve(String(p));
  const promises = {
    ...real.promises,
    open,
    rename: async (from: string, to: string) => {
      await real.promises.rename(from, to);
      emit({ op: 'rename', from: resolved(from), to: resolved(to) });
    },
    unlink: async (file: string) => {
      await real.promises.unlink(file);
      emit({ op: 'unlink', path: resolved(file) });
    },
    link: async (from: string, to: string) => {
      await real.promises.link(from, to);
      emit({ op: 'link', from: resolved(from), to: resolved(to) });
    },
    mkdir: async (dir: string, options?: { recursive?: boolean }) => {
      const missing: string[] = [];
      for (let d = resolved(dir); !real.existsSync(d); d = nodePath.dirname(d)) missing.unshift(d);
      const result = await real.promises.mkdir(dir, options);
      for (const d of missing) emit({ op: 'mkdir', path: d });
      return result;
    },
    copyFile: async (from: string, to: string, mode?: number) => {
      await real.promises.copyFile(from, to, mode);
      emit({ op: 'copy', from: resolved(from), to: resolved(to), data: real.readFileSync(to) });
    },
  };
  return { ...real, default: { ...real, promises, write }, promises, write };
});

type FsEvent =
  | { op: 'open'; h: number; path: string; created: boolean; truncated: boolean; dsync: boolean; dir: boolean }
  /** `unsynced`: an O_DSYNC write that failed (EIO) after its bytes reached the page cache. */
  | { op: 'write'; h: number; offset: number; data: Buffer; unsynced?: boolean }
  /** fsync or fdatasync of a file, or fsync of a directory. */
  | { op: 'sync'; h: number }
  | { op: 'truncate'; h: number; length: number }
  | { op: 'rename'; from: string; to: string }
  | { op: 'unlink'; path: string }
  | { op: 'link'; from: string; to: string }
  | { op: 'mkdir'; path: string }
  | { op: 'copy'; from: string; to: string; data: Buffer }
  /** Not a file-system call: `append` resolved, the relay would acknowledge these items now. */
  | { op: 'ack'; listId: string; keys: readonly string[] };

function startRecording(): { events: FsEvent[]; stop: () => void } {
  const events: FsEvent[] = [];
  recorder.sink = (event) => events.push(event as FsEvent);
  return { events, stop: () => (recorder.sink = undefined) };
}

// ---------------------------------------------------------------------------------------------
// The model: what is in the page cache (`cur`) and what a power loss must leave (`dur`/`base`).
// ---------------------------------------------------------------------------------------------

type Entry = { readonly kind: 'file'; readonly ino: number } | { readonly kind: 'dir'; readonly path: string };

interface DirOp {
  /** A rename across directories is two ops of one group, kept or lost together. */
  readonly group: number;
  readonly kind: 'add' | 'remove' | 'rename';
  readonly what: string;
  apply(entries: Map<string, Entry>): void;
}

interface DataOp {
  readonly kind: 'write' | 'truncate';
  /** A write's offset, a truncation's length. */
  readonly offset: number;
  readonly data: Buffer;
  /** An O_DSYNC write that returned: its data, and the file's size then, are on disk. */
  readonly durable: boolean;
  readonly sizeAfter: number;
  readonly what: string;
}

interface Adversary {
  readonly name: string;
  keepEntry(op: DirOp): boolean;
  keepData(op: DataOp): boolean;
  /**
   * Whether an O_DSYNC write commits the file's size as it is then (what Linux file systems do:
   * the inode is logged whole), or only a size reaching its own end (all POSIX promises: "the
   * information required to retrieve the data"), so that a larger size from before an unsynced
   * truncation may come back.
   */
  exactSize(op: DataOp): boolean;
}

const keepEverything: Adversary = { name: 'all unsynced kept (as SIGKILL)', keepEntry: () => true, keepData: () => true, exactSize: () => true };
const loseEverything: Adversary = { name: 'all unsynced lost', keepEntry: () => false, keepData: () => false, exactSize: () => true };
/** Unlinks reach the disk, nothing else that was not synced does: what hurts a write-ahead design most. */
const worst: Adversary = { name: 'worst (unsynced unlinks kept, all else lost)', keepEntry: (op) => op.kind === 'remove', keepData: () => false, exactSize: () => false };

function randomAdversary(seed: number): Adversary {
  let state = seed >>> 0;
  const next = (): number => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const decider = (): ((op: object) => boolean) => {
    const decided = new WeakMap<object, boolean>();
    return (op) => {
      let keep = decided.get(op);
      if (keep === undefined) decided.set(op, (keep = next() < 0.5));
      return keep;
    };
  };
  return { name: `random #${seed}`, keepEntry: decider(), keepData: decider(), exactSize: decider() };
}

interface DirState {
  cur: Map<string, Entry>;
  dur: Map<string, Entry>;
  pending: DirOp[];
}

interface Inode {
  cur: Buffer;
  /** Content at the last fsync/fdatasync. */
  base: Buffer;
  /** Writes and truncations since, in order. */
  ops: DataOp[];
}

const emptyDir = (): DirState => ({ cur: new Map(), dur: new Map(), pending: [] });

function spliced(content: Buffer, offset: number, data: Buffer): Buffer {
  const result = Buffer.alloc(Math.max(content.length, offset + data.length));
  content.copy(result);
  data.copy(result, offset);
  return result;
}

function resized(content: Buffer, length: number): Buffer {
  const result = Buffer.alloc(length);
  content.copy(result, 0, 0, Math.min(length, content.length));
  return result;
}

class FsModel {
  private readonly dirs = new Map<string, DirState>();
  private readonly inodes = new Map<number, Inode>();
  private readonly handles = new Map<number, { ino: number; dsync: boolean } | { dir: string }>();
  private readonly groupSizes = new Map<number, number>();
  private nextId = 1;

  /** `root`'s own entry is taken as durable; what is in it now too (files a test wrote before the run). */
  constructor(readonly root: string) {
    this.dirs.set(root, emptyDir());
    this.importDurable(root);
  }

  private importDurable(dir: string): void {
    const state = this.dirs.get(dir) as DirState;
    for (const name of readdirSync(dir)) {
      const full = path.join(dir, name);
      let entry: Entry;
      if (statSync(full).isDirectory()) {
        this.dirs.set(full, emptyDir());
        entry = { kind: 'dir', path: full };
        this.importDurable(full);
      } else {
        const content = readFileSync(full);
        entry = { kind: 'file', ino: this.newInode(content, content) };
      }
      state.cur.set(name, entry);
      state.dur.set(name, entry);
    }
  }

  private newInode(cur: Buffer, base: Buffer): number {
    const ino = this.nextId++;
    this.inodes.set(ino, { cur: Buffer.from(cur), base: Buffer.from(base), ops: [] });
    return ino;
  }

  private rel(p: string): string {
    return path.relative(this.root, p);
  }

  private dirOp(dir: string, kind: DirOp['kind'], what: string, apply: DirOp['apply'], group = this.nextId++): void {
    this.groupSizes.set(group, (this.groupSizes.get(group) ?? 0) + 1);
    (this.dirs.get(dir) as DirState).pending.push({ group, kind, what, apply });
  }

  private addEntry(filePath: string, entry: Entry, what: string): void {
    const dir = path.dirname(filePath);
    const name = path.basename(filePath);
    const state = this.dirs.get(dir);
    if (state === undefined) return;
    state.cur.set(name, entry);
    this.dirOp(dir, 'add', what, (entries) => entries.set(name, entry));
  }

  private dataOp(ino: number, op: Omit<DataOp, 'sizeAfter'>): void {
    const inode = this.inodes.get(ino) as Inode;
    inode.cur = op.kind === 'write' ? spliced(inode.cur, op.offset, op.data) : resized(inode.cur, op.offset);
    inode.ops.push({ ...op, sizeAfter: inode.cur.length });
  }

  apply(event: FsEvent): void {
    switch (event.op) {
      case 'open': {
        if (event.dir) {
          if (this.dirs.has(event.path)) this.handles.set(event.h, { dir: event.path });
          return;
        }
        const state = this.dirs.get(path.dirname(event.path));
        if (state === undefined) return;
        let entry = state.cur.get(path.basename(event.path));
        if (entry === undefined || entry.kind !== 'file') {
          entry = { kind: 'file', ino: this.newInode(Buffer.alloc(0), Buffer.alloc(0)) };
          this.addEntry(event.path, entry, `create ${this.rel(event.path)}`);
        } else if (event.truncated) {
          this.dataOp(entry.ino, { kind: 'truncate', offset: 0, data: Buffer.alloc(0), durable: false, what: `truncate ${this.rel(event.path)} (open 'w')` });
        }
        this.handles.set(event.h, { ino: entry.ino, dsync: event.dsync });
        return;
      }
      case 'write': {
        const handle = this.handles.get(event.h);
        if (handle === undefined || 'dir' in handle) return;
        const durable = handle.dsync && event.unsynced !== true;
        this.dataOp(handle.ino, { kind: 'write', offset: event.offset, data: event.data, durable, what: `write ${event.data.length} B at ${event.offset} of inode ${handle.ino}` });
        return;
      }
      case 'truncate': {
        const handle = this.handles.get(event.h);
        if (handle === undefined || 'dir' in handle) return;
        this.dataOp(handle.ino, { kind: 'truncate', offset: event.length, data: Buffer.alloc(0), durable: false, what: `truncate inode ${handle.ino} to ${event.length}` });
        return;
      }
      case 'sync': {
        const handle = this.handles.get(event.h);
        if (handle === undefined) return;
        if ('dir' in handle) {
          const state = this.dirs.get(handle.dir) as DirState;
          state.dur = new Map(state.cur);
          state.pending = [];
        } else {
          const inode = this.inodes.get(handle.ino) as Inode;
          inode.base = Buffer.from(inode.cur);
          inode.ops = [];
        }
        return;
      }
      case 'rename': {
        const from = this.dirs.get(path.dirname(event.from));
        const to = this.dirs.get(path.dirname(event.to));
        if (from === undefined || to === undefined) return;
        const fromName = path.basename(event.from);
        const toName = path.basename(event.to);
        const entry = from.cur.get(fromName) as Entry;
        from.cur.delete(fromName);
        to.cur.set(toName, entry);
        const what = `rename ${this.rel(event.from)} → ${this.rel(event.to)}`;
        if (from === to) {
          this.dirOp(path.dirname(event.from), 'rename', what, (entries) => {
            entries.delete(fromName);
            entries.set(toName, entry);
          });
        } else {
          const group = this.nextId++;
          this.dirOp(path.dirname(event.from), 'rename', what, (entries) => entries.delete(fromName), group);
          this.dirOp(path.dirname(event.to), 'rename', what, (entries) => entries.set(toName, entry), group);
        }
        return;
      }
      case 'unlink': {
        const dir = path.dirname(event.path);
        const state = this.dirs.get(dir);
        if (state === undefined) return;
        const name = path.basename(event.path);
        state.cur.delete(name);
        this.dirOp(dir, 'remove', `unlink ${this.rel(event.path)}`, (entries) => entries.delete(name));
        return;
      }
      case 'link': {
        const entry = this.dirs.get(path.dirname(event.from))?.cur.get(path.basename(event.from));
        if (entry !== undefined) this.addEntry(event.to, entry, `link ${this.rel(event.from)} → ${this.rel(event.to)}`);
        return;
      }
      case 'mkdir': {
        if (!this.dirs.has(path.dirname(event.path))) return;
        this.dirs.set(event.path, emptyDir());
        this.addEntry(event.path, { kind: 'dir', path: event.path }, `mkdir ${this.rel(event.path)}`);
        return;
      }
      case 'copy': {
        const ino = this.newInode(Buffer.alloc(0), Buffer.alloc(0));
        this.dataOp(ino, { kind: 'write', offset: 0, data: event.data, durable: false, what: `copy into ${this.rel(event.to)}` });
        this.addEntry(event.to, { kind: 'file', ino }, `create ${this.rel(event.to)} (copy)`);
        return;
      }
      case 'ack':
        return;
    }
  }

  /** The files a power loss now could leave, relative to `root` (directories as 'dir'). */
  crash(adversary: Adversary): Map<string, Buffer | 'dir'> {
    const stillPending = new Map<number, number>();
    for (const state of this.dirs.values()) for (const op of state.pending) stillPending.set(op.group, (stillPending.get(op.group) ?? 0) + 1);
    const decided = new Map<number, boolean>();
    const keep = (op: DirOp): boolean => {
      // Half of a rename is durable (its directory synced): the rename happened, both halves.
      if ((stillPending.get(op.group) ?? 0) < (this.groupSizes.get(op.group) ?? 1)) return true;
      let kept = decided.get(op.group);
      if (kept === undefined) decided.set(op.group, (kept = adversary.keepEntry(op)));
      return kept;
    };
    const files = new Map<string, Buffer | 'dir'>();
    const walk = (dir: string): void => {
      const state = this.dirs.get(dir) as DirState;
      const entries = new Map(state.dur);
      for (const op of state.pending) if (keep(op)) op.apply(entries);
      for (const [name, entry] of entries) {
        const full = path.join(dir, name);
        if (entry.kind === 'dir') {
          files.set(this.rel(full), 'dir');
          walk(entry.path);
        } else {
          files.set(this.rel(full), this.contentAfterCrash(entry.ino, adversary));
        }
      }
    };
    walk(this.root);
    return files;
  }

  private contentAfterCrash(ino: number, adversary: Adversary): Buffer {
    const inode = this.inodes.get(ino) as Inode;
    let content: Buffer = Buffer.from(inode.base);
    for (const op of inode.ops) {
      if (!op.durable && !adversary.keepData(op)) continue;
      content = op.kind === 'write' ? spliced(content, op.offset, op.data) : resized(content, op.offset);
      // An O_DSYNC write commits the file's size as it was then (or, strictly, at least its own
      // end): an earlier write's bytes it did not cover, if not synced, read as zeros below it.
      if (op.durable) content = resized(content, adversary.exactSize(op) ? op.sizeAfter : Math.max(content.length, op.sizeAfter));
    }
    return content;
  }
}

// ---------------------------------------------------------------------------------------------
// The check: after each event, for each adversary, restart on what a power loss would leave.
// ---------------------------------------------------------------------------------------------

interface CheckOptions {
  /** DATA_DIR, inside the model's root. */
  readonly dataDir: string;
  readonly adversaries: readonly Adversary[];
  /** Items acknowledged before the trace began (in the files the model started from). */
  readonly ackedBefore?: ReadonlyMap<string, readonly string[]>;
  /** Files damaged before the trace: a quarantine is then expected, not a finding. */
  readonly damageExpected?: boolean;
}

function describeEvent(event: FsEvent | undefined, root: string): string {
  if (event === undefined) return 'start';
  const rel = (p: string): string => path.relative(root, p);
  switch (event.op) {
    case 'open':
      return `open ${rel(event.path)}${event.created ? ' (created)' : ''}`;
    case 'write':
      return `write ${event.data.length} B at ${event.offset} (handle ${event.h})${event.unsynced ? ', failed' : ''}`;
    case 'sync':
      return `fsync (handle ${event.h})`;
    case 'truncate':
      return `truncate to ${event.length} (handle ${event.h})`;
    case 'rename':
    case 'link':
    case 'copy':
      return `${event.op} ${rel(event.from)} → ${rel(event.to)}`;
    case 'unlink':
    case 'mkdir':
      return `${event.op} ${rel(event.path)}`;
    case 'ack':
      return `ack ${event.listId} ${event.keys.join(',')}`;
  }
}

/** Every power loss in `events` (and the adversaries) that loses, or quarantines, what was acknowledged. */
async function powerLossFindings(model: FsModel, events: readonly FsEvent[], options: CheckOptions): Promise<string[]> {
  recorder.sink = undefined;
  const findings: string[] = [];
  const acked = new Map<string, Set<string>>();
  for (const [listId, keys] of options.ackedBefore ?? []) acked.set(listId, new Set(keys));
  const verdicts = new Map<string, string | undefined>();
  for (let index = 0; index <= events.length; index++) {
    const event = events[index - 1];
    if (event?.op === 'ack') {
      const keys = acked.get(event.listId) ?? new Set<string>();
      for (const key of event.keys) keys.add(key);
      acked.set(event.listId, keys);
    } else if (event !== undefined) {
      model.apply(event);
    }
    for (const adversary of options.adversaries) {
      const files = model.crash(adversary);
      const key = stateKey(files, acked);
      if (!verdicts.has(key)) verdicts.set(key, await restartFinds(model.root, files, acked, options));
      const verdict = verdicts.get(key);
      if (verdict !== undefined) findings.push(`power loss after #${index} (${describeEvent(event, model.root)}), ${adversary.name}: ${verdict}`);
    }
  }
  return findings;
}

function stateKey(files: ReadonlyMap<string, Buffer | 'dir'>, acked: ReadonlyMap<string, ReadonlySet<string>>): string {
  const hash = createHash('sha1');
  for (const [name, content] of [...files].sort(([a], [b]) => a.localeCompare(b))) {
    hash.update(name).update('\0').update(content === 'dir' ? 'dir' : createHash('sha1').update(content).digest('hex')).update('\0');
  }
  for (const [listId, keys] of acked) hash.update(listId).update([...keys].sort().join(',')).update('\0');
  return hash.digest('hex');
}

/** What a restart on `files` gets wrong: acknowledged items it does not load, a failure, a quarantine. */
async function restartFinds(
  root: string,
  files: ReadonlyMap<string, Buffer | 'dir'>,
  acked: ReadonlyMap<string, ReadonlySet<string>>,
  options: CheckOptions,
): Promise<string | undefined> {
  const top = mkdtempSync(path.join(tmpdir(), 'basket-power-loss-'));
  try {
    for (const [name, content] of files) {
      const full = path.join(top, name);
      if (content === 'dir') {
        mkdirSync(full, { recursive: true });
      } else {
        mkdirSync(path.dirname(full), { recursive: true });
        writeFileSync(full, content);
      }
    }
    const dataDir = path.join(top, path.relative(root, options.dataDir));
    const logged: string[] = [];
    const storage = new DiskListStorage({ dataDir, checkpointIntervalMs: 0, logger: loggerInto(logged) });
    const problems: string[] = [];
    try {
      for (const [listId, keys] of acked) {
        const items = itemsIn((await storage.load(listId)).updates);
        const missing = [...keys].filter((key) => !items.has(key));
        if (missing.length > 0) problems.push(`${listId} lost acknowledged ${missing.join(', ')}`);
      }
      await storage.checkpoint();
    } catch (error) {
      problems.push(`the restart failed: ${String(error)}`);
    } finally {
      await storage.close().catch(() => undefined);
    }
    const quarantineDir = path.join(dataDir, 'quarantine');
    const quarantined = existsSync(quarantineDir) ? readdirSync(quarantineDir) : [];
    const damage = logged.filter((event) => event === 'storage.journal_damaged' || event === 'storage.file_quarantined');
    if (!options.damageExpected && (quarantined.length > 0 || damage.length > 0)) {
      problems.push(`the restart found damage (${damage.join(', ')}) and quarantined ${quarantined.join(', ')}`);
    }
    return problems.length > 0 ? problems.join('; ') : undefined;
  } finally {
    rmSync(top, { recursive: true, force: true });
  }
}

function loggerInto(events: string[]): Logger {
  return {
    debug: () => undefined,
    info: () => undefined,
    warn: (event) => void events.push(event),
    error: (event) => void events.push(event),
  };
}

function itemsIn(updates: readonly Uint8Array[]): Map<string, unknown> {
  const doc = new Y.Doc();
  for (const update of updates) Y.applyUpdate(doc, update);
  return new Map(Object.entries(doc.getMap('items').toJSON()));
}

/** Sets `key` in `doc` and returns the update doing it (v1). */
function itemUpdate(doc: Y.Doc, key: string, bytes = 8): Uint8Array {
  const before = Y.encodeStateVector(doc);
  doc.getMap('items').set(key, 'v'.repeat(bytes));
  return Y.encodeStateAsUpdate(doc, before);
}

/** Appends, and records the acknowledgement the relay would send once `append` resolves. */
async function appendAcked(storage: DiskListStorage, events: FsEvent[], listId: string, doc: Y.Doc, key: string, bytes?: number): Promise<void> {
  await storage.append(listId, [itemUpdate(doc, key, bytes)]);
  events.push({ op: 'ack', listId, keys: [key] });
}

/** Stops the recording; then a power loss at any point recorded must lose nothing acknowledged. */
async function expectNothingLost(model: FsModel, recording: { events: readonly FsEvent[]; stop: () => void }, options: CheckOptions): Promise<void> {
  recording.stop();
  const findings = await powerLossFindings(model, recording.events, options);
  expect(findings.length, report(findings)).toBe(0);
}

/** A relay restarted on `dataDir` (run 2): its journal replayed, a checkpoint, a clean stop. */
async function restartedRunCheckpoints(dataDir: string): Promise<void> {
  const run2 = new DiskListStorage({ dataDir, checkpointIntervalMs: 0 });
  await run2.checkpoint();
  await run2.close();
}

function report(findings: readonly string[]): string {
  return `${findings.length} (power loss, adversary) cases lose acknowledged data or quarantine it, e.g.:\n${findings.slice(0, 4).join('\n')}`;
}

const LIST_A = 'powerLossListAaaaa';
const LIST_B = 'powerLossListBbbbb';
const LIST_C = 'powerLossListCcccc';

/** A log whose second record is damaged in the middle of the file: [a0][a1, one byte flipped][a2]. Its intact prefix holds a0. */
function damagedLog(doc: Y.Doc): Buffer {
  const records = ['a0', 'a1', 'a2'].map((key) => frameRecord(itemUpdate(doc, key)));
  const file = Buffer.concat(records);
  const inSecond = (records[0] as Buffer).length + 12;
  file[inSecond] = (file[inSecond] as number) ^ 0xff;
  return file;
}

describe('power loss (review)', () => {
  const directory = directoryPerTest('basket-pl-');
  /**
   * DATA_DIR in a fresh directory, made (unless 'not made') and filled by `prepare` before the
   * recording starts, so a power loss cannot take what it wrote; every change after is recorded.
   */
  const recordedDataDir = (prepare?: ((dataDir: string) => void) | 'not made') => {
    const top = directory();
    const dataDir = path.join(top, 'data');
    if (prepare !== 'not made') {
      mkdirSync(dataDir);
      prepare?.(dataDir);
    }
    const model = new FsModel(top);
    return { dataDir, model, ...startRecording() };
  };

  it('[PL1] a restart after a kill mid-checkpoint deletes the journal segment before the log the killed run created is synced into DATA_DIR', async () => {
    const { dataDir, model, events, stop } = recordedDataDir();
    let hang = false;
    let stuck = false;
    // Run 1: its checkpoint creates A's log, copies into it (O_DSYNC), and is killed before
    // its one fsync of DATA_DIR for the logs it created (a spread checkpoint is seconds long).
    const syncDataDir = (dir: string): Promise<void> => {
      if (!hang) return syncDirectory(dir);
      stuck = true;
      return new Promise<void>(() => undefined);
    };
    const run1 = new DiskListStorage({ dataDir, checkpointIntervalMs: 0, syncDataDir });
    await appendAcked(run1, events, LIST_A, new Y.Doc(), 'a0');
    hang = true;
    void run1.checkpoint().catch(() => undefined);
    await waitFor(() => stuck, 5000, 'the checkpoint to reach its directory fsync');
    // Run 2 finds A.log there (in the page cache), so it creates no log, syncs no directory,
    // and deletes the segment; its clean shutdown syncs nothing either.
    await restartedRunCheckpoints(dataDir);
    await expectNothingLost(model, { events, stop }, { dataDir, adversaries: [worst] });
  });

  it('[PL2] a restart appends after a log tail a failed O_DSYNC write left only in the page cache, deletes the segment, and a power loss leaves a hole: the log is quarantined with acknowledged records', async () => {
    const { dataDir, model, events, stop } = recordedDataDir();
    let failNext = false;
    // [WF1]'s premise: an O_DSYNC write returns EIO after its bytes reached the page cache.
    const writeLogBytes = async (fd: number, buffer: Buffer, offset: number, position: number): Promise<number> => {
      if (!failNext) return writeAt(fd, buffer, offset, position);
      failNext = false;
      writeSync(fd, buffer, offset, buffer.length - offset, position);
      recorder.sink?.({ op: 'write', h: recorder.handleOfFd.get(fd) as number, offset: position, data: Buffer.from(buffer.subarray(offset)), unsynced: true } satisfies FsEvent);
      throw Object.assign(new Error('EIO (test)'), { code: 'EIO' });
    };
    const doc = new Y.Doc();
    const run1 = new DiskListStorage({ dataDir, checkpointIntervalMs: 0, writeLogBytes });
    await appendAcked(run1, events, LIST_A, doc, 'a0');
    await run1.checkpoint();
    // Several pages: whole pages of it lie before the page the next run's write starts in.
    await appendAcked(run1, events, LIST_A, doc, 'a1', 12_000);
    failNext = true;
    await expect(run1.checkpoint()).rejects.toThrow('EIO (test)');
    // Killed, or restarted by an operator because the disk failed, before its next copy of A
    // cuts the log back ([WF1] does that only within a run). Run 2 reads the log as the page
    // cache holds it (after a writeback error Linux keeps the pages, clean, readable), whole, and
    // appends a1 again after it: that O_DSYNC write syncs its own range and the file's new size,
    // not the bytes before it. Run 2 then deletes the segment. Once those cached pages are gone
    // (a power loss, or only a reboot or eviction: they never reached the disk), the log reads as
    // damaged in the middle, and the records after the damage are set aside, a1 with them.
    await restartedRunCheckpoints(dataDir);
    await expectNothingLost(model, { events, stop }, { dataDir, adversaries: [worst] });
  });

  it('[PL3] a restart after a kill between a damaged log\'s repair (prefix renamed over it) and the DATA_DIR fsync appends to the repaired log and deletes the segment, the rename still not synced', async () => {
    const { dataDir, model, events, stop } = recordedDataDir((dir) => {
      writeFileSync(path.join(dir, `${LIST_A}.log`), damagedLog(new Y.Doc()));
    });
    const afterQuarantineStep = (step: QuarantineStep): void => {
      if (step === 'prefix-renamed') throw new Error('killed (test)');
    };
    const run1 = new DiskListStorage({ dataDir, checkpointIntervalMs: 0, afterQuarantineStep });
    // From a phone that never saw a1 or a2: it does not build on what the damage took.
    await appendAcked(run1, events, LIST_A, new Y.Doc(), 'a3');
    await run1.load(LIST_A).catch(() => undefined);
    // Killed there. Run 2 finds the repaired log in place and nothing to repair.
    await restartedRunCheckpoints(dataDir);
    await expectNothingLost(model, { events, stop }, { dataDir, adversaries: [worst], ackedBefore: new Map([[LIST_A, ['a0']]]), damageExpected: true });
  });

  it('[PL4] a repair whose DATA_DIR fsync fails after the rename: the next copy appends to the repaired log and deletes the segment, the rename never synced', async () => {
    const { dataDir, model, events, stop } = recordedDataDir((dir) => {
      writeFileSync(path.join(dir, `${LIST_A}.log`), damagedLog(new Y.Doc()));
    });
    let failNextDataDirSync = false;
    const syncDataDir = async (dir: string): Promise<void> => {
      if (failNextDataDirSync) {
        failNextDataDirSync = false;
        throw Object.assign(new Error('EIO (test)'), { code: 'EIO' });
      }
      await syncDirectory(dir);
    };
    const afterQuarantineStep = (step: QuarantineStep): void => {
      if (step === 'prefix-renamed') failNextDataDirSync = true;
    };
    const storage = new DiskListStorage({ dataDir, checkpointIntervalMs: 0, syncDataDir, afterQuarantineStep });
    await appendAcked(storage, events, LIST_A, new Y.Doc(), 'a3');
    await storage.load(LIST_A).catch(() => undefined);
    await storage.checkpoint();
    await storage.close();
    await expectNothingLost(model, { events, stop }, { dataDir, adversaries: [worst], ackedBefore: new Map([[LIST_A, ['a0']]]), damageExpected: true });
  });

  it('[PL5] a DATA_DIR a killed run made, before syncing it into its parent, is never synced by the next run, which acknowledges into it', async () => {
    const { dataDir, model, events, stop } = recordedDataDir('not made');
    // Run 1 (the lock or the storage) made DATA_DIR and was killed before the fsync of its parent.
    await recordedFs.mkdir(dataDir, { recursive: true });
    // Run 2 finds it there: it makes nothing, so it syncs no parent.
    const storage = new DiskListStorage({ dataDir, checkpointIntervalMs: 0 });
    await appendAcked(storage, events, LIST_A, new Y.Doc(), 'a0');
    await storage.close();
    await expectNothingLost(model, { events, stop }, { dataDir, adversaries: [worst] });
  });

  it('[PL7] one run, no crash before it: at every point of appends, group commits, new logs, checkpoints, full segments, compactions and shutdown, every acknowledged update survives a power loss', async () => {
    const { dataDir, model, events, stop } = recordedDataDir('not made');
    // As the relay starts: the lock makes DATA_DIR (and syncs it into its parent), the storage finds it.
    const lock = await lockDataDir(dataDir, { waitMs: 0 });
    const storage = new DiskListStorage({ dataDir, checkpointIntervalMs: 0, journalSegmentBytes: 700 });
    const docs = new Map([LIST_A, LIST_B, LIST_C].map((listId) => [listId, new Y.Doc()]));
    const doc = (listId: string): Y.Doc => docs.get(listId) as Y.Doc;
    // Records of different sizes: a log whose old records came back after new ones would line up
    // with them, and read as whole records, if all were the same size.
    const both = (step: number): Promise<unknown> =>
      Promise.all([
        appendAcked(storage, events, LIST_A, doc(LIST_A), `a${step}`, 5 + 7 * step),
        appendAcked(storage, events, LIST_B, doc(LIST_B), `b${step}`, 50 - 7 * step),
      ]);
    for (let step = 0; step < 3; step++) await both(step);
    await storage.checkpoint();
    await appendAcked(storage, events, LIST_C, doc(LIST_C), 'c0', 5000);
    await both(3);
    await storage.compact(LIST_A, Y.encodeStateAsUpdate(doc(LIST_A)));
    await both(4);
    await storage.checkpoint();
    await storage.compact(LIST_B, Y.encodeStateAsUpdate(doc(LIST_B)));
    await appendAcked(storage, events, LIST_C, doc(LIST_C), 'c1');
    await both(5);
    await storage.load(LIST_A);
    await storage.close();
    if (lock.kind === 'acquired') await lock.lock.release();
    await expectNothingLost(model, { events, stop }, {
      dataDir,
      adversaries: [keepEverything, loseEverything, worst, ...[1, 2, 3, 4, 5, 6].map(randomAdversary)],
    });
    expect(events.filter((event) => event.op === 'unlink').length, 'segments deleted').toBeGreaterThanOrEqual(2);
  });

  it('[PL8] one run repairing a damaged log and cutting a torn one: nothing acknowledged is lost at any point', async () => {
    const { dataDir, model, events, stop } = recordedDataDir((dir) => {
      writeFileSync(path.join(dir, `${LIST_A}.log`), damagedLog(new Y.Doc()));
      const docB = new Y.Doc();
      const tornLog = Buffer.concat([frameRecord(itemUpdate(docB, 'b0')), frameRecord(itemUpdate(docB, 'b1')).subarray(0, 15)]);
      writeFileSync(path.join(dir, `${LIST_B}.log`), tornLog);
    });
    const storage = new DiskListStorage({ dataDir, checkpointIntervalMs: 0 });
    await appendAcked(storage, events, LIST_A, new Y.Doc(), 'a3');
    // From a phone that never saw b1 (torn, never acknowledged): nothing holds it back.
    await appendAcked(storage, events, LIST_B, new Y.Doc(), 'b2');
    await storage.load(LIST_A);
    await storage.load(LIST_B);
    await storage.checkpoint();
    await appendAcked(storage, events, LIST_A, new Y.Doc(), 'a4');
    await storage.close();
    await expectNothingLost(model, { events, stop }, {
      dataDir,
      adversaries: [keepEverything, loseEverything, worst, randomAdversary(4), randomAdversary(5)],
      ackedBefore: new Map([[LIST_A, ['a0']], [LIST_B, ['b0']]]),
      damageExpected: true,
    });
  });

  it('[PL9] one run through failures: a compaction failing after its rename, one failing after its directory fsync, a list log write failing with EIO after its bytes reached the page cache ([WF1]): nothing acknowledged is lost at any point', async () => {
    const { dataDir, model, events, stop } = recordedDataDir('not made');
    let failCompactionAt: { step: CompactionStep; listId: string } | undefined;
    const afterCompactionStep = (step: CompactionStep, listId: string): void => {
      if (failCompactionAt?.step !== step || failCompactionAt.listId !== listId) return;
      failCompactionAt = undefined;
      throw new Error(`failed after ${step} (test)`);
    };
    let failLogWriteOf: number | undefined;
    const writeLogBytes = async (fd: number, buffer: Buffer, offset: number, position: number): Promise<number> => {
      if (failLogWriteOf !== fd) return writeAt(fd, buffer, offset, position);
      failLogWriteOf = undefined;
      writeSync(fd, buffer, offset, buffer.length - offset, position);
      recorder.sink?.({ op: 'write', h: recorder.handleOfFd.get(fd) as number, offset: position, data: Buffer.from(buffer.subarray(offset)), unsynced: true } satisfies FsEvent);
      throw Object.assign(new Error('EIO (test)'), { code: 'EIO' });
    };
    const storage = new DiskListStorage({ dataDir, checkpointIntervalMs: 0, afterCompactionStep, writeLogBytes });
    const docs = new Map([LIST_A, LIST_B, LIST_C].map((listId) => [listId, new Y.Doc()]));
    const doc = (listId: string): Y.Doc => docs.get(listId) as Y.Doc;
    let step = 0;
    const all = async (): Promise<void> => {
      step += 1;
      await Promise.all([LIST_A, LIST_B, LIST_C].map((listId, i) => appendAcked(storage, events, listId, doc(listId), `${listId.at(-1)}${step}`, 100 + 37 * ((step + i) % 5))));
    };
    await all();
    await storage.checkpoint();
    await all();
    failCompactionAt = { step: 'renamed', listId: LIST_A };
    await expect(storage.compact(LIST_A, Y.encodeStateAsUpdate(doc(LIST_A)))).rejects.toThrow('(test)');
    await all();
    await storage.checkpoint();
    failCompactionAt = { step: 'directory-synced', listId: LIST_B };
    await expect(storage.compact(LIST_B, Y.encodeStateAsUpdate(doc(LIST_B)))).rejects.toThrow('(test)');
    await all();
    // C's log is open (its list is not loaded, so it is closed after each copy): fail its next write.
    const cLogFd = await new Promise<number>((resolve) => {
      const before = recorder.sink;
      recorder.sink = (event) => {
        before?.(event);
        const e = event as FsEvent;
        if (e.op === 'open' && e.path.endsWith(`${LIST_C}.log`)) {
          for (const [fd, h] of recorder.handleOfFd) if (h === e.h) failLogWriteOf = fd;
          recorder.sink = before;
          resolve(failLogWriteOf as number);
        }
      };
      void storage.checkpoint().catch(() => undefined);
    });
    expect(cLogFd).toBeGreaterThan(0);
    await storage.checkpoint().catch(() => undefined);
    await all();
    await storage.checkpoint();
    await storage.compact(LIST_A, Y.encodeStateAsUpdate(doc(LIST_A)));
    await all();
    await storage.close();
    expect(events.some((event) => event.op === 'write' && event.unsynced === true), 'the failed write happened').toBe(true);
    await expectNothingLost(model, { events, stop }, {
      dataDir,
      adversaries: [keepEverything, loseEverything, worst, ...[7, 8, 9, 10].map(randomAdversary)],
    });
  });

  it('[PL10] the check is not vacuous: it finds the losses of a storage that skips the fsync of DATA_DIR, or writes its journal without O_DSYNC', async () => {
    const broken: Array<{ what: string; options: Partial<ConstructorParameters<typeof DiskListStorage>[0]> }> = [
      { what: 'no fsync of DATA_DIR', options: { syncDataDir: async () => undefined } },
      {
        what: 'journal without O_DSYNC',
        options: { openSegment: (filePath: string) => recordedFs.open(filePath, 'wx') },
      },
    ];
    for (const { what, options } of broken) {
      const top = mkdtempSync(path.join(tmpdir(), 'basket-pl-broken-'));
      try {
        const dataDir = path.join(top, 'data');
        mkdirSync(dataDir);
        const model = new FsModel(top);
        const { events, stop } = startRecording();
        const storage = new DiskListStorage({ dataDir, checkpointIntervalMs: 0, ...options });
        const doc = new Y.Doc();
        await appendAcked(storage, events, LIST_A, doc, 'a0');
        await storage.checkpoint();
        await appendAcked(storage, events, LIST_A, doc, 'a1');
        await storage.close();
        stop();
        const findings = await powerLossFindings(model, events, { dataDir, adversaries: [loseEverything, worst] });
        expect(findings.length, what).toBeGreaterThan(0);
      } finally {
        rmSync(top, { recursive: true, force: true });
      }
    }
  });
});

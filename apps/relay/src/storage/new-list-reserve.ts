import { promises as fs } from 'node:fs';
import path from 'node:path';
import { monotonicNow } from '../clock.js';
import type { Logger } from '../log.js';
import { isNotFound } from './file-ops.js';

/**
 * Refused, for now, to store a list that has nothing stored yet: DATA_DIR's disk has less free
 * space than the reserve. Lists already stored go on being written into the reserve.
 */
export class NewListsPausedError extends Error {
  readonly code = 'BASKET_NEW_LISTS_PAUSED';
  constructor(freeBytes: number, reserveBytes: number) {
    super(`DATA_DIR has ${freeBytes} bytes free, under the ${reserveBytes} bytes kept for lists already stored: new lists wait`);
    this.name = 'NewListsPausedError';
  }
}

export function isNewListsPaused(error: unknown): error is NewListsPausedError {
  return error instanceof NewListsPausedError;
}

export interface NewListReserveOptions {
  readonly dataDir: string;
  /** Free bytes below which lists with nothing stored are not stored (0: never). */
  readonly reserveBytes: number;
  readonly logger: Logger;
  /** Test seam: free bytes for an unprivileged writer on the disk holding `directory`. */
  readonly freeBytes?: (directory: string) => Promise<number>;
  /** A reading is reused this long: new lists arrive in bursts after a restart, statfs is a syscall each. */
  readonly maxAgeMs?: number;
  readonly now?: () => number;
}

/**
 * The disk room kept for lists already stored. Many addresses together, each within its own
 * stored-bytes budget, can still fill the disk, and a full disk stops acknowledgements for every
 * list. New lists are what such a flood makes, while a family's growth is slow (bench/list-growth.mjs),
 * so below the reserve only new lists wait: the families already here keep being acknowledged,
 * and the operator has the reserve's worth of time to add room.
 */
export class NewListReserve {
  private readonly freeBytes: (directory: string) => Promise<number>;
  private readonly maxAgeMs: number;
  private readonly now: () => number;
  private reading: { readonly at: number; readonly free: Promise<number> } | undefined;
  private paused = false;

  constructor(private readonly options: NewListReserveOptions) {
    this.freeBytes = options.freeBytes ?? freeBytesOnDisk;
    this.maxAgeMs = options.maxAgeMs ?? 1_000;
    this.now = options.now ?? monotonicNow;
  }

  /** Resolves when a new list may be stored; rejects with NewListsPausedError when not. */
  async admitNewList(): Promise<void> {
    if (this.options.reserveBytes <= 0) return;
    const free = await this.currentFreeBytes();
    // A disk that cannot be measured is not a reason to refuse: the write itself will tell.
    if (free === undefined) return;
    const paused = free < this.options.reserveBytes;
    if (paused !== this.paused) {
      this.paused = paused;
      const fields = { freeBytes: free, reserveBytes: this.options.reserveBytes };
      if (paused) this.options.logger.warn('storage.new_lists_paused', fields);
      else this.options.logger.info('storage.new_lists_resumed', fields);
    }
    if (paused) throw new NewListsPausedError(free, this.options.reserveBytes);
  }

  private async currentFreeBytes(): Promise<number | undefined> {
    const at = this.now();
    if (this.reading === undefined || at - this.reading.at >= this.maxAgeMs) {
      this.reading = { at, free: this.freeBytes(this.options.dataDir) };
    }
    try {
      return await this.reading.free;
    } catch (error) {
      this.reading = undefined;
      this.options.logger.warn('storage.free_space_unknown', { error });
      return undefined;
    }
  }
}

/** Free bytes on the disk holding `directory`, or its nearest existing parent (DATA_DIR is made at the first write). */
export async function freeBytesOnDisk(directory: string): Promise<number> {
  for (let current = path.resolve(directory); ; current = path.dirname(current)) {
    try {
      const stats = await fs.statfs(current);
      return stats.bavail * stats.bsize;
    } catch (error) {
      if (!isNotFound(error) || path.dirname(current) === current) throw error;
    }
  }
}

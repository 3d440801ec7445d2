import { createHash } from 'node:crypto';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { errorCode, isNotFound, syncDirectory, writeFileSynced } from '../storage/file-ops.js';
import { BACKUP_MANIFEST } from './live-copy.js';

/**
 * What a backup held once its read-back was done: a restore checks the backup against it before
 * copying anything. The read-back cannot catch everything later damage does: a log cut at a
 * record's end, or a list's files gone, read as a shorter list, and a log cut mid-record as a tail
 * torn by a write in flight, which the storage cuts with a warning.
 */
export interface InventoryEntry {
  /** Relative to the backup, with `/` between folders (`quarantine/<file>`). */
  readonly name: string;
  readonly bytes: number;
  readonly sha256: string;
}

/** What the read-back of a backup counted, kept in its manifest for a person to compare. */
export interface InventoryCounts {
  readonly lists: number;
  readonly updates: number;
}

/** A backup compared with its inventory. */
export interface InventoryCheck {
  /** Files the inventory names that the backup lacks, holds cut short, or holds with other bytes: damage. */
  readonly missing: readonly string[];
  readonly shorter: readonly string[];
  readonly different: readonly string[];
  /**
   * Files in the backup the inventory does not name (put there since). Not damage: restored if
   * they are lists' files, they can only add to a list, and the read-back checks them like the rest.
   */
  readonly unlisted: readonly string[];
}

export type ManifestInventory =
  /** No manifest, or one without an inventory: a backup made before inventories, or never verified. */
  | { readonly kind: 'none' }
  | { readonly kind: 'inventory'; readonly entries: readonly InventoryEntry[] }
  /** A manifest that is not JSON, or an inventory that does not add up: the backup was changed. */
  | { readonly kind: 'unreadable'; readonly reason: string };

const READABLE_BY_ALL_FILE = 0o644;
const MANIFEST_TEMP = BACKUP_MANIFEST + '.tmp';

/**
 * Rewrites the manifest of the backup in `directory` with the inventory of its files, once its
 * read-back is done (the read-back changes files: it cuts torn tails and copies the journal into
 * logs). Atomic: the old manifest stays until the new one is synced and renamed over it.
 */
export async function recordInventory(directory: string, counts: InventoryCounts, signal?: AbortSignal): Promise<void> {
  const manifestPath = path.join(directory, BACKUP_MANIFEST);
  const manifest = JSON.parse(await fs.readFile(manifestPath, 'utf8')) as Record<string, unknown>;
  const inventory = await takeInventory(directory, signal);
  const text = JSON.stringify({ ...manifest, verified: { lists: counts.lists, updates: counts.updates }, inventory }, null, 2) + '\n';
  const temporary = path.join(directory, MANIFEST_TEMP);
  await writeFileSynced(temporary, new TextEncoder().encode(text), 'w', READABLE_BY_ALL_FILE);
  await fs.rename(temporary, manifestPath);
  await syncDirectory(directory);
}

/** Every file in the backup but its manifest, sorted by name. */
export async function takeInventory(directory: string, signal?: AbortSignal): Promise<InventoryEntry[]> {
  const entries: InventoryEntry[] = [];
  for (const name of await filesIn(directory)) {
    signal?.throwIfAborted();
    const bytes = await fs.readFile(path.join(directory, name));
    entries.push({ name, bytes: bytes.length, sha256: sha256(bytes) });
  }
  return entries;
}

/** The inventory in the manifest of the backup in `directory`. The manifest is read as untrusted: a backup may have been changed. */
export async function readInventory(directory: string): Promise<ManifestInventory> {
  let text;
  try {
    text = await fs.readFile(path.join(directory, BACKUP_MANIFEST), 'utf8');
  } catch (error) {
    if (isNotFound(error)) return { kind: 'none' };
    throw error;
  }
  let manifest: unknown;
  try {
    manifest = JSON.parse(text);
  } catch (error) {
    return { kind: 'unreadable', reason: `${BACKUP_MANIFEST} is not JSON (${String(error)})` };
  }
  if (typeof manifest !== 'object' || manifest === null) return { kind: 'unreadable', reason: `${BACKUP_MANIFEST} is not an object` };
  const inventory = (manifest as { inventory?: unknown }).inventory;
  if (inventory === undefined) return { kind: 'none' };
  if (!Array.isArray(inventory)) return { kind: 'unreadable', reason: `the inventory in ${BACKUP_MANIFEST} is not a list` };
  const entries: InventoryEntry[] = [];
  const names = new Set<string>();
  for (const entry of inventory as unknown[]) {
    if (!isInventoryEntry(entry) || names.has(entry.name)) {
      return { kind: 'unreadable', reason: `the inventory in ${BACKUP_MANIFEST} holds an entry that is not a file of the backup: ${JSON.stringify(entry)}` };
    }
    names.add(entry.name);
    entries.push({ name: entry.name, bytes: entry.bytes, sha256: entry.sha256 });
  }
  return { kind: 'inventory', entries };
}

/** Compares the backup in `directory` with its inventory, reading every file it names. */
export async function checkInventory(directory: string, entries: readonly InventoryEntry[], signal?: AbortSignal): Promise<InventoryCheck> {
  const missing: string[] = [];
  const shorter: string[] = [];
  const different: string[] = [];
  for (const entry of entries) {
    signal?.throwIfAborted();
    let bytes;
    try {
      bytes = await fs.readFile(path.join(directory, ...entry.name.split('/')));
    } catch (error) {
      // A folder where the file was is as good as gone.
      if (isNotFound(error) || errorCode(error) === 'EISDIR') {
        missing.push(entry.name);
        continue;
      }
      throw error;
    }
    if (bytes.length < entry.bytes) shorter.push(entry.name);
    else if (bytes.length !== entry.bytes || sha256(bytes) !== entry.sha256) different.push(entry.name);
  }
  const named = new Set(entries.map((entry) => entry.name));
  const unlisted = (await filesIn(directory)).filter((name) => !named.has(name));
  return { missing, shorter, different, unlisted };
}

export function inventoryDamaged(check: InventoryCheck): boolean {
  return check.missing.length > 0 || check.shorter.length > 0 || check.different.length > 0;
}

/** The regular files under `directory`, relative to it, sorted; the manifest and its temp file left out. */
async function filesIn(directory: string): Promise<string[]> {
  const files: string[] = [];
  const walk = async (relative: string): Promise<void> => {
    for (const entry of await fs.readdir(path.join(directory, relative), { withFileTypes: true })) {
      const name = relative === '' ? entry.name : `${relative}/${entry.name}`;
      if (entry.isDirectory()) await walk(name);
      else if (entry.isFile() && name !== BACKUP_MANIFEST && name !== MANIFEST_TEMP) files.push(name);
    }
  };
  await walk('');
  return files.sort();
}

function isInventoryEntry(entry: unknown): entry is InventoryEntry {
  if (typeof entry !== 'object' || entry === null) return false;
  const { name, bytes, sha256: hash } = entry as Record<string, unknown>;
  return (
    typeof name === 'string' &&
    // Only names inside the backup: a changed manifest must not make the restore read elsewhere.
    name.split('/').every((part) => part !== '' && part !== '.' && part !== '..' && !part.includes('\\') && !part.includes('\0')) &&
    typeof bytes === 'number' &&
    Number.isSafeInteger(bytes) &&
    bytes >= 0 &&
    typeof hash === 'string' &&
    /^[0-9a-f]{64}$/.test(hash)
  );
}

function sha256(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}

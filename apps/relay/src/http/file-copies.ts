import { webcrypto } from 'node:crypto';
import { promisify } from 'node:util';
import { brotliCompress, constants as zlibConstants, gzip } from 'node:zlib';

export type ContentEncoding = 'br' | 'gzip';
/** How a copy is kept: compressed, or as the file is. */
export type CopyEncoding = ContentEncoding | 'identity';

const brotli = promisify(brotliCompress);
const gzipAsync = promisify(gzip);

/** Text the browser downloads on a phone's first visit (the app's script is about 400 kB, 130 kB gzipped). */
const COMPRESSIBLE = new Set(['.html', '.js', '.mjs', '.css', '.json', '.webmanifest', '.svg', '.txt', '.map']);
/** Below this, the headers weigh about as much as what compression would save. */
const MIN_BYTES = 1024;
/** The built app is well under this; a bound in case the static directory holds more. */
const MAX_CACHED_BYTES = 32 * 1024 * 1024;
/** Digests are a few dozen bytes each; a bound on the versions remembered across many deploys. */
const MAX_DIGESTS = 4096;

/**
 * The encoding to answer with: brotli where the browser takes it (all current ones over HTTPS),
 * else gzip. "gzip;q=0" refuses gzip, and "*" stands only for codings not named (RFC 9110 12.5.3).
 */
export function preferredEncoding(acceptEncoding: string | undefined): ContentEncoding | undefined {
  if (acceptEncoding === undefined) return undefined;
  const accepted = new Set<string>();
  const refused = new Set<string>();
  for (const part of acceptEncoding.split(',')) {
    const [coding = '', ...parameters] = part.trim().toLowerCase().split(';');
    const isRefused = parameters.some((parameter) => /^\s*q\s*=\s*0(\.0*)?\s*$/.test(parameter));
    (isRefused ? refused : accepted).add(coding.trim());
  }
  if (accepted.has('br')) return 'br';
  // "*" gets gzip, not brotli: the one every client that says "anything" can decode.
  if (accepted.has('gzip') || (accepted.has('*') && !refused.has('gzip'))) return 'gzip';
  return undefined;
}

export function isCompressible(extension: string, size: number): boolean {
  return size >= MIN_BYTES && COMPRESSIBLE.has(extension);
}

/**
 * Copies of the static files, compressed or as they are, made once per file and kept in memory:
 * the app's files are few and change only with a deploy. Compressing the script on every request
 * would cost tens of milliseconds of the event loop that carries every sync message, and a file
 * streamed from disk holds a descriptor until the client has read it all: sockets that ask for the
 * script and never read took the descriptors list loads need (EMFILE, [W14]).
 *
 * A copy is kept under the identity of the file it was read from (device, inode, size, modification
 * and change times; see StaticFiles), never under its name: after a deploy by a rename or by
 * swapping a link to the static directory, the name stays and the file is another one. Size and
 * modification time alone are not enough either: reproducible builds give every file one fixed
 * time, and a page or service worker of the same length, so the old copy was served on ([ST1]).
 */
export class FileCopies {
  private readonly cache = new Map<string, Promise<Buffer>>();
  /** The sizes of the copies made so far (not of those still being compressed). */
  private readonly sizes = new Map<string, number>();
  private cachedBytes = 0;
  /** A digest of each file's contents by its identity, kept apart from the copies so a revalidation reads nothing. */
  private readonly digests = new Map<string, Promise<string>>();

  /**
   * A digest of the contents of the file `identity` names, read with `read` the first time: it
   * changes with the contents and only with them, so it is the same after a restart or on another
   * machine serving the same build.
   */
  digest(identity: string, read: () => Promise<Buffer>): Promise<string> {
    const known = this.digests.get(identity);
    if (known !== undefined) return known;
    const made = this.get(identity, 'identity', read).then(contentDigest);
    this.digests.set(identity, made);
    made.catch(() => {
      if (this.digests.get(identity) === made) this.digests.delete(identity);
    });
    // Oldest first (a Map keeps insertion order): those of replaced files go before current ones.
    for (const oldest of this.digests.keys()) {
      if (this.digests.size <= MAX_DIGESTS) break;
      this.digests.delete(oldest);
    }
    return made;
  }

  /** The file `identity` names in `encoding`, read with `read` (the whole file) unless a copy of it is kept. */
  get(identity: string, encoding: CopyEncoding, read: () => Promise<Buffer>): Promise<Buffer> {
    const key = `${encoding}:${identity}`;
    const cached = this.cache.get(key);
    if (cached !== undefined) return cached;
    const original = encoding === 'identity' ? read() : (this.cache.get(`identity:${identity}`) ?? read());
    const made = original.then((contents) => compress(contents, encoding));
    this.cache.set(key, made);
    made.then(
      (copy) => {
        if (this.cache.get(key) !== made) return;
        this.sizes.set(key, copy.length);
        this.cachedBytes += copy.length;
        this.evictBeyondBound(key);
      },
      // A file that could not be read is tried again next time.
      () => {
        if (this.cache.get(key) === made) this.cache.delete(key);
      },
    );
    return made;
  }

  /** Oldest first (a Map keeps insertion order): copies of replaced files go before current ones. */
  private evictBeyondBound(keep: string): void {
    for (const key of this.cache.keys()) {
      if (this.cachedBytes <= MAX_CACHED_BYTES) return;
      const size = this.sizes.get(key);
      if (key === keep || size === undefined) continue;
      this.cache.delete(key);
      this.sizes.delete(key);
      this.cachedBytes -= size;
    }
  }
}

/** SHA-256, cut to 128 bits, in base64url: 22 characters. On libuv's threads, not the event loop. */
async function contentDigest(contents: Buffer): Promise<string> {
  const digest = await webcrypto.subtle.digest('SHA-256', contents);
  return Buffer.from(digest, 0, 16).toString('base64url');
}

function compress(contents: Buffer, encoding: CopyEncoding): Promise<Buffer> {
  if (encoding === 'identity') return Promise.resolve(contents);
  if (encoding === 'gzip') return gzipAsync(contents, { level: 9 });
  // Quality 9 of 11: within a few percent of the best for a fraction of its time (once per file).
  return brotli(contents, {
    params: {
      [zlibConstants.BROTLI_PARAM_QUALITY]: 9,
      [zlibConstants.BROTLI_PARAM_SIZE_HINT]: contents.length,
    },
  });
}

import { promises as fs } from 'node:fs';
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
 * Copies of the static files, compressed or as they are, made once per file version and kept in
 * memory: the app's files are few and change only with a deploy. Compressing the script on every
 * request would cost tens of milliseconds of the event loop that carries every sync message, and
 * a file streamed from disk holds a descriptor until the client has read it all: sockets that ask
 * for the script and never read took the descriptors list loads need (EMFILE, [W14]).
 */
export class FileCopies {
  private readonly cache = new Map<string, Promise<Buffer>>();
  /** The sizes of the copies made so far (not of those still being compressed). */
  private readonly sizes = new Map<string, number>();
  private cachedBytes = 0;

  /** `version` names the file's contents (size and modification time): a rebuilt file is compressed again. */
  get(filePath: string, version: string, encoding: CopyEncoding): Promise<Buffer> {
    const key = `${encoding}:${version}:${filePath}`;
    const cached = this.cache.get(key);
    if (cached !== undefined) return cached;
    const made = fs.readFile(filePath).then((contents) => compress(contents, encoding));
    this.cache.set(key, made);
    made.then(
      (compressed) => {
        if (this.cache.get(key) !== made) return;
        this.sizes.set(key, compressed.length);
        this.cachedBytes += compressed.length;
        this.evictBeyondBound(key);
      },
      // A file that could not be read is tried again next time.
      () => {
        if (this.cache.get(key) === made) this.cache.delete(key);
      },
    );
    return made;
  }

  /** Oldest first (a Map keeps insertion order): older versions of rebuilt files go before current ones. */
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

import { createHash } from 'node:crypto';
import type { BigIntStats } from 'node:fs';
import { constants as fsConstants, promises as fs } from 'node:fs';
import type { FileHandle } from 'node:fs/promises';
import type { IncomingMessage, ServerResponse } from 'node:http';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import type { ContentEncoding } from './file-copies.js';
import { FileCopies, isCompressible, preferredEncoding } from './file-copies.js';

const CONTENT_TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json; charset=utf-8',
  '.webmanifest': 'application/manifest+json; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.jpg': 'image/jpeg',
  '.jpeg': 'image/jpeg',
  '.gif': 'image/gif',
  '.avif': 'image/avif',
  '.ico': 'image/x-icon',
  '.webp': 'image/webp',
  '.woff2': 'font/woff2',
  '.woff': 'font/woff',
  // WebAssembly.instantiateStreaming refuses any other type (sent with nosniff, so it is not guessed).
  '.wasm': 'application/wasm',
  '.txt': 'text/plain; charset=utf-8',
  '.map': 'application/json; charset=utf-8',
};

/**
 * Files up to this size are sent from memory (FileCopies); the app's largest, its script, is about
 * 400 kB. A larger one is streamed from disk, holding a descriptor until the client has read it.
 */
const MAX_FILE_IN_MEMORY_BYTES = 4 * 1024 * 1024;
/**
 * Files streamed at once, the descriptors they hold part of the relay's reserve (file-limit.ts):
 * more clients asking for large files get 503 and try again.
 */
export const MAX_FILES_STREAMED = 16;

const IMMUTABLE = 'public, max-age=31536000, immutable';
const REVALIDATE = 'no-cache';

/**
 * Files a browser must re-check on every load: the page and the service worker decide which
 * hashed assets are current, so a stale copy of them would pin an old app forever.
 */
function cacheControlFor(relativePath: string): string {
  const base = path.posix.basename(relativePath);
  if (relativePath.startsWith('assets/')) return IMMUTABLE;
  if (
    base === 'index.html' ||
    base === 'sw.js' ||
    base === 'registerSW.js' ||
    /^workbox-.*\.js$/.test(base) ||
    base.endsWith('.webmanifest') ||
    base === 'manifest.json'
  ) {
    return REVALIDATE;
  }
  return 'public, max-age=3600';
}

export class StaticFiles {
  private readonly root: string;
  private readonly copies = new FileCopies();
  private filesStreamed = 0;

  /** `maxInMemoryBytes`: a test seam (loopback's socket buffers take a few MB whole). */
  constructor(
    root: string,
    private readonly maxInMemoryBytes = MAX_FILE_IN_MEMORY_BYTES,
  ) {
    this.root = path.resolve(root);
  }

  async isAvailable(): Promise<boolean> {
    try {
      await fs.access(path.join(this.root, 'index.html'));
      return true;
    } catch {
      return false;
    }
  }

  /** Serves GET/HEAD for the web app; returns false when nothing matched (caller sends 404). */
  async serve(request: IncomingMessage, response: ServerResponse, pathname: string): Promise<boolean> {
    let decoded: string;
    try {
      decoded = decodeURIComponent(pathname);
    } catch {
      return false;
    }
    if (decoded.includes('\0')) return false;
    const relative = path.posix.normalize(decoded).replace(/^\/+/, '');
    if (isHidden(relative)) return false;
    const candidate = path.resolve(this.root, relative === '' ? 'index.html' : relative);
    if (candidate !== this.root && !candidate.startsWith(this.root + path.sep)) return false;
    // A file named as a directory (/sw.js/) is not that file: served there, relative URLs in it
    // resolve one level down, and a service worker registered there gets another scope.
    if (!relative.endsWith('/') && (await this.sendFile(request, response, candidate))) return true;
    // SPA fallback: a navigation path like /l/<listId> has no file; the app routes it. A share
    // link is always the app's, even one that ends in '.' when pasted from a sentence or starts
    // /L/: the app repairs or explains both (LIST_LINK_LIKE in the web app's routing.ts), where a
    // 404 would leave a fresh phone with nothing ([ST2]).
    const isShareLink = /^l(\/|$)/i.test(relative);
    const isAssets = relative === 'assets' || relative.startsWith('assets/');
    if ((path.posix.extname(relative) === '' || isShareLink) && !isAssets) {
      return this.sendFile(request, response, path.join(this.root, 'index.html'));
    }
    return false;
  }

  /**
   * Opens `filePath` if it is a file in the static directory once its symbolic links are followed
   * (the directory itself followed too: it may be a link). The path was checked as text; a link in
   * the directory could still point anywhere on the machine. The directory is followed at every
   * request, not once: a deploy may swap a link to it for the new build. Everything sent for the
   * request (length, validators, bytes) comes from the one file opened here: read by name after a
   * stat, a file replaced by a rename in between went out with the old length and the new bytes
   * ([ST3]).
   */
  private async open(filePath: string): Promise<{ handle: FileHandle; stat: BigIntStats } | undefined> {
    let handle: FileHandle | undefined;
    try {
      const [root, real] = await Promise.all([fs.realpath(this.root), fs.realpath(filePath)]);
      if (real !== root && !real.startsWith(root + path.sep)) return undefined;
      // O_NONBLOCK: a named pipe in the directory would otherwise hold a thread until a writer came.
      handle = await fs.open(real, fsConstants.O_RDONLY | fsConstants.O_NONBLOCK);
      const stat = await handle.stat({ bigint: true });
      if (stat.isFile()) return { handle, stat };
    } catch {
      // Missing, unreadable, or gone meanwhile: not served.
    }
    await handle?.close().catch(() => undefined);
    return undefined;
  }

  private async sendFile(request: IncomingMessage, response: ServerResponse, filePath: string): Promise<boolean> {
    const opened = await this.open(filePath);
    if (opened === undefined) return false;
    const { handle, stat } = opened;
    let handedToStream = false;
    try {
      const size = Number(stat.size);
      const relative = path.relative(this.root, filePath).split(path.sep).join('/');
      const extension = path.extname(filePath).toLowerCase();
      const compressible = isCompressible(extension, size);
      const encoding = compressible ? preferredEncoding(request.headers['accept-encoding']) : undefined;
      const inMemory = size <= this.maxInMemoryBytes;
      // The file, not its name: a rename or a swapped link gives another (see FileCopies).
      const identity = `${stat.dev}:${stat.ino}:${stat.size}:${stat.mtimeNs}:${stat.ctimeNs}`;
      const read = (): Promise<Buffer> => readWhole(handle, size);
      let version: string;
      try {
        // A file kept in memory is read whole anyway, so its validator is a digest of its contents:
        // one build gives one ETag, after a restart too, and another build another, whatever the
        // sizes and times (reproducible builds fix every time, [ST1]). A larger file is named by its
        // identity instead, which changes whenever it is written or replaced, without reading it all
        // before the first byte is sent; a fresh copy of the same build costs a download.
        version = inMemory ? await this.copies.digest(identity, read) : identityDigest(identity);
      } catch {
        // Shorter than its size: written in place while read. The next try reads the new file.
        busy(response, 'File changing: try again\n');
        return true;
      }
      const headersFor = (served: ContentEncoding | undefined): Record<string, string> => ({
        'Content-Type': CONTENT_TYPES[extension] ?? 'application/octet-stream',
        'Cache-Control': cacheControlFor(relative),
        // index.html and the service worker are checked on every start ("no-cache"): unchanged,
        // the answer is a 304 of a few bytes instead of the file again.
        ETag: `"${version}${served === undefined ? '' : `-${served}`}"`,
        'Last-Modified': stat.mtime.toUTCString(),
        'X-Content-Type-Options': 'nosniff',
        ...(compressible ? { Vary: 'Accept-Encoding' } : {}),
      });
      const preferred = headersFor(encoding);
      if (isUnchangedFor(request, preferred['ETag'] ?? '', Number(stat.mtimeMs))) {
        response.writeHead(304, preferred);
        response.end();
        return true;
      }
      // Sent from memory: compressed where the browser takes it, else as it is unless too large.
      const copyEncoding = encoding ?? (inMemory ? 'identity' : undefined);
      // A copy that cannot be made (written in place meanwhile) is no reason not to stream the file.
      const copy = copyEncoding === undefined ? undefined : await this.copies.get(identity, copyEncoding, read).catch(() => undefined);
      if (copy !== undefined) {
        const encodingHeader = encoding === undefined ? {} : { 'Content-Encoding': encoding };
        response.writeHead(200, { ...preferred, ...encodingHeader, 'Content-Length': String(copy.length) });
        response.end(request.method === 'HEAD' ? undefined : copy);
        return true;
      }
      const headers = { ...headersFor(undefined), 'Content-Length': String(size) };
      if (request.method === 'HEAD') {
        response.writeHead(200, headers).end();
        return true;
      }
      if (this.filesStreamed >= MAX_FILES_STREAMED) {
        busy(response, 'Busy: try again\n');
        return true;
      }
      handedToStream = true;
      await this.stream(response, handle, size, headers);
      return true;
    } finally {
      if (!handedToStream) await handle.close().catch(() => undefined);
    }
  }

  /** Sends a file too large to keep in memory from its open handle, which it closes, within MAX_FILES_STREAMED. */
  private async stream(response: ServerResponse, handle: FileHandle, size: number, headers: Record<string, string>): Promise<void> {
    this.filesStreamed += 1;
    try {
      response.writeHead(200, headers);
      // pipeline, not pipe: a client gone halfway leaves a piped file stream paused and open for
      // good, one descriptor per abandoned download, until the relay cannot open its journal.
      // `end`: no more than the Content-Length sent, should the file grow in place meanwhile.
      await pipeline(handle.createReadStream({ start: 0, end: size - 1 }), response).catch(() => response.destroy());
    } finally {
      this.filesStreamed -= 1;
    }
  }
}

function busy(response: ServerResponse, message: string): void {
  response.writeHead(503, { 'Content-Type': 'text/plain; charset=utf-8', 'Retry-After': '1', 'Cache-Control': 'no-store' }).end(message);
}

/**
 * Hidden files (`.env`, `.git/`, an editor's `.swp`) are never the app's, whatever a build or a
 * deploy leaves in the directory; `/.well-known/` is the one hidden path meant to be served ([ST4]).
 */
function isHidden(relative: string): boolean {
  return relative.split('/').some((segment, index) => segment.startsWith('.') && !(index === 0 && segment === '.well-known'));
}

/** The whole file, `size` bytes from its start, read through `handle` whatever its position. */
async function readWhole(handle: FileHandle, size: number): Promise<Buffer> {
  const contents = Buffer.allocUnsafe(size);
  let filled = 0;
  while (filled < size) {
    const { bytesRead } = await handle.read(contents, filled, size - filled, filled);
    if (bytesRead === 0) throw new Error('file shorter than its size: written in place while read');
    filled += bytesRead;
  }
  return contents;
}

/** A validator of a file by its identity: 128 bits of SHA-256 in base64url, as for a digest of the contents. */
function identityDigest(identity: string): string {
  return createHash('sha256').update(identity).digest().subarray(0, 16).toString('base64url');
}

/**
 * Whether the browser's copy is current (RFC 9110 13.2.2): If-None-Match when it is sent, else
 * If-Modified-Since (what a client that kept only Last-Modified sends). Last-Modified is in whole
 * seconds, so the file's time is too.
 */
function isUnchangedFor(request: IncomingMessage, etag: string, mtimeMs: number): boolean {
  const ifNoneMatch = request.headers['if-none-match'];
  if (ifNoneMatch !== undefined) return etagMatches(ifNoneMatch, etag);
  const ifModifiedSince = request.headers['if-modified-since'];
  if (ifModifiedSince === undefined) return false;
  // Not a date (or a list of them), or one still to come: ignored, as the RFC asks, and the file sent.
  const since = Date.parse(ifModifiedSince);
  if (Number.isNaN(since) || since > Date.now()) return false;
  return Math.floor(mtimeMs / 1000) * 1000 <= since;
}

/** If-None-Match holds the ETag (or `*`); weak validators compare equal to strong ones for a GET. */
function etagMatches(ifNoneMatch: string, etag: string): boolean {
  return ifNoneMatch
    .split(',')
    .map((candidate) => candidate.trim().replace(/^W\//, ''))
    .some((candidate) => candidate === '*' || candidate === etag);
}

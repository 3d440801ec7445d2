import { createReadStream, promises as fs } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import path from 'node:path';

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
  '.ico': 'image/x-icon',
  '.webp': 'image/webp',
  '.woff2': 'font/woff2',
  '.txt': 'text/plain; charset=utf-8',
  '.map': 'application/json; charset=utf-8',
};

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

  constructor(root: string) {
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
    const candidate = path.resolve(this.root, relative === '' ? 'index.html' : relative);
    if (candidate !== this.root && !candidate.startsWith(this.root + path.sep)) return false;
    if (await this.sendFile(request, response, candidate)) return true;
    // SPA fallback: a navigation path like /l/<listId> has no file; the app routes it. A share
    // link is always the app's, even one that ends in '.' when pasted from a sentence: the app
    // repairs or explains it, where a 404 would leave a fresh phone with nothing.
    const isShareLink = relative.startsWith('l/');
    if ((path.posix.extname(relative) === '' || isShareLink) && !relative.startsWith('assets/')) {
      return this.sendFile(request, response, path.join(this.root, 'index.html'));
    }
    return false;
  }

  private async sendFile(request: IncomingMessage, response: ServerResponse, filePath: string): Promise<boolean> {
    let stat;
    try {
      stat = await fs.stat(filePath);
    } catch {
      return false;
    }
    if (!stat.isFile()) return false;
    const relative = path.relative(this.root, filePath).split(path.sep).join('/');
    response.writeHead(200, {
      'Content-Type': CONTENT_TYPES[path.extname(filePath).toLowerCase()] ?? 'application/octet-stream',
      'Content-Length': stat.size,
      'Cache-Control': cacheControlFor(relative),
      'X-Content-Type-Options': 'nosniff',
    });
    if (request.method === 'HEAD') {
      response.end();
      return true;
    }
    await new Promise<void>((resolve) => {
      const stream = createReadStream(filePath);
      stream.on('error', () => {
        response.destroy();
        resolve();
      });
      stream.on('end', () => resolve());
      stream.pipe(response);
    });
    return true;
  }
}

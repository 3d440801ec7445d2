import { readlinkSync, renameSync, promises as fsPromises } from 'node:fs';
import { cp, mkdir, open, rename, symlink, utimes, writeFile } from 'node:fs/promises';
import { request as httpRequest } from 'node:http';
import path from 'node:path';
import { brotliDecompressSync } from 'node:zlib';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { RunningRelay } from './helpers.js';
import { startRelay, temporaryDirectory } from './helpers.js';

/** The time reproducible builds give every file (Cloud Native Buildpacks; Nix and Bazel use others as fixed). */
const FIXED_TIME = new Date('1980-01-01T00:00:01Z');

interface Answer {
  readonly status: number;
  readonly headers: Record<string, string | string[] | undefined>;
  readonly body: Buffer;
}

/** A GET with exactly these headers (fetch adds its own Accept-Encoding and decompresses). */
function rawGet(port: number, pathname: string, headers: Record<string, string> = {}): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const request = httpRequest({ host: '127.0.0.1', port, path: pathname, headers, agent: false }, (response) => {
      const chunks: Buffer[] = [];
      response.on('data', (chunk: Buffer) => chunks.push(chunk));
      response.on('end', () => resolve({ status: response.statusCode ?? 0, headers: response.headers, body: Buffer.concat(chunks) }));
      response.on('error', reject);
    });
    request.on('error', reject);
    request.end();
  });
}

/** Writes `contents` to `file` as a deploy does (a new file renamed over the old), with the build's fixed time. */
async function deploy(file: string, contents: string | Buffer): Promise<void> {
  await writeFile(`${file}.new`, contents);
  await utimes(`${file}.new`, FIXED_TIME, FIXED_TIME);
  await rename(`${file}.new`, file);
}

/**
 * Two builds as a reproducible pipeline makes them: the page and the service worker name hashed
 * assets of a fixed length, so each build's are as long as the other's, and every time is fixed.
 */
function build(version: 'v1' | 'v2'): { index: string; sw: string } {
  const hash = version === 'v1' ? 'CaeTGPDr' : 'V2V2V2V2';
  const precache = Array.from({ length: 40 }, (_, i) => `{url:"assets/chunk-${i}-${hash}.js",revision:null}`).join(',');
  return {
    index: `<!doctype html><title>Basket</title><script type="module" src="/assets/index-${hash}.js"></script>`,
    sw: `self.addEventListener("install",()=>self.skipWaiting());precacheAndRoute([${precache}]);`,
  };
}

describe('[ST] static files: validators and copies follow the file, share links, hidden files', () => {
  let running: RunningRelay | undefined;
  let base: string;
  const cleanups: Array<() => unknown> = [];

  beforeEach(async () => {
    const made = await temporaryDirectory('basket-static-files-');
    base = made.dir;
    cleanups.push(made.remove);
  });
  afterEach(async () => {
    vi.restoreAllMocks();
    if (running !== undefined) await running.close();
    running = undefined;
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  });

  async function writeBuild(dir: string, version: 'v1' | 'v2'): Promise<void> {
    await mkdir(path.join(dir, 'assets'), { recursive: true });
    const files = build(version);
    await deploy(path.join(dir, 'index.html'), files.index);
    await deploy(path.join(dir, 'sw.js'), files.sw);
  }

  it('[ST1] after a restart on a new build of the same lengths and times, the old ETag of sw.js or index.html gets the new file, not a 304', async () => {
    const v1 = build('v1');
    const v2 = build('v2');
    expect(v2.sw.length).toBe(v1.sw.length);
    expect(v2.index.length).toBe(v1.index.length);
    const dir = path.join(base, 'static');
    await writeBuild(dir, 'v1');
    running = await startRelay({ staticDir: dir });
    const old: Record<string, string> = {};
    for (const [name, encoding] of [['/sw.js', 'br'], ['/sw.js', ''], ['/', ''], ['/sw.js', 'gzip']] as const) {
      old[`${name} ${encoding}`] = String((await rawGet(running.port, name, encoding === '' ? {} : { 'Accept-Encoding': encoding })).headers['etag']);
    }
    // Each encoding keeps an ETag of its own: a cache must not answer a gzip request with brotli.
    expect(new Set([old['/sw.js br'], old['/sw.js '], old['/sw.js gzip']]).size).toBe(3);
    await running.close();

    await writeBuild(dir, 'v2');
    running = await startRelay({ staticDir: dir });
    const updateCheck = await rawGet(running.port, '/sw.js', { 'Accept-Encoding': 'gzip, deflate, br', 'If-None-Match': old['/sw.js br'] ?? '' });
    expect(updateCheck.status).toBe(200);
    expect(brotliDecompressSync(updateCheck.body).toString()).toBe(v2.sw);
    const plain = await rawGet(running.port, '/sw.js', { 'If-None-Match': old['/sw.js '] ?? '' });
    expect(plain.status).toBe(200);
    expect(plain.body.toString()).toBe(v2.sw);
    const page = await rawGet(running.port, '/', { 'If-None-Match': old['/ '] ?? '' });
    expect(page.status).toBe(200);
    expect(page.body.toString()).toBe(v2.index);
    // The new file's own ETag still gives a 304.
    expect((await rawGet(running.port, '/sw.js', { 'If-None-Match': String(plain.headers['etag']) })).status).toBe(304);
  });

  it('[ST1] the ETag names the contents: the same build on a fresh copy (another relay, a redeployed container) gives the same ETag and a 304', async () => {
    const first = path.join(base, 'first');
    await writeBuild(first, 'v1');
    running = await startRelay({ staticDir: first });
    const etag = String((await rawGet(running.port, '/sw.js', { 'Accept-Encoding': 'br' })).headers['etag']);
    await running.close();
    const copy = path.join(base, 'copy');
    await cp(first, copy, { recursive: true });
    // Other times, other inodes, the same bytes.
    running = await startRelay({ staticDir: copy });
    const again = await rawGet(running.port, '/sw.js', { 'Accept-Encoding': 'br', 'If-None-Match': etag });
    expect(again.status).toBe(304);
    expect(again.headers['etag']).toBe(etag);
  });

  it('[ST1] a deploy by swapping the link to STATIC_DIR, relay running: the new page and service worker are served at once, not the old ones from memory', async () => {
    await writeBuild(path.join(base, 'v1'), 'v1');
    await writeBuild(path.join(base, 'v2'), 'v2');
    const current = path.join(base, 'current');
    await symlink('v1', current);
    running = await startRelay({ staticDir: current });
    const port = running.port;
    const before = await rawGet(port, '/');
    expect(before.body.toString()).toContain('index-CaeTGPDr.js');
    const workerBefore = await rawGet(port, '/sw.js', { 'Accept-Encoding': 'br' });
    expect(brotliDecompressSync(workerBefore.body).toString()).toBe(build('v1').sw);
    // As deploy tools swap it: a new link renamed over the old one.
    await symlink('v2', `${current}.new`);
    await rename(`${current}.new`, current);
    const page = await rawGet(port, '/');
    expect(page.body.toString()).toBe(build('v2').index);
    expect((await rawGet(port, '/l/someListIdentifier01')).body.toString()).toBe(build('v2').index);
    const worker = await rawGet(port, '/sw.js', { 'Accept-Encoding': 'br', 'If-None-Match': String(workerBefore.headers['etag']) });
    expect(worker.status).toBe(200);
    expect(brotliDecompressSync(worker.body).toString()).toBe(build('v2').sw);
    expect(page.headers['etag']).not.toBe(before.headers['etag']);
  });

  it('[ST1] a file too large to keep in memory, replaced by one of the same size and time, gets a new ETag (no 304 for the old one)', async () => {
    const dir = path.join(base, 'static');
    await writeBuild(dir, 'v1');
    const large = path.join(dir, 'assets', 'model-abc123.bin');
    await deploy(large, Buffer.alloc(256 * 1024, 1));
    running = await startRelay({ staticDir: dir, staticInMemoryBytes: 64 * 1024 });
    const first = await rawGet(running.port, '/assets/model-abc123.bin');
    expect(first.status).toBe(200);
    const etag = String(first.headers['etag']);
    expect((await rawGet(running.port, '/assets/model-abc123.bin', { 'If-None-Match': etag })).status).toBe(304);
    await deploy(large, Buffer.alloc(256 * 1024, 2));
    const replaced = await rawGet(running.port, '/assets/model-abc123.bin', { 'If-None-Match': etag });
    expect(replaced.status).toBe(200);
    expect(replaced.body.equals(Buffer.alloc(256 * 1024, 2))).toBe(true);
    expect(replaced.headers['etag']).not.toBe(etag);
  });

  it('[ST2] a share link written /L/ with punctuation after it (pasted from a sentence) is the app on a phone that never opened it, not a 404', async () => {
    const dir = path.join(base, 'static');
    await writeBuild(dir, 'v1');
    running = await startRelay({ staticDir: dir });
    for (const link of ['/L/Qx3vR8kLm2Np5TzW7yBc1d.', '/L/Qx3vR8kLm2Np5TzW7yBc1d).', '/L/Qx3vR8kLm2Np5TzW7yBc1d', '/l/Qx3vR8kLm2Np5TzW7yBc1d.', '/L/', '/L']) {
      const answer = await rawGet(running.port, link);
      expect(answer.status, link).toBe(200);
      expect(answer.body.toString(), link).toBe(build('v1').index);
    }
    // Not every path that starts with an l is a share link.
    expect((await rawGet(running.port, '/logo.png')).status).toBe(404);
    expect((await rawGet(running.port, '/Lists.txt')).status).toBe(404);
  });

  /**
   * Replaces `file` with `replacement` (by a rename) right after the relay learns its size, which
   * it does with fs.promises.stat by name or with stat on an open handle: the narrowest window of a
   * deploy landing mid-request, made certain.
   */
  async function replaceRightAfterSizeIsRead(file: string, replacement: string): Promise<void> {
    let done = false;
    const replaceOnce = (): void => {
      if (done) return;
      done = true;
      renameSync(replacement, file);
    };
    const stat = fsPromises.stat.bind(fsPromises);
    vi.spyOn(fsPromises, 'stat').mockImplementation((async (target: string, options?: unknown) => {
      const result = await stat(target, options as undefined);
      if (path.resolve(String(target)) === file) replaceOnce();
      return result;
    }) as typeof fsPromises.stat);
    const probe = await open(replacement, 'r');
    const handlePrototype = Object.getPrototypeOf(probe) as { stat: (...args: unknown[]) => Promise<unknown> };
    await probe.close();
    const handleStat = handlePrototype.stat;
    vi.spyOn(handlePrototype, 'stat').mockImplementation(async function (this: { fd: number }, ...args: unknown[]) {
      const result = await handleStat.apply(this, args);
      let opened = '';
      try {
        opened = readlinkSync(`/proc/self/fd/${this.fd}`);
      } catch {
        // Closed meanwhile.
      }
      if (opened === file) replaceOnce();
      return result;
    });
  }

  it('[ST3] a file streamed from disk, replaced by a rename as its request is answered, goes out whole, with its own length and ETag', async () => {
    const dir = path.join(base, 'static');
    await writeBuild(dir, 'v1');
    const file = path.join(dir, 'assets', 'data-abc123.bin');
    const before = Buffer.alloc(300 * 1024, 0x61);
    const after = Buffer.alloc(400 * 1024, 0x62);
    await writeFile(file, before);
    await writeFile(`${file}.next`, after);
    running = await startRelay({ staticDir: dir, staticInMemoryBytes: 64 * 1024 });
    const etagBefore = String((await rawGet(running.port, '/assets/data-abc123.bin')).headers['etag']);
    await replaceRightAfterSizeIsRead(file, `${file}.next`);
    const raced = await rawGet(running.port, '/assets/data-abc123.bin');
    vi.restoreAllMocks();
    expect(raced.status).toBe(200);
    expect(raced.body.length).toBe(Number(raced.headers['content-length']));
    expect(raced.body.equals(before) || raced.body.equals(after)).toBe(true);
    const current = await rawGet(running.port, '/assets/data-abc123.bin');
    expect(current.body.equals(after)).toBe(true);
    expect(raced.headers['etag']).toBe(raced.body.equals(before) ? etagBefore : current.headers['etag']);
  });

  it('[ST3] a file sent from memory, replaced by a rename as its request is answered, goes out with the ETag of the bytes sent', async () => {
    const dir = path.join(base, 'static');
    await writeBuild(dir, 'v1');
    const file = path.join(dir, 'sw.js');
    await writeFile(`${file}.next`, `${build('v2').sw}/* a longer build */`);
    running = await startRelay({ staticDir: dir });
    await replaceRightAfterSizeIsRead(file, `${file}.next`);
    const raced = await rawGet(running.port, '/sw.js');
    vi.restoreAllMocks();
    expect(raced.status).toBe(200);
    const current = await rawGet(running.port, '/sw.js');
    expect(current.body.toString()).toContain('a longer build');
    if (raced.body.equals(current.body)) expect(raced.headers['etag']).toBe(current.headers['etag']);
    else expect(raced.body.toString()).toBe(build('v1').sw);
    // And what was sent under the old file's ETag is the old file (no new bytes kept under it).
    expect((await rawGet(running.port, '/sw.js', { 'If-None-Match': String(raced.headers['etag']) })).status).toBe(raced.body.equals(current.body) ? 304 : 200);
  });

  it('[ST4] hidden files in the static directory (.env, .git/) are never served, nor is the app in their place; /.well-known/ is', async () => {
    const dir = path.join(base, 'static');
    await writeBuild(dir, 'v1');
    await writeFile(path.join(dir, '.env'), 'API_TOKEN=s3cret\n');
    await mkdir(path.join(dir, '.git'));
    await writeFile(path.join(dir, '.git', 'config'), '[remote "origin"]\n\turl = https://deploy:TOKEN@example.org/site.git\n');
    await writeFile(path.join(dir, '.git', 'HEAD'), 'ref: refs/heads/main\n');
    await writeFile(path.join(dir, 'assets', '.index-abc123.js.swp'), 'swap');
    await mkdir(path.join(dir, '.well-known'));
    await writeFile(path.join(dir, '.well-known', 'assetlinks.json'), '[]');
    running = await startRelay({ staticDir: dir });
    for (const hidden of ['/.env', '/%2eenv', '/.git/config', '/.git/HEAD', '/.git/', '/assets/.index-abc123.js.swp', '/l/../.env', '/.well-known/../.env']) {
      const answer = await rawGet(running.port, hidden);
      expect(answer.status, hidden).toBe(404);
      expect(answer.body.toString(), hidden).not.toMatch(/s3cret|TOKEN|refs\/heads|swap|<title>/);
    }
    const wellKnown = await rawGet(running.port, '/.well-known/assetlinks.json');
    expect(wellKnown.status).toBe(200);
    expect(wellKnown.body.toString()).toBe('[]');
  });
});

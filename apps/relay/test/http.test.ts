import { mkdir, utimes, writeFile } from 'node:fs/promises';
import { request as httpRequest } from 'node:http';
import path from 'node:path';
import { brotliDecompressSync, gunzipSync } from 'node:zlib';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { RelayMetrics } from '../src/metrics.js';
import { DiskListStorage } from '../src/storage/disk-storage.js';
import { writeAt } from '../src/storage/journal.js';
import type { RunningRelay } from './helpers.js';
import { connectPhone, newListId, startRelay, temporaryDirectory, waitFor } from './helpers.js';

describe('HTTP: web app, health and metrics', () => {
  let running: RunningRelay;
  let staticDir: string;
  let remove: () => Promise<void>;

  beforeEach(async () => {
    ({ dir: staticDir, remove } = await temporaryDirectory('basket-static-'));
    await mkdir(path.join(staticDir, 'assets'));
    await writeFile(path.join(staticDir, 'index.html'), '<!doctype html><title>Basket</title>');
    await writeFile(path.join(staticDir, 'sw.js'), 'self.addEventListener("fetch", () => {});');
    await writeFile(path.join(staticDir, 'manifest.webmanifest'), '{"name":"Basket"}');
    await writeFile(path.join(staticDir, 'assets', 'index-abc123.js'), 'console.log(1)');
    running = await startRelay({ staticDir });
  });
  afterEach(async () => {
    await running.close();
    await remove();
  });

  const get = (pathname: string, init?: RequestInit): Promise<Response> =>
    fetch(`http://127.0.0.1:${running.port}${pathname}`, init);

  it('serves index.html with no-cache', async () => {
    const response = await get('/');
    expect(response.status).toBe(200);
    expect(response.headers.get('cache-control')).toBe('no-cache');
    expect(await response.text()).toContain('<title>Basket</title>');
  });

  it('falls back to index.html for app navigation paths like /l/<listId>', async () => {
    const response = await get('/l/someListIdentifier01');
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toContain('text/html');
  });

  it('gives the app for a share link with a slip after it (a trailing dot from a sentence)', async () => {
    for (const link of ['/l/someListIdentifier01.', '/l/someListIdentifier01).', '/l/someListIdentifier01.html']) {
      const response = await get(link);
      expect(response.status, link).toBe(200);
      expect(await response.text(), link).toContain('<title>Basket</title>');
    }
  });

  it('names the type of every kind of file a web app build holds (sent with nosniff, a wrong one breaks it)', async () => {
    const expected: Record<string, string> = { wasm: 'application/wasm', gif: 'image/gif', avif: 'image/avif', woff: 'font/woff', jpeg: 'image/jpeg', woff2: 'font/woff2' };
    for (const extension of Object.keys(expected)) await writeFile(path.join(staticDir, 'assets', `file-abc123.${extension}`), 'bytes');
    const types: Record<string, string | null> = {};
    for (const extension of Object.keys(expected)) types[extension] = (await get(`/assets/file-abc123.${extension}`)).headers.get('content-type');
    expect(types).toEqual(expected);
  });

  it('caches hashed assets forever and the service worker and manifest never', async () => {
    const asset = await get('/assets/index-abc123.js');
    expect(asset.headers.get('cache-control')).toContain('immutable');
    expect(asset.headers.get('content-type')).toContain('javascript');
    expect((await get('/sw.js')).headers.get('cache-control')).toBe('no-cache');
    expect((await get('/manifest.webmanifest')).headers.get('cache-control')).toBe('no-cache');
  });

  it('sends text compressed (brotli, else gzip) to a browser that takes it, and as is otherwise', async () => {
    const script = `const basket = ${JSON.stringify(Array.from({ length: 400 }, (_, i) => `item ${i}`))};\n`;
    await writeFile(path.join(staticDir, 'assets', 'app-def456.js'), script);
    await writeFile(path.join(staticDir, 'assets', 'icon-1.png'), Buffer.alloc(4096, 7));
    const raw = (pathname: string, acceptEncoding?: string) =>
      new Promise<{ status: number; headers: Record<string, string | string[] | undefined>; body: Buffer }>((resolve, reject) => {
        const request = httpRequest(
          { host: '127.0.0.1', port: running.port, path: pathname, headers: acceptEncoding === undefined ? {} : { 'Accept-Encoding': acceptEncoding } },
          (response) => {
            const chunks: Buffer[] = [];
            response.on('data', (chunk: Buffer) => chunks.push(chunk));
            response.on('end', () => resolve({ status: response.statusCode ?? 0, headers: response.headers, body: Buffer.concat(chunks) }));
          },
        );
        request.on('error', reject);
        request.end();
      });
    const br = await raw('/assets/app-def456.js', 'gzip, deflate, br');
    expect(br.headers['content-encoding']).toBe('br');
    expect(br.headers['vary']).toBe('Accept-Encoding');
    expect(Number(br.headers['content-length'])).toBe(br.body.length);
    expect(br.body.length).toBeLessThan(script.length / 3);
    expect(brotliDecompressSync(br.body).toString()).toBe(script);
    const gz = await raw('/assets/app-def456.js', 'gzip');
    expect(gz.headers['content-encoding']).toBe('gzip');
    expect(gunzipSync(gz.body).toString()).toBe(script);
    for (const refused of [undefined, 'identity', 'gzip;q=0']) {
      const plain = await raw('/assets/app-def456.js', refused);
      expect(plain.headers['content-encoding'], String(refused)).toBeUndefined();
      expect(plain.body.toString(), String(refused)).toBe(script);
    }
    // Already compressed images, and tiny files, go as they are.
    expect((await raw('/assets/icon-1.png', 'br')).headers['content-encoding']).toBeUndefined();
    expect((await raw('/sw.js', 'br')).headers['content-encoding']).toBeUndefined();
  });

  it('answers a revalidation of an unchanged file with 304, and of a changed one with the file', async () => {
    const first = await get('/sw.js');
    const etag = first.headers.get('etag');
    expect(etag).toMatch(/^"[A-Za-z0-9_-]{22}"$/);
    const unchanged = await get('/sw.js', { headers: { 'If-None-Match': etag ?? '' } });
    expect(unchanged.status).toBe(304);
    expect(await unchanged.text()).toBe('');
    expect(unchanged.headers.get('cache-control')).toBe('no-cache');
    await writeFile(path.join(staticDir, 'sw.js'), 'self.addEventListener("fetch", () => { /* v2 */ });');
    const changed = await get('/sw.js', { headers: { 'If-None-Match': etag ?? '' } });
    expect(changed.status).toBe(200);
    expect(await changed.text()).toContain('v2');
  });

  it('answers a revalidation by date (If-Modified-Since) with 304 while the file is no newer; an ETag sent with it decides alone', async () => {
    const swPath = path.join(staticDir, 'sw.js');
    const built = new Date('2026-11-01T10:00:00.600Z');
    await utimes(swPath, built, built);
    const lastModified = (await get('/sw.js')).headers.get('last-modified') ?? '';
    expect(new Date(lastModified).toISOString()).toBe('2026-11-01T10:00:00.000Z');
    const since = (date: string, extra: Record<string, string> = {}): Promise<Response> => get('/sw.js', { headers: { 'If-Modified-Since': date, ...extra } });
    expect((await since(lastModified)).status).toBe(304);
    expect((await since(new Date('2026-11-02T00:00:00Z').toUTCString())).status).toBe(304);
    expect((await since(new Date('2026-11-01T09:59:59Z').toUTCString())).status).toBe(200);
    // Not a date, or a date still to come: ignored, the file sent.
    expect((await since('yesterday')).status).toBe(200);
    expect((await since(new Date(Date.now() + 86_400_000).toUTCString())).status).toBe(200);
    expect((await since(lastModified, { 'If-None-Match': '"another-version"' })).status).toBe(200);
    const rebuilt = new Date('2026-11-03T08:00:00Z');
    await utimes(swPath, rebuilt, rebuilt);
    const changed = await since(lastModified);
    expect(changed.status).toBe(200);
    expect(await changed.text()).toContain('addEventListener');
  });

  it('answers 404 for a missing asset instead of the SPA page', async () => {
    expect((await get('/assets/missing-999.js')).status).toBe(404);
    expect((await get('/favicon-missing.png')).status).toBe(404);
    expect((await get('/assets')).status).toBe(404);
  });

  it('serves a file only at its own name, not as a directory (/sw.js/); an app path with a slash after it is still the app', async () => {
    expect((await get('/sw.js/')).status).toBe(404);
    expect((await get('/assets/index-abc123.js/')).status).toBe(404);
    const shareLink = await get('/l/someListIdentifier01/');
    expect(shareLink.status).toBe(200);
    expect(await shareLink.text()).toContain('<title>Basket</title>');
  });

  it("answers the relay's own paths with a slash after them too, never with the app's page", async () => {
    const health = await get('/healthz/');
    expect(health.status).toBe(200);
    expect(await health.json()).toMatchObject({ status: 'ok', connections: 0 });
    expect(await (await get('/metrics/')).text()).toMatch(/^basket_relay_connections 0$/m);
    const sync = await get('/sync');
    expect(sync.status).toBe(404);
    expect(await sync.text()).toContain('/sync/<listId>');
  });

  it('never serves files outside the static directory', async () => {
    for (const attempt of ['/../../etc/passwd', '/%2e%2e/%2e%2e/etc/passwd', '/..%2f..%2fetc%2fpasswd', '/assets/..%2f..%2f..%2fetc%2fpasswd']) {
      const response = await get(attempt);
      const body = await response.text();
      expect(body, attempt).not.toContain('root:');
    }
  });

  it('GET /healthz is 200 with a small JSON body', async () => {
    const response = await get('/healthz');
    expect(response.status).toBe(200);
    expect(await response.json()).toMatchObject({ status: 'ok', connections: 0, loadedLists: 0 });
  });

  it('GET /metrics is Prometheus text with connection, update, fsync and ack figures', async () => {
    const phone = connectPhone(running.syncUrl, newListId());
    try {
      phone.doc.getMap('items').set('milk', 'Milk');
      await waitFor(() => phone.isFullyStored());
      const text = await (await get('/metrics')).text();
      expect(text).toMatch(/^basket_relay_connections 1$/m);
      expect(text).toMatch(/^basket_relay_loaded_lists 1$/m);
      expect(text).toMatch(/^basket_relay_updates_in_total [1-9]/m);
      expect(text).toMatch(/^basket_relay_fsync_seconds_count [1-9]/m);
      expect(text).toMatch(/^basket_relay_ack_seconds_count [1-9]/m);
      expect(text).toContain('# TYPE basket_relay_errors_total counter');
      expect(text).toMatch(/^basket_relay_event_loop_delay_p99_seconds \d/m);
      expect(text).toMatch(/^basket_relay_event_loop_delay_max_seconds \d/m);
    } finally {
      phone.destroy();
    }
  });

  it('a WebSocket handshake that ws refuses (wrong method or version) loads no list', async () => {
    const listId = newListId();
    const handshake = (method: string, version: string): Promise<number> =>
      new Promise((resolve, reject) => {
        const request = httpRequest({
          host: '127.0.0.1',
          port: running.port,
          path: `/sync/${listId}`,
          method,
          headers: { Connection: 'Upgrade', Upgrade: 'websocket', 'Sec-WebSocket-Key': 'dGhlIHNhbXBsZSBub25jZQ==', 'Sec-WebSocket-Version': version },
        });
        request.on('response', (response) => {
          response.resume();
          resolve(response.statusCode ?? 0);
        });
        request.on('upgrade', () => reject(new Error('upgraded')));
        request.on('error', reject);
        request.end();
      });
    expect(await handshake('POST', '13')).toBeGreaterThanOrEqual(400);
    expect(await handshake('GET', '99')).toBeGreaterThanOrEqual(400);
    expect(await (await get('/healthz')).json()).toMatchObject({ loadedLists: 0 });
  });

  it('refuses other methods', async () => {
    expect((await get('/', { method: 'POST' })).status).toBe(405);
  });
});

describe('metrics of the disk storage', () => {
  it('GET /metrics shows the journal group commit and checkpoints, reported by the storage', async () => {
    const { dir, remove } = await temporaryDirectory('basket-metrics-');
    const metrics = new RelayMetrics();
    const storage = new DiskListStorage({ dataDir: dir, checkpointIntervalMs: 0, observer: metrics.storageObserver });
    const running = await startRelay({ storage, metrics });
    const phones = [connectPhone(running.syncUrl, newListId()), connectPhone(running.syncUrl, newListId())];
    try {
      for (const phone of phones) phone.doc.getMap('items').set('milk', 'Milk');
      await waitFor(() => phones.every((phone) => phone.isFullyStored()));
      await storage.checkpoint();
      const text = await (await fetch(`http://127.0.0.1:${running.port}/metrics`)).text();
      const value = (name: string): number => Number(new RegExp(`^${name} (\\S+)$`, 'm').exec(text)?.[1] ?? NaN);
      // Two phones' updates reached the journal, in one write or two.
      expect(value('basket_relay_journal_write_records_sum')).toBeGreaterThanOrEqual(2);
      expect(value('basket_relay_journal_write_records_count')).toBeGreaterThanOrEqual(1);
      expect(value('basket_relay_journal_write_seconds_count')).toBe(value('basket_relay_journal_write_records_count'));
      expect(value('basket_relay_checkpoint_seconds_count')).toBe(1);
    } finally {
      for (const phone of phones) phone.destroy();
      await running.close();
      await remove();
    }
  });
  it('[F5] GET /metrics counts a checkpoint that fails, by kind, beside its log line: nothing is lost, but an operator sees it climb', async () => {
    const { dir, remove } = await temporaryDirectory('basket-metrics-');
    const metrics = new RelayMetrics();
    let logWritesFail = true;
    const storage = new DiskListStorage({
      dataDir: dir,
      checkpointIntervalMs: 0,
      observer: metrics.storageObserver,
      writeLogBytes: (fd, buffer, offset, position) =>
        logWritesFail ? Promise.reject(Object.assign(new Error('no space left on device'), { code: 'ENOSPC' })) : writeAt(fd, buffer, offset, position),
    });
    const running = await startRelay({ storage, metrics });
    const phone = connectPhone(running.syncUrl, newListId());
    const errorsOfKind = async (kind: string): Promise<number> => {
      const text = await (await fetch(`http://127.0.0.1:${running.port}/metrics`)).text();
      return Number(new RegExp(`^basket_relay_errors_total\\{kind="${kind}"\\} (\\S+)$`, 'm').exec(text)?.[1] ?? 0);
    };
    try {
      phone.doc.getMap('items').set('milk', 'Milk');
      await waitFor(() => phone.isFullyStored());
      await expect(storage.checkpoint()).rejects.toThrow(/no space left/);
      expect(await errorsOfKind('segment_copy_failed')).toBe(1);
      logWritesFail = false;
      await storage.checkpoint();
      expect(await errorsOfKind('segment_copy_failed')).toBe(1);
    } finally {
      phone.destroy();
      await running.close();
      await remove();
    }
  });
});

describe('HTTP without a built web app', () => {
  it('still answers /healthz and syncs when STATIC_DIR is missing', async () => {
    const running = await startRelay({ staticDir: '/nonexistent/basket-web-dist' });
    try {
      expect((await fetch(`http://127.0.0.1:${running.port}/healthz`)).status).toBe(200);
      expect((await fetch(`http://127.0.0.1:${running.port}/`)).status).toBe(404);
      const phone = connectPhone(running.syncUrl, newListId());
      await waitFor(() => phone.provider.synced);
      phone.destroy();
    } finally {
      await running.close();
    }
  });
});

import { readdirSync, readlinkSync } from 'node:fs';
import { mkdir, symlink, writeFile } from 'node:fs/promises';
import { randomBytes } from 'node:crypto';
import net from 'node:net';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { configFromEnvironment } from '../src/config.js';
import { MAX_FILES_STREAMED } from '../src/http/static-files.js';
import type { RunningRelay } from './helpers.js';
import { connectPhone, newListId, startRelay, temporaryDirectory, waitFor } from './helpers.js';

/** A raw TCP client that keeps its half of the connection open after the relay ends its own. */
async function halfOpenClient(port: number, request: string): Promise<{ socket: net.Socket; received: () => string; ended: Promise<void> }> {
  const socket = net.connect({ port, host: '127.0.0.1', allowHalfOpen: true });
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', () => resolve());
    socket.once('error', reject);
  });
  let text = '';
  socket.on('data', (chunk: Buffer) => (text += chunk.toString('latin1')));
  socket.on('error', () => undefined);
  const ended = new Promise<void>((resolve) => {
    socket.once('end', () => resolve());
    socket.once('close', () => resolve());
  });
  socket.write(request);
  return { socket, received: () => text, ended };
}

/** One request on its own connection; the whole answer as text (headers and body) once the relay closes or `waitMs` pass. */
function rawRequest(port: number, request: string, waitMs = 500): Promise<string> {
  return new Promise((resolve) => {
    const socket = net.connect(port, '127.0.0.1');
    let text = '';
    const done = (): void => {
      socket.destroy();
      resolve(text);
    };
    socket.on('data', (chunk: Buffer) => (text += chunk.toString('latin1')));
    socket.on('error', done);
    socket.on('close', done);
    socket.write(request);
    setTimeout(done, waitMs);
  });
}

/** This process's open descriptors on a file named `fileName`. */
function openDescriptorsOf(fileName: string): number {
  return readdirSync('/proc/self/fd').filter((fd) => {
    try {
      return readlinkSync(`/proc/self/fd/${fd}`).endsWith(fileName);
    } catch {
      return false;
    }
  }).length;
}

function settlesWithin<T>(promise: Promise<T>, ms: number): Promise<'settled' | 'timed out'> {
  return Promise.race([promise.then(() => 'settled' as const), new Promise<'timed out'>((resolve) => setTimeout(() => resolve('timed out'), ms))]);
}

function websocketUpgrade(target: string): string {
  return (
    `GET ${target} HTTP/1.1\r\nHost: relay\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n` +
    'Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n'
  );
}

describe('serving and operating: sockets, files and headers at the edges', () => {
  let running: RunningRelay | undefined;
  let staticDir: string;
  let outsideDir: string;
  const cleanups: Array<() => unknown> = [];

  beforeEach(async () => {
    const stat = await temporaryDirectory('basket-review-static-');
    const outside = await temporaryDirectory('basket-review-outside-');
    staticDir = stat.dir;
    outsideDir = outside.dir;
    cleanups.push(stat.remove, outside.remove);
    await mkdir(path.join(staticDir, 'assets'));
    await writeFile(path.join(staticDir, 'index.html'), '<!doctype html><title>Basket</title>');
  });
  afterEach(async () => {
    // Sockets first (a test may have left the relay waiting on one), then the relay, then files.
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
    if (running !== undefined) await running.close();
    running = undefined;
  });

  it('[W1] a download the client abandons halfway does not leave the file open in the relay', async () => {
    // Files over 4 MiB are streamed from disk (smaller ones are sent from memory, [W14]).
    const fileName = 'index-W1abcdef.js';
    await writeFile(path.join(staticDir, 'assets', fileName), Buffer.alloc(6 * 1024 * 1024, 0x61));
    running = await startRelay({ staticDir });
    const openOnFile = (): number => openDescriptorsOf(fileName);
    for (let i = 0; i < 10; i++) {
      const socket = net.connect(running.port, '127.0.0.1');
      await new Promise((resolve) => socket.once('connect', resolve));
      socket.write(`GET /assets/${fileName} HTTP/1.1\r\nHost: relay\r\n\r\n`);
      await new Promise((resolve) => socket.once('data', resolve));
      socket.destroy();
    }
    await new Promise((resolve) => setTimeout(resolve, 500));
    // Every abandoned response leaves its ReadStream unpiped and paused: the descriptor is never closed.
    expect(openOnFile()).toBe(0);
  });

  it('[W9] a client that asks for a file and never reads the answer is cut once the socket makes no progress, and the file is closed', async () => {
    const fileName = 'index-W9abcdef.js';
    const fileBytes = 64 * 1024 * 1024;
    // Far larger than the socket buffers take: most of it waits in the relay for the client to read.
    await writeFile(path.join(staticDir, 'assets', fileName), Buffer.alloc(fileBytes, 0x61));
    running = await startRelay({ staticDir, httpIdleMs: 500 });
    const socket = net.connect(running.port, '127.0.0.1');
    cleanups.push(() => socket.destroy());
    await new Promise((resolve) => socket.once('connect', resolve));
    let received = 0;
    const readOnce = (chunk: Buffer): void => {
      received += chunk.length;
      socket.pause();
    };
    socket.on('data', readOnce);
    socket.on('error', () => undefined);
    const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()));
    socket.write(`GET /assets/${fileName} HTTP/1.1\r\nHost: relay\r\n\r\n`);
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(openDescriptorsOf(fileName)).toBe(1);
    // Three idle periods later the relay has cut the socket and closed the file…
    await new Promise((resolve) => setTimeout(resolve, 1500));
    expect(openDescriptorsOf(fileName)).toBe(0);
    // …though the client read only part of it (a paused socket learns of the close once it reads on).
    socket.off('data', readOnce);
    socket.on('data', (chunk: Buffer) => (received += chunk.length));
    socket.resume();
    expect(await settlesWithin(closed, 5_000)).toBe('settled');
    expect(received).toBeLessThan(fileBytes);
  });

  it('[W9] a WebSocket is not cut by the plain HTTP idle timeout: a phone quiet for longer stays connected', async () => {
    running = await startRelay({ staticDir, httpIdleMs: 300 });
    const phone = connectPhone(running.syncUrl, newListId());
    cleanups.push(() => phone.destroy());
    await waitFor(() => phone.provider.synced);
    await new Promise((resolve) => setTimeout(resolve, 1200));
    expect(phone.provider.wsconnected).toBe(true);
    // The same connection, not a new one after a cut.
    expect(running.relay.metrics.connectionsOpened.get()).toBe(1);
  });

  it('[W2] SIGTERM shutdown finishes although a client refused at the upgrade (HTTP 404/429/503) keeps its half of the socket open', async () => {
    running = await startRelay({ staticDir });
    const client = await halfOpenClient(running.port, websocketUpgrade('/not-a-sync-path'));
    cleanups.push(() => client.socket.destroy());
    await client.ended;
    expect(client.received()).toContain('404 Not Found');
    // The relay's own connections are terminated after 5 s at the latest; this one is never.
    const outcome = await settlesWithin(running.close(), 8_000);
    expect(outcome).toBe('settled');
  }, 20_000);

  it('[W3] SIGTERM shutdown does not wait 30 s for a peer refused with 4400 (invalid list id) that never answers the close', async () => {
    running = await startRelay({ staticDir });
    const client = await halfOpenClient(running.port, websocketUpgrade('/sync/bad'));
    cleanups.push(() => client.socket.destroy());
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(client.received()).toContain('101 Switching Protocols');
    const outcome = await settlesWithin(running.close(), 8_000);
    expect(outcome).toBe('settled');
  }, 20_000);

  it('[W4] never serves a file outside the static directory through a symlink in it', async () => {
    await writeFile(path.join(outsideDir, 'secret.txt'), 'OUTSIDE-SECRET');
    await symlink(path.join(outsideDir, 'secret.txt'), path.join(staticDir, 'notes.txt'));
    await symlink(outsideDir, path.join(staticDir, 'linked-dir'));
    running = await startRelay({ staticDir });
    for (const target of ['/notes.txt', '/linked-dir/secret.txt']) {
      const response = await fetch(`http://127.0.0.1:${running.port}${target}`);
      expect(await response.text(), target).not.toContain('OUTSIDE-SECRET');
    }
  });

  it('[W5] a plain GET that offers an HTTP/2 upgrade (curl --http2) is still answered: /healthz is 200, not 400', async () => {
    running = await startRelay({ staticDir });
    const answer = await rawRequest(
      running.port,
      'GET /healthz HTTP/1.1\r\nHost: relay\r\nConnection: Upgrade, HTTP2-Settings\r\nUpgrade: h2c\r\nHTTP2-Settings: AAMAAABkAARAAAAAAAIAAAAA\r\n\r\n',
    );
    expect(answer.split('\r\n')[0]).toBe('HTTP/1.1 200 OK');
    expect(answer).toContain('"status":"ok"');
    // Nor is it counted as a refused sync connection.
    expect(running.relay.metrics.errors.get({ kind: 'invalid_list_id' })).toBe(0);
  });

  it('[W6] a 426 Upgrade Required for a plain GET of /sync/<listId> names the protocol to upgrade to', async () => {
    running = await startRelay({ staticDir });
    const answer = await rawRequest(running.port, `GET /sync/${newListId()} HTTP/1.1\r\nHost: relay\r\n\r\n`);
    expect(answer.split('\r\n')[0]).toBe('HTTP/1.1 426 Upgrade Required');
    // RFC 9110 15.5.22: "The server MUST send an Upgrade header field in a 426 response".
    expect(answer.toLowerCase()).toMatch(/\r\nupgrade: websocket\r\n/);
  });

  it('[W7] refuses a TRUSTED_PROXIES entry with more than one prefix instead of silently reading part of it', () => {
    for (const entry of ['10.0.0.0/8/99', '172.16.0.0/12/garbage']) {
      expect(() => configFromEnvironment({ TRUSTED_PROXIES: entry }), entry).toThrow(/TRUSTED_PROXIES/);
    }
  });

  it('[W8] does not send gzip to a client that refuses it explicitly ("gzip;q=0, *")', async () => {
    await writeFile(path.join(staticDir, 'assets', 'app-W8abcdef.js'), `const items = ${JSON.stringify(Array.from({ length: 400 }, (_, i) => `item ${i}`))};\n`);
    running = await startRelay({ staticDir });
    const answer = await rawRequest(running.port, 'GET /assets/app-W8abcdef.js HTTP/1.1\r\nHost: relay\r\nAccept-Encoding: gzip;q=0, *\r\n\r\n');
    const head = answer.split('\r\n\r\n')[0] ?? '';
    expect(head.split('\r\n')[0]).toBe('HTTP/1.1 200 OK');
    // RFC 9110 12.5.3: "*" matches any coding not explicitly listed; gzip is listed, with q=0.
    expect(head.toLowerCase()).not.toMatch(/\r\ncontent-encoding: gzip(\r\n|$)/);
  });
  it('[W10] a large file asked for with an HTTP/2 upgrade offer arrives whole; such a socket left unread times out, and does not hold up a stop', async () => {
    const offeringH2c = (target: string): string =>
      `GET ${target} HTTP/1.1\r\nHost: relay\r\nConnection: Upgrade, HTTP2-Settings\r\nUpgrade: h2c\r\nHTTP2-Settings: AAMAAABkAARAAAAAAAIAAAAA\r\n\r\n`;
    const large = randomBytes(300_000).toString('base64');
    await writeFile(path.join(staticDir, 'assets', 'large-W9abcdef.js'), large);
    // More than the kernel's socket buffers hold, so a client that does not read stops the writes.
    await writeFile(path.join(staticDir, 'assets', 'huge-W10abcdef.js'), Buffer.alloc(32 * 1024 * 1024, 0x61));
    running = await startRelay({ staticDir, httpIdleMs: 500 });
    const answer = await rawRequest(running.port, offeringH2c('/assets/large-W9abcdef.js'), 5000);
    expect(answer.split('\r\n')[0]).toBe('HTTP/1.1 200 OK');
    expect(answer.split('\r\n\r\n')[1]?.length).toBe(large.length);

    const unread = await halfOpenClient(running.port, offeringH2c('/assets/huge-W10abcdef.js'));
    unread.socket.pause();
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(openDescriptorsOf('huge-W10abcdef.js')).toBe(1);
    // Three idle periods later the relay has cut the socket and closed the file.
    await new Promise((resolve) => setTimeout(resolve, 1500));
    expect(openDescriptorsOf('huge-W10abcdef.js')).toBe(0);
    unread.socket.destroy();
    await running.close();

    running = await startRelay({ staticDir });
    const atStop = await halfOpenClient(running.port, offeringH2c('/assets/huge-W10abcdef.js'));
    atStop.socket.once('data', () => atStop.socket.pause());
    await waitFor(() => atStop.received().length > 0, 5000, 'the answer begun');
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(openDescriptorsOf('huge-W10abcdef.js')).toBe(1);
    expect(await settlesWithin(running.close(), 5000)).toBe('settled');
    atStop.socket.destroy();
  }, 30_000);
  it('[W11] a WebSocket upgrade to another path is a 404 counted apart from bad list ids; a URL too long is a 431', async () => {
    running = await startRelay({ staticDir });
    const answer = await rawRequest(running.port, websocketUpgrade('/healthz'));
    expect(answer.split('\r\n')[0]).toBe('HTTP/1.1 404 Not Found');
    expect(running.relay.metrics.errors.get({ kind: 'upgrade_not_sync' })).toBe(1);
    expect(running.relay.metrics.errors.get({ kind: 'invalid_list_id' })).toBe(0);
    const tooLong = await rawRequest(running.port, `GET /${'a'.repeat(20_000)} HTTP/1.1\r\nHost: relay\r\n\r\n`);
    expect(tooLong.split('\r\n')[0]).toBe('HTTP/1.1 431 Request Header Fields Too Large');
  });

  it('[W13] a URL of thousands of slashes costs the relay no more than any other request (a trailing-slash regex took 0.25 s each)', async () => {
    running = await startRelay({ staticDir });
    const started = performance.now();
    for (let request = 0; request < 10; request++) {
      const answer = await rawRequest(running.port, `GET /${'/'.repeat(15_000)}a HTTP/1.1\r\nHost: relay\r\nConnection: close\r\n\r\n`, 5_000);
      expect(answer.split('\r\n')[0]).toBe('HTTP/1.1 200 OK');
    }
    // About 2.3 s with the regex; a few tens of ms without.
    expect(performance.now() - started).toBeLessThan(1_000);
  });

  it('[W14] clients that ask for the app and never read hold no descriptor; files streamed from disk are bounded, the rest get 503', async () => {
    // The app's script (400 kB) outlasts the socket buffers of a client on a slow link; loopback's
    // take a few MB at once, so here the script is larger, and so is what is sent from memory.
    const script = 'index-W14abcdef.js';
    await writeFile(path.join(staticDir, 'assets', script), Buffer.alloc(16 * 1024 * 1024, 0x61));
    const huge = 'huge-W14abcdef.bin';
    await writeFile(path.join(staticDir, 'assets', huge), Buffer.alloc(32 * 1024 * 1024, 0x61));
    running = await startRelay({ staticDir, staticInMemoryBytes: 16 * 1024 * 1024 });
    const port = running.port;
    /** A socket that asks for `name` (no Accept-Encoding: sent as it is) and reads nothing after the first bytes; resolves with the status line. */
    const neverReading = async (name: string): Promise<string> => {
      const socket = net.connect(port, '127.0.0.1');
      cleanups.push(() => socket.destroy());
      socket.on('error', () => undefined);
      await new Promise((resolve) => socket.once('connect', resolve));
      socket.write(`GET /assets/${name} HTTP/1.1\r\nHost: relay\r\n\r\n`);
      const first = await new Promise<Buffer>((resolve) => socket.once('data', resolve));
      socket.pause();
      return first.toString('latin1').split('\r\n')[0] ?? '';
    };
    for (let client = 0; client < 20; client++) expect(await neverReading(script)).toBe('HTTP/1.1 200 OK');
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(openDescriptorsOf(script)).toBe(0);
    for (let client = 0; client < MAX_FILES_STREAMED; client++) expect(await neverReading(huge)).toBe('HTTP/1.1 200 OK');
    expect(openDescriptorsOf(huge)).toBe(MAX_FILES_STREAMED);
    expect(await neverReading(huge)).toBe('HTTP/1.1 503 Service Unavailable');
  });

  it('[W12] a request whose headers stop halfway is answered 408 and cut about when its time is up, not up to 30 s later', async () => {
    running = await startRelay({ staticDir, httpHeadersMs: 400 });
    const started = performance.now();
    const answer = await rawRequest(running.port, 'GET /assets/app-abc123.js HTTP/1.1\r\nHost: relay\r\n', 5_000);
    const elapsedMs = performance.now() - started;
    expect(answer.split('\r\n')[0]).toBe('HTTP/1.1 408 Request Timeout');
    expect(elapsedMs).toBeGreaterThanOrEqual(400);
    // Node looks for expired requests once a second here (every 30 s by default).
    expect(elapsedMs).toBeLessThan(2_500);
  });
});

/**
 * The harness itself, against the real relay with a bare WebSocket in a real
 * page (no app): a real loss closes the socket with a transient code and
 * refuses new ones until the network is back; Lie-Fi holds frames instead of
 * closing; the relay's durable acks (type 100) pass through or can be dropped.
 * If these fail, every scenario built on them would prove nothing.
 */
import * as Y from 'yjs';
import { devices, type Page } from '@playwright/test';
import { PhoneNetwork } from '../fixtures/network.js';
import { expect, test } from '../fixtures/test.js';

const { defaultBrowserType: _unused, ...pixel7 } = devices['Pixel 7'];

interface SocketLog {
  opens: number;
  closeCodes: number[];
  messageTypes: number[];
}

/** Opens a WebSocket to /sync/<listId> in the page and logs what happens to it. */
async function openLoggedSocket(page: Page, listId: string, name: string): Promise<void> {
  await page.evaluate(
    ({ listId: id, name: key }) => {
      const log = { opens: 0, closeCodes: [] as number[], messageTypes: [] as number[] };
      const socket = new WebSocket(`${location.origin.replace(/^http/, 'ws')}/sync/${id}`);
      socket.binaryType = 'arraybuffer';
      socket.onopen = () => (log.opens += 1);
      socket.onclose = (event) => log.closeCodes.push(event.code);
      socket.onmessage = (event) => log.messageTypes.push(new Uint8Array(event.data as ArrayBuffer)[0] ?? -1);
      const sockets = ((window as unknown as { sockets?: Record<string, unknown> }).sockets ??= {});
      sockets[key] = { socket, log };
    },
    { listId, name },
  );
}

function socketLog(page: Page, name: string): Promise<SocketLog> {
  return page.evaluate(
    (key) => (window as unknown as { sockets: Record<string, { log: SocketLog }> }).sockets[key]?.log ?? {
      opens: 0,
      closeCodes: [],
      messageTypes: [],
    },
    name,
  );
}

function send(page: Page, name: string, bytes: number[]): Promise<void> {
  return page.evaluate(
    ({ key, data }) => {
      const entry = (window as unknown as { sockets: Record<string, { socket: WebSocket }> }).sockets[key];
      entry?.socket.send(new Uint8Array(data));
    },
    { key: name, data: bytes },
  );
}

/** A y-websocket sync "update" message (type 0, sub-type 2) carrying one item. */
function updateMessage(itemId: string): number[] {
  const doc = new Y.Doc();
  doc.getMap('items').set(itemId, new Y.Map());
  const update = Y.encodeStateAsUpdate(doc);
  const length: number[] = [];
  let remaining = update.length;
  while (remaining > 127) {
    length.push((remaining & 127) | 128);
    remaining >>>= 7;
  }
  length.push(remaining);
  return [0, 2, ...length, ...update];
}

const syncStep1WithEmptyStateVector = [0, 0, 1, 0];
const listId = 'harnessSelfTest0001';

test('harness: acks pass or are dropped; real loss closes and refuses sockets; Lie-Fi holds frames', async ({
  browser,
  relay,
}) => {
  const context = await browser.newContext({ ...pixel7, baseURL: relay.url });
  try {
    const network = await PhoneNetwork.install(context);
    const page = await context.newPage();
    await page.goto('/healthz');

    await openLoggedSocket(page, listId, 'first');
    await expect.poll(async () => (await socketLog(page, 'first')).opens).toBe(1);
    await send(page, 'first', syncStep1WithEmptyStateVector);
    await send(page, 'first', updateMessage('one'));
    await expect.poll(async () => (await socketLog(page, 'first')).messageTypes).toContain(100);
    expect(network.acksForwarded).toBeGreaterThan(0);

    network.dropAcks = true;
    const acksSeenByPage = (await socketLog(page, 'first')).messageTypes.filter((type) => type === 100).length;
    await send(page, 'first', updateMessage('two'));
    await expect.poll(() => network.acksDropped).toBeGreaterThan(0);
    expect((await socketLog(page, 'first')).messageTypes.filter((type) => type === 100)).toHaveLength(acksSeenByPage);
    network.dropAcks = false;

    // Lie-Fi: the socket stays open and what is sent waits for the network.
    await network.goOffline('lie-fi');
    const typesBefore = (await socketLog(page, 'first')).messageTypes.length;
    await send(page, 'first', [3]);
    await page.waitForTimeout(1_000);
    const duringLieFi = await socketLog(page, 'first');
    expect(duringLieFi.closeCodes, 'Lie-Fi does not close the socket').toEqual([]);
    expect(duringLieFi.messageTypes.length, 'no answer while Lie-Fi').toBe(typesBefore);
    await network.goOnline();
    await expect
      .poll(async () => (await socketLog(page, 'first')).messageTypes.length, { message: 'held frames delivered' })
      .toBeGreaterThan(typesBefore);

    // Real loss: the open socket is closed with a transient code; new ones are refused.
    await network.goOffline('real-loss');
    await expect.poll(async () => (await socketLog(page, 'first')).closeCodes).toEqual([4000]);
    await openLoggedSocket(page, listId, 'while-cut');
    await expect.poll(async () => (await socketLog(page, 'while-cut')).closeCodes).toEqual([4000]);
    expect((await socketLog(page, 'while-cut')).messageTypes).toEqual([]);
    expect(network.socketsRefused).toBe(1);

    await network.goOnline();
    await openLoggedSocket(page, listId, 'after');
    await expect.poll(async () => (await socketLog(page, 'after')).opens).toBe(1);
    await send(page, 'after', syncStep1WithEmptyStateVector);
    await expect.poll(async () => (await socketLog(page, 'after')).messageTypes).toContain(0);
  } finally {
    await context.close();
  }
});

test('harness: the relay restarts on the same port and DATA_DIR after SIGKILL', async ({ relay }) => {
  const { port, dataDir } = relay;
  await relay.kill();
  expect(relay.isRunning).toBe(false);
  await expect(fetch(`${relay.url}/healthz`)).rejects.toThrow();
  await relay.restart();
  expect([relay.port, relay.dataDir]).toEqual([port, dataDir]);
  expect((await fetch(`${relay.url}/healthz`)).status).toBe(200);
});

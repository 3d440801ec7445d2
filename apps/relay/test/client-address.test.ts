import fc from 'fast-check';
import { BlockList, isIP } from 'node:net';
import WebSocket from 'ws';
import { afterEach, describe, expect, it } from 'vitest';
import { addressGroup, clientAddress, parseTrustedProxies, trustedProxies } from '../src/http/client-address.js';
import { createJsonLogger } from '../src/log.js';
import type { RunningRelay } from './helpers.js';
import { newListId, startRelay } from './helpers.js';

describe('client address behind a reverse proxy', () => {
  const proxies = trustedProxies(parseTrustedProxies('127.0.0.1, 172.16.0.0/12, ::1'));

  it('[R1] a peer that is not a trusted proxy is the client, whatever X-Forwarded-For says', () => {
    expect(clientAddress('203.0.113.9', '198.51.100.1', proxies)).toBe('203.0.113.9');
    expect(clientAddress('::ffff:203.0.113.9', undefined, proxies)).toBe('203.0.113.9');
  });

  it('[R2] behind trusted proxies the client is the nearest untrusted hop; what the client wrote itself is ignored', () => {
    expect(clientAddress('::ffff:127.0.0.1', '198.51.100.1', proxies)).toBe('198.51.100.1');
    // The client claims 192.0.2.1; the proxy appended the peer it really saw.
    expect(clientAddress('127.0.0.1', '192.0.2.1, 198.51.100.1', proxies)).toBe('198.51.100.1');
    // Two proxies in a row (a CDN in front of a container proxy), ports and brackets as some write them.
    expect(clientAddress('172.18.0.2', ['198.51.100.1:4711', '172.20.0.5'], proxies)).toBe('198.51.100.1');
    expect(clientAddress('::1', '[2001:db8::7]:443', proxies)).toBe('2001:db8::7');
    // No header, or only proxies in it: the nearest proxy is all there is to go by.
    expect(clientAddress('127.0.0.1', undefined, proxies)).toBe('127.0.0.1');
    expect(clientAddress('127.0.0.1', '172.18.0.9', proxies)).toBe('172.18.0.9');
  });

  it('[R3] TRUSTED_PROXIES entries that are not addresses or ranges are refused with the entry named', () => {
    expect(parseTrustedProxies(undefined)).toEqual([]);
    expect(() => parseTrustedProxies('127.0.0.1,proxy.local')).toThrow(/"proxy.local"/);
    expect(() => parseTrustedProxies('10.0.0.0/33')).toThrow(/10.0.0.0\/33/);
  });

  it('[R6] remembered answers stay right: asked again, after many other addresses, and with no proxies at all', () => {
    const expected = new BlockList();
    expected.addAddress('127.0.0.1', 'ipv4');
    expected.addSubnet('172.16.0.0', 12, 'ipv4');
    expected.addAddress('::1', 'ipv6');
    const none = trustedProxies([]);
    const ipv4 = fc.tuple(fc.constantFrom(127, 172, 10), fc.nat(255), fc.nat(255), fc.nat(255)).map((parts) => parts.join('.'));
    const address = fc.oneof(ipv4, fc.ipV6(), fc.constantFrom('::1', '127.0.0.1', 'not-an-address', ''));
    // Enough addresses per run to pass the remembered-answer bound, each asked several times.
    fc.assert(
      fc.property(fc.array(address, { minLength: 1100, maxLength: 1500 }), (addresses) => {
        for (const peer of [...addresses, ...addresses.slice().reverse()]) {
          const family = isIP(peer);
          const truth = family !== 0 && expected.check(peer, family === 4 ? 'ipv4' : 'ipv6');
          if (proxies.has(peer) !== truth) return false;
          if (none.has(peer)) return false;
        }
        return true;
      }),
      { numRuns: 20 },
    );
  });

  it('[R5] an IPv6 /64 counts as one address, however its addresses are written; IPv4 addresses stay whole', () => {
    expect(addressGroup('198.51.100.7')).toBe('198.51.100.7');
    const household = ['2001:db8:0:1::7', '2001:0db8:0000:0001:abcd:ef01:2345:6789', '2001:DB8:0:1:0::1', '2001:db8::1:0:0:0:2'];
    expect(household.map(addressGroup)).toEqual(household.map(() => '2001:db8:0:1::/64'));
    expect(addressGroup('2001:db8:0:2::7')).toBe('2001:db8:0:2::/64');
    expect(addressGroup('::1')).toBe('0:0:0:0::/64');
    expect(addressGroup('64:ff9b::192.0.2.1')).toBe('64:ff9b:0:0::/64');
  });

  const relays: RunningRelay[] = [];
  const sockets: WebSocket[] = [];
  afterEach(async () => {
    for (const socket of sockets.splice(0)) socket.terminate();
    for (const relay of relays.splice(0)) await relay.close();
  });

  /** Resolves with 'open' or the HTTP status the upgrade was refused with. */
  function connectAs(running: RunningRelay, listId: string, forwardedFor: string, localAddress?: string): Promise<'open' | number> {
    return new Promise((resolve) => {
      const socket = new WebSocket(`${running.syncUrl}/${listId}`, { headers: { 'X-Forwarded-For': forwardedFor }, localAddress });
      sockets.push(socket);
      socket.once('open', () => resolve('open'));
      socket.once('unexpected-response', (_request, response) => resolve(response.statusCode ?? 0));
      // A socket cut before any HTTP answer (the per-address socket share) counts as refused.
      socket.once('error', () => resolve(0));
    });
  }

  it('[R4] per-address limits count the forwarded client (an IPv6 /64 as one), and a trusted proxy is not held to one address\'s socket share', async () => {
    const trusting = await startRelay({ limits: { maxConnectionsPerIp: 2 }, trustedProxies: ['127.0.0.1', '::1'] });
    relays.push(trusting);
    const listId = newListId();
    // 2 connections for each of 12 clients: 24 sockets from the proxy, past its own 2 + 16.
    const outcomes = await Promise.all(
      Array.from({ length: 24 }, (_, i) => connectAs(trusting, listId, `198.51.100.${Math.floor(i / 2) + 1}`)),
    );
    expect(outcomes.every((outcome) => outcome === 'open')).toBe(true);
    expect(await connectAs(trusting, listId, '198.51.100.1')).toBe(429);

    // Two addresses of one IPv6 /64 are one address; another /64 is another.
    expect(await connectAs(trusting, listId, '2001:db8:0:1::a')).toBe('open');
    expect(await connectAs(trusting, listId, '2001:db8:0:1::b')).toBe('open');
    expect(await connectAs(trusting, listId, '2001:db8:0:1:ffff::c')).toBe(429);
    expect(await connectAs(trusting, listId, '2001:db8:0:2::a')).toBe('open');

    const notTrusting = await startRelay({ limits: { maxConnectionsPerIp: 2 } });
    relays.push(notTrusting);
    expect(await connectAs(notTrusting, listId, '198.51.100.1')).toBe('open');
    expect(await connectAs(notTrusting, listId, '198.51.100.2')).toBe('open');
    // A header from an untrusted peer is ignored: both came from 127.0.0.1.
    expect(await connectAs(notTrusting, listId, '198.51.100.3')).toBe(429);
  });

  it('[R7] X-Forwarded-For from a peer not in TRUSTED_PROXIES is logged once per peer, and never from a trusted one', async () => {
    const events: Array<{ event: string; peer?: string }> = [];
    const logger = createJsonLogger('warn', (line) => events.push(JSON.parse(line) as { event: string; peer?: string }));
    const notTrusting = await startRelay({ logger });
    relays.push(notTrusting);
    const listId = newListId();
    for (const client of ['198.51.100.1', '198.51.100.2', '198.51.100.3']) {
      expect(await connectAs(notTrusting, listId, client)).toBe('open');
    }
    const ignored = events.filter((entry) => entry.event === 'connection.forwarded_for_ignored');
    expect(ignored.map((entry) => entry.peer)).toEqual(['127.0.0.1']);

    // Clients sending the header themselves, from many addresses, do not flood the log.
    for (let host = 2; host <= 30; host++) {
      expect(await connectAs(notTrusting, listId, '198.51.100.9', `127.0.0.${host}`)).toBe('open');
    }
    const peers = events.filter((entry) => entry.event === 'connection.forwarded_for_ignored').map((entry) => entry.peer);
    expect(peers).toEqual(Array.from({ length: 16 }, (_, i) => `127.0.0.${i + 1}`));

    events.length = 0;
    const trusting = await startRelay({ logger, trustedProxies: ['127.0.0.1', '::1'] });
    relays.push(trusting);
    expect(await connectAs(trusting, listId, '198.51.100.4')).toBe('open');
    expect(events.filter((entry) => entry.event === 'connection.forwarded_for_ignored')).toEqual([]);
  });
});

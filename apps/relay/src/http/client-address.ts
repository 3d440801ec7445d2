import { BlockList, isIP } from 'node:net';

/**
 * Which address a connection comes from, for the per-address limits. Behind a reverse proxy (the
 * usual way to give the app the HTTPS a PWA needs) every connection's TCP peer is the proxy, so
 * without this the per-address limits would be one shared limit for every phone.
 */
export interface TrustedProxies {
  /** True when `peer` (a TCP peer address) is one of the configured proxies. */
  has(peer: string): boolean;
}

/** `TRUSTED_PROXIES`: comma-separated addresses or CIDR ranges (`127.0.0.1,172.16.0.0/12,::1`). */
export function parseTrustedProxies(raw: string | undefined): readonly string[] {
  if (raw === undefined || raw.trim() === '') return [];
  return raw.split(',').map((entry) => {
    const trimmed = entry.trim();
    if (parseRange(trimmed) === undefined) {
      throw new Error(`TRUSTED_PROXIES: "${trimmed}" is not an IP address or CIDR range (e.g. 172.16.0.0/12)`);
    }
    return trimmed;
  });
}

/** `address` or `address/prefix`; undefined when it is neither. */
function parseRange(entry: string): { address: string; prefix: number | undefined; type: 'ipv4' | 'ipv6' } | undefined {
  const [address = '', prefix, extra] = entry.split('/');
  if (extra !== undefined) return undefined;
  const family = isIP(address);
  if (family === 0) return undefined;
  if (prefix !== undefined && !(/^\d{1,3}$/.test(prefix) && Number(prefix) <= (family === 4 ? 32 : 128))) return undefined;
  return { address, prefix: prefix === undefined ? undefined : Number(prefix), type: family === 4 ? 'ipv4' : 'ipv6' };
}

/** `entries` as parsed by parseTrustedProxies. */
export function trustedProxies(entries: readonly string[]): TrustedProxies {
  if (entries.length === 0) return { has: () => false };
  const list = new BlockList();
  for (const entry of entries) {
    const range = parseRange(entry);
    if (range === undefined) throw new Error(`not an IP address or CIDR range: "${entry}"`);
    if (range.prefix === undefined) list.addAddress(range.address, range.type);
    else list.addSubnet(range.address, range.prefix, range.type);
  }
  // BlockList.check builds a SocketAddress per call (~17 µs): twice per connection, it was 2 % of
  // the relay's time while 1,000 phones reconnected after a restart. Behind a proxy nearly every
  // peer is the same few proxy addresses, so answers are kept; cleared when full, as the
  // addresses after a proxy's own (X-Forwarded-For hops) are whatever clients send.
  const known = new Map<string, boolean>();
  return {
    has: (peer) => {
      const cached = known.get(peer);
      if (cached !== undefined) return cached;
      const family = isIP(peer);
      const trusted = family !== 0 && list.check(peer, family === 4 ? 'ipv4' : 'ipv6');
      if (known.size >= MAX_REMEMBERED_ADDRESSES) known.clear();
      known.set(peer, trusted);
      return trusted;
    },
  };
}

const MAX_REMEMBERED_ADDRESSES = 1024;

/** An IPv4 client of a dual-stack socket appears as `::ffff:a.b.c.d`: the same address. */
export function normalizeAddress(address: string): string {
  const mapped = /^::ffff:(\d{1,3}(?:\.\d{1,3}){3})$/i.exec(address);
  return (mapped?.[1] ?? address).toLowerCase();
}

/**
 * The TCP peer, unless it is a trusted proxy: then the nearest address in `X-Forwarded-For`
 * (read from the right, where each proxy appends the peer it saw) that is not itself a trusted
 * proxy. Entries left of that were written by the client and are never believed.
 */
export function clientAddress(peer: string | undefined, forwardedFor: string | string[] | undefined, trusted: TrustedProxies): string {
  let address = normalizeAddress(peer ?? 'unknown');
  if (!trusted.has(address) || forwardedFor === undefined) return address;
  const hops = (Array.isArray(forwardedFor) ? forwardedFor.join(',') : forwardedFor).split(',');
  for (let index = hops.length - 1; index >= 0; index--) {
    const hop = withoutPort((hops[index] ?? '').trim());
    if (hop === '') continue;
    address = normalizeAddress(hop);
    if (!trusted.has(address)) return address;
  }
  return address;
}

/**
 * What the per-address limits count as one address. An IPv6 home or phone gets a whole /64 and
 * picks new addresses in it freely (privacy addresses), so per-address limits keyed by the full
 * address would not bind anyone; a /64 is one household or device, like one IPv4 address.
 */
export function addressGroup(address: string): string {
  if (isIP(address) !== 6) return address;
  const [head = '', tail] = address.split('::');
  const headGroups = head === '' ? [] : head.split(':');
  const tailGroups = tail === undefined || tail === '' ? [] : tail.split(':');
  // A dotted IPv4 tail (64:ff9b::192.0.2.1) stands for two groups.
  const tailLength = tailGroups.reduce((sum, group) => sum + (group.includes('.') ? 2 : 1), 0);
  const zeros: string[] = tail === undefined ? [] : Array.from({ length: 8 - headGroups.length - tailLength }, () => '0');
  const prefix = [...headGroups, ...zeros, ...tailGroups].slice(0, 4).map((group) => (group.includes('.') ? '0' : Number.parseInt(group, 16).toString(16)));
  return `${prefix.join(':')}::/64`;
}

/** Some proxies write `1.2.3.4:5678` or `[2001:db8::1]:5678`. */
function withoutPort(hop: string): string {
  const bracketed = /^\[([^\]]+)\](?::\d+)?$/.exec(hop);
  if (bracketed !== null) return bracketed[1] ?? hop;
  const ipv4WithPort = /^(\d{1,3}(?:\.\d{1,3}){3}):\d+$/.exec(hop);
  return ipv4WithPort?.[1] ?? hop;
}

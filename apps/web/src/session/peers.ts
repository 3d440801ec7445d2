/**
 * Who has this list open right now, from awareness states. Remote states are
 * untrusted: only a string name and a #rrggbb colour are taken.
 */
import { cutToLength } from '@basket/list-core';
import type { Peer } from './types.js';

const FALLBACK_COLOR = '#888888';
const MAX_NAME = 40;

export interface PresenceState {
  name: string;
  color: string;
}

export function peersFromStates(states: ReadonlyMap<number, unknown>, selfClientId: number): Peer[] {
  const peers: Peer[] = [];
  for (const [clientId, state] of states) {
    if (typeof state !== 'object' || state === null) continue;
    const { name, color } = state as Record<string, unknown>;
    if (typeof name !== 'string' || name.trim() === '') continue;
    peers.push({
      clientId,
      // Cut between code points: a plain slice can leave half an emoji, a broken character.
      name: cutToLength(name.trim(), MAX_NAME),
      color: typeof color === 'string' && /^#[0-9a-fA-F]{6}$/.test(color) ? color : FALLBACK_COLOR,
      isSelf: clientId === selfClientId,
    });
  }
  return peers.sort((a, b) => Number(b.isSelf) - Number(a.isSelf) || a.name.localeCompare(b.name) || a.clientId - b.clientId);
}

export function samePeers(a: readonly Peer[], b: readonly Peer[]): boolean {
  return (
    a.length === b.length &&
    a.every((peer, i) => {
      const other = b[i];
      return other !== undefined && other.clientId === peer.clientId && other.name === peer.name && other.color === peer.color;
    })
  );
}

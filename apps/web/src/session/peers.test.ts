import { describe, expect, it } from 'vitest';
import { peersFromStates, samePeers } from './peers.js';

describe('peers from awareness', () => {
  it('puts self first, sorts others by name and sanitizes untrusted states', () => {
    const states = new Map<number, unknown>([
      [3, { name: 'Zoe', color: '#112233' }],
      [1, { name: 'Me', color: '#445566' }],
      [2, { name: 'Anna', color: 'red; background: url(x)' }],
      [4, {}],
      [5, null],
      [6, { name: 42 }],
    ]);
    const peers = peersFromStates(states, 1);
    expect(peers).toEqual([
      { clientId: 1, name: 'Me', color: '#445566', isSelf: true },
      { clientId: 2, name: 'Anna', color: '#888888', isSelf: false },
      { clientId: 3, name: 'Zoe', color: '#112233', isSelf: false },
    ]);
    expect(samePeers(peers, peersFromStates(states, 1))).toBe(true);
    expect(samePeers(peers, peers.slice(1))).toBe(false);
  });
});

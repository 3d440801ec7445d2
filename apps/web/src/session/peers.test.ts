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

  it('cuts a long name to 40 UTF-16 units between code points, never leaving half an emoji', () => {
    // 39 letters then an emoji (two units): a plain slice at 40 kept its first half only.
    const long = `${'a'.repeat(39)}🧺 and more`;
    const [peer] = peersFromStates(new Map([[2, { name: long, color: '#112233' }]]), 1);
    expect(peer?.name).toBe('a'.repeat(39));
    expect(() => encodeURIComponent(peer?.name ?? '')).not.toThrow();
    const [whole] = peersFromStates(new Map([[2, { name: `${'a'.repeat(38)}🧺 and more`, color: '#112233' }]]), 1);
    expect(whole?.name).toBe(`${'a'.repeat(38)}🧺`);
  });
});

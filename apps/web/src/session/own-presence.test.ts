import { afterEach, describe, expect, it } from 'vitest';
import * as Y from 'yjs';
import { Awareness, applyAwarenessUpdate, encodeAwarenessUpdate, removeAwarenessStates } from 'y-protocols/awareness';
import { keepOwnPresence } from './own-presence.js';

/** What y-websocket applies awareness messages with: its provider. */
const NETWORK = { name: 'the connection' };
const MUM = { name: 'Mum', color: '#112233' };

const opened: Awareness[] = [];
afterEach(() => {
  for (const awareness of opened.splice(0)) awareness.destroy();
});

function awarenessOfNewPhone(): Awareness {
  const awareness = new Awareness(new Y.Doc());
  opened.push(awareness);
  return awareness;
}

/** An awareness message claiming `clientId`'s state is `state`, at `clock`. */
function claim(clientId: number, state: unknown, clock: number): Uint8Array {
  const forger = awarenessOfNewPhone();
  forger.meta.set(clientId, { clock, lastUpdated: 0 });
  return encodeAwarenessUpdate(forger, [clientId], new Map([[clientId, state as Record<string, unknown>]]));
}

describe('own presence', () => {
  it('[PRESENCE-SPOOF] answers a state sent for this phone with its own, at a newer clock, which the other phones take', () => {
    const mum = awarenessOfNewPhone();
    const dad = awarenessOfNewPhone();
    // Everything Mum's awareness publishes reaches Dad, as through the relay.
    mum.on('update', ({ added, updated, removed }: Record<string, number[]>) => {
      applyAwarenessUpdate(dad, encodeAwarenessUpdate(mum, [...added!, ...updated!, ...removed!]), NETWORK);
    });
    const presence = keepOwnPresence(mum, MUM, NETWORK);
    const namesShown: unknown[] = [];
    mum.on('change', () => namesShown.push(mum.getStates().get(mum.clientID)?.['name']));

    // Someone else's connection claims Mum's client id, far ahead of her clock.
    const spoof = claim(mum.clientID, { name: 'Eve', color: '#445566' }, 1000);
    applyAwarenessUpdate(dad, spoof, NETWORK);
    applyAwarenessUpdate(mum, spoof, NETWORK);

    expect(mum.getLocalState()).toEqual(MUM);
    expect(dad.getStates().get(mum.clientID)).toEqual(MUM);
    expect(mum.meta.get(mum.clientID)?.clock).toBeGreaterThan(1000);
    expect(namesShown).not.toContain('Eve');
    presence.stop();
  });

  it('keeps a name change, and leaves the removal of its state at closing alone', () => {
    const mum = awarenessOfNewPhone();
    const presence = keepOwnPresence(mum, MUM, NETWORK);
    presence.setName('Mum (Anna)');
    expect(mum.getLocalState()).toEqual({ ...MUM, name: 'Mum (Anna)' });
    expect(presence.state.name).toBe('Mum (Anna)');
    applyAwarenessUpdate(mum, claim(mum.clientID, null, 1000), NETWORK);
    expect(mum.getLocalState()).toEqual({ ...MUM, name: 'Mum (Anna)' });

    removeAwarenessStates(mum, [mum.clientID], 'session closed');
    expect(mum.getLocalState()).toBeNull();
    presence.stop();
  });
});

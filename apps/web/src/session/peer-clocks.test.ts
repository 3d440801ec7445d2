import { afterEach, describe, expect, it } from 'vitest';
import * as Y from 'yjs';
import { Awareness, applyAwarenessUpdate, encodeAwarenessUpdate, removeAwarenessStates } from 'y-protocols/awareness';
import { forgetDroppedPeerClocks } from './peer-clocks.js';

const opened: Awareness[] = [];
afterEach(() => {
  for (const awareness of opened.splice(0)) awareness.destroy();
});

function awarenessOfNewPhone(state: Record<string, unknown>): Awareness {
  const awareness = new Awareness(new Y.Doc());
  awareness.setLocalState(state);
  opened.push(awareness);
  return awareness;
}

describe('forgetting the clocks of phones dropped at a disconnect', () => {
  it("[PRESENCE-STALE] lets the next socket's greeting show the other phones again at once", () => {
    const mum = awarenessOfNewPhone({ name: 'Mum' });
    const dad = awarenessOfNewPhone({ name: 'Dad' });
    const greeting = encodeAwarenessUpdate(dad, [dad.clientID]);
    applyAwarenessUpdate(mum, greeting, 'relay');
    // Mum's socket closes: y-websocket drops everyone else's state, keeping their clocks.
    removeAwarenessStates(mum, [dad.clientID], 'relay');
    forgetDroppedPeerClocks(mum);

    // The relay greets the next socket with Dad's state at the clock Mum saw before.
    applyAwarenessUpdate(mum, greeting, 'relay');
    expect(mum.getStates().get(dad.clientID)).toEqual({ name: 'Dad' });
    // Mum's own clock is kept: it must only ever grow, or the other phones ignore her.
    expect(mum.meta.has(mum.clientID)).toBe(true);
  });
});

/**
 * Forgets the presence clocks of the other phones whose states this phone no longer holds, once
 * its socket has closed.
 *
 * y-websocket drops every other phone's state at a disconnect but y-protocols keeps their clocks,
 * and takes a state again only at a newer clock. The relay's greeting on the next socket sends
 * each phone's state at the clock it already had: ignored, so "Also here" stayed empty after
 * every reconnect until each phone's next renewal, up to 15 s (~18 s measured). Forgotten, the
 * greeting is taken as the news it is. (A phone that left before is not in the greeting, and a
 * new socket brings no late echo of an old state.)
 */
import type { Awareness } from 'y-protocols/awareness';

/** Call once the socket's states are dropped (y-websocket's 'disconnected' status). */
export function forgetDroppedPeerClocks(awareness: Awareness): void {
  for (const clientId of [...awareness.meta.keys()]) {
    if (clientId !== awareness.clientID && !awareness.getStates().has(clientId)) awareness.meta.delete(clientId);
  }
}

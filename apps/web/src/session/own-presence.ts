/**
 * This phone's presence (its awareness state): the name and colour the app means it to show,
 * kept so whatever other connections send.
 *
 * y-protocols takes a state for this phone's own client id from any connection, if its clock is
 * higher, as this phone's local state, and renews it every 15 s from then on: anyone with the
 * link could show another name in this person's place, for as long as the list stayed open. So
 * a change to our own state that the network brought is answered at once with the state we
 * mean, at a newer clock (setLocalState raises it by one), which every phone then takes instead.
 */
import type { Awareness } from 'y-protocols/awareness';
import type { PresenceState } from './peers.js';

export interface OwnPresence {
  /** The state this phone means to show. */
  readonly state: PresenceState;
  setName(name: string): void;
  /** Publishes the state again at a new clock (a socket opened: the other phones dropped it). */
  renew(): void;
  /** Stops answering; leaves the state as it is. */
  stop(): void;
}

/**
 * Sets `initial` as the local state and keeps it. `network` is the origin of awareness changes
 * the connection applies (y-websocket's provider): only those are answered, not this app's own
 * removal of its state when the list closes.
 */
export function keepOwnPresence(awareness: Awareness, initial: PresenceState, network: unknown): OwnPresence {
  let state: PresenceState = { ...initial };
  const publish = (): void => awareness.setLocalState({ ...state });
  const onChange = ({ added, updated, removed }: Record<'added' | 'updated' | 'removed', number[]>, origin: unknown): void => {
    if (origin !== network) return;
    const own = awareness.clientID;
    if (added.includes(own) || updated.includes(own) || removed.includes(own)) publish();
  };
  // Registered before anything that shows the states, so that none shows the other one.
  awareness.on('change', onChange);
  publish();
  return {
    get state() {
      return state;
    },
    setName(name) {
      state = { ...state, name };
      publish();
    },
    renew: publish,
    stop: () => awareness.off('change', onChange),
  };
}

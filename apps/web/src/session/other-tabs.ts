/**
 * Edits that other tabs of this browser send over BroadcastChannel are applied with their own
 * origin, `FROM_OTHER_TABS`, instead of the provider's.
 *
 * Why: y-websocket applies them with the provider as origin, the origin it also gives the
 * relay's messages, and its update handler never sends the provider's own origin to the relay.
 * So an edit made in a tab that closed before its socket opened (or whose uplink stalled) was
 * shown in every other tab, stored nowhere on the relay, and counted by no tab: they said
 * "Synced" while the relay never had it. With an origin of their own:
 * - y-websocket's update handler sends them to the relay like this tab's own edits (and back to
 *   the other tabs, which already have them: Yjs applies a duplicate as a no-op with no update
 *   event, so the echo stops there). They go through the same after-paint queue as this tab's
 *   edits, so their order on the socket is the order they were applied in (ack-tracker.ts
 *   relies on it for deletion markers).
 * - the ack tracker counts them until an acknowledged state vector covers their clocks.
 * Only the sync messages are taken over; awareness and the rest go to y-websocket as before.
 */
import * as bc from 'lib0/broadcastchannel';
import * as decoding from 'lib0/decoding';
import * as encoding from 'lib0/encoding';
import * as syncProtocol from 'y-protocols/sync';
import { messageSync, type WebsocketProvider } from 'y-websocket';

/** The transaction origin of updates received from other tabs of this browser. */
export const FROM_OTHER_TABS: unique symbol = Symbol('basket: another tab of this browser');

/** Call before the provider first connects its BroadcastChannel (it subscribes this handler then). */
export function applyOtherTabsAsOwnEdits(provider: WebsocketProvider): void {
  const defaultHandler = provider._bcSubscriber;
  provider._bcSubscriber = (data, origin) => {
    if (origin === provider) return;
    const decoder = decoding.createDecoder(new Uint8Array(data));
    if (decoding.readVarUint(decoder) !== messageSync) {
      defaultHandler(data, origin);
      return;
    }
    // As y-websocket does for this channel, with our origin: a step 1 is answered on the channel.
    const reply = encoding.createEncoder();
    encoding.writeVarUint(reply, messageSync);
    syncProtocol.readSyncMessage(decoder, reply, provider.doc, FROM_OTHER_TABS);
    if (encoding.length(reply) > 1) bc.publish(provider.bcChannel, encoding.toUint8Array(reply), provider);
  };
}

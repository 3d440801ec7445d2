import * as Y from 'yjs';
import type { Phone } from './helpers.js';
import { connectPhone } from './helpers.js';

/** A phone writing new items as fast as the relay takes them, remembering which were acked. */
export class AcknowledgedWriter {
  readonly doc = new Y.Doc();
  private phone: Phone | undefined;
  private timer: NodeJS.Timeout | undefined;
  private written = 0;
  /** key → this client's clock right after writing it */
  private readonly unacknowledged = new Map<string, number>();
  readonly acknowledged = new Set<string>();

  constructor(
    readonly name: string,
    readonly listId: string,
  ) {}

  start(syncUrl: string): void {
    this.phone = connectPhone(syncUrl, this.listId, this.doc);
    const phone = this.phone;
    const originalHandler = phone.provider.messageHandlers[100];
    phone.provider.messageHandlers[100] = (encoder, decoder, provider, emitSynced, messageType) => {
      originalHandler?.(encoder, decoder, provider, emitSynced, messageType);
      const ack = Y.decodeStateVector(phone.acks.at(-1) as Uint8Array);
      const storedClock = ack.get(this.doc.clientID) ?? 0;
      for (const [key, clock] of this.unacknowledged) {
        if (clock <= storedClock) {
          this.acknowledged.add(key);
          this.unacknowledged.delete(key);
        }
      }
    };
    this.timer = setInterval(() => {
      for (let i = 0; i < 3; i++) {
        this.written += 1;
        const key = `${this.name}-${this.written}`;
        this.doc.getMap('items').set(key, this.written);
        this.unacknowledged.set(key, Y.getState(this.doc.store, this.doc.clientID));
      }
    }, 4);
  }

  stop(): void {
    clearInterval(this.timer);
    // Destroying only the provider keeps the document: like a phone, it resends on reconnect.
    this.phone?.provider.destroy();
    this.phone = undefined;
  }
}

/** The browser's online/offline events, switched by the test. */
export class FakeNetwork extends EventTarget {
  online = true;
  isOnline = (): boolean => this.online;
  set(online: boolean): void {
    this.online = online;
    this.dispatchEvent(new Event(online ? 'online' : 'offline'));
  }
}

import { describe, expect, it } from 'vitest';
import { SendBacklogs } from '../src/sync/send-backlog.js';

/** A socket's backlog the test sets by hand, as the peer reads or the relay sends. */
function socketBacklog(): { bytes: number; read: () => number } {
  const backlog = { bytes: 0, read: () => backlog.bytes };
  return backlog;
}

describe('send backlog across connections', () => {
  it('[S1] a send that would take its address past its bound is refused; other addresses are not', () => {
    const backlogs = new SendBacklogs({ maxBufferedBytesPerIp: 100, maxBufferedBytesTotal: 1000 });
    const first = socketBacklog();
    const second = socketBacklog();
    const a1 = backlogs.open('a', first.read);
    const a2 = backlogs.open('a', second.read);
    const b = backlogs.open('b', socketBacklog().read);
    first.bytes = 60;
    a1.update();
    expect(a2.boundPassedBy(40)).toBeUndefined();
    expect(a2.boundPassedBy(41)).toBe('address');
    expect(b.boundPassedBy(100)).toBeUndefined();
    expect(backlogs.bufferedBytes).toBe(60);
  });

  it('[S2] what a peer has read since its last send is recounted before a send is refused', () => {
    const backlogs = new SendBacklogs({ maxBufferedBytesPerIp: 100, maxBufferedBytesTotal: 1000 });
    const reader = socketBacklog();
    const sender = socketBacklog();
    const quiet = backlogs.open('a', reader.read);
    const busy = backlogs.open('a', sender.read);
    reader.bytes = 90;
    quiet.update();
    reader.bytes = 0; // read by its peer; nothing sent to it since
    expect(backlogs.bufferedBytes).toBe(90);
    expect(busy.boundPassedBy(50)).toBeUndefined();
    expect(backlogs.bufferedBytes).toBe(0);
  });

  it('[S3] the relay bound counts every address; a closed connection no longer counts', () => {
    const backlogs = new SendBacklogs({ maxBufferedBytesPerIp: 100, maxBufferedBytesTotal: 150 });
    const full = socketBacklog();
    const a = backlogs.open('a', full.read);
    const b = backlogs.open('b', socketBacklog().read);
    full.bytes = 100;
    a.update();
    expect(b.boundPassedBy(51)).toBe('relay');
    a.release();
    expect(backlogs.bufferedBytes).toBe(0);
    expect(b.boundPassedBy(100)).toBeUndefined();
    a.update(); // a late event on the closed connection changes nothing
    expect(backlogs.bufferedBytes).toBe(0);
  });
});

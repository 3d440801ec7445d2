import { describe, expect, it } from 'vitest';
import { type BacklogBound, type BacklogShare, SharedBacklogs } from '../src/sync/shared-backlogs.js';

/** A socket's backlog the test sets by hand, as the peer reads or the relay sends. */
function socketBacklog(): { bytes: number; read: () => number } {
  const backlog = { bytes: 0, read: () => backlog.bytes };
  return backlog;
}

/** Opens a share whose evictions are recorded in `evicted` (the connection would drop its socket). */
function openShare(backlogs: SharedBacklogs, address: string, read: () => number, evicted: Array<[string, BacklogBound]>, name: string): BacklogShare {
  const share = backlogs.open(address, read);
  share.evictWith((bound) => evicted.push([name, bound]));
  return share;
}

describe('send backlog across connections', () => {
  it('[S1] a send that would take its address past its bound drops a larger backlog of that address, or is refused if its own is the largest; other addresses are not touched', () => {
    const backlogs = new SharedBacklogs({ perAddressBytes: 100, totalBytes: 1000 });
    const evicted: Array<[string, BacklogBound]> = [];
    const first = socketBacklog();
    const a1 = openShare(backlogs, 'a', first.read, evicted, 'a1');
    const a2 = openShare(backlogs, 'a', socketBacklog().read, evicted, 'a2');
    const b = openShare(backlogs, 'b', socketBacklog().read, evicted, 'b');
    first.bytes = 60;
    a1.update();
    expect(a2.makeRoomFor(40)).toBeUndefined();
    // 61 would be more than a1 holds: a2 is the one to go.
    expect(a2.makeRoomFor(61)).toBe('address');
    expect(evicted).toEqual([]);
    expect(b.makeRoomFor(100)).toBeUndefined();
    expect(backlogs.countedBytes).toBe(60);
    // 41 fits once a1, holding more, is dropped.
    expect(a2.makeRoomFor(41)).toBeUndefined();
    expect(evicted).toEqual([['a1', 'address']]);
    expect(backlogs.countedBytes).toBe(0);
  });

  it('[S2] what a peer has read since its last send is recounted before anything is dropped', () => {
    const backlogs = new SharedBacklogs({ perAddressBytes: 100, totalBytes: 1000 });
    const evicted: Array<[string, BacklogBound]> = [];
    const reader = socketBacklog();
    const quiet = openShare(backlogs, 'a', reader.read, evicted, 'quiet');
    const busy = openShare(backlogs, 'a', socketBacklog().read, evicted, 'busy');
    reader.bytes = 90;
    quiet.update();
    reader.bytes = 0; // read by its peer; nothing sent to it since
    expect(backlogs.countedBytes).toBe(90);
    expect(busy.makeRoomFor(50)).toBeUndefined();
    expect(evicted).toEqual([]);
    expect(backlogs.countedBytes).toBe(0);
  });

  it('[S3] the relay bound counts every address and drops the largest backlogs first, only as many as needed; a closed connection no longer counts', () => {
    const backlogs = new SharedBacklogs({ perAddressBytes: 100, totalBytes: 150 });
    const evicted: Array<[string, BacklogBound]> = [];
    const hogs = [socketBacklog(), socketBacklog(), socketBacklog()];
    const shares = hogs.map((hog, i) => openShare(backlogs, `hog${i}`, hog.read, evicted, `hog${i}`));
    const phoneBacklog = socketBacklog();
    const phone = openShare(backlogs, 'phone', phoneBacklog.read, evicted, 'phone');
    [40, 70, 30].forEach((bytes, i) => {
      const hog = hogs[i];
      if (hog !== undefined) hog.bytes = bytes;
      shares[i]?.update();
    });
    phoneBacklog.bytes = 5;
    phone.update();
    // 145 held; 30 more passes 150: the largest (70) goes, and that is enough.
    expect(phone.makeRoomFor(30)).toBeUndefined();
    expect(evicted).toEqual([['hog1', 'relay']]);
    expect(backlogs.countedBytes).toBe(75);
    // 80 more: the phone's 85 would be the largest, so it is refused and nobody else goes.
    expect(phone.makeRoomFor(80)).toBe('relay');
    expect(evicted).toHaveLength(1);
    shares[0]?.release();
    expect(backlogs.countedBytes).toBe(35);
    shares[0]?.update(); // a late event on the closed connection changes nothing
    expect(backlogs.countedBytes).toBe(35);
  });

  it('[S4] a share opened but not yet able to be dropped is passed over, not counted as freed', () => {
    const backlogs = new SharedBacklogs({ perAddressBytes: 1000, totalBytes: 100 });
    const evicted: Array<[string, BacklogBound]> = [];
    const opening = socketBacklog();
    const unready = backlogs.open('x', opening.read);
    opening.bytes = 90;
    unready.update();
    const phone = openShare(backlogs, 'y', socketBacklog().read, evicted, 'phone');
    expect(phone.makeRoomFor(20)).toBe('relay');
    expect(backlogs.countedBytes).toBe(90);
  });
});

import { describe, expect, it } from 'vitest';
import { afterInputQuiet, type QuietTimers } from './input-quiet.js';

/** Timers driven by hand: advance(ms) fires what is due, in order. */
function fakeClock(): QuietTimers & { advance(ms: number): void } {
  let now = 0;
  let nextId = 0;
  const due = new Map<number, { at: number; callback: () => void }>();
  return {
    setTimeout(callback, ms) {
      nextId += 1;
      due.set(nextId, { at: now + ms, callback });
      return nextId;
    },
    clearTimeout(handle) {
      due.delete(handle as number);
    },
    advance(ms) {
      const end = now + ms;
      for (;;) {
        const next = [...due.entries()].filter(([, t]) => t.at <= end).sort((a, b) => a[1].at - b[1].at)[0];
        if (next === undefined) break;
        due.delete(next[0]);
        now = next[1].at;
        next[1].callback();
      }
      now = end;
    },
  };
}

const settled = async (promise: Promise<void>): Promise<boolean> => {
  let done = false;
  void promise.then(() => (done = true));
  await Promise.resolve();
  await Promise.resolve();
  return done;
};

describe('afterInputQuiet', () => {
  it('resolves once input has paused for quietMs, each keystroke restarting the wait', async () => {
    const timers = fakeClock();
    const target = new EventTarget();
    const quiet = afterInputQuiet({ quietMs: 400, maxWaitMs: 4000, target, timers });
    timers.advance(300);
    target.dispatchEvent(new Event('keydown'));
    timers.advance(300);
    target.dispatchEvent(new Event('input'));
    timers.advance(399);
    expect(await settled(quiet)).toBe(false);
    timers.advance(1);
    expect(await settled(quiet)).toBe(true);
  });

  it('gives up waiting after maxWaitMs of continuous input', async () => {
    const timers = fakeClock();
    const target = new EventTarget();
    const quiet = afterInputQuiet({ quietMs: 400, maxWaitMs: 1000, target, timers });
    for (let t = 0; t < 900; t += 100) {
      target.dispatchEvent(new Event('pointerdown'));
      timers.advance(100);
    }
    expect(await settled(quiet)).toBe(false);
    target.dispatchEvent(new Event('keydown'));
    timers.advance(100);
    expect(await settled(quiet)).toBe(true);
  });
});

import { describe, expect, it, vi } from 'vitest';
import * as Y from 'yjs';
import { AfterPaintUpdates } from './after-paint-updates';
import type { AfterPaintScheduler } from './after-paint-updates';

/** Frames and timers that run only when the test says so. */
function manualScheduler() {
  const paints: Array<() => void> = [];
  const timers = new Map<number, () => void>();
  let nextTimer = 1;
  const scheduler: AfterPaintScheduler = {
    afterPaint: (callback) => paints.push(callback),
    setTimeout: (callback) => {
      const id = nextTimer++;
      timers.set(id, callback);
      return id;
    },
    clearTimeout: (id) => timers.delete(id as number),
  };
  return {
    scheduler,
    paint: () => paints.splice(0).forEach((callback) => callback()),
    fireTimers: () => {
      const due = [...timers.values()];
      timers.clear();
      due.forEach((callback) => callback());
    },
  };
}

function setup() {
  const doc = new Y.Doc();
  const clock = manualScheduler();
  const deferred = new AfterPaintUpdates(doc, clock.scheduler);
  const seen: Array<{ text: string; origin: unknown }> = [];
  // What the listener has been given, applied in order: its view of the document.
  const mirror = new Y.Doc();
  const listener = (update: Uint8Array, origin: unknown) => {
    Y.applyUpdate(mirror, update);
    seen.push({ text: mirror.getText('t').toString(), origin });
  };
  doc.on('update', listener);
  deferred.defer(listener);
  return { doc, clock, deferred, seen };
}

describe('AfterPaintUpdates', () => {
  it('runs a deferred listener after the next paint, every update in order with its origin', () => {
    const { doc, clock, seen } = setup();
    const direct: number[] = [];
    doc.on('update', () => direct.push(1));
    doc.transact(() => doc.getText('t').insert(0, 'a'), 'me');
    doc.transact(() => doc.getText('t').insert(1, 'b'), 'relay');
    expect(direct).toHaveLength(2); // listeners not deferred still run inside the edit
    expect(seen).toEqual([]);
    clock.paint();
    expect(seen).toEqual([
      { text: 'a', origin: 'me' },
      { text: 'ab', origin: 'relay' },
    ]);
  });

  it('does not wait for a paint that never comes', () => {
    const { doc, clock, seen } = setup();
    doc.getText('t').insert(0, 'x');
    clock.fireTimers();
    expect(seen.map((s) => s.text)).toEqual(['x']);
    clock.paint(); // the late paint finds nothing left to run
    expect(seen).toHaveLength(1);
  });

  it('never shows a listener an update made before it was deferred', () => {
    const { doc, clock, deferred, seen } = setup();
    doc.getText('t').insert(0, 'old');
    const later: Uint8Array[] = [];
    const laterListener = (update: Uint8Array) => later.push(update);
    doc.on('update', laterListener);
    deferred.defer(laterListener);
    let newUpdate: Uint8Array | undefined;
    doc.once('update', (update: Uint8Array) => (newUpdate = update));
    doc.getText('t').insert(3, 'new');
    clock.paint();
    expect(seen.map((s) => s.text)).toEqual(['old', 'oldnew']);
    expect(later).toEqual([newUpdate]);
  });

  it('runs what is queued when the page is closed or hidden', () => {
    const { doc, seen } = setup();
    doc.getText('t').insert(0, 'y');
    dispatchEvent(new Event('pagehide'));
    expect(seen.map((s) => s.text)).toEqual(['y']);
    doc.getText('t').insert(0, 'x');
    const visibility = vi.spyOn(document, 'visibilityState', 'get').mockReturnValue('hidden');
    document.dispatchEvent(new Event('visibilitychange'));
    visibility.mockRestore();
    expect(seen.map((s) => s.text)).toEqual(['y', 'xy']);
  });

  it('flushes on destroy and then lets go of the document', () => {
    const { doc, clock, deferred, seen } = setup();
    doc.getText('t').insert(0, 'z');
    deferred.destroy();
    expect(seen.map((s) => s.text)).toEqual(['z']);
    doc.getText('t').insert(0, 'after');
    clock.paint();
    clock.fireTimers();
    expect(seen).toHaveLength(1);
  });

  it('keeps delivering to the other listeners when one throws', () => {
    const { doc, clock, deferred, seen } = setup();
    const failing = vi.fn(() => {
      throw new Error('broken listener');
    });
    const errors = vi.spyOn(console, 'error').mockImplementation(() => {});
    doc.on('update', failing);
    deferred.defer(failing);
    doc.getText('t').insert(0, 'q');
    clock.paint();
    expect(failing).toHaveBeenCalledTimes(1);
    expect(seen.map((s) => s.text)).toEqual(['q']);
    expect(errors).toHaveBeenCalled();
    errors.mockRestore();
  });
});

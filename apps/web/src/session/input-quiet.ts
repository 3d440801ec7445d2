/**
 * Waits for a pause in the person's input. Applying a list's stored history is one long,
 * unsplittable main-thread task (~0.6 s for 5,000 items with 100k edits); started while someone
 * is typing, it would freeze their keystrokes. With the cached rows already on screen nothing
 * needs it urgently, so it starts once input has been quiet for a moment.
 */
export interface QuietTimers {
  setTimeout(callback: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

const realTimers: QuietTimers = {
  setTimeout: (callback, ms) => setTimeout(callback, ms),
  clearTimeout: (handle) => clearTimeout(handle as ReturnType<typeof setTimeout>),
};

const INPUT_EVENTS = ['keydown', 'input', 'pointerdown', 'compositionupdate'] as const;

export interface InputQuietOptions {
  /** Input must pause this long. */
  quietMs?: number;
  /** Stop waiting after this long regardless, so the list always loads. */
  maxWaitMs?: number;
  target?: Pick<EventTarget, 'addEventListener' | 'removeEventListener'>;
  timers?: QuietTimers;
}

export function afterInputQuiet(options: InputQuietOptions = {}): Promise<void> {
  const { quietMs = 400, maxWaitMs = 4000, target = globalThis, timers = realTimers } = options;
  return new Promise((resolve) => {
    let quietTimer: unknown = null;
    const finish = (): void => {
      if (quietTimer !== null) timers.clearTimeout(quietTimer);
      timers.clearTimeout(deadline);
      for (const type of INPUT_EVENTS) target.removeEventListener?.(type, restart, true);
      resolve();
    };
    const restart = (): void => {
      if (quietTimer !== null) timers.clearTimeout(quietTimer);
      quietTimer = timers.setTimeout(finish, quietMs);
    };
    const deadline = timers.setTimeout(finish, maxWaitMs);
    for (const type of INPUT_EVENTS) target.addEventListener?.(type, restart, true);
    restart();
  });
}

/**
 * Defers tasks to the check phase of this turn of the event loop, all in one callback, in the
 * order they were scheduled. The lists' group commits cut their batches through it: with one
 * setImmediate each, Node ran the microtasks of each cut (its journal append) before the next
 * cut, so the journal wrote the first list's batch alone and every other list waited for it.
 * Run together, every cut's append is queued before the journal starts its write (journal.ts).
 */
export function createTurnBatch(reportFailure: (error: unknown) => void = throwOnItsOwn): (task: () => void) => void {
  let tasks: Array<() => void> = [];
  const runAll = (): void => {
    const due = tasks;
    tasks = [];
    for (const task of due) {
      // One task's failure must not leave the others' batches uncut, nor hide another's failure.
      try {
        task();
      } catch (error) {
        reportFailure(error);
      }
    }
  };
  return (task) => {
    if (tasks.length === 0) setImmediate(runAll);
    tasks.push(task);
  };
}

/** Throws `error` in a callback of its own, so the process's uncaughtException handler logs each one. */
function throwOnItsOwn(error: unknown): void {
  setImmediate(() => {
    throw error;
  });
}

/** The batch every list's group commit shares (one process, one event loop). */
export const inThisTurn = createTurnBatch();

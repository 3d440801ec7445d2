/**
 * Defers tasks to the check phase of this turn of the event loop, all in one callback, in the
 * order they were scheduled. The lists' group commits cut their batches through it: with one
 * setImmediate each, Node ran the microtasks of each cut (its journal append) before the next
 * cut, so the journal wrote the first list's batch alone and every other list waited for it.
 * Run together, every cut's append is queued before the journal starts its write (journal.ts).
 */
export function createTurnBatch(): (task: () => void) => void {
  let tasks: Array<() => void> = [];
  const runAll = (): void => {
    const due = tasks;
    tasks = [];
    let failure: { error: unknown } | undefined;
    for (const task of due) {
      // One task's failure must not leave the others' batches uncut.
      try {
        task();
      } catch (error) {
        failure ??= { error };
      }
    }
    if (failure !== undefined) throw failure.error;
  };
  return (task) => {
    if (tasks.length === 0) setImmediate(runAll);
    tasks.push(task);
  };
}

/** The batch every list's group commit shares (one process, one event loop). */
export const inThisTurn = createTurnBatch();

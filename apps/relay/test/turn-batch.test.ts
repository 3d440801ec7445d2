import { describe, expect, it } from 'vitest';
import { createTurnBatch } from '../src/sync/turn-batch.js';

describe('turn batch', () => {
  it('[TB1] runs the tasks of one turn in one check-phase callback, in order, before that turn’s microtasks see them', async () => {
    const inThisTurn = createTurnBatch();
    const ran: string[] = [];
    await new Promise<void>((resolve) =>
      setTimeout(() => {
        inThisTurn(() => {
          ran.push('a');
          // Microtasks of a task run only after every task of the batch: what lets the journal gather all their appends.
          void Promise.resolve().then(() => ran.push('a-microtask'));
        });
        inThisTurn(() => ran.push('b'));
        inThisTurn(() => {
          ran.push('c');
          inThisTurn(() => {
            ran.push('next turn');
            resolve();
          });
        });
      }, 0),
    );
    expect(ran).toEqual(['a', 'b', 'c', 'a-microtask', 'next turn']);
  });

  it('[TB2] a task that throws does not keep the others of its turn from running, and every failure is reported', async () => {
    const failures: unknown[] = [];
    const inThisTurn = createTurnBatch((error) => failures.push(error));
    const ran: string[] = [];
    await new Promise<void>((resolve) => {
      inThisTurn(() => {
        throw new Error('first');
      });
      inThisTurn(() => ran.push('b'));
      inThisTurn(() => {
        throw new Error('second');
      });
      inThisTurn(() => {
        ran.push('d');
        resolve();
      });
    });
    expect(ran).toEqual(['b', 'd']);
    expect(failures.map((error) => (error as Error).message)).toEqual(['first', 'second']);
  });
});

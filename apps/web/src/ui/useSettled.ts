import { useEffect, useState } from 'react';

/**
 * False until `promise` resolves (and again for a new promise): a session's milestones
 * (whenLoaded, whenTapsApplied) as render state. A late resolution after the component moved on
 * is ignored.
 */
export function useSettled(promise: Promise<unknown>): boolean {
  const [settled, setSettled] = useState<{ promise: Promise<unknown> } | undefined>(undefined);
  useEffect(() => {
    let current = true;
    void promise.then(() => {
      if (current) setSettled({ promise });
    });
    return () => {
      current = false;
    };
  }, [promise]);
  return settled?.promise === promise;
}

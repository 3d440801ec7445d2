import { useEffect, useState } from 'react';

/**
 * The current time, refreshed every `intervalMs` so relative times
 * ("2 min ago") stay true. `clock` is injectable for tests.
 */
export function useNow(intervalMs: number, clock: () => number = Date.now): number {
  const [now, setNow] = useState(clock);
  useEffect(() => {
    setNow(clock());
    const timer = setInterval(() => setNow(clock()), intervalMs);
    return () => clearInterval(timer);
  }, [intervalMs, clock]);
  return now;
}

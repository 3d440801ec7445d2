import { useCallback, useState } from 'react';

const DISMISSED_KEY = 'basket:ui:name-banner-dismissed';

function readDismissed(): boolean {
  try {
    return localStorage.getItem(DISMISSED_KEY) === '1';
  } catch {
    return false;
  }
}

/** Whether the person said "Not now" to the name banner (remembered on this device). */
export function useNameBannerDismissed(): [boolean, () => void] {
  const [dismissed, setDismissed] = useState(readDismissed);
  const dismiss = useCallback(() => {
    setDismissed(true);
    try {
      localStorage.setItem(DISMISSED_KEY, '1');
    } catch {
      // Private mode without storage: the banner stays hidden for this visit only.
    }
  }, []);
  return [dismissed, dismiss];
}

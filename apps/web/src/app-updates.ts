/**
 * Picking up a new version of the app. The service worker (Workbox, generated at build)
 * activates a new version at once; the open page keeps running the old code until it reloads,
 * and a reload is only safe when nothing lives only in the page.
 *
 * - The reload happens when the page is hidden (the person switched apps), never in front of
 *   them, and not while text is being written (the add field, the item editor, the list name):
 *   none of that is saved until submitted, so a later hide is waited for instead.
 * - It runs in a later task, so the IndexedDB write of an edit made just before the hide commits.
 * - A phone returning to an app still in memory is not a navigation, so the browser never looks
 *   for a new version by itself: every return asks (sw.js is small and never cached).
 */

export interface UpdateEnvironment {
  readonly serviceWorker: Pick<ServiceWorkerContainer, 'controller' | 'addEventListener' | 'getRegistration'>;
  readonly document: Document;
  readonly reload: () => void;
}

export function applyUpdatesWhenHidden({ serviceWorker, document, reload }: UpdateEnvironment): void {
  // No controller at load: the first controllerchange is this page's own first install being
  // claimed, not an update. Every later one is one, also in a tab that was a device's first visit.
  let firstInstallPending = serviceWorker.controller === null;
  let updateReady = false;
  serviceWorker.addEventListener('controllerchange', () => {
    if (firstInstallPending) {
      firstInstallPending = false;
      return;
    }
    updateReady = true;
  });
  document.addEventListener('visibilitychange', () => {
    if (document.visibilityState === 'visible') {
      void serviceWorker
        .getRegistration()
        .then((registration) => registration?.update())
        .catch(() => undefined);
      return;
    }
    if (updateReady && !hasUnsavedInput(document)) setTimeout(reload, 0);
  });
}

/** An open dialog, or a text field someone has typed into: a reload now would lose it. */
export function hasUnsavedInput(document: Document): boolean {
  if (document.querySelector('[role="dialog"]') !== null) return true;
  return Array.from(document.querySelectorAll<HTMLInputElement>('input[type="text"]')).some(
    (input) => !input.readOnly && input.value.trim() !== '',
  );
}

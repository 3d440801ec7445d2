import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { applyUpdatesWhenHidden, hasUnsavedInput } from './app-updates';

/** A stand-in for navigator.serviceWorker: events, a controller, a registration to update. */
function fakeServiceWorker(controlled: boolean) {
  const events = new EventTarget();
  const update = vi.fn(() => Promise.resolve());
  return {
    controller: controlled ? ({} as ServiceWorker) : null,
    addEventListener: events.addEventListener.bind(events),
    getRegistration: vi.fn(() => Promise.resolve({ update } as unknown as ServiceWorkerRegistration)),
    newVersionTakesOver: () => events.dispatchEvent(new Event('controllerchange')),
    update,
  };
}

function setVisibility(state: DocumentVisibilityState): void {
  Object.defineProperty(document, 'visibilityState', { value: state, configurable: true });
  document.dispatchEvent(new Event('visibilitychange'));
}

function start(controlled: boolean) {
  const serviceWorker = fakeServiceWorker(controlled);
  const reload = vi.fn();
  applyUpdatesWhenHidden({ serviceWorker, document, reload });
  return { serviceWorker, reload };
}

beforeEach(() => {
  vi.useFakeTimers();
  document.body.innerHTML = '';
});
afterEach(() => {
  vi.useRealTimers();
  setVisibility('visible');
});

describe('applyUpdatesWhenHidden', () => {
  it('reloads on the next hide after a new version took over, in a later task', () => {
    const { serviceWorker, reload } = start(true);
    setVisibility('hidden');
    vi.runAllTimers();
    expect(reload).not.toHaveBeenCalled();

    serviceWorker.newVersionTakesOver();
    setVisibility('visible');
    expect(reload).not.toHaveBeenCalled();
    setVisibility('hidden');
    expect(reload).not.toHaveBeenCalled();
    vi.runAllTimers();
    expect(reload).toHaveBeenCalledTimes(1);
  });

  it('in a tab that was the first visit, ignores only its own first install', () => {
    const { serviceWorker, reload } = start(false);
    serviceWorker.newVersionTakesOver(); // the first worker claiming this page
    setVisibility('hidden');
    vi.runAllTimers();
    expect(reload).not.toHaveBeenCalled();

    serviceWorker.newVersionTakesOver(); // a real update
    setVisibility('hidden');
    vi.runAllTimers();
    expect(reload).toHaveBeenCalledTimes(1);
  });

  it('waits while something is being typed, and reloads on a later hide once it is gone', () => {
    const { serviceWorker, reload } = start(true);
    document.body.innerHTML = '<input type="text" aria-label="Add item">';
    const field = document.querySelector('input') as HTMLInputElement;
    field.value = 'toilet pa';
    serviceWorker.newVersionTakesOver();
    setVisibility('hidden');
    vi.runAllTimers();
    expect(reload).not.toHaveBeenCalled();

    field.value = '';
    setVisibility('visible');
    setVisibility('hidden');
    vi.runAllTimers();
    expect(reload).toHaveBeenCalledTimes(1);
  });

  it('asks for a new version each time the app comes back into view', async () => {
    const { serviceWorker } = start(true);
    setVisibility('hidden');
    setVisibility('visible');
    setVisibility('hidden');
    setVisibility('visible');
    await vi.waitFor(() => expect(serviceWorker.update).toHaveBeenCalledTimes(2));
  });
});

describe('hasUnsavedInput', () => {
  it('counts an open dialog and typed text, not empty or read-only fields', () => {
    document.body.innerHTML = '<input type="text" value="">';
    expect(hasUnsavedInput(document)).toBe(false);
    document.body.innerHTML = '<input type="text" readonly value="http://localhost/l/abc">';
    expect(hasUnsavedInput(document)).toBe(false);
    document.body.innerHTML = '<input type="text" value="  ">';
    expect(hasUnsavedInput(document)).toBe(false);
    document.body.innerHTML = '<input type="text" value="eggs">';
    expect(hasUnsavedInput(document)).toBe(true);
    document.body.innerHTML = '<div role="dialog" aria-label="Edit Milk"></div>';
    expect(hasUnsavedInput(document)).toBe(true);
  });
});

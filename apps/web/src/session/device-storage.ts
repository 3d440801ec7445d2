/**
 * The device's small key-value storage (localStorage), behind a seam so tests
 * and private-mode browsers (where setItem throws) still work.
 */
export interface KeyValueStore {
  getItem(key: string): string | null;
  setItem(key: string, value: string): void;
  removeItem(key: string): void;
}

export function createMemoryStore(): KeyValueStore {
  const values = new Map<string, string>();
  return {
    getItem: (key) => values.get(key) ?? null,
    setItem: (key, value) => void values.set(key, value),
    removeItem: (key) => void values.delete(key),
  };
}

let fallback: KeyValueStore | null = null;

/** localStorage when usable; otherwise an in-memory store for this page's life. */
export function deviceStorage(): KeyValueStore {
  try {
    const storage = globalThis.localStorage;
    if (storage) {
      return {
        getItem: (key) => {
          try {
            return storage.getItem(key);
          } catch {
            return null;
          }
        },
        setItem: (key, value) => {
          try {
            storage.setItem(key, value);
          } catch {
            // Quota exceeded or storage disabled: the value lives only as long as the page.
          }
        },
        removeItem: (key) => {
          try {
            storage.removeItem(key);
          } catch {
            // Same as above.
          }
        },
      };
    }
  } catch {
    // Accessing localStorage itself throws when cookies are blocked.
  }
  fallback ??= createMemoryStore();
  return fallback;
}

export function readJson(store: KeyValueStore, key: string): unknown {
  const text = store.getItem(key);
  if (text === null) return null;
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return null;
  }
}

export function writeJson(store: KeyValueStore, key: string, value: unknown): void {
  store.setItem(key, JSON.stringify(value));
}

export function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

import { describe, expect, it } from 'vitest';
import { createMemoryStore } from './device-storage.js';
import { createProfileStore, PEER_COLORS } from './profile.js';

describe('profile', () => {
  it('starts as a random guest with a palette colour and nameChosen false, and keeps it', () => {
    const storage = createMemoryStore();
    const first = createProfileStore(storage, () => 0.5).get();
    expect(first.displayName).toBe('Guest 8000');
    expect(first.nameChosen).toBe(false);
    expect(PEER_COLORS).toContain(first.color);
    expect(createProfileStore(storage, () => 0.1).get()).toEqual(first);
  });

  it('stores a chosen name (trimmed, bounded) and tells subscribers', () => {
    const storage = createMemoryStore();
    const store = createProfileStore(storage, () => 0);
    let calls = 0;
    store.subscribe(() => calls++);
    store.setDisplayName('  Dad   Smith ');
    expect(store.get()).toMatchObject({ displayName: 'Dad Smith', nameChosen: true });
    expect(calls).toBe(1);
    store.setDisplayName('   ');
    expect(store.get().displayName).toBe('Dad Smith');
    store.setDisplayName('x'.repeat(100));
    expect(store.get().displayName).toHaveLength(40);
    expect(createProfileStore(storage).get().displayName).toBe('x'.repeat(40));
  });

  it('replaces a corrupted stored profile with a fresh guest', () => {
    const storage = createMemoryStore();
    storage.setItem('basket:profile', '{"displayName":42}');
    expect(createProfileStore(storage, () => 0).get().displayName).toBe('Guest 0000');
  });
});

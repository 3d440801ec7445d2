/**
 * The person on this device: display name (the model's actor) and presence
 * colour. Stored on the device only; there are no accounts.
 */
import { useSyncExternalStore } from 'react';
import type { Profile } from './types.js';
import { deviceStorage, isRecord, readJson, writeJson, type KeyValueStore } from './device-storage.js';

const PROFILE_KEY = 'basket:profile';
export const MAX_DISPLAY_NAME_LENGTH = 40;

/** Distinct, readable on light and dark backgrounds. */
export const PEER_COLORS = [
  // Each carries white 12 px initials at WCAG AA (>= 4.5:1); contrast.test.ts checks it.
  '#b5381c',
  '#2f7d4f',
  '#1f5fcc',
  '#6f2dbd',
  '#a3520f',
  '#0b7a5c',
  '#c0104f',
  '#0d6a8a',
  '#8a5560',
  '#6a4c93',
] as const;

export interface ProfileStore {
  get(): Profile;
  setDisplayName(name: string): void;
  subscribe(onChange: () => void): () => void;
}

function pick<T>(values: readonly T[], random: () => number): T {
  const value = values[Math.floor(random() * values.length) % values.length];
  if (value === undefined) throw new Error('pick from an empty list');
  return value;
}

export function defaultProfile(random: () => number = Math.random): Profile {
  const suffix = Math.floor(random() * 0x10000)
    .toString(16)
    .toUpperCase()
    .padStart(4, '0');
  return { displayName: `Guest ${suffix}`, color: pick(PEER_COLORS, random), nameChosen: false };
}

function parseProfile(value: unknown): Profile | null {
  if (!isRecord(value)) return null;
  const { displayName, color, nameChosen } = value;
  if (typeof displayName !== 'string' || displayName.trim() === '') return null;
  if (typeof color !== 'string' || !/^#[0-9a-fA-F]{6}$/.test(color)) return null;
  return { displayName: displayName.slice(0, MAX_DISPLAY_NAME_LENGTH), color, nameChosen: nameChosen === true };
}

export function createProfileStore(storage: KeyValueStore, random: () => number = Math.random): ProfileStore {
  const listeners = new Set<() => void>();
  let profile = parseProfile(readJson(storage, PROFILE_KEY));
  if (profile === null) {
    profile = defaultProfile(random);
    writeJson(storage, PROFILE_KEY, profile);
  }
  let current: Profile = profile;
  return {
    get: () => current,
    setDisplayName(name) {
      const displayName = name.trim().replace(/\s+/g, ' ').slice(0, MAX_DISPLAY_NAME_LENGTH);
      if (displayName === '') return;
      if (displayName === current.displayName && current.nameChosen) return;
      current = { ...current, displayName, nameChosen: true };
      writeJson(storage, PROFILE_KEY, current);
      for (const listener of [...listeners]) listener();
    },
    subscribe(onChange) {
      listeners.add(onChange);
      return () => void listeners.delete(onChange);
    },
  };
}

let deviceProfile: ProfileStore | null = null;

export function deviceProfileStore(): ProfileStore {
  deviceProfile ??= createProfileStore(deviceStorage());
  return deviceProfile;
}

export function useProfile(): [Profile, (displayName: string) => void] {
  const store = deviceProfileStore();
  const profile = useSyncExternalStore(store.subscribe, store.get);
  return [profile, store.setDisplayName];
}

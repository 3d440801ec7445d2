import { describe, expect, it } from 'vitest';
import { historyKey, suggestNames, type HistoryEntry } from './suggestions.js';

const used = (name: string, count: number, at: number): HistoryEntry => ({ name, count, at });

describe('suggestNames', () => {
  it('adds up how often everyone added a name, whoever typed it', () => {
    const entries = [used('Milk', 2, 1), used('milk', 2, 2), used('Mint', 3, 3)];
    expect(suggestNames(entries, 'mi', 8)).toEqual(['milk', 'Mint']);
  });

  it('shows a name the way it was typed most recently', () => {
    expect(suggestNames([used('oat milk', 1, 1), used('Oat Milk', 1, 2)], 'oat', 8)).toEqual(['Oat Milk']);
    expect(suggestNames([used('Oat Milk', 1, 2), used('oat milk', 1, 1)], 'oat', 8)).toEqual(['Oat Milk']);
  });

  it('puts names that start with what was typed before names that only contain it, however often those were added', () => {
    expect(suggestNames([used('Oat milk', 9, 1), used('Milk', 1, 1)], 'mi', 8)).toEqual(['Milk', 'Oat milk']);
  });

  it('of two names added as often, puts the one added more recently first', () => {
    expect(suggestNames([used('Milk', 1, 1), used('Mint', 1, 2)], 'mi', 8)).toEqual(['Mint', 'Milk']);
  });

  it('finds a name by a part in the middle, and shows at most the limit', () => {
    expect(suggestNames([used('Mushrooms', 1, 1), used('Milk', 1, 2)], 'room', 8)).toEqual(['Mushrooms']);
    expect(suggestNames([used('Milk', 1, 1), used('Mint', 1, 2), used('Mince', 1, 3)], 'mi', 2)).toEqual(['Mince', 'Mint']);
  });

  it('keeps one key per person and name, so two phones never overwrite each other\'s counts', () => {
    expect(historyKey('Mum', 'milk')).not.toBe(historyKey('Dad', 'milk'));
  });
});

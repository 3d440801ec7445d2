import { describe, expect, it } from 'vitest';
import { cutToLength, MAX_NAME_LENGTH } from './schema.js';

describe('cutToLength', () => {
  it('leaves a name of at most MAX_NAME_LENGTH UTF-16 units as it is', () => {
    const name = `${'a'.repeat(MAX_NAME_LENGTH - 2)}🧀`;
    expect(cutToLength(name)).toBe(name);
  });

  it('drops an emoji whose second half would be past the limit, never keeping a lone first half', () => {
    const cut = cutToLength(`${'a'.repeat(MAX_NAME_LENGTH - 1)}🧀`);
    expect(cut).toBe('a'.repeat(MAX_NAME_LENGTH - 1));
  });

  it('keeps an emoji that ends exactly at the limit', () => {
    expect(cutToLength(`${'a'.repeat(MAX_NAME_LENGTH - 2)}🧀🧀`)).toBe(`${'a'.repeat(MAX_NAME_LENGTH - 2)}🧀`);
  });

  it('cuts a name made only of emoji between two of them', () => {
    const cut = cutToLength('🧀'.repeat(MAX_NAME_LENGTH));
    expect(cut).toBe('🧀'.repeat(MAX_NAME_LENGTH / 2));
    expect(cut.length).toBe(MAX_NAME_LENGTH);
  });

  it('trims a space the cut leaves at the end', () => {
    expect(cutToLength(`${'a'.repeat(MAX_NAME_LENGTH - 1)} bread`)).toBe('a'.repeat(MAX_NAME_LENGTH - 1));
  });
});

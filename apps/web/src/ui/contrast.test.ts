import { describe, expect, it } from 'vitest';
import { PEER_COLORS } from '../session/profile';
import { DARK_TEXT, LIGHT_TEXT, contrastRatio, readableTextOn } from './contrast';

// WCAG AA for normal-size text: the avatars' initials are 12 px.
const AA_NORMAL_TEXT = 4.5;

describe('contrast', () => {
  it('computes the WCAG ratio: black on white is 21, a colour on itself is 1', () => {
    expect(contrastRatio('#000000', '#ffffff')).toBeCloseTo(21, 5);
    expect(contrastRatio('#3a86ff', '#3a86ff')).toBeCloseTo(1, 5);
    expect(contrastRatio('#777777', '#ffffff')).toBeCloseTo(4.48, 2);
    expect(contrastRatio('not a colour', '#ffffff')).toBeNull();
  });

  it('every presence colour carries white initials at AA contrast', () => {
    for (const color of PEER_COLORS) {
      expect(contrastRatio(LIGHT_TEXT, color), color).toBeGreaterThanOrEqual(AA_NORMAL_TEXT);
    }
  });

  it('picks dark text on light colours a peer may still send (older palettes)', () => {
    for (const color of ['#f28f3b', '#06a77d', '#b5838d', '#3a86ff', '#ffe066']) {
      const text = readableTextOn(color);
      expect(contrastRatio(text, color), color).toBeGreaterThanOrEqual(AA_NORMAL_TEXT);
    }
    expect(readableTextOn('#ffe066')).toBe(DARK_TEXT);
    expect(readableTextOn('#1f3a5f')).toBe(LIGHT_TEXT);
  });
});

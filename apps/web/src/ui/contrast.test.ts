import { describe, expect, it } from 'vitest';
import { PEER_COLORS } from '../session/profile';
import { DARK_TEXT, LIGHT_TEXT, contrastRatio, readableTextOn } from './contrast';
import { readFileSync } from 'node:fs';
import path from 'node:path';

// The stylesheet as written (vitest does not load CSS into jsdom).
const appCss = readFileSync(path.join(__dirname, 'app.css'), 'utf8');

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

/** The custom properties of the first block after `opener` in app.css (light: `:root {`). */
function colourScheme(opener: string): Map<string, string> {
  const start = appCss.indexOf(opener);
  const block = appCss.slice(start, appCss.indexOf('}', start));
  return new Map([...block.matchAll(/(--[\w-]+):\s*(#[0-9a-f]{6})\s*;/gi)].map((match) => [match[1]!, match[2]!]));
}

// WCAG 1.4.11: what identifies a control (a text field's edge) needs 3:1 against what is next to it.
const NON_TEXT = 3;

describe('app.css colours', () => {
  it.each([
    ['light', ':root {'],
    ['dark', '@media (prefers-color-scheme: dark) {\n  :root {'],
  ])('a text field\'s edge stands out from every surface a field sits on (%s)', (_scheme, opener) => {
    const colours = colourScheme(opener);
    const edge = colours.get('--field-border');
    expect(edge).toBeDefined();
    for (const surface of ['--bg', '--surface', '--surface-2']) {
      const ratio = contrastRatio(edge!, colours.get(surface)!);
      expect(ratio, `${surface} ${colours.get(surface)}`).toBeGreaterThanOrEqual(NON_TEXT);
    }
  });

  it('"Add item" and the dialogs\' fields are drawn with that edge', () => {
    expect(appCss).toMatch(/\.add-item-input \{[^}]*border: 2px solid var\(--field-border\)/);
    expect(appCss).toMatch(/\.field input,\n\.field select,\n\.share-link \{[^}]*border: 1px solid var\(--field-border\)/);
  });
});

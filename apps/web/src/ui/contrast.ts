/**
 * WCAG 2 contrast between colours, so text drawn on a colour someone else chose
 * (a peer's presence colour arrives over awareness, possibly from an older app
 * version) stays readable.
 */

const HEX_COLOR = /^#([0-9a-f]{2})([0-9a-f]{2})([0-9a-f]{2})$/i;

function channelLuminance(channel: number): number {
  const c = channel / 255;
  return c <= 0.03928 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4;
}

/** WCAG relative luminance of a #rrggbb colour; null when it is not one. */
export function relativeLuminance(hex: string): number | null {
  const match = HEX_COLOR.exec(hex);
  if (!match) return null;
  const [r, g, b] = match.slice(1).map((part) => channelLuminance(Number.parseInt(part, 16))) as [number, number, number];
  return 0.2126 * r + 0.7152 * g + 0.0722 * b;
}

/** Contrast ratio (1 to 21) between two #rrggbb colours; null if either is not one. */
export function contrastRatio(a: string, b: string): number | null {
  const la = relativeLuminance(a);
  const lb = relativeLuminance(b);
  if (la === null || lb === null) return null;
  return (Math.max(la, lb) + 0.05) / (Math.min(la, lb) + 0.05);
}

export const LIGHT_TEXT = '#ffffff';
export const DARK_TEXT = '#111111';

/** The text colour (light or dark) with the higher contrast on background. */
export function readableTextOn(background: string): string {
  const onLight = contrastRatio(LIGHT_TEXT, background);
  const onDark = contrastRatio(DARK_TEXT, background);
  if (onLight === null || onDark === null) return LIGHT_TEXT;
  return onLight >= onDark ? LIGHT_TEXT : DARK_TEXT;
}

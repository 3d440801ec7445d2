/**
 * Keys typed before "Add item" exists. PRODUCT.md: a fresh device opening / is "ready to type".
 * The page's load event can come before the app's first commit (React renders after the module
 * ran, the list screen one effect later), and keys typed then went to <body> and were lost: a
 * browser test typing right after `goto('/')` lost part or all of "Milk" on a busy machine.
 *
 * main.tsx starts keeping them on its first line; the field takes them when it is first focused
 * for a list that opens empty (ListScreen's useFocusWhenOpenedEmpty). A list that opens with rows
 * drops them: nothing was ready for typing there, and they must not turn up later in the field.
 */

/** Lines ended with Enter (each one an add), then what was typed after the last Enter. */
export interface EarlyTyping {
  readonly lines: readonly string[];
  readonly text: string;
}

interface Capture {
  readonly lines: string[];
  text: string;
  stop(): void;
}

let capture: Capture | null = null;

const NOTHING_TYPED: EarlyTyping = { lines: [], text: '' };

/** Starts keeping keys typed while nothing on the page has focus (main.tsx, first thing). */
export function captureEarlyTyping(target: Document): void {
  if (capture !== null) return;
  const onKeyDown = (event: KeyboardEvent): void => {
    if (capture === null || event.defaultPrevented || event.isComposing) return;
    if (event.ctrlKey || event.metaKey || event.altKey) return;
    const active = target.activeElement;
    // Keys meant for something focused (a browser's own UI, a field) are theirs.
    if (active !== null && active !== target.body && active !== target.documentElement) return;
    if (event.key === 'Enter') {
      if (capture.text.trim() !== '') capture.lines.push(capture.text);
      capture.text = '';
    } else if (event.key === 'Backspace') {
      capture.text = Array.from(capture.text).slice(0, -1).join('');
    } else if (Array.from(event.key).length === 1) {
      // One character ("a", " ", "é", an emoji); named keys ("Shift", "ArrowUp") are longer.
      capture.text += event.key;
    }
  };
  target.addEventListener('keydown', onKeyDown, true);
  capture = { lines: [], text: '', stop: () => target.removeEventListener('keydown', onKeyDown, true) };
}

/** What was typed before the field could take it; keeping stops for good. */
export function takeEarlyTyping(): EarlyTyping {
  if (capture === null) return NOTHING_TYPED;
  const taken: EarlyTyping = { lines: [...capture.lines], text: capture.text };
  capture.stop();
  capture = null;
  return taken;
}

/** Nothing waits for early keys (a list that opens with rows): drop them and stop keeping them. */
export function dropEarlyTyping(): void {
  takeEarlyTyping();
}

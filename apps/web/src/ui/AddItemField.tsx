/**
 * The "Add item" field: Enter adds, "2 l milk" is parsed into quantity, unit
 * and name, and names used before on this list are suggested.
 *
 * The input keeps the textbox role (browser tests find it as a text field
 * named "Add item") and points at the suggestions with aria-controls and
 * aria-activedescendant; a polite live region says how many suggestions
 * there are ("3 suggestions"). It is not a combobox: PRODUCT.md names it a
 * text field, and aria-expanded on a textbox is an axe critical.
 * Suggestions are computed from a deferred copy of the text, so a slow lookup
 * never delays a keystroke; the field's own state lives here, so typing never
 * re-renders the list.
 *
 * Pasting several lines (a list copied from a note or a message) adds one item
 * per line, each read like typed text, as Google Keep and AnyList do: a text
 * field has no line breaks, so the browser would glue them into one name.
 */
import { memo, useDeferredValue, useId, useLayoutEffect, useMemo, useRef, useState } from 'react';
import type { ClipboardEvent, FormEvent, KeyboardEvent } from 'react';
import { parseQuickAdd } from '@basket/list-core';
import type { NewItem } from '@basket/list-core';
import { takeEarlyTyping } from './early-typing';
import { quantityText } from './format';
import { Icon } from './Icon';

const ADD_ITEM_INPUT_CLASS = 'add-item-input';

/** The "Add item" field on the screen, where keyboard focus goes when its control has gone. */
export function findAddItemInput(): HTMLElement | null {
  return document.querySelector<HTMLElement>(`.${ADD_ITEM_INPUT_CLASS}`);
}

const SUGGESTION_LIMIT = 6;

/** "- ", "* ", "• ", "☐ ", "[ ] "…: list markers copied along with the lines of a note. */
const LIST_MARKER = /^(?:[-*•·◦▪–—]|[☐☑☒✓✔]|\[[ xX]?\])\s*/u;

/** The items in pasted text: its non-empty lines, list markers dropped. One line → none (a normal paste). */
export function pastedLines(text: string): string[] {
  const lines = text
    .split(/\r\n|\r|\n|\u2028|\u2029/)
    .map((line) => line.trim().replace(LIST_MARKER, '').trim())
    .filter((line) => line !== '');
  return lines.length > 1 ? lines : [];
}

/**
 * What the suggestions' live region says: a screen reader hears how many there are (the listbox
 * itself is not announced while focus stays in the field), and nothing when there are none.
 */
export function suggestionCountText(count: number): string {
  if (count === 0) return '';
  return count === 1 ? '1 suggestion' : `${count} suggestions`;
}

/** Whether an add made a row of its own, or was folded into one already shown (and the screen said so). */
export type AddResult = 'new-row' | 'folded';

interface AddItemFieldProps {
  onAdd: (item: NewItem) => AddResult;
  suggest: (prefix: string, limit: number) => readonly string[];
}

export const AddItemField = memo(function AddItemField({ onAdd, suggest }: AddItemFieldProps) {
  const [text, setText] = useState('');
  const [activeIndex, setActiveIndex] = useState(-1);
  const [suggestionsOpen, setSuggestionsOpen] = useState(false);
  // Numbered so that the same words said twice ("Added Milk", removed, "Added Milk") are a new
  // node in the live region: a screen reader speaks changes, and equal text changes nothing.
  const [announcement, setAnnouncement] = useState({ text: '', count: 0 });
  const inputRef = useRef<HTMLInputElement>(null);
  const listboxId = useId();
  const hintId = useId();

  const deferredText = useDeferredValue(text);
  const suggestions = useMemo(() => {
    const prefix = parseQuickAdd(deferredText).name.trim();
    if (prefix === '') return [];
    const lowerPrefix = prefix.toLowerCase();
    return suggest(prefix, SUGGESTION_LIMIT + 1)
      .filter((name) => name.toLowerCase() !== lowerPrefix)
      .slice(0, SUGGESTION_LIMIT);
  }, [deferredText, suggest]);

  const showSuggestions = suggestionsOpen && suggestions.length > 0 && text.trim() !== '';
  const activeSuggestion = showSuggestions ? suggestions[activeIndex] : undefined;
  const shownCount = showSuggestions ? suggestions.length : 0;

  /** Adds one typed line; returns what it added, for the announcement ("" if nothing), and how. */
  const addLine = (line: string, nameOverride?: string): { what: string; result: AddResult } => {
    const parsed = parseQuickAdd(line);
    const name = (nameOverride ?? parsed.name).trim();
    if (name === '') return { what: '', result: 'new-row' };
    const item: NewItem = { name, quantity: parsed.quantity, unit: parsed.unit };
    const result = onAdd(item);
    const amount = quantityText({ quantity: parsed.quantity, unit: parsed.unit });
    return { what: `${amount ? `${amount} ` : ''}${name}`, result };
  };

  const added = (announcement: string) => {
    setAnnouncement((previous) => ({ text: announcement, count: previous.count + 1 }));
    setText('');
    setActiveIndex(-1);
    setSuggestionsOpen(false);
    // focus() forces a style and layout pass; only the Add button or a tapped suggestion moves focus away.
    if (inputRef.current && document.activeElement !== inputRef.current) inputRef.current.focus();
  };

  const add = (nameOverride?: string) => {
    // The field's own value, not state: a fast Enter right after typing must add what is in the field.
    const { what, result } = addLine(inputRef.current?.value ?? text, nameOverride);
    // A folded add is told by the screen (its toast is announced too): said twice otherwise.
    if (what !== '') added(result === 'folded' ? '' : `Added ${what}`);
  };

  // Keys typed before this field existed (early-typing.ts) are its, the first time it is focused:
  // lines ended with Enter are added, the rest waits in the field.
  const takeTypedEarly = useRef<() => void>(() => {});
  takeTypedEarly.current = () => {
    const early = takeEarlyTyping();
    const names = early.lines.map((line) => addLine(line).what).filter((what) => what !== '');
    if (names.length > 0) added(`Added ${names.join(', ')}`);
    if (early.text !== '') setText(early.text);
  };
  useLayoutEffect(() => {
    const field = inputRef.current;
    if (field === null) return;
    const onFirstFocus = (): void => {
      field.removeEventListener('focus', onFirstFocus);
      takeTypedEarly.current();
    };
    field.addEventListener('focus', onFirstFocus);
    return () => field.removeEventListener('focus', onFirstFocus);
  }, []);

  const onPaste = (event: ClipboardEvent<HTMLInputElement>) => {
    const pasted = event.clipboardData.getData('text/plain');
    if (!/[\r\n\u2028\u2029]/.test(pasted)) return;
    // What the field would hold if it kept line breaks: text typed before the paste is a line too.
    const field = event.currentTarget;
    const start = field.selectionStart ?? field.value.length;
    const end = field.selectionEnd ?? start;
    const lines = pastedLines(field.value.slice(0, start) + pasted + field.value.slice(end));
    if (lines.length === 0) return;
    event.preventDefault();
    const names = lines.map((line) => addLine(line).what).filter((what) => what !== '');
    added(`Added ${names.length} items: ${names.join(', ')}`);
  };

  const onSubmit = (event: FormEvent) => {
    event.preventDefault();
    add(activeSuggestion);
  };

  const onKeyDown = (event: KeyboardEvent<HTMLInputElement>) => {
    if (event.key === 'Enter' && !event.nativeEvent.isComposing) {
      // Handled here rather than by implicit form submission, which makes Chromium
      // validate the form and recompute style and layout first (measured: ~2–8 ms on long lists).
      event.preventDefault();
      add(activeSuggestion);
    } else if (event.key === 'ArrowDown' && suggestions.length > 0) {
      event.preventDefault();
      setSuggestionsOpen(true);
      setActiveIndex((index) => (index + 1) % suggestions.length);
    } else if (event.key === 'ArrowUp' && suggestions.length > 0) {
      event.preventDefault();
      setSuggestionsOpen(true);
      setActiveIndex((index) => (index <= 0 ? suggestions.length - 1 : index - 1));
    } else if (event.key === 'Escape' && showSuggestions) {
      event.preventDefault();
      setSuggestionsOpen(false);
      setActiveIndex(-1);
    }
  };

  return (
    <form className="add-item" onSubmit={onSubmit} aria-label="Add to the list">
      <div className="add-item-field">
        <input
          ref={inputRef}
          type="text"
          className={ADD_ITEM_INPUT_CLASS}
          aria-label="Add item"
          aria-describedby={hintId}
          aria-autocomplete="list"
          aria-controls={showSuggestions ? listboxId : undefined}
          aria-activedescendant={activeSuggestion !== undefined ? `${listboxId}-${activeIndex}` : undefined}
          placeholder="Add item, e.g. 2 l milk"
          autoComplete="off"
          autoCapitalize="sentences"
          enterKeyHint="enter"
          maxLength={200}
          value={text}
          onChange={(event) => {
            setText(event.target.value);
            setSuggestionsOpen(true);
            setActiveIndex(-1);
          }}
          onKeyDown={onKeyDown}
          onPaste={onPaste}
          onBlur={() => setSuggestionsOpen(false)}
        />
        <span id={hintId} className="visually-hidden">
          Press Enter to add. Suggestions appear below; use the arrow keys to pick one.
        </span>
        {showSuggestions && (
          <ul className="suggestions" role="listbox" id={listboxId} aria-label="Suggestions">
            {suggestions.map((name, index) => (
              <li
                key={name}
                id={`${listboxId}-${index}`}
                role="option"
                aria-selected={index === activeIndex}
                className={index === activeIndex ? 'suggestion active' : 'suggestion'}
                // Keep focus (and the phone's keyboard) in the field.
                onMouseDown={(event) => event.preventDefault()}
                onClick={() => add(name)}
              >
                {name}
              </li>
            ))}
          </ul>
        )}
      </div>
      <button type="submit" className="add-button" aria-label="Add">
        <Icon name="plus" />
      </button>
      <span className="visually-hidden" aria-live="polite">
        <span key={announcement.count}>{announcement.text}</span>
      </span>
      {/* Its own region: emptied when the suggestions close (an add does), it must not cut "Added Milk" short. */}
      <span className="visually-hidden" aria-live="polite">
        {suggestionCountText(shownCount)}
      </span>
    </form>
  );
});

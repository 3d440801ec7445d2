/**
 * Asks for the person's name, gently: a small banner that can be ignored or
 * dismissed, never a modal in the way of adding items.
 */
import { useState } from 'react';
import type { FormEvent } from 'react';
import { Icon } from './Icon';

export function NameBanner({ onSave, onDismiss }: { onSave: (name: string) => void; onDismiss: () => void }) {
  const [name, setName] = useState('');
  const submit = (event: FormEvent) => {
    event.preventDefault();
    if (name.trim() !== '') onSave(name.trim());
  };
  return (
    <form className="name-banner" onSubmit={submit} aria-label="Your name">
      <label className="name-banner-label">
        <span>What should the family call you?</span>
        <input
          type="text"
          maxLength={40}
          autoComplete="nickname"
          placeholder="e.g. Mum"
          value={name}
          onChange={(event) => setName(event.target.value)}
        />
      </label>
      <button type="submit" className="text-button">
        Save
      </button>
      <button type="button" className="icon-button" aria-label="Not now" onClick={onDismiss}>
        <Icon name="close" />
      </button>
    </form>
  );
}

import type { ParsedQuickAdd } from './api.js';

const UNITS = [
  'kg', 'g', 'mg', 'lb', 'lbs', 'oz', 'l', 'ml', 'cl', 'dl', 'gal', 'qt', 'pt',
  'liter', 'liters', 'litre', 'litres', 'gram', 'grams', 'kilo', 'kilos',
  'pack', 'packs', 'pk', 'can', 'cans', 'bottle', 'bottles', 'box', 'boxes',
  'bag', 'bags', 'jar', 'jars', 'tin', 'tins', 'dozen', 'bunch', 'bunches',
  'pc', 'pcs', 'piece', 'pieces', 'loaf', 'loaves', 'carton', 'cartons',
  'roll', 'rolls', 'tub', 'tubs', 'head', 'heads', 'slice', 'slices',
];
const UNIT_PATTERN = UNITS.slice().sort((a, b) => b.length - a.length).join('|');
const NUMBER = String.raw`(\d+(?:[.,]\d+)?)`;

const LEADING_WITH_UNIT = new RegExp(String.raw`^${NUMBER}\s*(${UNIT_PATTERN})\.?\s+(?:of\s+)?(.+)$`, 'i');
const LEADING_TIMES = new RegExp(String.raw`^${NUMBER}\s*[x×]\s+(.+)$`, 'i');
const LEADING = new RegExp(String.raw`^${NUMBER}\s+(.+)$`);
// "x" needs a space before it, or "Weetabix 24" would be 24 × "Weetabi"; "×" cannot end a word.
const TRAILING_TIMES = new RegExp(String.raw`^(.+?)(?:\s+[x×]|\s*×)\s*${NUMBER}$`, 'i');
const TRAILING_TIMES_AFTER = new RegExp(String.raw`^(.+?)\s+${NUMBER}\s*[x×]$`, 'i');
const TRAILING_WITH_UNIT = new RegExp(String.raw`^(.+?)\s+${NUMBER}\s*(${UNIT_PATTERN})\.?$`, 'i');

/**
 * Splits what a person types in "Add item" into quantity, unit and name:
 * "2 l milk", "500g sugar", "milk x2", "3 apples", "Eggs". The name keeps the
 * case it was typed in. Anything that does not parse is a name with quantity 1.
 */
export function parseQuickAdd(text: string): ParsedQuickAdd {
  const trimmed = text.trim().replace(/\s+/g, ' ');
  const parsed = tryParse(trimmed);
  if (parsed && parsed.quantity > 0 && Number.isFinite(parsed.quantity) && parsed.name.length > 0) {
    return parsed;
  }
  return { quantity: 1, unit: '', name: trimmed };
}

function tryParse(text: string): ParsedQuickAdd | undefined {
  let match = LEADING_WITH_UNIT.exec(text);
  if (match) return build(match[1], match[2], match[3]);
  match = LEADING_TIMES.exec(text);
  if (match) return build(match[1], '', match[2]);
  match = LEADING.exec(text);
  if (match) return build(match[1], '', match[2]);
  match = TRAILING_TIMES.exec(text) ?? TRAILING_TIMES_AFTER.exec(text);
  if (match) return build(match[2], '', match[1]);
  match = TRAILING_WITH_UNIT.exec(text);
  if (match) return build(match[2], match[3], match[1]);
  return undefined;
}

function build(quantity: string | undefined, unit: string | undefined, name: string | undefined): ParsedQuickAdd {
  return {
    quantity: Number((quantity ?? '').replace(',', '.')),
    unit: (unit ?? '').toLowerCase(),
    name: (name ?? '').trim(),
  };
}

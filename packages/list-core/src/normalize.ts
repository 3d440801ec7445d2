/**
 * The duplicate key of rule 2: two names with the same key are the same item.
 * Case, accents, punctuation, spacing and simple English plurals are ignored.
 * The key only has to be equal for a singular and its plural, not pretty:
 * "cookie" and "cookies" both become "cooky".
 */
export function normalizeName(name: string): string {
  const known = cache.get(name);
  if (known !== undefined) return known;
  if (cache.size >= CACHE_LIMIT) cache.clear();
  const key = computeKey(name);
  cache.set(name, key);
  return key;
}

/** Names are re-normalized on every view update of their item; a small memo saves the regex work. */
const cache = new Map<string, string>();
const CACHE_LIMIT = 20_000;

function computeKey(name: string): string {
  const words = name
    .normalize('NFKD')
    .replace(/\p{M}+/gu, '')
    .toLowerCase()
    .split(/[^\p{L}\p{N}]+/u)
    .filter((word) => word.length > 0);
  return words.map(singularStem).join(' ');
}

/**
 * The same stem for a word and its plural, applied to both: a plural "s" goes
 * ("shoes" → "shoe", "kiwis" → "kiwi"), then the "e" of "-oes", "-ches",
 * "-shes", "-xes", "-zes", "-sses" ("tomatoe" and "tomato" → "tomato") and
 * "-ie" becomes "y" ("berrie", "berry" → "berry"; "pie" → "py").
 * "-ss" and "-us" words are singulars (glass, hummus).
 */
function singularStem(word: string): string {
  let stem = word;
  if (stem.length > 2 && stem.endsWith('s') && !/(?:ss|us)$/.test(stem)) stem = stem.slice(0, -1);
  if (stem.length > 2 && stem.endsWith('ie')) return `${stem.slice(0, -2)}y`;
  if (/(?:o|ch|sh|x|z|ss)e$/.test(stem) && stem.length > 3) return stem.slice(0, -1);
  return stem;
}

/** Lower-cased, trimmed, single-spaced: for prefix matching in suggestions. */
export function foldForSearch(text: string): string {
  return text.trim().replace(/\s+/g, ' ').toLowerCase();
}

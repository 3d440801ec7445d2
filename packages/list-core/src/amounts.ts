/**
 * Comparing the amounts of duplicates (rule 2) that may be written in
 * different units: "1 l" and "500 ml" of milk are the same kind of amount,
 * "2 packs" and "500 g" of pasta are not.
 */

/** Units of one kind and how many base units each is; spellings as quick-add and people write them. */
const SCALES: ReadonlyArray<Readonly<Record<string, number>>> = [
  { mg: 0.001, g: 1, gram: 1, grams: 1, kg: 1000, kilo: 1000, kilos: 1000, oz: 28.349523125, lb: 453.59237, lbs: 453.59237 },
  { ml: 1, cl: 10, dl: 100, l: 1000, liter: 1000, liters: 1000, litre: 1000, litres: 1000 },
];

/** Plural and singular spellings of counted units ("pack", "packs") are one unit. */
const SAME_UNIT: Readonly<Record<string, string>> = {
  packs: 'pack', pk: 'pack', cans: 'can', bottles: 'bottle', boxes: 'box', bags: 'bag', jars: 'jar',
  tins: 'tin', bunches: 'bunch', pcs: 'pc', piece: 'pc', pieces: 'pc', loaves: 'loaf', cartons: 'carton',
  rolls: 'roll', tubs: 'tub', heads: 'head', slices: 'slice',
};

function unitKey(unit: string): string {
  const key = unit.trim().toLowerCase();
  return SAME_UNIT[key] ?? key;
}

/**
 * `quantity` of `unit` expressed in `target`, when the two are the same
 * unit or convertible; undefined when they measure different things.
 */
export function convertAmount(quantity: number, unit: string, target: string): number | undefined {
  const from = unitKey(unit);
  const to = unitKey(target);
  if (from === to) return quantity;
  for (const scale of SCALES) {
    const fromFactor = scale[from];
    const toFactor = scale[to];
    if (fromFactor !== undefined && toFactor !== undefined) return roundAmount((quantity * fromFactor) / toFactor);
  }
  return undefined;
}

/** Conversions give 0.30000000000000004; six significant decimals are plenty for shopping. */
function roundAmount(value: number): number {
  return Math.round(value * 1e6) / 1e6;
}

/** "500 ml", "3", for a note beside an amount that could not be compared. */
export function amountText(quantity: number, unit: string): string {
  const trimmed = unit.trim();
  return trimmed.length > 0 ? `${quantity} ${trimmed}` : String(quantity);
}

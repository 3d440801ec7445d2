import type { Category } from './api.js';
import { normalizeName } from './normalize.js';

/** Store sections in the order a shopper usually walks them. */
export const CATEGORIES: readonly Category[] = [
  'produce',
  'bakery',
  'dairy',
  'meat-fish',
  'frozen',
  'pantry',
  'drinks',
  'household',
  'personal-care',
  'baby',
  'pets',
  'other',
];

export const CATEGORY_LABELS: Readonly<Record<Category, string>> = {
  produce: 'Produce',
  bakery: 'Bakery',
  dairy: 'Dairy & eggs',
  'meat-fish': 'Meat & fish',
  frozen: 'Frozen',
  pantry: 'Pantry',
  drinks: 'Drinks',
  household: 'Household',
  'personal-care': 'Personal care',
  baby: 'Baby',
  pets: 'Pets',
  other: 'Other',
};

/** Comma-separated names per section; singular or plural, normalized on load. */
const BUILT_IN: Readonly<Record<Exclude<Category, 'other'>, string>> = {
  produce: `apple, banana, orange, lemon, lime, grapefruit, mandarin, clementine, pear, peach, nectarine,
    plum, apricot, cherry, grape, strawberry, raspberry, blueberry, blackberry, cranberry, kiwi, mango,
    pineapple, melon, watermelon, cantaloupe, papaya, pomegranate, fig, date, avocado, tomato,
    cherry tomato, potato, sweet potato, onion, red onion, spring onion, shallot, garlic, ginger, carrot,
    celery, cucumber, zucchini, courgette, eggplant, aubergine, bell pepper, pepper, chili, jalapeno,
    lettuce, iceberg lettuce, romaine, spinach, kale, arugula, rocket, cabbage, red cabbage, broccoli,
    cauliflower, brussels sprout, asparagus, green bean, pea, corn, sweet corn, mushroom, leek, radish,
    beetroot, beet, turnip, parsnip, pumpkin, squash, butternut squash, fennel, artichoke, herb, parsley,
    basil, cilantro, coriander, mint, dill, rosemary, thyme, chive, salad, coleslaw, sprout, rhubarb,
    lychee, passion fruit, coconut, fruit, vegetable, berry`,
  bakery: `bread, white bread, whole wheat bread, sourdough, baguette, roll, bread roll, bun, burger bun,
    hot dog bun, bagel, croissant, muffin, english muffin, pita, tortilla, wrap, naan, ciabatta,
    focaccia, brioche, rye bread, cake, cupcake, donut, doughnut, pastry, danish, pie, tart, scone,
    crumpet, pretzel, breadcrumb, cinnamon roll`,
  dairy: `milk, whole milk, skim milk, semi skimmed milk, buttermilk, cream, heavy cream, whipping cream,
    sour cream, creme fraiche, butter, margarine, cheese, cheddar, mozzarella, parmesan, feta, brie,
    camembert, gouda, goat cheese, cream cheese, cottage cheese, ricotta, mascarpone, halloumi,
    yogurt, yoghurt, greek yogurt, kefir, egg, custard, pudding, quark, ghee`,
  'meat-fish': `chicken, chicken breast, chicken thigh, chicken wing, whole chicken, turkey, beef, steak,
    ground beef, mince, minced meat, pork, pork chop, bacon, ham, sausage, salami, pepperoni, chorizo,
    hot dog, lamb, veal, duck, meatball, burger, ribs, prosciutto, deli meat, fish, salmon, tuna steak,
    cod, haddock, tilapia, trout, sardine, mackerel, shrimp, prawn, crab, lobster, mussel, clam,
    oyster, scallop, squid, smoked salmon, tofu, tempeh`,
  frozen: `ice cream, frozen pizza, frozen peas, frozen vegetables, frozen berries, frozen fries, fries,
    french fries, fish fingers, fish sticks, frozen meal, ice, ice cube, popsicle, frozen yogurt,
    frozen spinach, frozen corn, waffle, hash brown, sorbet, frozen dumpling`,
  pantry: `rice, brown rice, basmati rice, pasta, spaghetti, penne, macaroni, noodle, lasagna, couscous,
    quinoa, oat, oatmeal, porridge, cereal, granola, muesli, flour, sugar, brown sugar, icing sugar,
    salt, black pepper, spice, paprika, cumin, cinnamon, oregano, curry powder, vanilla, baking powder,
    baking soda, yeast, honey, jam, jelly, peanut butter, nutella, maple syrup, syrup, olive oil,
    vegetable oil, sunflower oil, oil, vinegar, balsamic vinegar, soy sauce, ketchup, mustard,
    mayonnaise, mayo, hot sauce, bbq sauce, pesto, tomato sauce, pasta sauce, passata, canned tomato,
    tomato paste, beans, baked beans, black bean, kidney bean, chickpea, lentil, tuna, canned tuna,
    soup, stock, broth, bouillon, crackers, chips, crisps, popcorn, pretzels, nuts, almond, walnut,
    cashew, peanut, pistachio, raisin, dried fruit, chocolate, candy, sweets, cookie, biscuit,
    cracker, snack, granola bar, cereal bar, tea, coffee, instant coffee, cocoa, hot chocolate,
    breakfast cereal, corn flakes, olive, pickle, capers, salsa, hummus, tahini, coconut milk,
    gravy, stuffing, gelatin, sprinkles, marshmallow, dressing, salad dressing, seeds, chia seed`,
  drinks: `water, sparkling water, mineral water, juice, orange juice, apple juice, soda, cola, coke,
    lemonade, iced tea, energy drink, sports drink, beer, wine, red wine, white wine, rose, prosecco,
    champagne, cider, vodka, gin, rum, whisky, whiskey, tonic, tonic water, smoothie, oat milk,
    almond milk, soy milk, kombucha, sparkling wine, squash drink, cordial`,
  household: `toilet paper, paper towel, kitchen roll, tissue, napkin, dish soap, washing up liquid,
    dishwasher tablet, dishwasher detergent, laundry detergent, washing powder, fabric softener,
    bleach, cleaner, all purpose cleaner, glass cleaner, sponge, scrubber, trash bag, bin bag,
    garbage bag, aluminum foil, tin foil, foil, cling film, plastic wrap, baking paper, parchment paper,
    zip bag, freezer bag, battery, light bulb, candle, matches, lighter, air freshener, broom,
    rubber gloves, gloves, detergent, stain remover, descaler, insect spray`,
  'personal-care': `shampoo, conditioner, soap, hand soap, body wash, shower gel, toothpaste, toothbrush,
    dental floss, mouthwash, deodorant, razor, shaving cream, lotion, body lotion, moisturizer,
    sunscreen, lip balm, cotton pad, cotton bud, q tip, tampon, sanitary pad, pad, makeup, hair gel,
    hairspray, painkiller, ibuprofen, paracetamol, aspirin, vitamin, plaster, band aid, bandage,
    contact lens solution, nail polish remover, hand sanitizer, face wash, tissues`,
  baby: `diaper, nappy, baby wipe, wipes, baby food, formula, infant formula, baby formula, baby shampoo,
    baby lotion, pacifier, dummy, baby bottle, teething gel, baby cereal, rusk, puree, baby powder`,
  pets: `dog food, cat food, pet food, cat litter, litter, dog treat, cat treat, treats, bird seed,
    fish food, dog biscuit, chew toy, flea treatment, poop bag, dog shampoo, hay, pet toy, kibble`,
};

const BUILT_IN_BY_KEY: ReadonlyMap<string, Category> = buildIndex();

function buildIndex(): Map<string, Category> {
  const index = new Map<string, Category>();
  for (const [category, names] of Object.entries(BUILT_IN) as [Category, string][]) {
    for (const name of names.split(',')) {
      const key = normalizeName(name);
      if (key.length > 0 && !index.has(key)) index.set(key, category);
    }
  }
  return index;
}

/** How many distinct names the built-in table knows (for tests and docs). */
export function builtInNameCount(): number {
  return BUILT_IN_BY_KEY.size;
}

/**
 * The store section for a grocery name, from the built-in table. Tries the
 * whole name, then shorter endings ("organic whole milk" → "whole milk" →
 * "milk"), then shorter beginnings; 'other' when nothing matches.
 */
export function builtInCategory(name: string): Category {
  const words = normalizeName(name).split(' ').filter((word) => word.length > 0);
  for (let start = 0; start < words.length; start++) {
    const found = BUILT_IN_BY_KEY.get(words.slice(start).join(' '));
    if (found) return found;
  }
  for (let end = words.length - 1; end > 0; end--) {
    const found = BUILT_IN_BY_KEY.get(words.slice(0, end).join(' '));
    if (found) return found;
  }
  return 'other';
}

/** Position of a category in store-walk order; unknown categories sort with 'other'. */
export function categoryRank(category: string): number {
  const index = CATEGORIES.indexOf(category as Category);
  return index >= 0 ? index : CATEGORIES.length - 1;
}

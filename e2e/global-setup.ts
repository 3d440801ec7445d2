import { assertBuilt } from './fixtures/paths.js';

/** Fails the whole run at once, with one clear message, when the production build is missing. */
export default function globalSetup(): void {
  assertBuilt();
}

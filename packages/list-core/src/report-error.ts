// list-core compiles without DOM or Node typings; both runtimes have console.
declare const console: { error(...data: unknown[]): void };

/** Logs a failure of someone else's callback without letting it escape a Yjs transaction. */
export function reportCallbackError(what: string, error: unknown): void {
  console.error(`[list-core] ${what} failed`, error);
}

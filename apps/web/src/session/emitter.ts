/** A minimal typed listener set; a throwing listener never stops the others. */
export class Emitter<T> {
  private readonly listeners = new Set<(value: T) => void>();

  on(listener: (value: T) => void): () => void {
    this.listeners.add(listener);
    return () => void this.listeners.delete(listener);
  }

  emit(value: T): void {
    for (const listener of [...this.listeners]) {
      try {
        listener(value);
      } catch (error) {
        console.error('[basket] listener failed', error);
      }
    }
  }

  clear(): void {
    this.listeners.clear();
  }
}

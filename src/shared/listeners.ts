/** Listeners told that something happened; one that throws is reported and never stops the others. */
export class Listeners {
  readonly #listeners = new Set<() => void>();
  readonly #report: (error: unknown) => void;

  constructor(report: (error: unknown) => void) {
    this.#report = report;
  }

  /** Adds `listener`; returns the function that removes it. */
  add(listener: () => void): () => void {
    this.#listeners.add(listener);
    return () => void this.#listeners.delete(listener);
  }

  notify(): void {
    for (const listener of this.#listeners) {
      try {
        listener();
      } catch (error) {
        this.#report(error);
      }
    }
  }
}

/**
 * Work nobody awaits (timer sweeps, clean-ups after a caller got its answer), kept so shutdown can wait for it; a
 * failure goes to `report` instead of becoming an unhandled rejection.
 */
export class BackgroundWork {
  readonly #pending = new Set<Promise<void>>();
  readonly #report: (error: unknown) => void;

  constructor(report: (error: unknown) => void) {
    this.#report = report;
  }

  track(work: Promise<unknown>): Promise<void> {
    const tracked = work.then(
      () => undefined,
      (error: unknown) => this.#report(error),
    );
    this.#pending.add(tracked);
    void tracked.then(() => this.#pending.delete(tracked));
    return tracked;
  }

  /** Resolves once nothing tracked is running, including work started by work that was. */
  async idle(): Promise<void> {
    while (this.#pending.size > 0) await Promise.all([...this.#pending]);
  }
}

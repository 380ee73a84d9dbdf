/**
 * Runs async tasks one at a time per key, in call order; tasks of different keys run concurrently. The C2D queue uses
 * it per device, so a send, a receive, a settlement and a timer sweep of one device never interleave.
 */
export class KeyedSerial {
  readonly #tails = new Map<string, Promise<unknown>>();

  run<T>(key: string, task: () => Promise<T>): Promise<T> {
    const tail = this.#tails.get(key) ?? Promise.resolve();
    const result = tail.then(task, task);
    const settled = result.then(
      () => undefined,
      () => undefined,
    );
    this.#tails.set(key, settled);
    // Forget idle keys, so a hub with many devices keeps only the queues that have work.
    void settled.then(() => {
      if (this.#tails.get(key) === settled) this.#tails.delete(key);
    });
    return result;
  }
}

/**
 * Runs async tasks one at a time, in order. The registry uses it for read-modify-write of identities and twins, so
 * concurrent requests for the same record see each other's writes (one hub process owns its store).
 */
export class SerialQueue {
  #tail: Promise<unknown> = Promise.resolve();

  run<T>(task: () => Promise<T>): Promise<T> {
    const result = this.#tail.then(task, task);
    this.#tail = result.then(
      () => undefined,
      () => undefined,
    );
    return result;
  }
}

/**
 * mulberry32: a tiny 32-bit generator whose whole state is one integer, so a seed fully determines the sequence
 * (fault rules with a `seed` fail the same calls on every run). Not for anything needing cryptographic randomness.
 *
 * The seed is the initial state, so `new Mulberry32(generator.state)` continues a generator's sequence exactly where
 * it stopped: a fault rule reloaded after a restart draws what it would have drawn without the restart.
 */
export class Mulberry32 {
  #state: number;

  /** `seedOrState`: a rule's seed, or the `state` of a generator to continue. */
  constructor(seedOrState: number) {
    this.#state = seedOrState >>> 0;
  }

  /** The whole state, an unsigned 32-bit integer: what a generator needs to continue the sequence. */
  get state(): number {
    return this.#state;
  }

  /** The next number in [0, 1). */
  next(): number {
    this.#state = (this.#state + 0x6d2b79f5) >>> 0;
    let t = this.#state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }
}

import type { Clock } from "./ports/clock.js";

/**
 * The hub clock: wall time plus an offset that users and tests advance (`POST /admin/clock`, `advanceClock`), so
 * TTLs, locks and quota days can be reached without waiting.
 */
export class HubClock implements Clock {
  readonly #wall: Clock;
  #offsetMs = 0;

  constructor(wall: Clock) {
    this.#wall = wall;
  }

  now(): number {
    return this.#wall.now() + this.#offsetMs;
  }

  get offsetSeconds(): number {
    return this.#offsetMs / 1000;
  }

  /** Moves hub time forward; time never goes back, so a negative or non-finite amount is refused by the caller. */
  advance(seconds: number): void {
    if (!Number.isFinite(seconds) || seconds < 0) throw new RangeError("The hub clock can only be advanced by a finite, non-negative number of seconds");
    this.#offsetMs += seconds * 1000;
  }
}

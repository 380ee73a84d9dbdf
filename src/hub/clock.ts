import type { Clock } from "./ports/clock.js";
import type { SettingStore } from "../shared/persisted-setting.js";

/** The store setting holding the hub clock's offset, `{"offsetMs": n}` (decision 0013). */
export const HUB_CLOCK_SETTING = "hubClock";

/**
 * The hub clock: wall time plus an offset that users and tests advance (`POST /admin/clock`, `advanceClock`), so
 * TTLs, locks and quota days can be reached without waiting.
 *
 * The offset is kept in the store (`ClockAdmin` writes it) and read back by `HubClock.load` on start: IoT Hub time
 * never goes back, and without it a restart moved hub time backwards — a message whose TTL had run out was alive
 * again, a lock taken "later" outlived its lock time, a new quota day went back to yesterday's.
 */
export class HubClock implements Clock {
  readonly #wall: Clock;
  #offsetMs: number;

  constructor(wall: Clock, offsetMs = 0) {
    this.#wall = wall;
    this.#offsetMs = Number.isFinite(offsetMs) && offsetMs > 0 ? offsetMs : 0;
  }

  /** A clock with the offset the store holds (0 on first start); read before anything reads hub time. */
  static async load(wall: Clock, store: SettingStore): Promise<HubClock> {
    const stored = await store.getSetting(HUB_CLOCK_SETTING);
    const offsetMs = typeof stored === "object" && stored !== null ? (stored as Record<string, unknown>)["offsetMs"] : undefined;
    return new HubClock(wall, typeof offsetMs === "number" ? offsetMs : 0);
  }

  now(): number {
    return this.#wall.now() + this.#offsetMs;
  }

  get offsetSeconds(): number {
    return this.#offsetMs / 1000;
  }

  /** What the store keeps (`HUB_CLOCK_SETTING`). */
  stored(): { offsetMs: number } {
    return { offsetMs: this.#offsetMs };
  }

  /** Moves hub time forward; time never goes back, so a negative or non-finite amount is refused by the caller. */
  advance(seconds: number): void {
    if (!Number.isFinite(seconds) || seconds < 0) throw new RangeError("The hub clock can only be advanced by a finite, non-negative number of seconds");
    this.#offsetMs += seconds * 1000;
  }
}

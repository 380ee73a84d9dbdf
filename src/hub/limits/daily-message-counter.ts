import type { Clock } from "../ports/clock.js";

/**
 * IoT Hub meters its daily message quota in 4 KB blocks: a 6 KB message uses two, and even an empty one uses one
 * (Learn, "IoT Hub pricing": "messages are metered in 4-KB blocks").
 */
export const QUOTA_BLOCK_BYTES = 4096;

const DAY_MS = 24 * 60 * 60 * 1000;

/** How many quota blocks a message of `sizeInBytes` uses. */
export function quotaBlocks(sizeInBytes: number): number {
  return Math.max(1, Math.ceil(sizeInBytes / QUOTA_BLOCK_BYTES));
}

/**
 * Messages used today, in quota blocks, on the hub clock. The day starts at 00:00 UTC, when IoT Hub resets
 * `dailyMessageQuotaUsed` to 0. The `dailyMessageQuotaUsed` metric reads it; the quota check (403002
 * IotHubQuotaExceeded) is meant to share the same instance, so both always agree on what "today" holds.
 *
 * Times are hub-clock milliseconds. The day rolls over lazily, on the next count or read, so the counter needs no
 * timer and a clock advanced past midnight (`advanceClock`) shows 0 at once.
 */
export class DailyMessageCounter {
  readonly #clock: Clock;
  #day: number;
  #used = 0;

  constructor(clock: Clock) {
    this.#clock = clock;
    this.#day = dayOf(clock.now());
  }

  /** Counts one message of `sizeInBytes` sent at `time`; returns the blocks it used. */
  countMessage(sizeInBytes: number, time: number = this.#clock.now()): number {
    const blocks = quotaBlocks(sizeInBytes);
    this.add(blocks, time);
    return blocks;
  }

  /**
   * Adds `blocks` used at `time`. A count from a day that has already ended (an event reported late across
   * midnight) belongs to yesterday's quota and is dropped rather than charged to today.
   */
  add(blocks: number, time: number = this.#clock.now()): void {
    const day = dayOf(time);
    if (day < this.#day) return;
    if (day > this.#day) {
      this.#day = day;
      this.#used = 0;
    }
    this.#used += blocks;
  }

  /** Blocks used on the day of `time` (now by default); 0 for a day the counter no longer (or not yet) holds. */
  used(time: number = this.#clock.now()): number {
    return dayOf(time) === this.#day ? this.#used : 0;
  }

  /** When the day of `time` ends and the count returns to 0: the next 00:00 UTC, in hub-clock milliseconds. */
  resetsAt(time: number = this.#clock.now()): number {
    return (dayOf(time) + 1) * DAY_MS;
  }
}

function dayOf(time: number): number {
  return Math.floor(time / DAY_MS);
}

import type { Clock } from "../ports/clock.js";
import { PersistedSetting, type SettingPersistence } from "../../shared/persisted-setting.js";

/** The store setting holding the day's count, `{"day": "2026-03-04", "used": n}` (decision 0013). */
export const DAILY_MESSAGE_QUOTA_SETTING = "dailyMessageQuota";

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
 *
 * With `persistence` (the hub's counter, built by `DailyMessageCounter.load`) the day's count survives a restart
 * (decision 0013): counting stays an in-memory add that marks the count changed, and the count is written at most
 * about once a second while it changes, and at `close`. A crash can lose at most the last second of counts.
 */
export class DailyMessageCounter {
  readonly #clock: Clock;
  #day: number;
  #used = 0;
  readonly #setting: PersistedSetting | undefined;

  constructor(clock: Clock, persistence?: SettingPersistence) {
    this.#clock = clock;
    this.#day = dayOf(clock.now());
    this.#setting = persistence === undefined ? undefined : new PersistedSetting({ ...persistence, name: DAILY_MESSAGE_QUOTA_SETTING, snapshot: () => this.stored() });
  }

  /**
   * A counter kept in the store, holding the stored count if it is today's on the hub clock; a count from an earlier
   * day (the hub was down over midnight) is over, so today starts from 0.
   */
  static async load(clock: Clock, persistence: SettingPersistence): Promise<DailyMessageCounter> {
    const counter = new DailyMessageCounter(clock, persistence);
    const stored = await persistence.store.getSetting(DAILY_MESSAGE_QUOTA_SETTING);
    if (typeof stored === "object" && stored !== null) {
      const { day, used } = stored as Record<string, unknown>;
      const storedDay = typeof day === "string" && /^\d{4}-\d{2}-\d{2}$/.test(day) ? dayOf(Date.parse(`${day}T00:00:00Z`)) : NaN;
      if (storedDay === counter.#day && typeof used === "number" && Number.isSafeInteger(used) && used > 0) counter.#used = used;
    }
    return counter;
  }

  /** What the store keeps: the day (UTC date on the hub clock) and its count. */
  stored(): { day: string; used: number } {
    return { day: new Date(this.#day * DAY_MS).toISOString().slice(0, 10), used: this.#used };
  }

  /** Writes the count if it changed since the last write (what the once-a-second flush runs). */
  flush(): Promise<void> {
    return this.#setting?.flush() ?? Promise.resolve();
  }

  /** The hub stops: a last write of the count, awaited before the store closes. */
  close(): Promise<void> {
    return this.#setting?.close() ?? Promise.resolve();
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
    this.#setting?.markDirty();
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

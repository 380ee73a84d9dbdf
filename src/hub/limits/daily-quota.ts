import { HubError } from "../errors/index.js";
import type { Clock } from "../ports/clock.js";
import { DailyMessageCounter } from "./daily-message-counter.js";

export interface DailyQuotaSettings {
  /** Messages a day for the whole hub, in metering blocks; Infinity: not enforced (still counted, for the metric). */
  readonly messagesPerDay: number;
  /** The metering block: 4096 bytes, 512 on the free tier. */
  readonly meterBytes: number;
  /** The hub's name, for the error text. */
  readonly hubName: string;
}

/**
 * The daily message quota (service-protocol.md §7.1, Learn "IoT Hub pricing"): every metered operation uses
 * ceil(size / block) blocks, at least one, and once the day's blocks are used up every metered operation fails with
 * 403002 IotHubQuotaExceeded until 00:00 UTC on the hub clock. The counter is the one the `dailyMessageQuotaUsed`
 * metric reads; the hub's is kept in the store, flushed about once a second, so the day's count survives a restart
 * (decision 0013; decision 0011 kept it in memory only).
 */
export class DailyQuota {
  readonly counter: DailyMessageCounter;
  readonly #clock: Clock;
  readonly #settings: DailyQuotaSettings;

  constructor(clock: Clock, settings: DailyQuotaSettings, counter: DailyMessageCounter = new DailyMessageCounter(clock)) {
    this.#clock = clock;
    this.#settings = settings;
    this.counter = counter;
  }

  get messagesPerDay(): number {
    return this.#settings.messagesPerDay;
  }

  /** Blocks a message of `bytes` uses: "a message with no payload still counts as 1". */
  blocks(bytes: number): number {
    return Math.max(1, Math.ceil(bytes / this.#settings.meterBytes));
  }

  /** Throws 403002 when today's quota is used up. */
  check(trackingId: string | undefined, now: number = this.#clock.now()): void {
    const used = this.counter.used(now);
    if (used < this.#settings.messagesPerDay) return;
    const resets = new Date(this.counter.resetsAt(now)).toISOString();
    // [INF] Worded after the real hub's 403002 text ("Total number of messages on IotHub '…' exceeded the allocated quota").
    throw new HubError("IotHubQuotaExceeded", {
      ...(trackingId === undefined ? {} : { trackingId }),
      message:
        `Total number of messages on IotHub '${this.#settings.hubName}' exceeded the allocated quota. Max allowed message count: ${this.#settings.messagesPerDay}, ` +
        `current message count: ${used}. The quota resets at ${resets} (00:00 UTC on the hub clock).`,
      info: { maxMessages: this.#settings.messagesPerDay, usedMessages: used, resetsAt: resets },
    });
  }

  /** An operation of `bytes` is admitted: refused if the quota is used up, otherwise counted. */
  charge(bytes: number, trackingId: string | undefined): void {
    const now = this.#clock.now();
    this.check(trackingId, now);
    this.counter.add(this.blocks(bytes), now);
  }

  /** Counts what an admitted operation used after the fact (a reply, a delivery); never refuses. */
  meter(bytes: number): void {
    this.counter.add(this.blocks(bytes), this.#clock.now());
  }
}

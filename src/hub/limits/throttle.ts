import { HubError } from "../errors/index.js";
import type { Clock } from "../ports/clock.js";
import type { HubTimers } from "../timers/hub-timers.js";

export interface ThrottleSettings {
  /** What the throttle limits, for the error text (e.g. "Device-to-cloud sends"). */
  readonly operation: string;
  /** Tokens per second; Infinity: not throttled. */
  readonly ratePerSecond: number;
  /** Bucket size in seconds of rate: the burst served at once. At least one token. */
  readonly burstSeconds: number;
  /** The longest a call may wait in the backlog; a call that would wait longer is refused with 429001. */
  readonly maxWaitMs: number;
  /** The unit of a token, for the error text ("/s" or " KB/s"). */
  readonly unit?: string;
}

/**
 * One operation's throttle with IoT Hub's traffic shaping (service-protocol.md §7.3, Learn "IoT Hub quotas and
 * throttling": "IoT Hub … accepts bursts … then queues requests … rejects with 429 when the backlog persists").
 *
 * A token bucket on the hub clock: it holds `burstSeconds` of rate and refills continuously. A call that finds tokens
 * goes at once; one that does not takes its tokens on credit and waits, on a hub timer, until the refill has paid for
 * them, so the backlog drains at exactly the rate and in arrival order. A call whose wait would exceed `maxWaitMs`
 * (the backlog persisted) takes nothing and fails with 429001 ThrottlingException. Advancing the hub clock refills
 * the bucket and releases the waiting calls.
 */
export class Throttle {
  readonly #clock: Clock;
  readonly #timers: HubTimers;
  readonly #settings: ThrottleSettings;
  readonly #capacity: number;
  /** Negative while calls wait: the tokens they took on credit. */
  #tokens: number;
  #last: number;

  constructor(clock: Clock, timers: HubTimers, settings: ThrottleSettings) {
    this.#clock = clock;
    this.#timers = timers;
    this.#settings = settings;
    this.#capacity = Math.max(1, settings.ratePerSecond * settings.burstSeconds);
    this.#tokens = this.#capacity;
    this.#last = clock.now();
  }

  get unlimited(): boolean {
    return this.#settings.ratePerSecond === Infinity;
  }

  /** Tokens available now (negative: owed by waiting calls). */
  available(): number {
    this.#refill(this.#clock.now());
    return this.#tokens;
  }

  /**
   * Takes `cost` tokens. Undefined: go now. A promise: the call's turn comes when it resolves. Throws 429001 when the
   * wait would be longer than the backlog allows.
   */
  take(cost: number, trackingId: string | undefined): Promise<void> | undefined {
    if (this.unlimited) return undefined;
    const now = this.#clock.now();
    this.#refill(now);
    const after = this.#tokens - cost;
    if (after >= 0) {
      this.#tokens = after;
      return undefined;
    }
    const waitMs = Math.ceil((-after / this.#settings.ratePerSecond) * 1000);
    if (waitMs > this.#settings.maxWaitMs) throw this.#throttled(trackingId, waitMs);
    this.#tokens = after;
    return new Promise<void>((resolve) => void this.#timers.after(waitMs, resolve));
  }

  #refill(now: number): void {
    if (now <= this.#last) return;
    this.#tokens = Math.min(this.#capacity, this.#tokens + ((now - this.#last) / 1000) * this.#settings.ratePerSecond);
    this.#last = now;
  }

  #throttled(trackingId: string | undefined, waitMs: number): HubError {
    const { operation, ratePerSecond, maxWaitMs, unit = "/s" } = this.#settings;
    return new HubError("ThrottlingException", {
      ...(trackingId === undefined ? {} : { trackingId }),
      message:
        `${operation} are throttled at ${formatRate(ratePerSecond)}${unit} on this hub and the backlog is full: this request would wait ` +
        `${(waitMs / 1000).toFixed(1)} s, more than ${(maxWaitMs / 1000).toFixed(1)} s. Reduce the rate or add units.`,
    });
  }
}

function formatRate(rate: number): string {
  return Number.isInteger(rate) ? String(rate) : rate.toFixed(2);
}

import { HubError } from "../errors/index.js";
import type { CallContext } from "../call-context.js";
import { requireRight } from "../auth/service-auth.js";
import type { HubClock } from "../clock.js";
import type { HubTimers } from "../timers/hub-timers.js";

export interface ClockStatus {
  /** Hub time, ISO-8601. */
  readonly now: string;
  /** How far the hub clock is ahead of wall time. */
  readonly offsetSeconds: number;
}

// Ten years: enough for any TTL, lock or quota day, small enough that dates stay sane.
const MAX_ADVANCE_SECONDS = 10 * 365 * 24 * 3600;

/**
 * `GET/POST /admin/clock`: read and advance the hub clock. Not an IoT Hub API; it changes hub-wide time, so only a
 * policy holding every right (like iothubowner) may use it.
 */
export class ClockAdmin {
  readonly #clock: HubClock;
  readonly #timers: HubTimers;

  constructor(clock: HubClock, timers: HubTimers) {
    this.#clock = clock;
    this.#timers = timers;
  }

  status(ctx: CallContext): ClockStatus {
    requireAllRights(ctx);
    return this.#status();
  }

  /** Body `{"advanceSeconds": n}`: moves hub time forward and fires every hub timer that became due. */
  advance(ctx: CallContext, body: unknown): ClockStatus {
    requireAllRights(ctx);
    const seconds = typeof body === "object" && body !== null ? (body as Record<string, unknown>)["advanceSeconds"] : undefined;
    if (typeof seconds !== "number" || !Number.isFinite(seconds) || seconds < 0 || seconds > MAX_ADVANCE_SECONDS) {
      throw new HubError("ArgumentInvalid", {
        trackingId: ctx.trackingId,
        message: `The body must be {"advanceSeconds": n} with n from 0 to ${MAX_ADVANCE_SECONDS}, and the hub clock never goes back`,
      });
    }
    return this.advanceBy(seconds);
  }

  /** Moves hub time forward and fires the hub timers that became due; for the composition root, no caller to check. */
  advanceBy(seconds: number): ClockStatus {
    this.#clock.advance(seconds);
    this.#timers.poke();
    return this.#status();
  }

  #status(): ClockStatus {
    return { now: new Date(this.#clock.now()).toISOString(), offsetSeconds: this.#clock.offsetSeconds };
  }
}

/** Admin operations that are not IoT Hub APIs and change the whole hub: only a policy holding every right (iothubowner). */
export function requireAllRights(ctx: CallContext): void {
  for (const right of ["RegistryRead", "RegistryWrite", "ServiceConnect", "DeviceConnect"] as const) requireRight(ctx, right);
}

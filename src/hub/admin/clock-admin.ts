import { HubError } from "../errors/index.js";
import type { CallContext } from "../call-context.js";
import { requireRight } from "../auth/service-auth.js";
import { HUB_CLOCK_SETTING, type HubClock } from "../clock.js";
import type { HubTimers } from "../timers/hub-timers.js";
import { PersistedSetting, type SettingPersistence } from "../../shared/persisted-setting.js";

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
 *
 * Each advance is written to the store (`HUB_CLOCK_SETTING`, read back by `HubClock.load`): IoT Hub time never goes
 * back, and without it a restart moved hub time backwards (TTLs, locks and quota days with it). Writes are queued in
 * order and each stores the offset as it is when it runs, so an older offset never overwrites a newer one.
 */
export class ClockAdmin {
  readonly #clock: HubClock;
  readonly #timers: HubTimers;
  /** Undefined: the offset lives in memory only (unit tests of other parts). */
  readonly #setting: PersistedSetting | undefined;

  constructor(clock: HubClock, timers: HubTimers, persistence?: SettingPersistence) {
    this.#clock = clock;
    this.#timers = timers;
    this.#setting = persistence === undefined ? undefined : new PersistedSetting({ ...persistence, name: HUB_CLOCK_SETTING, snapshot: () => clock.stored() });
  }

  status(ctx: CallContext): ClockStatus {
    requireAllRights(ctx);
    return this.#status();
  }

  /**
   * Body `{"advanceSeconds": n}`: moves hub time forward and fires every hub timer that became due. Answers once the
   * new offset is stored: an acknowledged advance survives a restart.
   */
  async advance(ctx: CallContext, body: unknown): Promise<ClockStatus> {
    requireAllRights(ctx);
    const seconds = typeof body === "object" && body !== null ? (body as Record<string, unknown>)["advanceSeconds"] : undefined;
    if (typeof seconds !== "number" || !Number.isFinite(seconds) || seconds < 0 || seconds > MAX_ADVANCE_SECONDS) {
      throw new HubError("ArgumentInvalid", {
        trackingId: ctx.trackingId,
        message: `The body must be {"advanceSeconds": n} with n from 0 to ${MAX_ADVANCE_SECONDS}, and the hub clock never goes back`,
      });
    }
    const status = this.#move(seconds);
    await this.#setting?.save();
    return status;
  }

  /**
   * Moves hub time forward and fires the hub timers that became due; for the composition root (`advanceClock`), no
   * caller to check. Synchronous, as tests call it between steps: the offset is stored in the background (a failure
   * goes to the hub's reportError) and `close` waits for that write.
   */
  advanceBy(seconds: number): ClockStatus {
    const status = this.#move(seconds);
    this.#setting?.saveInBackground();
    return status;
  }

  /** Waits for the offset writes still running (the hub stops). */
  async close(): Promise<void> {
    await this.#setting?.close();
  }

  #move(seconds: number): ClockStatus {
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

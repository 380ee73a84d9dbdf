import { HubError, isHubError } from "../errors/index.js";
import type { CallContext, DeviceCaller } from "../call-context.js";
import type { HubEvents } from "../events/hub-event.js";
import type { Clock } from "../ports/clock.js";
import type { IdentityEntry, Store } from "../ports/store.js";
import type { SerialQueue } from "../../shared/serial-queue.js";
import type { HubLimits } from "../limits/hub-limits.js";
import type { FaultRules } from "../faults/fault-rules.js";
import { identityNotFound } from "../registry/not-found.js";
import { deviceTwinView, patchReported } from "./index.js";

export interface DeviceTwinsDeps {
  readonly store: Store;
  readonly clock: Clock;
  readonly writes: SerialQueue;
  readonly events: HubEvents;
  /** Tier limits: basic tiers have no twins (403010), the twin read and update throttles, the quota. */
  readonly hubLimits?: HubLimits;
  /** Fault injection (decision 0012): a rule that fires fails, delays or drops the call where it enters. */
  readonly faults?: FaultRules;
}

function deviceCaller(ctx: CallContext): DeviceCaller {
  if (ctx.caller.kind !== "device") throw new HubError("IotHubUnauthorizedAccess", { trackingId: ctx.trackingId, message: "Only a device or module reads its twin this way" });
  return ctx.caller;
}

/** The device side of twins: a full GET (desired and reported, no metadata) and reported-property patches. */
export class DeviceTwins {
  readonly #deps: DeviceTwinsDeps;

  constructor(deps: DeviceTwinsDeps) {
    this.#deps = deps;
  }

  async get(ctx: CallContext): Promise<{ desired: Record<string, unknown>; reported: Record<string, unknown> }> {
    const caller = deviceCaller(ctx);
    let size: number | undefined;
    return this.#recorded(caller, "get", () => size, async () => {
      await this.#deps.faults?.enter(ctx, "twin.get");
      await this.#deps.hubLimits?.admit(ctx, "twinRead");
      const view = deviceTwinView((await this.#find(ctx, caller)).twin);
      // The document the device receives: what the quota meters and `d2c.twin.read.size` measures.
      size = Buffer.byteLength(JSON.stringify(view));
      this.#deps.hubLimits?.meter(size);
      return view;
    });
  }

  /**
   * Merges a reported patch; returns the new reported $version. `expectedVersion` (MQTT `$version=` in the topic)
   * makes the write conditional: a mismatch is 412 PreconditionFailed.
   */
  async patchReported(ctx: CallContext, patch: unknown, expectedVersion?: number): Promise<number> {
    const caller = deviceCaller(ctx);
    const size = Buffer.byteLength(JSON.stringify(patch) ?? "");
    return this.#recorded(caller, "updateReported", () => size, async () => {
      await this.#deps.faults?.enter(ctx, "twin.reported");
      await this.#deps.hubLimits?.admit(ctx, "twinUpdate", size);
      return this.#deps.writes.run(async () => {
        const entry = await this.#find(ctx, caller);
        const current = entry.twin.reported["$version"];
        if (expectedVersion !== undefined && expectedVersion !== current) {
          throw new HubError("PreconditionFailed", { trackingId: ctx.trackingId, message: `The reported properties are at $version ${String(current)}, not ${expectedVersion}` });
        }
        const twin = patchReported(entry.twin, patch, this.#deps.clock.now());
        await this.#deps.store.write([{ kind: "put", entry: { identity: entry.identity, twin } }]);
        return twin.reported["$version"] as number;
      });
    });
  }

  /**
   * Runs a device twin operation and records it, failed or not (D2CTwinOperations logs both, with durationMs);
   * `size` gives the event's `messageSize` once the operation has ended (undefined: not known).
   */
  async #recorded<T>(caller: DeviceCaller, operation: "get" | "updateReported", size: () => number | undefined, run: () => Promise<T>): Promise<T> {
    const started = this.#deps.clock.now();
    const emit = (error?: unknown): void => {
      const time = this.#deps.clock.now();
      // Anything but a HubError reaches the device as 500001 ServerError, so that is what is logged.
      const failure = error === undefined ? {} : { error: isHubError(error) ? error.errorName : ("ServerError" as const) };
      const messageSize = size();
      const sized = messageSize === undefined ? {} : { messageSize };
      this.#deps.events.emit({ type: "twinOperation", time, deviceId: caller.deviceId, moduleId: caller.moduleId, operation, durationMs: time - started, ...sized, ...failure });
    };
    try {
      const result = await run();
      emit();
      return result;
    } catch (error) {
      emit(error);
      throw error;
    }
  }

  async #find(ctx: CallContext, caller: DeviceCaller): Promise<IdentityEntry> {
    const key = { deviceId: caller.deviceId, moduleId: caller.moduleId };
    const entry = await this.#deps.store.getIdentity(key);
    if (entry === undefined) throw identityNotFound(key, ctx.trackingId);
    return entry;
  }
}

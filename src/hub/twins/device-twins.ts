import { HubError } from "../errors/index.js";
import type { CallContext, DeviceCaller } from "../call-context.js";
import type { HubEvents } from "../events/hub-event.js";
import type { Clock } from "../ports/clock.js";
import type { IdentityEntry, Store } from "../ports/store.js";
import type { SerialQueue } from "../../shared/serial-queue.js";
import { identityNotFound } from "../registry/not-found.js";
import { deviceTwinView, patchReported } from "./index.js";

export interface DeviceTwinsDeps {
  readonly store: Store;
  readonly clock: Clock;
  readonly writes: SerialQueue;
  readonly events: HubEvents;
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
    const entry = await this.#find(ctx, caller);
    this.#deps.events.emit({ type: "twinOperation", time: this.#deps.clock.now(), deviceId: caller.deviceId, moduleId: caller.moduleId, operation: "get" });
    return deviceTwinView(entry.twin);
  }

  /**
   * Merges a reported patch; returns the new reported $version. `expectedVersion` (MQTT `$version=` in the topic)
   * makes the write conditional: a mismatch is 412 PreconditionFailed.
   */
  async patchReported(ctx: CallContext, patch: unknown, expectedVersion?: number): Promise<number> {
    const caller = deviceCaller(ctx);
    return this.#deps.writes.run(async () => {
      const entry = await this.#find(ctx, caller);
      const current = entry.twin.reported["$version"];
      if (expectedVersion !== undefined && expectedVersion !== current) {
        throw new HubError("PreconditionFailed", { trackingId: ctx.trackingId, message: `The reported properties are at $version ${String(current)}, not ${expectedVersion}` });
      }
      const twin = patchReported(entry.twin, patch, this.#deps.clock.now());
      await this.#deps.store.write([{ kind: "put", entry: { identity: entry.identity, twin } }]);
      this.#deps.events.emit({ type: "twinOperation", time: this.#deps.clock.now(), deviceId: caller.deviceId, moduleId: caller.moduleId, operation: "updateReported" });
      return twin.reported["$version"] as number;
    });
  }

  async #find(ctx: CallContext, caller: DeviceCaller): Promise<IdentityEntry> {
    const key = { deviceId: caller.deviceId, moduleId: caller.moduleId };
    const entry = await this.#deps.store.getIdentity(key);
    if (entry === undefined) throw identityNotFound(key, ctx.trackingId);
    return entry;
  }
}

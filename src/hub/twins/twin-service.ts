import { HubError, isHubError } from "../errors/index.js";
import type { HubEvents } from "../events/hub-event.js";
import type { CallContext } from "../call-context.js";
import { requireRight } from "../auth/service-auth.js";
import type { Clock } from "../ports/clock.js";
import type { IdentityEntry, IdentityKey, Store, TwinRecord } from "../ports/store.js";
import { identityEtag, etagMatches } from "../registry/etag.js";
import { checkId } from "../registry/identity-id.js";
import { identityNotFound } from "../registry/not-found.js";
import type { SerialQueue } from "../../shared/serial-queue.js";
import type { HubLimits } from "../limits/hub-limits.js";
import type { FaultRules } from "../faults/fault-rules.js";
import { patchTwin, renderTwin, replaceTwin, twinEtag, twinMatchView } from "./index.js";

export interface TwinServiceDeps {
  readonly store: Store;
  readonly clock: Clock;
  readonly writes: SerialQueue;
  /** Told about every desired-property change, so a gateway holding the device's connection can notify it. */
  readonly onDesiredChange?: (key: IdentityKey, notification: Record<string, unknown>) => void;
  /** Where reads and writes are reported (the C2DTwinOperations resource log). */
  readonly events?: HubEvents;
  /** Tier limits: basic tiers have no twins (403010), the twin read and update throttles, the quota. */
  readonly hubLimits?: HubLimits;
  /** Fault injection (decision 0012): a rule that fires fails, delays or drops the call where it enters. */
  readonly faults?: FaultRules;
}

export interface TwinWriteInput {
  readonly deviceId: string;
  readonly moduleId?: string;
  readonly body: unknown;
  readonly ifMatch: string | undefined;
}

type TwinChange = (twin: TwinRecord, body: unknown, now: number) => { twin: TwinRecord; desiredNotification: Record<string, unknown> | undefined };

/** Device and module twins from the service side: read, patch (merge) and replace tags and desired properties. */
export class TwinService {
  readonly #deps: TwinServiceDeps;

  constructor(deps: TwinServiceDeps) {
    this.#deps = deps;
  }

  async get(ctx: CallContext, deviceId: string, moduleId?: string): Promise<Record<string, unknown>> {
    return this.#recorded(ctx, { deviceId, moduleId }, "get", undefined, async () => {
      requireRight(ctx, "ServiceConnect");
      await this.#deps.faults?.enter(ctx, "twin.get", { deviceId, moduleId });
      await this.#deps.hubLimits?.admit(ctx, "twinRead");
      const twin = renderEntry(await this.#find(ctx, deviceId, moduleId));
      this.#deps.hubLimits?.meterJson(twin);
      return twin;
    });
  }

  /** PATCH /twins/{id}: deep merge into tags and desired; If-Match compares with the twin etag. */
  patch(ctx: CallContext, input: TwinWriteInput): Promise<Record<string, unknown>> {
    return this.#recorded(ctx, input, "patch", input.body, () => this.#write(ctx, input, patchTwin));
  }

  /** PUT /twins/{id}: replace tags and desired as a whole; reported is untouched. */
  replace(ctx: CallContext, input: TwinWriteInput): Promise<Record<string, unknown>> {
    return this.#recorded(ctx, input, "replace", input.body, () => this.#write(ctx, input, replaceTwin));
  }

  /**
   * Runs one service twin operation and reports it, succeeded or failed: C2DTwinOperations logs both, with
   * durationMs and messageSize (monitoring.md §2.8) — the JSON sent for a write, the JSON returned for a read.
   */
  async #recorded(
    ctx: CallContext,
    key: { readonly deviceId: string; readonly moduleId?: string | undefined },
    operation: "get" | "patch" | "replace",
    sent: unknown,
    run: () => Promise<Record<string, unknown>>,
  ): Promise<Record<string, unknown>> {
    const events = this.#deps.events;
    if (events === undefined) return run();
    const started = this.#deps.clock.now();
    const emit = (message: unknown, error?: unknown): void => {
      if (typeof key.deviceId !== "string") return;
      const time = this.#deps.clock.now();
      const messageSize = message === undefined ? 0 : Buffer.byteLength(JSON.stringify(message) ?? "");
      const failure = error === undefined ? {} : { error: isHubError(error) ? error.errorName : ("ServerError" as const) };
      events.emit({
        type: "serviceTwinOperation", time, deviceId: key.deviceId, moduleId: key.moduleId ?? "", operation, durationMs: time - started, messageSize,
        sdkVersion: ctx.client?.sdkVersion, ...failure,
      });
    };
    try {
      const result = await run();
      emit(operation === "get" ? result : sent);
      return result;
    } catch (error) {
      emit(sent, error);
      throw error;
    }
  }

  async #write(ctx: CallContext, input: TwinWriteInput, change: TwinChange): Promise<Record<string, unknown>> {
    requireRight(ctx, "ServiceConnect");
    await this.#deps.faults?.enter(ctx, "twin.desired", { deviceId: input.deviceId, moduleId: input.moduleId });
    await this.#deps.hubLimits?.admit(ctx, "twinUpdate", Buffer.byteLength(JSON.stringify(input.body) ?? ""));
    return this.#deps.writes.run(async () => {
      const entry = await this.#find(ctx, input.deviceId, input.moduleId);
      if (!etagMatches(input.ifMatch, twinEtag(entry.twin))) {
        throw new HubError("PreconditionFailed", { trackingId: ctx.trackingId, message: "The etag in If-Match does not match the current etag of the twin" });
      }
      const result = change(entry.twin, input.body, this.#deps.clock.now());
      const updated: IdentityEntry = { identity: entry.identity, twin: result.twin };
      await this.#deps.store.write([{ kind: "put", entry: updated }]);
      if (result.desiredNotification !== undefined) {
        this.#deps.onDesiredChange?.({ deviceId: entry.identity.deviceId, moduleId: entry.identity.moduleId }, result.desiredNotification);
      }
      return renderEntry(updated);
    });
  }

  async #find(ctx: CallContext, deviceId: string, moduleId: string | undefined): Promise<IdentityEntry> {
    checkId(deviceId, "DeviceId", ctx.trackingId);
    if (moduleId !== undefined) checkId(moduleId, "ModuleId", ctx.trackingId);
    const entry = await this.#deps.store.getIdentity({ deviceId, moduleId: moduleId ?? "" });
    if (entry !== undefined) return entry;
    throw identityNotFound({ deviceId, moduleId: moduleId ?? "" }, ctx.trackingId);
  }
}

/** The twin as GET and queries return it: same etag in both, so Twin.update after a query works (query §0 rule 10). */
export function renderEntry(entry: IdentityEntry): Record<string, unknown> {
  return renderTwin(entry.identity, entry.twin, identityEtag(entry.identity.etagVersion));
}

/** A read-only twin document for evaluating query conditions (see twinMatchView). */
export function matchView(entry: IdentityEntry): Record<string, unknown> {
  return twinMatchView(entry.identity, entry.twin, identityEtag(entry.identity.etagVersion));
}

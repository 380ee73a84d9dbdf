import { HubError, isHubError } from "../errors/index.js";
import type { HubEvents } from "../events/hub-event.js";
import type { CallContext } from "../call-context.js";
import { requireRight } from "../auth/service-auth.js";
import type { Clock } from "../ports/clock.js";
import type { Ids } from "../ports/ids.js";
import type { IdentityEntry, IdentityKey, IdentityRecord, Store, StoreWrite } from "../ports/store.js";
import { newTwinRecord } from "../twins/index.js";
import { NEVER, hubTime } from "../time.js";
import type { SerialQueue } from "../../shared/serial-queue.js";
import { etagMatches, identityEtag, isWildcard } from "./etag.js";
import { checkId } from "./identity-id.js";
import { identityNotFound } from "./not-found.js";
import { parseIdentityInput, type IdentityInput } from "./identity-input.js";
import { renderDevice, renderModule } from "./render-identity.js";
import { runBulk, type BulkResult } from "./bulk.js";
import type { HubLimits } from "../limits/hub-limits.js";
import type { FaultRules } from "../faults/fault-rules.js";

export interface RegistryDeps {
  readonly store: Store;
  readonly clock: Clock;
  readonly ids: Ids;
  /** Serializes every read-modify-write of identities and twins. */
  readonly writes: SerialQueue;
  readonly limits: { readonly maxDevicesInList: number; readonly maxModulesPerDevice: number };
  /** Told after an identity is written or deleted (undefined), so a disabled or deleted device is disconnected. */
  readonly onIdentityChanged?: (key: IdentityKey, identity: IdentityRecord | undefined) => void;
  /** How many devices and modules are connected right now. */
  readonly connectedCount: () => number;
  /** Where failed operations are reported (the DeviceIdentityOperations resource log logs only failures). */
  readonly events?: HubEvents;
  /** Tier limits: the registry operations throttle and the registry's device count (413002). */
  readonly hubLimits?: HubLimits;
  /** Fault injection (decision 0012): a rule that fires fails, delays or drops the call where it enters. */
  readonly faults?: FaultRules;
}

export interface PutIdentityInput {
  readonly deviceId: string;
  readonly moduleId?: string;
  readonly body: unknown;
  /** The raw If-Match header; undefined means create only. */
  readonly ifMatch: string | undefined;
}

export type { BulkResult } from "./bulk.js";

export interface DeleteIdentityInput {
  readonly deviceId: string;
  readonly moduleId?: string;
  readonly ifMatch: string | undefined;
}

/** The identity registry: devices and modules, their keys, etags, status and generation ids. */
export class Registry {
  readonly #deps: RegistryDeps;
  /** Connection changes waiting for the next batched write, latest per identity. */
  readonly #pendingStates = new Map<string, { key: IdentityKey; connected: boolean; time: number }>();
  #stateFlush: Promise<void> | undefined;
  /** When (performance.now()) the last batch of connection changes was written. */
  #lastStateCommit = Number.NEGATIVE_INFINITY;

  constructor(deps: RegistryDeps) {
    this.#deps = deps;
  }

  /** PUT /devices/{id} and /devices/{id}/modules/{mid}: create (no If-Match), or replace (If-Match etag or "*"). */
  put(ctx: CallContext, input: PutIdentityInput): Promise<Record<string, unknown>> {
    return this.#recorded(ctx, input, input.ifMatch === undefined ? "create" : "update", () => this.#put(ctx, input));
  }

  async #put(ctx: CallContext, input: PutIdentityInput): Promise<Record<string, unknown>> {
    requireRight(ctx, "RegistryWrite");
    const key = this.#key(ctx, input.deviceId, input.moduleId);
    const body = input.body;
    const parsed = parseIdentityInput(body, this.#deps.ids);
    checkBodyId(body, "deviceId", key.deviceId);
    if (key.moduleId !== "") checkBodyId(body, "moduleId", key.moduleId);
    await this.#deps.faults?.enter(ctx, "registry", key);
    await this.#deps.hubLimits?.admit(ctx, "registryOp");
    return this.#deps.writes.run(async () => {
      const current = await this.#deps.store.getIdentity(key);
      if (current === undefined && key.moduleId === "") await this.#checkDeviceCount(ctx, 1);
      const entry = await this.#upsert(ctx, key, current, parsed, input.ifMatch);
      await this.#deps.store.write([{ kind: "put", entry }]);
      this.#deps.onIdentityChanged?.(key, entry.identity);
      return render(entry.identity);
    });
  }

  get(ctx: CallContext, deviceId: string, moduleId?: string): Promise<Record<string, unknown>> {
    return this.#recorded(ctx, { deviceId, moduleId }, "get", async () => {
      requireRight(ctx, "RegistryRead");
      const key = this.#key(ctx, deviceId, moduleId);
      await this.#deps.faults?.enter(ctx, "registry", key);
      await this.#deps.hubLimits?.admit(ctx, "registryOp");
      const entry = await this.#deps.store.getIdentity(key);
      if (entry === undefined) throw this.#notFound(ctx, key);
      return render(entry.identity);
    });
  }

  /** DELETE: If-Match must match the current etag ("*" or absent deletes unconditionally). */
  delete(ctx: CallContext, input: DeleteIdentityInput): Promise<void> {
    return this.#recorded(ctx, input, "delete", () => this.#delete(ctx, input));
  }

  /** Reports a failed get, create, update or delete of one identity (monitoring.md §2.4), then rethrows. */
  async #recorded<T>(ctx: CallContext, key: { readonly deviceId: string; readonly moduleId?: string | undefined }, operation: "get" | "create" | "update" | "delete", run: () => Promise<T>): Promise<T> {
    try {
      return await run();
    } catch (error) {
      if (typeof key.deviceId === "string") {
        this.#deps.events?.emit({
          type: "identityOperationFailed", time: this.#deps.clock.now(), deviceId: key.deviceId, moduleId: key.moduleId ?? "", operation,
          error: isHubError(error) ? error.errorName : "ServerError", ipAddress: ctx.client?.ipAddress,
        });
      }
      throw error;
    }
  }

  async #delete(ctx: CallContext, input: DeleteIdentityInput): Promise<void> {
    requireRight(ctx, "RegistryWrite");
    const key = this.#key(ctx, input.deviceId, input.moduleId);
    await this.#deps.faults?.enter(ctx, "registry", key);
    await this.#deps.hubLimits?.admit(ctx, "registryOp");
    await this.#deps.writes.run(async () => {
      const current = await this.#deps.store.getIdentity(key);
      if (current === undefined) throw this.#notFound(ctx, key);
      if (!etagMatches(input.ifMatch, identityEtag(current.identity.etagVersion))) {
        throw new HubError("PreconditionFailed", { trackingId: ctx.trackingId, message: `The etag in If-Match does not match the current etag of ${describe(key)}` });
      }
      await this.#deps.store.write([{ kind: "delete", key }]);
      this.#deps.onIdentityChanged?.(key, undefined);
    });
  }

  /** GET /devices: up to `top` devices (IoT Hub treats a top outside 1-1000 as 1000). */
  async list(ctx: CallContext, top: number | undefined): Promise<Record<string, unknown>[]> {
    requireRight(ctx, "RegistryRead");
    await this.#deps.faults?.enter(ctx, "registry");
    await this.#deps.hubLimits?.admit(ctx, "registryOp");
    const max = this.#deps.limits.maxDevicesInList;
    const limit = top !== undefined && Number.isInteger(top) && top >= 1 && top <= max ? top : max;
    const entries = await this.#deps.store.scan({ collection: "devices", limit });
    return entries.map((e) => renderDevice(e.identity));
  }

  async listModules(ctx: CallContext, deviceId: string): Promise<Record<string, unknown>[]> {
    requireRight(ctx, "RegistryRead");
    const key = this.#key(ctx, deviceId, undefined);
    await this.#deps.faults?.enter(ctx, "registry", key);
    await this.#deps.hubLimits?.admit(ctx, "registryOp");
    if ((await this.#deps.store.getIdentity(key)) === undefined) throw this.#notFound(ctx, key);
    const modules = await this.#deps.store.listModules(deviceId);
    return modules.map((e) => renderModule(e.identity));
  }

  /** GET /statistics/devices. */
  async deviceStatistics(ctx: CallContext): Promise<{ totalDeviceCount: number; enabledDeviceCount: number; disabledDeviceCount: number }> {
    requireRight(ctx, "RegistryRead");
    const counts = await this.#deps.store.countDevices();
    return { totalDeviceCount: counts.total, enabledDeviceCount: counts.enabled, disabledDeviceCount: counts.disabled };
  }

  /** GET /statistics/service: the identities connected right now. */
  async serviceStatistics(ctx: CallContext): Promise<{ connectedDeviceCount: number }> {
    requireRight(ctx, "ServiceConnect");
    return { connectedDeviceCount: this.#deps.connectedCount() };
  }

  /**
   * Persists a connection change: connectionState, its update time and lastActivityTime (IoT Hub updates these on
   * connect and disconnect). Not a caller's operation, so no right is checked; a deleted identity is skipped. Changes
   * arriving in the same turn, or within STATE_COMMIT_INTERVAL_MS of the previous commit, are written together in one
   * commit, so a connection storm does not pay one fsync per CONNECT; the promise resolves once this change is durable.
   */
  recordConnectionState(key: IdentityKey, connected: boolean, time: number): Promise<void> {
    this.#pendingStates.set(`${key.deviceId}\u0000${key.moduleId}`, { key, connected, time });
    // A change right after the previous commit waits for the rest of the interval, so a storm of CONNECTs (each
    // commit costs an fsync) shares commits; a lone change is written in the next turn, as before.
    this.#stateFlush ??= new Promise<void>((resolve) => {
      const wait = this.#lastStateCommit + STATE_COMMIT_INTERVAL_MS - performance.now();
      if (wait > 0) setTimeout(resolve, wait);
      else setImmediate(resolve);
    }).then(() =>
      this.#deps.writes.run(async () => {
        const batch = [...this.#pendingStates.values()];
        this.#pendingStates.clear();
        this.#stateFlush = undefined;
        this.#lastStateCommit = performance.now();
        const writes: StoreWrite[] = batch.map(({ key: k, connected: c, time: t }) => {
          const at = hubTime(t);
          return { kind: "patch", key: k, fields: { connectionState: c ? "Connected" : "Disconnected", connectionStateUpdatedTime: at, lastActivityTime: at } };
        });
        if (writes.length > 0) await this.#deps.store.write(writes);
      }),
    );
    return this.#stateFlush;
  }

  /**
   * At start no identity is connected. After a crash the store can still say "Connected" for devices whose disconnect
   * was never written; IoT Hub shows a device whose connection ended with the service as Disconnected, so those are
   * marked Disconnected as of now. A clean stop leaves a marker (`stopped`), so only a start after a crash (or the first
   * start of a data dir) pays for the scan.
   */
  async resetConnectionStates(): Promise<number> {
    const cleanStop = (await this.#deps.store.getSetting(CONNECTION_STATES_SETTING)) === "stopped";
    await this.#deps.store.putSetting(CONNECTION_STATES_SETTING, "running");
    if (cleanStop) return 0;
    const at = hubTime(this.#deps.clock.now());
    let reset = 0;
    for (const collection of ["devices", "modules"] as const) {
      let after: IdentityKey | undefined;
      for (;;) {
        const page = await this.#deps.store.scan({ collection, limit: RESET_PAGE, ...(after === undefined ? {} : { after }) });
        const writes: StoreWrite[] = [];
        for (const { identity } of page) {
          if (identity.connectionState !== "Connected") continue;
          writes.push({ kind: "patch", key: { deviceId: identity.deviceId, moduleId: identity.moduleId }, fields: { connectionState: "Disconnected", connectionStateUpdatedTime: at } });
        }
        if (writes.length > 0) await this.#deps.writes.run(() => this.#deps.store.write(writes));
        reset += writes.length;
        const last = page[page.length - 1];
        if (page.length < RESET_PAGE || last === undefined) break;
        after = { deviceId: last.identity.deviceId, moduleId: last.identity.moduleId };
      }
    }
    return reset;
  }

  /** Writes every pending connection change, then the clean-stop marker `resetConnectionStates` looks for. */
  async stopConnectionStates(): Promise<void> {
    await this.idle();
    await this.#deps.store.putSetting(CONNECTION_STATES_SETTING, "stopped");
  }

  /** Resolves once every connection change recorded so far is written (the hub waits for this before closing). */
  async idle(): Promise<void> {
    while (this.#stateFlush !== undefined) await this.#stateFlush;
  }

  /** Builds the entry a PUT or a bulk create/update writes; throws the IoT Hub error the request deserves. */
  async #upsert(ctx: CallContext, key: IdentityKey, current: IdentityEntry | undefined, input: IdentityInput, ifMatch: string | undefined): Promise<IdentityEntry> {
    const now = this.#deps.clock.now();
    if (current === undefined) {
      if (ifMatch !== undefined && !isWildcard(ifMatch)) throw this.#notFound(ctx, key);
      if (key.moduleId !== "") await this.#checkModuleParent(ctx, key);
      return { identity: this.#newRecord(key, input, now), twin: newTwinRecord(now) };
    }
    if (ifMatch === undefined) {
      const name = key.moduleId === "" ? "DeviceAlreadyExists" : "ModuleAlreadyExistsOnDevice";
      throw new HubError(name, { trackingId: ctx.trackingId, message: `${describe(key)} already exists` });
    }
    const old = current.identity;
    if (!etagMatches(ifMatch, identityEtag(old.etagVersion))) {
      throw new HubError("PreconditionFailed", { trackingId: ctx.trackingId, message: `The etag in If-Match does not match the current etag of ${describe(key)}` });
    }
    const identity: IdentityRecord = {
      ...old,
      etagVersion: old.etagVersion + 1,
      status: input.status,
      statusReason: input.statusReason,
      statusUpdatedTime: input.status === old.status ? old.statusUpdatedTime : hubTime(now),
      authentication: input.authentication,
      capabilities: { iotEdge: input.iotEdge },
      deviceScope: scopeFor(key, input, old.generationId),
      parentScopes: input.parentScopes,
      managedBy: key.moduleId === "" ? null : input.managedBy,
    };
    return { identity, twin: current.twin };
  }

  async #checkModuleParent(ctx: CallContext, key: IdentityKey): Promise<void> {
    const parent = await this.#deps.store.getIdentity({ deviceId: key.deviceId, moduleId: "" });
    if (parent === undefined) throw this.#notFound(ctx, { deviceId: key.deviceId, moduleId: "" });
    const modules = await this.#deps.store.listModules(key.deviceId);
    if (modules.length >= this.#deps.limits.maxModulesPerDevice) {
      throw new HubError("TooManyModulesOnDevice", { trackingId: ctx.trackingId, message: `Device '${key.deviceId}' already has ${modules.length} modules, the most a device can have` });
    }
  }

  #newRecord(key: IdentityKey, input: IdentityInput, now: number): IdentityRecord {
    const generationId = this.#deps.ids.generationId();
    return {
      deviceId: key.deviceId,
      moduleId: key.moduleId,
      generationId,
      etagVersion: 1,
      status: input.status,
      statusReason: input.statusReason,
      statusUpdatedTime: NEVER,
      connectionState: "Disconnected",
      connectionStateUpdatedTime: NEVER,
      lastActivityTime: NEVER,
      cloudToDeviceMessageCount: 0,
      authentication: input.authentication,
      capabilities: { iotEdge: key.moduleId === "" ? input.iotEdge : false },
      deviceScope: scopeFor(key, input, generationId),
      parentScopes: input.parentScopes,
      managedBy: key.moduleId === "" ? null : input.managedBy,
    };
  }

  #key(ctx: CallContext, deviceId: string, moduleId: string | undefined): IdentityKey {
    checkId(deviceId, "DeviceId", ctx.trackingId);
    if (moduleId !== undefined) checkId(moduleId, "ModuleId", ctx.trackingId);
    return { deviceId, moduleId: moduleId ?? "" };
  }

  #notFound(ctx: CallContext, key: IdentityKey): HubError {
    return identityNotFound(key, ctx.trackingId);
  }

  /** Applies a bulk import request (POST /devices); see bulk.ts for IoT Hub's rules. */
  async bulk(ctx: CallContext, body: unknown): Promise<BulkResult> {
    requireRight(ctx, "RegistryWrite");
    // [INF] One bulk request is one registry operation for the throttle; its new devices count against the registry size.
    await this.#deps.faults?.enter(ctx, "registry");
    await this.#deps.hubLimits?.admit(ctx, "registryOp");
    return this.#deps.writes.run(() =>
      runBulk(ctx, body, {
        onWritten: (writes) => {
          for (const w of writes) this.#deps.onIdentityChanged?.(w.kind === "put" ? w.entry.identity : w.key, w.kind === "put" ? w.entry.identity : undefined);
        },
        store: this.#deps.store,
        ids: this.#deps.ids,
        now: this.#deps.clock.now(),
        upsert: (key, current, input, ifMatch) => this.#upsert(ctx, key, current, input, ifMatch),
        notFound: (key) => this.#notFound(ctx, key),
        checkDeviceCount: (adding) => this.#checkDeviceCount(ctx, adding),
      }),
    );
  }

  /** 413002 when `adding` more devices would exceed the hub's device limit (the free tier's 500, `--limit devices=`). */
  async #checkDeviceCount(ctx: CallContext, adding: number): Promise<void> {
    await this.#deps.hubLimits?.checkDeviceCount(ctx, adding, async () => (await this.#deps.store.countDevices()).total);
  }
}

/**
 * Connection changes are committed at most once per this many milliseconds (wall time), however many connect. A commit
 * costs ~140 CPU-µs (most of it the fsync) plus ~12 per row: at a storm's ~650 connects/s, 10 ms shared each commit
 * among ~6 connects (~33 CPU-µs per connect), 50 ms among ~30 (~17). A lone connect still commits in the next turn.
 */
const STATE_COMMIT_INTERVAL_MS = 50;
/** The store setting that says whether the hub stopped cleanly ("stopped") or is running (or crashed): "running". */
const CONNECTION_STATES_SETTING = "connectionStates";
const RESET_PAGE = 1000;

/** IoT Hub gives Edge devices their own scope, `ms-azure-iot-edge://{deviceId}-{generationId}`, unless one is set. */
function scopeFor(key: IdentityKey, input: IdentityInput, generationId: string): string | null {
  if (key.moduleId !== "") return null;
  if (input.deviceScope !== null) return input.deviceScope;
  return input.iotEdge ? `ms-azure-iot-edge://${key.deviceId}-${generationId}` : null;
}

function checkBodyId(body: unknown, field: "deviceId" | "moduleId", expected: string): void {
  const value = (body as Record<string, unknown>)[field];
  if (value !== undefined && value !== null && value !== expected) {
    throw new HubError("ArgumentInvalid", { message: `The ${field} in the body ('${String(value)}') does not match the ${field} in the request URI ('${expected}')` });
  }
}

function describe(key: IdentityKey): string {
  return key.moduleId === "" ? `Device '${key.deviceId}'` : `Module '${key.moduleId}' on device '${key.deviceId}'`;
}

function render(r: IdentityRecord): Record<string, unknown> {
  return r.moduleId === "" ? renderDevice(r) : renderModule(r);
}

import type { Clock } from "./ports/clock.js";
import type { Ids } from "./ports/ids.js";
import type { IdentityKey, Store } from "./ports/store.js";
import type { TelemetryLog } from "./ports/telemetry-log.js";
import type { C2dStore } from "./ports/c2d-store.js";
import { C2dQueue, type C2dSettings } from "./c2d/c2d-queue.js";
import { C2dFeedback } from "./c2d/c2d-feedback.js";
import type { BlobStorage } from "./ports/blob-storage.js";
import type { FileUploadStore } from "./ports/file-upload-store.js";
import { FileUploads, type FileUploadSettings } from "./file-upload/file-uploads.js";
import type { SharedAccessPolicy } from "./auth/rights.js";
import { DeviceAuth } from "./auth/device-auth.js";
import { ServiceAuth } from "./auth/service-auth.js";
import { EventHubAuth } from "./auth/event-hub-auth.js";
import { HubClock } from "./clock.js";
import { ClockAdmin } from "./admin/clock-admin.js";
import { EventHubEndpoint } from "./event-hub/event-hub.js";
import { HubEvents } from "./events/hub-event.js";
import { Methods } from "./methods/methods.js";
import { loadOrCreatePolicies } from "./policies.js";
import { Presence } from "./presence/presence.js";
import { QueryService } from "./query/query-service.js";
import { Registry } from "./registry/registry.js";
import { Telemetry } from "./telemetry/telemetry.js";
import { HubTimers } from "./timers/hub-timers.js";
import { HubLimits } from "./limits/hub-limits.js";
import { FaultRules } from "./faults/fault-rules.js";
import { MessageFaults } from "./faults/message-faults.js";
import { resolveLimits, type LimitsInput } from "./limits/tiers.js";
import { DailyMessageCounter } from "./limits/daily-message-counter.js";
import { DeviceTwins } from "./twins/device-twins.js";
import { TwinService } from "./twins/twin-service.js";
import { SerialQueue } from "../shared/serial-queue.js";

export interface HubDeps {
  readonly hostName: string;
  readonly store: Store;
  readonly telemetryLog: TelemetryLog;
  readonly c2dStore: C2dStore;
  readonly c2dSettings?: Partial<C2dSettings>;
  /** The storage devices upload files into, and the store of open uploads and file notifications. */
  readonly blobStorage: BlobStorage;
  readonly fileUploadStore: FileUploadStore;
  readonly fileUploadSettings?: Partial<FileUploadSettings>;
  /** Wall time; the hub clock is built on it. */
  readonly wallClock: Clock;
  readonly ids: Ids;
  /** Partitions of the built-in Event Hub-compatible endpoint (2-32, default 4). */
  readonly partitionCount: number;
  /** The Event Hub-compatible name of the built-in endpoint (the hub name): the entity its tokens must name. */
  readonly eventHubName: string;
  /** How long the built-in endpoint keeps events, 1-7 days (IoT Hub's default: 1 day). */
  readonly eventHubRetentionMs?: number;
  /** Where errors no caller can receive go (a timer or event listener that threw): the composition root logs them. */
  readonly reportError: (error: unknown) => void;
  /** Tier, units and `--limit` overrides (docs/limits.md); no tier: nothing enforced but the overrides (decision 0011). */
  readonly limits?: LimitsInput;
}

/** The IoT Hub core as the gateways see it. */
export interface Hub {
  readonly hostName: string;
  readonly clock: HubClock;
  readonly timers: HubTimers;
  readonly events: HubEvents;
  readonly ids: Ids;
  readonly policies: readonly SharedAccessPolicy[];
  readonly serviceAuth: ServiceAuth;
  readonly deviceAuth: DeviceAuth;
  readonly registry: Registry;
  readonly twins: TwinService;
  readonly deviceTwins: DeviceTwins;
  readonly query: QueryService;
  readonly presence: Presence;
  readonly methods: Methods;
  readonly telemetry: Telemetry;
  /** The hub clock as the admin API shows and advances it. */
  readonly clockAdmin: ClockAdmin;
  readonly c2d: C2dQueue;
  /** The service's C2D feedback receiver queue (`/messages/serviceBound/feedback`). */
  readonly feedback: C2dFeedback;
  /** Tokens of the Event Hub-compatible endpoint (Event Hubs SDK signing). */
  readonly eventHubAuth: EventHubAuth;
  readonly fileUploads: FileUploads;
  /** The built-in Event Hub-compatible endpoint (partitions, consumer groups, receivers, retention). */
  readonly eventHub: EventHubEndpoint;
  /** Tier, daily quota, throttles and device count (issue #6). */
  readonly limits: HubLimits;
  /** Fault injection rules, `/admin/faults` (issue #6, decision 0012). */
  readonly faults: FaultRules;
  /**
   * Stops the hub's timers (at once) and writes the state kept in the store that is still unwritten: the clock
   * offset, admin fault rules' counts and the daily quota count (decision 0013). Await it before closing the store; it
   * does not reject: a failed last write goes to reportError.
   */
  stop(): Promise<void>;
}

const LIMITS = {
  // Learn: GET /devices returns at most 1000 devices.
  maxDevicesInList: 1000,
  // Learn, IoT Hub quotas: up to 50 module identities per device.
  maxModulesPerDevice: 50,
};

/** The store setting holding the PEM certificates of CAs registered with `malachite ca add`. */
export const TRUSTED_CAS_SETTING = "trustedCertificateAuthorities";

/** Builds the core from its ports; loads (or on first start creates) the shared access policies. */
export async function createHub(deps: HubDeps): Promise<Hub> {
  // The stored offset first, before anything reads hub time (C2D recovery, quota day, fault windows): decision 0013.
  const clock = await HubClock.load(deps.wallClock, deps.store);
  const persistence = { store: deps.store, reportError: deps.reportError };
  const timers = new HubTimers(clock, deps.reportError);
  const events = new HubEvents(deps.reportError);
  const writes = new SerialQueue();
  const resolved = resolveLimits(deps.limits ?? {});
  if (!resolved.ok) throw new RangeError(`Invalid hub limits: ${resolved.problems.join("; ")}`);
  const dailyMessages = await DailyMessageCounter.load(clock, persistence);
  const hubLimits = new HubLimits({ clock, timers, limits: resolved.limits, hubName: deps.eventHubName, dailyMessages, events });
  const policies = await loadOrCreatePolicies(deps.store, deps.ids);
  const storedCas = await deps.store.getSetting(TRUSTED_CAS_SETTING);
  const trustedCas: string[] = Array.isArray(storedCas) ? storedCas.filter((c): c is string => typeof c === "string") : [];
  let presence: Presence | undefined;
  let c2d: C2dQueue | undefined;
  let fileUploads: FileUploads | undefined;
  // "drop" faults and the SDK's Kill* faults close a live connection through Presence, built below.
  const faults = await FaultRules.load({
    clock,
    timers,
    disconnect: (key, reason) => presence?.disconnect(key, reason),
    detach: (key, role, reason) => presence?.find(key.deviceId, key.moduleId)?.link.detach?.(role, reason) === true,
    persistence,
  });
  const deviceAuth = new DeviceAuth({ hostName: deps.hostName, wallClock: deps.wallClock, store: deps.store, policies: () => policies, trustedCas: () => trustedCas });
  const registry = new Registry({
    store: deps.store,
    clock,
    ids: deps.ids,
    writes,
    limits: LIMITS,
    connectedCount: () => presence?.connectedCount ?? 0,
    events,
    hubLimits,
    faults,
    // IoT Hub closes the connection of a device that is disabled or deleted while connected.
    onIdentityChanged: (key: IdentityKey, identity) => {
      // Device authentication keeps identities parsed; a changed key, status or deletion must count at once.
      deviceAuth.identityChanged(key);
      if (identity === undefined) {
        if (key.moduleId === "") void c2d?.deviceDeleted(key.deviceId);
        if (key.moduleId === "") void fileUploads?.deviceDeleted(key.deviceId);
        if (key.moduleId === "") presence?.disconnectDevice(key.deviceId, "DeviceNotFound");
        else presence?.disconnect(key, "ModuleNotFound");
      } else if (identity.status === "disabled") {
        if (key.moduleId === "") presence?.disconnectDevice(key.deviceId, "DeviceDisabled");
        else presence?.disconnect(key, "DeviceDisabled");
      }
    },
  });
  // Identities a crash left "Connected" are disconnected: nothing is connected before the gateways listen.
  await registry.resetConnectionStates();
  presence = new Presence({ clock, timers, events, hubLimits, faults, recordConnectionState: (key, connected, time) => registry.recordConnectionState(key, connected, time) });
  const livePresence = presence;
  const twins = new TwinService({
    store: deps.store,
    clock,
    writes,
    events,
    hubLimits,
    faults,
    onDesiredChange: (key, notification) => {
      const connection = livePresence.find(key.deviceId, key.moduleId);
      if (connection === undefined || !connection.link.subscribed("desired")) return;
      connection.link.sendDesiredPatch(notification);
      events.emit({ type: "twinOperation", time: clock.now(), deviceId: key.deviceId, moduleId: key.moduleId, operation: "notifyDesired" });
    },
  });
  const feedback = new C2dFeedback({ store: deps.c2dStore, clock, timers, ids: deps.ids, reportError: deps.reportError });
  c2d = new C2dQueue({
    store: deps.c2dStore,
    identities: deps.store,
    writes,
    clock,
    timers,
    events,
    ids: deps.ids,
    // Messages for a connected device that subscribed to them are delivered as soon as they are queued.
    onMessageAvailable: (deviceId) => {
      const connection = livePresence.find(deviceId, "");
      if (connection !== undefined && connection.link.subscribed("c2d")) connection.link.c2dAvailable();
    },
    // A waiting feedback receiver is told as soon as a record is queued.
    onFeedback: (records) => feedback.notify(records),
    reportError: deps.reportError,
    hubLimits,
    faults,
    ...(deps.c2dSettings === undefined ? {} : { settings: deps.c2dSettings }),
  });
  await c2d.recover();
  const liveC2d = c2d;
  fileUploads = new FileUploads({
    store: deps.fileUploadStore,
    blobs: deps.blobStorage,
    identities: deps.store,
    clock,
    wallClock: deps.wallClock,
    timers,
    events,
    ids: deps.ids,
    reportError: deps.reportError,
    hubLimits,
    faults,
    ...(deps.fileUploadSettings === undefined ? {} : { settings: deps.fileUploadSettings }),
  });
  await fileUploads.recover();
  const liveFileUploads = fileUploads;
  const eventHub = await EventHubEndpoint.create({
    name: deps.eventHubName,
    partitionCount: deps.partitionCount,
    log: deps.telemetryLog,
    store: deps.store,
    clock,
    timers,
    events,
    reportError: deps.reportError,
    ...(deps.eventHubRetentionMs === undefined ? {} : { retentionMs: deps.eventHubRetentionMs }),
  });
  const clockAdmin = new ClockAdmin(clock, timers, persistence);
  return {
    hostName: deps.hostName,
    clock,
    timers,
    events,
    ids: deps.ids,
    policies,
    serviceAuth: new ServiceAuth({ hostName: deps.hostName, wallClock: deps.wallClock, policies: () => policies }),
    deviceAuth,
    registry,
    twins,
    deviceTwins: new DeviceTwins({ store: deps.store, clock, writes, events, hubLimits, faults }),
    query: new QueryService({ store: deps.store, events, clock, hubLimits, faults }),
    presence,
    methods: new Methods({ store: deps.store, clock, timers, presence, events, hubLimits, faults }),
    c2d: liveC2d,
    feedback,
    eventHubAuth: new EventHubAuth({ wallClock: deps.wallClock, policies: () => policies, entityName: deps.eventHubName }),
    clockAdmin,
    fileUploads: liveFileUploads,
    eventHub,
    limits: hubLimits,
    faults,
    telemetry: new Telemetry({
      log: deps.telemetryLog, clock, presence, events, partitionCount: deps.partitionCount, hubLimits, faults,
      messageFaults: new MessageFaults({ timers, rules: faults, find: (key) => livePresence.find(key.deviceId, key.moduleId)?.link, disconnect: (key, reason) => livePresence.disconnect(key, reason) }),
    }),
    async stop() {
      eventHub.stop();
      timers.clear();
      const results = await Promise.allSettled([clockAdmin.close(), faults.close(), dailyMessages.close(), registry.stopConnectionStates()]);
      for (const result of results) if (result.status === "rejected") deps.reportError(result.reason);
    },
  };
}

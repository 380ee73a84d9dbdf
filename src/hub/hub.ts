import type { Clock } from "./ports/clock.js";
import type { Ids } from "./ports/ids.js";
import type { IdentityKey, Store } from "./ports/store.js";
import type { SharedAccessPolicy } from "./auth/rights.js";
import { ServiceAuth } from "./auth/service-auth.js";
import { HubClock } from "./clock.js";
import { loadOrCreatePolicies } from "./policies.js";
import { QueryService } from "./query/query-service.js";
import { Registry } from "./registry/registry.js";
import { TwinService } from "./twins/twin-service.js";
import { SerialQueue } from "../shared/serial-queue.js";

export interface HubDeps {
  readonly hostName: string;
  readonly store: Store;
  /** Wall time; the hub clock is built on it. */
  readonly wallClock: Clock;
  readonly ids: Ids;
}

/** The IoT Hub core as the gateways see it. */
export interface Hub {
  readonly hostName: string;
  readonly clock: HubClock;
  readonly ids: Ids;
  readonly policies: readonly SharedAccessPolicy[];
  readonly serviceAuth: ServiceAuth;
  readonly registry: Registry;
  readonly twins: TwinService;
  readonly query: QueryService;
  /** Registers the listener told about desired-property changes (the device gateways use it to notify devices). */
  onDesiredChange(listener: (key: IdentityKey, notification: Record<string, unknown>) => void): void;
}

const LIMITS = {
  // Learn: GET /devices returns at most 1000 devices.
  maxDevicesInList: 1000,
  // Learn, IoT Hub quotas: up to 50 module identities per device.
  maxModulesPerDevice: 50,
};

/** Builds the core from its ports; loads (or on first start creates) the shared access policies. */
export async function createHub(deps: HubDeps): Promise<Hub> {
  const clock = new HubClock(deps.wallClock);
  const writes = new SerialQueue();
  const policies = await loadOrCreatePolicies(deps.store, deps.ids);
  const desiredListeners: Array<(key: IdentityKey, notification: Record<string, unknown>) => void> = [];
  return {
    hostName: deps.hostName,
    clock,
    ids: deps.ids,
    policies,
    serviceAuth: new ServiceAuth({ hostName: deps.hostName, wallClock: deps.wallClock, policies: () => policies }),
    registry: new Registry({ store: deps.store, clock, ids: deps.ids, writes, limits: LIMITS }),
    twins: new TwinService({
      store: deps.store,
      clock,
      writes,
      onDesiredChange: (key, notification) => desiredListeners.forEach((listener) => listener(key, notification)),
    }),
    query: new QueryService({ store: deps.store }),
    onDesiredChange: (listener) => desiredListeners.push(listener),
  };
}

import { test } from "node:test";
import assert from "node:assert/strict";
import { MemoryStore } from "../../storage/memory/memory-store.js";
import { MemoryTelemetryLog } from "../../storage/memory/memory-telemetry-log.js";
import { MemoryC2dStore } from "../../storage/memory/memory-c2d-store.js";
import { MemoryFileUploadStore } from "../../storage/memory/memory-file-upload-store.js";
import { randomIds } from "../../shared/random-ids.js";
import { RIGHTS } from "../auth/rights.js";
import { createHub, type Hub } from "../hub.js";
import type { CallContext } from "../call-context.js";
import type { DeviceLink } from "../ports/device-link.js";
import { HubError, type HubErrorName } from "../errors/index.js";

// Methods.invoke looks an identity up only when it is not connected; these pin the answers either way.

const OWNER: CallContext = { caller: { kind: "policy", policyName: "iothubowner", rights: [...RIGHTS] }, protocol: "https", trackingId: "t" };
const CALL = { methodName: "ping", payload: { n: 1 }, responseTimeoutInSeconds: 5 };

async function newHub(store = new MemoryStore()): Promise<Hub> {
  return createHub({
    hostName: "methods.azure-devices.net",
    store,
    telemetryLog: new MemoryTelemetryLog(),
    c2dStore: new MemoryC2dStore(),
    blobStorage: { grantUpload: () => Promise.reject(new Error("no blobs")), blobInfo: () => Promise.resolve(undefined) },
    fileUploadStore: new MemoryFileUploadStore(),
    wallClock: { now: () => Date.now() },
    ids: randomIds,
    partitionCount: 2,
    eventHubName: "methods",
    reportError: (error) => {
      throw error;
    },
  });
}

/** Connects `deviceId` with a link that answers every method request at once with 200 and the request's payload. */
async function connectAnswering(hub: Hub, deviceId: string, closed: HubErrorName[] = []): Promise<void> {
  const caller = { kind: "device" as const, deviceId, moduleId: "" };
  const ctx: CallContext = { caller, protocol: "mqtt", trackingId: "d" };
  const link: DeviceLink = {
    protocol: "mqtt",
    subscribed: (kind) => kind === "methods",
    c2dAvailable: () => undefined,
    sendDesiredPatch: () => undefined,
    sendMethodRequest: (requestId, _name, payload) => queueMicrotask(() => hub.methods.respond(ctx, requestId, 200, payload)),
    close: (reason) => void closed.push(reason),
  };
  const connection = await hub.presence.connect(caller, link, { protocol: "mqtt", authMethod: "{}", generationId: "g" });
  connection.subscriptionsChanged();
}

async function rejectsWith(promise: Promise<unknown>, name: HubErrorName): Promise<void> {
  await assert.rejects(promise, (err: unknown) => err instanceof HubError && err.errorName === name);
}

test("methods: a connected device is called without reading the registry; unknown and offline devices get 404", async () => {
  const store = new MemoryStore();
  const hub = await newHub(store);
  try {
    await hub.registry.put(OWNER, { deviceId: "on", body: { deviceId: "on" }, ifMatch: undefined });
    await hub.registry.put(OWNER, { deviceId: "off", body: { deviceId: "off" }, ifMatch: undefined });
    await connectAnswering(hub, "on");
    let reads = 0;
    const getIdentity = store.getIdentity.bind(store);
    store.getIdentity = (key) => (reads++, getIdentity(key));

    assert.deepEqual(await hub.methods.invoke(OWNER, { deviceId: "on", body: CALL }), { status: 200, payload: { n: 1 } });
    assert.equal(reads, 0);
    await rejectsWith(hub.methods.invoke(OWNER, { deviceId: "nosuch", body: CALL }), "DeviceNotFound");
    await rejectsWith(hub.methods.invoke(OWNER, { deviceId: "off", body: CALL }), "DeviceNotOnline");
    assert.equal(reads, 2);
  } finally {
    hub.stop();
  }
});

test("methods: a device deleted while connected is DeviceNotFound at once", async () => {
  const hub = await newHub();
  try {
    await hub.registry.put(OWNER, { deviceId: "gone", body: { deviceId: "gone" }, ifMatch: undefined });
    const closed: HubErrorName[] = [];
    await connectAnswering(hub, "gone", closed);
    assert.equal((await hub.methods.invoke(OWNER, { deviceId: "gone", body: CALL })).status, 200);
    await hub.registry.delete(OWNER, { deviceId: "gone", ifMatch: undefined });
    assert.deepEqual(closed, ["DeviceNotFound"]);
    await rejectsWith(hub.methods.invoke(OWNER, { deviceId: "gone", body: CALL }), "DeviceNotFound");
  } finally {
    hub.stop();
  }
});

import { test } from "node:test";
import assert from "node:assert/strict";
import { MemoryStore } from "../../storage/memory/memory-store.js";
import { MemoryTelemetryLog } from "../../storage/memory/memory-telemetry-log.js";
import { MemoryC2dStore } from "../../storage/memory/memory-c2d-store.js";
import { MemoryFileUploadStore } from "../../storage/memory/memory-file-upload-store.js";
import { randomIds } from "../../shared/random-ids.js";
import { RIGHTS } from "./rights.js";
import { createSasToken } from "./sas-token.js";
import { createHub, type Hub } from "../hub.js";
import type { CallContext } from "../call-context.js";
import { HubError, type HubErrorName } from "../errors/index.js";

// DeviceAuth keeps identities it read; the hub wires the registry's writes to it. These tests go through the
// registry as the service API does and check that a device is judged on its new record at the very next connect.

const HOST = "cache.azure-devices.net";
const KEY_A = Buffer.alloc(32, 1).toString("base64");
const KEY_B = Buffer.alloc(32, 2).toString("base64");
const KEY_C = Buffer.alloc(32, 3).toString("base64");
const OWNER: CallContext = { caller: { kind: "policy", policyName: "iothubowner", rights: [...RIGHTS] }, protocol: "https", trackingId: "t" };

async function newHub(): Promise<Hub> {
  return createHub({
    hostName: HOST,
    store: new MemoryStore(),
    telemetryLog: new MemoryTelemetryLog(),
    c2dStore: new MemoryC2dStore(),
    blobStorage: {
      grantUpload: () => Promise.reject(new Error("no blob storage in this test")),
      blobInfo: () => Promise.resolve(undefined),
    },
    fileUploadStore: new MemoryFileUploadStore(),
    wallClock: { now: () => Date.now() },
    ids: randomIds,
    partitionCount: 2,
    eventHubName: "cache",
    reportError: (error) => {
      throw error;
    },
  });
}

function token(deviceId: string, key: string, moduleId = ""): string {
  const resource = `${HOST}/devices/${deviceId}${moduleId === "" ? "" : `/modules/${moduleId}`}`;
  return createSasToken(encodeURIComponent(resource), key, Math.floor(Date.now() / 1000) + 3600);
}

function sas(primaryKey: string, secondaryKey: string) {
  return { type: "sas", symmetricKey: { primaryKey, secondaryKey } };
}

async function connects(hub: Hub, deviceId: string, key: string, moduleId = ""): Promise<void> {
  await hub.deviceAuth.authenticateSas({ deviceId, moduleId }, token(deviceId, key, moduleId), "t");
}

async function refused(hub: Hub, deviceId: string, key: string, name: HubErrorName, moduleId = ""): Promise<void> {
  await assert.rejects(connects(hub, deviceId, key, moduleId), (err: unknown) => err instanceof HubError && err.errorName === name);
}

test("registry writes reach device authentication at once: disable, new keys, delete", async () => {
  const hub = await newHub();
  try {
    let device = await hub.registry.put(OWNER, { deviceId: "d1", body: { deviceId: "d1", authentication: sas(KEY_A, KEY_B) }, ifMatch: undefined });
    await connects(hub, "d1", KEY_A);
    await connects(hub, "d1", KEY_A); // now from what it read

    device = await hub.registry.put(OWNER, { deviceId: "d1", body: { ...device, status: "disabled" }, ifMatch: "*" });
    await refused(hub, "d1", KEY_A, "IotHubUnauthorizedAccess");

    device = await hub.registry.put(OWNER, { deviceId: "d1", body: { ...device, status: "enabled", authentication: sas(KEY_C, KEY_B) }, ifMatch: "*" });
    await refused(hub, "d1", KEY_A, "IotHubUnauthorizedAccess");
    await connects(hub, "d1", KEY_C);

    await hub.registry.delete(OWNER, { deviceId: "d1", ifMatch: undefined });
    await refused(hub, "d1", KEY_C, "DeviceNotFound");
  } finally {
    hub.stop();
  }
});

test("deleting a device refuses its modules at once; bulk updates and deletes count at once", async () => {
  const hub = await newHub();
  try {
    await hub.registry.put(OWNER, { deviceId: "d2", body: { deviceId: "d2", authentication: sas(KEY_A, KEY_B) }, ifMatch: undefined });
    await hub.registry.put(OWNER, { deviceId: "d2", moduleId: "m", body: { deviceId: "d2", moduleId: "m", authentication: sas(KEY_A, KEY_B) }, ifMatch: undefined });
    await connects(hub, "d2", KEY_A, "m");
    await hub.registry.delete(OWNER, { deviceId: "d2", ifMatch: undefined });
    await refused(hub, "d2", KEY_A, "ModuleNotFound", "m");

    await hub.registry.bulk(OWNER, [{ id: "b1", importMode: "create", authentication: sas(KEY_A, KEY_B) }]);
    await connects(hub, "b1", KEY_A);
    await hub.registry.bulk(OWNER, [{ id: "b1", importMode: "update", status: "disabled", authentication: sas(KEY_A, KEY_B) }]);
    await refused(hub, "b1", KEY_A, "IotHubUnauthorizedAccess");
    await hub.registry.bulk(OWNER, [{ id: "b1", importMode: "update", status: "enabled", authentication: sas(KEY_C, KEY_B) }]);
    await refused(hub, "b1", KEY_A, "IotHubUnauthorizedAccess");
    await connects(hub, "b1", KEY_C);
    await hub.registry.bulk(OWNER, [{ id: "b1", importMode: "delete" }]);
    await refused(hub, "b1", KEY_C, "DeviceNotFound");
  } finally {
    hub.stop();
  }
});

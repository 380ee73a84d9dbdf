import { describe, test } from "node:test";
import assert from "node:assert/strict";
import type { IdentityRecord } from "../ports/store.js";
import { newTwinRecord } from "./new-twin-record.js";
import { patchReported } from "./patch-reported.js";
import { patchTwin } from "./patch-twin.js";
import { renderTwin } from "./render-twin.js";

const T0 = Date.UTC(2024, 0, 1, 0, 0, 0, 0);
const S0 = "2024-01-01T00:00:00.0000000Z";

function identity(overrides: Partial<IdentityRecord> = {}): IdentityRecord {
  return {
    deviceId: "dev-1",
    moduleId: "",
    generationId: "638000000000000000",
    etagVersion: 1,
    status: "enabled",
    statusReason: null,
    statusUpdatedTime: "0001-01-01T00:00:00",
    connectionState: "Disconnected",
    connectionStateUpdatedTime: "0001-01-01T00:00:00",
    lastActivityTime: "0001-01-01T00:00:00",
    cloudToDeviceMessageCount: 0,
    authentication: { type: "sas", symmetricKey: { primaryKey: "p", secondaryKey: "s" }, x509Thumbprint: null },
    capabilities: { iotEdge: false },
    deviceScope: null,
    parentScopes: [],
    managedBy: null,
    ...overrides,
  };
}

describe("renderTwin()", () => {
  test("renders a fresh device twin in IoT Hub's key order, with tags omitted", () => {
    const doc = renderTwin(identity(), newTwinRecord(T0), "NTY3NzA5OTQz");
    assert.deepEqual(Object.keys(doc), [
      "deviceId",
      "etag",
      "deviceEtag",
      "status",
      "statusUpdateTime",
      "connectionState",
      "lastActivityTime",
      "cloudToDeviceMessageCount",
      "authenticationType",
      "x509Thumbprint",
      "modelId",
      "version",
      "properties",
      "capabilities",
    ]);
    assert.deepEqual(doc, {
      deviceId: "dev-1",
      etag: "AAAAAAAAAAE=",
      deviceEtag: "NTY3NzA5OTQz",
      status: "enabled",
      statusUpdateTime: "0001-01-01T00:00:00Z",
      connectionState: "Disconnected",
      lastActivityTime: "0001-01-01T00:00:00Z",
      cloudToDeviceMessageCount: 0,
      authenticationType: "sas",
      x509Thumbprint: { primaryThumbprint: null, secondaryThumbprint: null },
      modelId: "",
      version: 2,
      properties: {
        desired: { $metadata: { $lastUpdated: S0 }, $version: 1 },
        reported: { $metadata: { $lastUpdated: S0 }, $version: 1 },
      },
      capabilities: { iotEdge: false },
    });
  });

  test("includes statusReason and tags when set, and properties with values before $metadata and $version", () => {
    let twin = patchTwin(newTwinRecord(T0), { tags: { site: "A" }, properties: { desired: { rate: 5 } } }, T0 + 1000).twin;
    twin = patchReported(twin, { fw: "1.0" }, T0 + 2000);
    const doc = renderTwin(identity({ status: "disabled", statusReason: "maintenance" }), twin, "e");
    const keys = Object.keys(doc);
    assert.deepEqual(keys.slice(3, 6), ["status", "statusReason", "statusUpdateTime"]);
    assert.deepEqual(keys.slice(keys.indexOf("version")), ["version", "tags", "properties", "capabilities"]);
    assert.deepEqual(doc["tags"], { site: "A" });
    assert.equal(doc["etag"], "AAAAAAAAAAI=");
    assert.equal(doc["version"], 4);
    const properties = doc["properties"] as Record<string, Record<string, unknown>>;
    assert.deepEqual(Object.keys(properties["desired"]!), ["rate", "$metadata", "$version"]);
    assert.deepEqual(Object.keys(properties["reported"]!), ["fw", "$metadata", "$version"]);
  });

  test("shows certificate thumbprints for X.509 identities", () => {
    const doc = renderTwin(
      identity({ authentication: { type: "selfSigned", symmetricKey: null, x509Thumbprint: { primaryThumbprint: "AB12", secondaryThumbprint: null } } }),
      newTwinRecord(T0),
      "e",
    );
    assert.equal(doc["authenticationType"], "selfSigned");
    assert.deepEqual(doc["x509Thumbprint"], { primaryThumbprint: "AB12", secondaryThumbprint: null });
  });

  test("adds deviceScope and parentScopes for devices in an Edge hierarchy", () => {
    const edge = renderTwin(identity({ capabilities: { iotEdge: true }, deviceScope: "ms-azure-iot-edge://dev-1-1" }), newTwinRecord(T0), "e");
    assert.deepEqual(Object.keys(edge).slice(-3), ["capabilities", "deviceScope", "parentScopes"]);
    assert.equal(edge["deviceScope"], "ms-azure-iot-edge://dev-1-1");
    assert.deepEqual(edge["parentScopes"], []);
    const child = renderTwin(identity({ deviceScope: "ms-azure-iot-edge://p-1", parentScopes: ["ms-azure-iot-edge://p-1"] }), newTwinRecord(T0), "e");
    assert.deepEqual(child["parentScopes"], ["ms-azure-iot-edge://p-1"]);
  });

  test("renders a module twin with moduleId second and no device-only fields", () => {
    const doc = renderTwin(identity({ moduleId: "$edgeAgent", deviceScope: "ms-azure-iot-edge://dev-1-1" }), newTwinRecord(T0), "NzgwNjA1MDUz");
    assert.deepEqual(Object.keys(doc).slice(0, 3), ["deviceId", "moduleId", "etag"]);
    assert.equal(doc["moduleId"], "$edgeAgent");
    assert.equal(Object.keys(doc).at(-1), "properties");
  });

  test("returns a document that shares no nodes with the record", () => {
    const twin = patchTwin(newTwinRecord(T0), { tags: { a: { b: 1 } }, properties: { desired: { c: { d: 1 } } } }, T0 + 1000).twin;
    const before = structuredClone(twin);
    const doc = renderTwin(identity(), twin, "e");
    (doc["tags"] as Record<string, Record<string, unknown>>)["a"]!["b"] = 2;
    const properties = doc["properties"] as Record<string, Record<string, Record<string, unknown>>>;
    properties["desired"]!["c"]!["d"] = 2;
    assert.deepEqual(twin, before);
  });
});

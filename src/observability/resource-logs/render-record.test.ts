import { describe, test } from "node:test";
import assert from "node:assert/strict";
import type { HubEvent } from "../../hub/index.js";
import { maskIpAddress, renderRecords, resourceIdOf, type ConnectionFacts, type HubFacts, type ResourceLogRecord } from "./render-record.js";

const T = Date.parse("2026-03-04T10:15:02.734Z");
const AUTH = '{"scope":"device","type":"sas","issuer":"iothub","acceptingIpFilterRule":null}';
const SDK = "azure-iot-device/1.18.4 (node v20.20.2; Debian 12; x64)";
const RID = "/SUBSCRIPTIONS/00000000-0000-0000-0000-000000000000/RESOURCEGROUPS/MALACHITE/PROVIDERS/MICROSOFT.DEVICES/IOTHUBS/CONTOSO-HUB";

const connections = new Map<string, ConnectionFacts>([["press-07", { protocol: "mqtt", authType: AUTH, sdkVersion: SDK, ipAddress: "203.0.113.7" }]]);
const facts: HubFacts = { resourceId: resourceIdOf("contoso-hub"), location: "local", connection: (deviceId) => connections.get(deviceId) };

function one(event: HubEvent): ResourceLogRecord {
  const records = renderRecords(event, facts);
  assert.equal(records.length, 1, JSON.stringify(records));
  return records[0]!;
}

function props(record: ResourceLogRecord): Record<string, unknown> {
  assert.equal(typeof record.properties, "string", "properties is a JSON string, not an object");
  return JSON.parse(record.properties) as Record<string, unknown>;
}

describe("the envelope", () => {
  test("keys in the order a real hub writes them; time in whole seconds; upper-case resourceId; properties a string", () => {
    const record = one({ type: "deviceConnected", time: T, deviceId: "press-07", moduleId: "", protocol: "mqtt", authMethod: AUTH, ipAddress: "203.0.113.7", sdkVersion: SDK });
    assert.deepEqual(Object.keys(record), ["time", "resourceId", "operationName", "category", "level", "properties", "location"]);
    assert.equal(record.time, "2026-03-04T10:15:02Z");
    assert.equal(record.resourceId, RID);
    assert.equal(record.location, "local");
    // authType is a JSON string inside the JSON string: double-encoded, as in monitoring.md §1.1.
    assert.ok(record.properties.includes('"authType":"{\\"scope\\":\\"device\\"'));
  });

  test("an error record carries resultType, resultDescription before durationMs", () => {
    const record = one({ type: "methodInvoked", time: T, deviceId: "press-08", moduleId: "", methodName: "reboot", outcome: "DeviceNotOnline", durationMs: 0, requestSize: 17, responseSize: 0, sdkVersion: "2021-04-12" });
    assert.deepEqual(Object.keys(record), ["time", "resourceId", "operationName", "category", "level", "resultType", "resultDescription", "durationMs", "properties", "location"]);
  });

  test("IP addresses are masked in their last part", () => {
    assert.equal(maskIpAddress("24.9.142.17"), "24.9.142.XXX");
    assert.equal(maskIpAddress("::ffff:127.0.0.1"), "127.0.0.XXX");
    assert.equal(maskIpAddress("2001:db8::8a2e:370:7334"), "2001:db8::8a2e:370:XXX");
    assert.equal(maskIpAddress(undefined), null);
  });
});

describe("Connections", () => {
  test("deviceConnect: Information with sdkVersion, protocol, authType, masked IP, null statusCode", () => {
    const record = one({ type: "deviceConnected", time: T, deviceId: "press-07", moduleId: "", protocol: "mqtt", authMethod: AUTH, ipAddress: "203.0.113.7", sdkVersion: SDK });
    assert.equal(record.operationName, "deviceConnect");
    assert.equal(record.category, "Connections");
    assert.equal(record.level, "Information");
    assert.equal(record.resultType, undefined);
    assert.deepEqual(props(record), { deviceId: "press-07", sdkVersion: SDK, protocol: "Mqtt", authType: AUTH, maskedIpAddress: "203.0.113.XXX", statusCode: null, errorMessage: "" });
  });

  test("a module connection names its module", () => {
    const record = one({ type: "deviceConnected", time: T, deviceId: "edge-1", moduleId: "filter", protocol: "amqp", authMethod: AUTH });
    assert.deepEqual(Object.keys(props(record)).slice(0, 2), ["deviceId", "moduleId"]);
    assert.equal(props(record)["protocol"], "Amqp");
  });

  test("a clean disconnect is Information, without sdkVersion", () => {
    const record = one({ type: "deviceDisconnected", time: T, deviceId: "press-07", moduleId: "", protocol: "mqtt", reason: "ClientDisconnect", code: undefined, authMethod: AUTH, ipAddress: "203.0.113.7" });
    assert.equal(record.operationName, "deviceDisconnect");
    assert.equal(record.level, "Information");
    assert.deepEqual(props(record), { deviceId: "press-07", protocol: "Mqtt", authType: AUTH, maskedIpAddress: "203.0.113.XXX", statusCode: null, errorMessage: "" });
  });

  test("a token expiring on a live connection is two records: 401003, then 404104", () => {
    const records = renderRecords({ type: "deviceDisconnected", time: T, deviceId: "press-07", moduleId: "", protocol: "mqtt", reason: "IotHubUnauthorized", code: 401003, authMethod: AUTH, ipAddress: "203.0.113.7" }, facts);
    assert.deepEqual(
      records.map((r) => [r.operationName, r.level, r.resultType, r.resultDescription, props(r)["statusCode"]]),
      [
        ["deviceDisconnect", "Error", "401003", "IotHubUnauthorized", "401"],
        ["deviceDisconnect", "Error", "404104", "DeviceConnectionClosedRemotely", "404"],
      ],
    );
    assert.equal(props(records[1]!)["errorMessage"], "Device disconnected, see cause and resolution at https://aka.ms/iothub404104");
    assert.equal(records[0]!.time, records[1]!.time);
  });

  test("a displaced connection is one 400027 record", () => {
    const record = one({ type: "deviceDisconnected", time: T, deviceId: "press-07", moduleId: "", protocol: "mqtt", reason: "ConnectionForcefullyClosedOnNewConnection", code: 400027 });
    assert.equal(record.level, "Error");
    assert.equal(record.resultType, "400027");
    assert.equal(record.resultDescription, "ConnectionForcefullyClosedOnNewConnection");
    // Facts the event lacks come from the identity's last connect.
    assert.equal(props(record)["maskedIpAddress"], "203.0.113.XXX");
    assert.equal(props(record)["authType"], AUTH);
  });

  test("a refused connect is an Error deviceConnect with the code", () => {
    const record = one({ type: "connectionRefused", time: T, deviceId: "ghost", moduleId: "", protocol: "https", error: "IotHubUnauthorizedAccess", ipAddress: "198.51.100.4", sdkVersion: SDK });
    assert.equal(record.operationName, "deviceConnect");
    assert.equal(record.resultType, "401002");
    assert.deepEqual(props(record), {
      deviceId: "ghost", sdkVersion: SDK, protocol: "HTTP", authType: null, maskedIpAddress: "198.51.100.XXX", statusCode: "401",
      errorMessage: "Device connect failed, see cause and resolution at https://aka.ms/iothub401002",
    });
  });
});

describe("DeviceTelemetry", () => {
  test("accepted messages are not logged; refused ones are ingress errors", () => {
    assert.deepEqual(renderRecords({ type: "telemetryAccepted", time: T, deviceId: "press-07", moduleId: "", partition: 2, sizeInBytes: 12 }, facts), []);
    const record = one({ type: "telemetryRefused", time: T, deviceId: "press-07", moduleId: "", protocol: "amqp", partition: 2, sizeInBytes: 300_000, error: "MessageTooLarge" });
    assert.equal(record.operationName, "ingress");
    assert.equal(record.category, "DeviceTelemetry");
    assert.equal(record.resultType, "413001");
    assert.deepEqual(props(record), {
      deviceId: "press-07", batching: "0", messageSizeInBytes: "300000", EventProcessedUtcTime: "2026-03-04T10:15:02.734Z", EventEnqueuedUtcTime: "2026-03-04T10:15:02.734Z", partitionId: "2",
    });
  });
});

describe("C2DCommands", () => {
  test("an expired message is an Error messageExpired without a code", () => {
    const enqueued = T - 3_600_000;
    const record = one({ type: "c2dDeadLettered", time: T, deviceId: "press-07", messageId: "c2d-3f1a", reason: "Expired", deliveryCount: 0, sizeInBytes: 64, ack: "full", enqueuedTime: enqueued, expiryTime: T });
    assert.equal(record.operationName, "messageExpired");
    assert.equal(record.level, "Error");
    assert.equal(record.resultType, undefined);
    const p = props(record);
    assert.equal(p["deliveryAcknowledgement"], "Full");
    assert.equal(p["messageSizeInBytes"], "64");
    assert.equal(p["ttl"], 3_600_000);
    assert.equal(p["timeInSystem"], "3600000");
    assert.equal(p["protocol"], "Mqtt");
    assert.equal(p["statusCode"], "4XX");
  });

  test("a late settlement is 412002 on the settle operation; successes are not logged", () => {
    const record = one({ type: "c2dRefused", time: T, deviceId: "press-07", messageId: null, operation: "complete", error: "DeviceMessageLockLost", protocol: "amqp", ipAddress: "203.0.113.7" });
    assert.equal(record.operationName, "complete");
    assert.equal(record.resultType, "412002");
    assert.deepEqual(props(record), { deviceId: "press-07", messageId: null, protocol: "Amqp", maskedIpAddress: "203.0.113.XXX", statusCode: "412" });
    assert.deepEqual(renderRecords({ type: "c2dSettled", time: T, deviceId: "press-07", messageId: "m", outcome: "complete", deliveryCount: 1, protocol: "mqtt" }, facts), []);
  });
});

describe("DeviceIdentityOperations", () => {
  test("a failed create is logged with the code and the caller's masked IP", () => {
    const record = one({ type: "identityOperationFailed", time: T, deviceId: "press-07", moduleId: "", operation: "create", error: "DeviceAlreadyExists", ipAddress: "198.51.100.9" });
    assert.equal(record.operationName, "create");
    assert.equal(record.category, "DeviceIdentityOperations");
    assert.equal(record.resultType, "409001");
    assert.deepEqual(props(record), { maskedIpAddress: "198.51.100.XXX", deviceId: "press-07", statusCode: "409" });
  });
});

describe("FileUploadOperations", () => {
  test("the active-upload limit is 403006 ingress with durationMs; a successful upload is not logged", () => {
    const record = one({ type: "fileUploadRefused", time: T, deviceId: "cam-02", blobName: "img.jpg", activeUploads: 10, protocol: "https" });
    assert.equal(record.operationName, "ingress");
    assert.equal(record.category, "FileUploadOperations");
    assert.equal(record.resultType, "403006");
    assert.equal(record.durationMs, "0");
    assert.equal(props(record)["protocol"], "HTTP");
    const ok = { type: "fileUploadCompleted", time: T, deviceId: "cam-02", correlationId: "c", blobName: "b", blobUri: "https://x/b", isSuccess: true, statusCode: 200, statusDescription: null, notified: true, protocol: "https" } as const;
    assert.deepEqual(renderRecords(ok, facts), []);
    const failed = one({ ...ok, isSuccess: false, statusCode: 500 });
    assert.equal(failed.level, "Error");
    assert.equal(props(failed)["blobUri"], "https://x/b");
  });
});

describe("twin operations", () => {
  test("D2C: a reported patch is Information `update` with the connection's protocol, authenticationType and sdkVersion", () => {
    const record = one({ type: "twinOperation", time: T, deviceId: "press-07", moduleId: "", operation: "updateReported", durationMs: 6 });
    assert.equal(record.operationName, "update");
    assert.equal(record.category, "D2CTwinOperations");
    assert.equal(record.level, "Information");
    assert.equal(record.durationMs, "6");
    assert.deepEqual(props(record), { deviceId: "press-07", protocol: "Mqtt", authenticationType: AUTH, sdkVersion: SDK });
    assert.equal(one({ type: "twinOperation", time: T, deviceId: "press-07", moduleId: "", operation: "get", durationMs: 1 }).operationName, "read");
    assert.deepEqual(renderRecords({ type: "twinOperation", time: T, deviceId: "press-07", moduleId: "", operation: "notifyDesired" }, facts), []);
  });

  test("D2C: a failed patch is an Error with its code", () => {
    const record = one({ type: "twinOperation", time: T, deviceId: "press-07", moduleId: "", operation: "updateReported", durationMs: 2, error: "PreconditionFailed" });
    assert.equal(record.level, "Error");
    assert.equal(record.resultType, "412001");
  });

  test("C2D: read, update and replace with api-version as sdkVersion and messageSize", () => {
    const record = one({ type: "serviceTwinOperation", time: T, deviceId: "press-07", moduleId: "", operation: "get", durationMs: 4, messageSize: 912, sdkVersion: "2021-04-12" });
    assert.equal(record.operationName, "read");
    assert.equal(record.category, "C2DTwinOperations");
    assert.deepEqual(props(record), { deviceId: "press-07", sdkVersion: "2021-04-12", messageSize: "912" });
    assert.equal(one({ type: "serviceTwinOperation", time: T, deviceId: "d", moduleId: "", operation: "patch", durationMs: 1, messageSize: 10, sdkVersion: undefined }).operationName, "update");
    assert.equal(one({ type: "serviceTwinOperation", time: T, deviceId: "d", moduleId: "", operation: "replace", durationMs: 1, messageSize: 10, sdkVersion: undefined }).operationName, "replace");
  });
});

describe("TwinQueries and DirectMethods", () => {
  test("a query page: text, sizes and continuation as strings", () => {
    const record = one({ type: "twinQuery", time: T, query: "SELECT * FROM devices", durationMs: 23, messageSize: 61, pageSize: 100, continuation: false, resultSize: 4820, sdkVersion: "2021-04-12" });
    assert.equal(record.operationName, "query");
    assert.equal(record.category, "TwinQueries");
    assert.equal(record.durationMs, "23");
    assert.deepEqual(props(record), { query: "SELECT * FROM devices", sdkVersion: "2021-04-12", messageSize: "61", pageSize: "100", continuation: "false", resultSize: "4820" });
  });

  test("an answered method is Information `send` with RequestSize/ResponseSize numbers; a timeout is 504101", () => {
    const record = one({ type: "methodInvoked", time: T, deviceId: "press-07", moduleId: "", methodName: "reboot", outcome: "answered", durationMs: 212, requestSize: 17, responseSize: 42, sdkVersion: "2021-04-12" });
    assert.equal(record.operationName, "send");
    assert.equal(record.category, "DirectMethods");
    assert.equal(record.level, "Information");
    assert.equal(record.durationMs, "212");
    assert.deepEqual(props(record), { deviceId: "press-07", RequestSize: 17, ResponseSize: 42, sdkVersion: "2021-04-12" });
    const timeout = one({ type: "methodInvoked", time: T, deviceId: "press-07", moduleId: "", methodName: "reboot", outcome: "GatewayTimeout", durationMs: 30_000 });
    assert.equal(timeout.resultType, "504101");
    assert.equal(timeout.resultDescription, "GatewayTimeout");
  });
});

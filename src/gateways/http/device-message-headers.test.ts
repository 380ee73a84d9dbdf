import { test } from "node:test";
import assert from "node:assert/strict";
import { isHubError, type C2dMessage } from "../../hub/index.js";
import { c2dResponseHeaders, headerPairs, roundTripUtc, telemetryProperties } from "./device-message-headers.js";
import { isBatch, parseTelemetryBatch } from "./device-batch.js";

test("telemetryProperties() sorts the headers the Node SDK writes (device-protocol.md §4.2)", () => {
  const raw = [
    "iothub-to", "/devices/dev1/messages/events",
    "User-Agent", "azure-iot-device/1.18.4 (node v20.20.2; Debian 12; x64)",
    "Authorization", "SharedAccessSignature sr=x&sig=y&se=1",
    "iothub-app-Temp-Alert", "yes/no&x=1",
    "iothub-app-Level", "warn",
    "dt-subject", "comp1",
    "IoTHub-MessageId", "msg-1",
    "IoTHub-CorrelationId", "corr 1",
    "IoTHub-UserId", "user1",
    "IoTHub-Expiry", "Tue Jan 01 2030 00:00:00 GMT+0000 (Coordinated Universal Time)",
    "IoTHub-Ack", "full",
    "iothub-contenttype", "application/json",
    "iothub-contentencoding", "utf-8",
    "iothub-interface-id", "urn:azureiot:Security:SecurityAgent:1",
    "Content-Type", "binary/octet-stream",
    "Host", "localhost",
  ];
  const { properties, systemProperties } = telemetryProperties(headerPairs(raw));
  assert.deepEqual(properties, { "Temp-Alert": "yes/no&x=1", Level: "warn", "iothub-ack": "full" });
  assert.deepEqual(systemProperties, {
    to: "/devices/dev1/messages/events",
    "dt-subject": "comp1",
    messageId: "msg-1",
    correlationId: "corr 1",
    userId: "user1",
    expiryTimeUtc: "Tue Jan 01 2030 00:00:00 GMT+0000 (Coordinated Universal Time)",
    contentType: "application/json",
    contentEncoding: "utf-8",
    interfaceId: "urn:azureiot:Security:SecurityAgent:1",
  });
});

test("telemetryProperties() keeps a __proto__ property as data, skips an empty name, and lets the last duplicate win", () => {
  const { properties } = telemetryProperties([
    ["iothub-app-__proto__", "x"],
    ["iothub-app-", "nameless"],
    ["iothub-app-k", "1"],
    ["iothub-app-k", "2"],
  ]);
  assert.equal(Object.getPrototypeOf(properties), Object.prototype);
  assert.deepEqual(Object.entries(properties), [["__proto__", "x"], ["k", "2"]]);
});

test("isBatch() recognises the batch media type with parameters and in any case", () => {
  assert.equal(isBatch("application/vnd.microsoft.iothub.json"), true);
  assert.equal(isBatch("Application/VND.Microsoft.IoTHub.JSON; charset=utf-8"), true);
  assert.equal(isBatch("application/json"), false);
  assert.equal(isBatch(undefined), false);
});

test("parseTelemetryBatch() reads the Node SDK's batch, which has no base64Encoded and unescaped values", () => {
  const body = Buffer.from('[{"body": "b25l", "properties":{"iothub-app-a":"1","dt-subject":"c1"}},{"body": "AAEC"}]');
  const [first, second] = parseTelemetryBatch(body);
  assert.deepEqual(first, { body: Buffer.from("one"), properties: { a: "1" }, systemProperties: { "dt-subject": "c1" } });
  assert.deepEqual(second, { body: Buffer.from([0, 1, 2]), properties: {}, systemProperties: {} });
});

test("parseTelemetryBatch() reads text bodies (base64Encoded false) and system properties in `properties`", () => {
  const [message] = parseTelemetryBatch(Buffer.from(JSON.stringify([{ body: "hé", base64Encoded: false, properties: { "iothub-messageid": "m" } }])));
  assert.deepEqual(message, { body: Buffer.from("hé"), properties: {}, systemProperties: { messageId: "m" } });
  assert.deepEqual(parseTelemetryBatch(Buffer.from("[]")), []);
});

test("parseTelemetryBatch() refuses what is not a batch", () => {
  const code = (body: string): number | undefined => {
    try {
      parseTelemetryBatch(Buffer.from(body));
      return undefined;
    } catch (error) {
      return isHubError(error) ? error.code : -1;
    }
  };
  assert.equal(code("[{"), 400006);
  assert.equal(code(""), 400006);
  for (const body of ['{"body":"b25l"}', "[null]", '[{"body":"b25l="}]', '[{"body":"b25l","base64Encoded":"yes"}]', '[{"body":"b25l","properties":[]}]', '[{"body":"b25l","properties":{"k":null}}]']) {
    assert.equal(code(body), 400004, body);
  }
});

test("c2dResponseHeaders() writes IoT Hub's headers and leaves out properties that cannot be headers", () => {
  const message: C2dMessage = {
    id: "i",
    deviceId: "d",
    deviceGenerationId: "g",
    sequenceNumber: 7,
    enqueuedTime: Date.UTC(2024, 4, 1, 12, 0, 0, 5),
    expiryTime: Date.UTC(2024, 4, 1, 13, 0, 0),
    deliveryCount: 1,
    lockToken: "0f8fad5b-d9cb-469f-a165-70867728950e",
    lockedUntil: Date.UTC(2024, 4, 1, 12, 1, 0),
    body: Buffer.from("x"),
    properties: { color: "blue", "two words": "x", ok: "line\nbreak", "": "empty" },
    systemProperties: { messageId: "m", to: "/devices/d/messages/devicebound", contentType: "text/plain", ack: "full" },
  };
  const { headers, skipped } = c2dResponseHeaders(message);
  assert.deepEqual(headers, {
    ETag: '"0f8fad5b-d9cb-469f-a165-70867728950e"',
    "iothub-messageid": "m",
    "iothub-correlationid": "",
    "iothub-userid": "",
    "iothub-sequencenumber": "7",
    "iothub-enqueuedtime": "2024-05-01T12:00:00.0050000Z",
    "iothub-expiry": "2024-05-01T13:00:00.0000000Z",
    "iothub-deliverycount": "1",
    "iothub-ack": "full",
    "iothub-to": "/devices/d/messages/devicebound",
    ContentType: "text/plain",
    "iothub-app-color": "blue",
  });
  assert.deepEqual(skipped.sort(), ["", "ok", "two words"]);
  assert.equal(roundTripUtc(0), "1970-01-01T00:00:00.0000000Z");
});

import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { HUB_ERRORS, HubError, type HubErrorName } from "./index.js";
import { errorTableRows } from "./errors-doc.js";

test("docs/errors.md lists exactly the catalog", () => {
  const doc = readFileSync(new URL("../../../docs/errors.md", import.meta.url), "utf8");
  const documented = doc.split("\n").filter((line) => /^\| \d{6} \|/.test(line));
  assert.deepEqual(documented, errorTableRows(), "regenerate the table in docs/errors.md from errorTableRows()");
});

test("every code is six digits, unique, and starts with its HTTP status", () => {
  const codes = new Set<number>();
  for (const [name, spec] of Object.entries(HUB_ERRORS)) {
    assert.match(String(spec.code), /^\d{6}$/, name);
    assert.ok(!codes.has(spec.code), `${name}: duplicate code ${spec.code}`);
    codes.add(spec.code);
    assert.equal(Math.floor(spec.code / 1000), spec.httpStatus, name);
    assert.ok(spec.message.length > 0 && !spec.message.includes(";"), `${name}: the message must be non-empty and hold no ';' (the SDK splits on it)`);
  }
});

test("the errors the troubleshooting guide names are all in the catalog", () => {
  const required: Record<number, HubErrorName> = {
    400004: "ArgumentInvalid", 400027: "ConnectionForcefullyClosedOnNewConnection", 401003: "IotHubUnauthorized",
    403002: "IotHubQuotaExceeded", 403004: "DeviceMaximumQueueDepthExceeded", 403006: "DeviceMaximumActiveFileUploadLimitExceeded",
    404001: "DeviceNotFound", 404103: "DeviceNotOnline", 404104: "DeviceConnectionClosedRemotely", 409001: "DeviceAlreadyExists",
    409002: "LinkCreationConflict", 412001: "PreconditionFailed", 412002: "DeviceMessageLockLost", 413001: "MessageTooLarge",
    429001: "ThrottlingException", 500001: "ServerError", 500008: "GenericTimeout", 503003: "PartitionNotFound", 504101: "GatewayTimeout",
  };
  for (const [code, name] of Object.entries(required)) assert.equal(HUB_ERRORS[name].code, Number(code), name);
});

test("HubError carries the catalog entry and a custom message", () => {
  const error = new HubError("DeviceNotFound", { message: "Device 'x' does not exist", trackingId: "t1" });
  assert.equal(error.code, 404001);
  assert.equal(error.spec.httpStatus, 404);
  assert.equal(error.message, "Device 'x' does not exist");
  assert.equal(error.trackingId, "t1");
  assert.equal(new HubError("GatewayTimeout").message, HUB_ERRORS.GatewayTimeout.message);
});

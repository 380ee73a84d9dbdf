import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { HUB_ERRORS, HubError, type HubErrorName } from "./index.js";
import { errorTableRows, explanationSections } from "./errors-doc.js";
import { EXPLANATIONS, findError, renderExplanation } from "./explanations.js";

test("docs/errors.md lists exactly the catalog", () => {
  const doc = readFileSync(new URL("../../../docs/errors.md", import.meta.url), "utf8");
  const documented = doc.split("\n").filter((line) => /^\| \d{6} \|/.test(line));
  assert.deepEqual(documented, errorTableRows(), "regenerate the table in docs/errors.md from errorTableRows()");
});

test("docs/errors.md ends with the explanations generated from EXPLANATIONS", () => {
  const doc = readFileSync(new URL("../../../docs/errors.md", import.meta.url), "utf8");
  const start = doc.indexOf("\n## Explanations\n");
  assert.ok(start >= 0, "docs/errors.md needs a '## Explanations' section");
  assert.equal(doc.slice(start + 1), explanationSections(), "regenerate the '## Explanations' section of docs/errors.md from explanationSections()");
});

test("every catalog entry has a complete explanation, and explain finds it by code and by name", () => {
  for (const name of Object.keys(HUB_ERRORS) as HubErrorName[]) {
    const e = EXPLANATIONS[name];
    assert.ok(e.summary.length > 0 && e.sdk.length > 0 && e.fix.length > 0 && e.causes.length > 0, name);
    assert.equal(findError(String(HUB_ERRORS[name].code)), name);
    assert.equal(findError(name.toLowerCase()), name);
    const text = renderExplanation(name);
    assert.ok(text.startsWith(`${HUB_ERRORS[name].code} ${name} (HTTP ${HUB_ERRORS[name].httpStatus}, AMQP `), name);
    for (const line of text.split("\n").slice(1)) assert.ok(line.length <= 100 || !line.includes(" ", 4), `${name}: line over 100 columns: ${line}`);
  }
  assert.equal(
    renderExplanation("DeviceMaximumQueueDepthExceeded").split("\n")[0],
    "403004 DeviceMaximumQueueDepthExceeded (HTTP 403, AMQP amqp:resource-limit-exceeded, MQTT 403)",
  );
  assert.match(renderExplanation("IotHubUnauthorized").split("\n")[0]!, /MQTT 401, CONNACK 5\)$/);
  assert.equal(findError("ErrorCode:DeviceNotFound"), "DeviceNotFound");
  assert.equal(findError(" device-not-found "), "DeviceNotFound");
  assert.equal(findError("999999"), undefined);
  assert.equal(findError("404"), undefined);
  assert.equal(findError(""), undefined);
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

import { test } from "node:test";
import assert from "node:assert/strict";
import { isHubError, type HubErrorName } from "../../hub/index.js";
import { parseUsername } from "./username.js";

function assertHubError(run: () => unknown, name: HubErrorName): void {
  assert.throws(run, (error: unknown) => isHubError(error) && error.errorName === name);
}

const agent = "azure-iot-device/1.18.4 (node v20.20.2; Debian 12; x64)";
const encodedAgent = "azure-iot-device%2F1.18.4%20(node%20v20.20.2%3B%20Debian%2012%3B%20x64)";

test("parseUsername() reads a device username captured from the Node SDK (device-protocol.md §2.1)", () => {
  const username = parseUsername(`localhost/dev1/?api-version=2021-04-12&DeviceClientType=${encodedAgent}`, "localhost");
  assert.deepEqual(username, {
    hostName: "localhost",
    deviceId: "dev1",
    clientId: "dev1",
    apiVersion: "2021-04-12",
    deviceClientType: agent,
    params: { "api-version": "2021-04-12", DeviceClientType: agent },
  });
});

test("parseUsername() reads the raw model-id of a Plug and Play device", () => {
  const username = parseUsername(`localhost/dev1/?api-version=2021-04-12&model-id=dtmi:com:example:Thermostat;1&DeviceClientType=${encodedAgent}`, "localhost");
  assert.equal(username.modelId, "dtmi:com:example:Thermostat;1");
  assert.equal(username.deviceClientType, agent);
});

test("parseUsername() reads a module username", () => {
  const username = parseUsername("localhost/dev1/mod1/?api-version=2021-04-12&DeviceClientType=x", "localhost");
  assert.equal(username.deviceId, "dev1");
  assert.equal(username.moduleId, "mod1");
  assert.equal(username.clientId, "dev1/mod1");
});

test("parseUsername() reads the documented hand-written forms", () => {
  const docs = parseUsername("contoso.azure-devices.net/MyDevice01/?api-version=2021-04-12", "contoso.azure-devices.net");
  assert.deepEqual(docs, { hostName: "contoso.azure-devices.net", deviceId: "MyDevice01", clientId: "MyDevice01", apiVersion: "2021-04-12", params: { "api-version": "2021-04-12" } });
  const legacy = parseUsername("hub.example/dev1/api-version=2016-11-14", "hub.example");
  assert.equal(legacy.apiVersion, "2016-11-14");
  assert.equal(legacy.moduleId, undefined);
  const legacyModule = parseUsername("hub.example/dev1/mod1/api-version=2016-11-14", "hub.example");
  assert.equal(legacyModule.moduleId, "mod1");
});

test("parseUsername() accepts a username without api-version, with or without the trailing slash", () => {
  for (const text of ["hub/dev1/", "hub/dev1", "hub/dev1/?"]) {
    const username = parseUsername(text, "hub");
    assert.equal(username.deviceId, "dev1", text);
    assert.equal(username.apiVersion, undefined, text);
    assert.equal(username.moduleId, undefined, text);
  }
  assert.equal(parseUsername("hub/dev1/mod1", "hub").moduleId, "mod1");
  assert.equal(parseUsername("hub/dev1/mod1/", "hub").moduleId, "mod1");
});

test("parseUsername() keeps ids raw, including '?', '=', '%' and '$'", () => {
  const username = parseUsername("hub/d?e=v%41$/m=1/?api-version=2021-04-12", "hub");
  assert.equal(username.deviceId, "d?e=v%41$");
  assert.equal(username.moduleId, "m=1");
  assert.equal(username.clientId, "d?e=v%41$/m=1");
});

test("parseUsername() compares the host case-insensitively and keeps it as written", () => {
  assert.equal(parseUsername("LocalHost/dev1/?api-version=2021-04-12", "localhost").hostName, "LocalHost");
});

test("parseUsername() keeps the first of a repeated key and a value it cannot decode as written", () => {
  const username = parseUsername("hub/dev1/?api-version=2021-04-12&api-version=2099-01-01&x=%zz&flag&=nokey", "hub");
  assert.equal(username.apiVersion, "2021-04-12");
  assert.deepEqual(username.params, { "api-version": "2021-04-12", x: "%zz", flag: "" });
});

test("parseUsername() refuses a username naming another hub (IotHubNotFound)", () => {
  assertHubError(() => parseUsername("otherhub/dev1/?api-version=2021-04-12", "localhost"), "IotHubNotFound");
});

test("parseUsername() refuses malformed usernames (ArgumentInvalid)", () => {
  for (const text of ["", "hub", "hub/", "/dev1/?api-version=2021-04-12", "hub//?api-version=2021-04-12", "hub/dev1//?api-version=2021-04-12", "hub/a/b/c/?api-version=2021-04-12", "hub/dev1/?api-version=", "hub/dev1/?api-version=%20"]) {
    assertHubError(() => parseUsername(text, "hub"), "ArgumentInvalid");
  }
});

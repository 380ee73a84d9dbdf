import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { join } from "node:path";
import iothub from "azure-iothub";
import deviceSdk from "azure-iot-device";
import { startTestHub, type TestHub } from "./harness/start-test-hub.js";
import { policyKey, serviceRequest } from "./harness/service-request.js";
import {
  deviceRequest,
  deviceToken,
  httpDeviceClient,
  httpTransport,
  httpX509Client,
  selfSignedCertificate,
  type DeviceClient,
} from "./harness/http-device-client.js";
import { SqliteTelemetryLog } from "../../src/storage/sqlite/sqlite-telemetry-log.js";
import type { TelemetryRecord } from "../../src/hub/index.js";

const { Registry } = iothub;
const { Message } = deviceSdk;
const API = "api-version=2021-04-12";
const JSON_TYPE = { "content-type": "application/json; charset=utf-8" };
const BATCH_TYPE = { "content-type": "application/vnd.microsoft.iothub.json" };
const DEVICE_SAS = JSON.stringify({ scope: "device", type: "sas", issuer: "iothub", acceptingIpFilterRule: null });
const GUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

async function eventually(check: () => Promise<boolean> | boolean, what: string): Promise<void> {
  for (let i = 0; i < 200; i++) {
    if (await check()) return;
    await new Promise((r) => setTimeout(r, 25));
  }
  throw new Error(`Timed out waiting for ${what}`);
}

describe("devices over HTTPS with azure-iot-device-http", () => {
  let hub: TestHub;
  let registry: any;
  const keys = new Map<string, string>();
  const clients: DeviceClient[] = [];

  async function create(id: string, description: Record<string, unknown> = {}): Promise<string> {
    const key = (await registry.create({ deviceId: id, ...description })).responseBody.authentication.symmetricKey?.primaryKey as string;
    keys.set(id, key);
    return key;
  }

  function client(id: string, key = keys.get(id)!, options: { keyName?: string } = {}): DeviceClient {
    const c = httpDeviceClient(hub, id, key, options);
    clients.push(c);
    return c;
  }

  /** A client that polls its C2D queue only when told (`httpTransport(c).receive()`), and hands over what arrives. */
  async function pollingClient(id: string, drain = false): Promise<{ client: DeviceClient; next(): Promise<any> }> {
    const c = client(id);
    await c.setOptions({ http: { receivePolicy: { manualPolling: true, drain } } });
    const arrived: any[] = [];
    c.on("message", (msg: any) => arrived.push(msg));
    return {
      client: c,
      async next() {
        const seen = arrived.length;
        httpTransport(c).receive();
        await eventually(() => arrived.length > seen, "a cloud-to-device message");
        return arrived[seen];
      },
    };
  }

  /** The telemetry log as a second reader sees it: what the hub acknowledged is on disk. */
  async function records(deviceId: string): Promise<TelemetryRecord[]> {
    const log = SqliteTelemetryLog.open({ path: join(hub.dataDir, "telemetry.db") });
    const all: TelemetryRecord[] = [];
    try {
      for (let partition = 0; partition < 4; partition++) all.push(...(await log.read({ partition, fromSequenceNumber: 0, limit: 10_000 })));
    } finally {
      await log.close();
    }
    return all.filter((r) => r.systemProperties["iothub-connection-device-id"] === deviceId).sort((a, b) => a.sequenceNumber - b.sequenceNumber);
  }

  function queue(deviceId: string, message: Record<string, unknown>) {
    return serviceRequest(hub, "POST", `/admin/devices/${encodeURIComponent(deviceId)}/messages/devicebound?${API}`, { body: JSON.stringify(message), headers: JSON_TYPE });
  }

  async function c2dCount(deviceId: string): Promise<number> {
    return (await registry.get(deviceId)).responseBody.cloudToDeviceMessageCount as number;
  }

  /** A raw request to the device API as the device itself. */
  function asDevice(deviceId: string, method: string, path: string, options: { body?: string | Buffer; headers?: Record<string, string> } = {}) {
    return deviceRequest(hub, method, path, { ...options, authorization: deviceToken(hub, deviceId, keys.get(deviceId)!) });
  }

  before(async () => {
    hub = await startTestHub();
    registry = Registry.fromConnectionString(hub.connectionStrings["iothubowner"]!);
  });
  after(async () => {
    for (const c of clients) await c.close().catch(() => undefined);
    await hub.dispose();
  });

  describe("telemetry", () => {
    test("sendEvent: body, application and system properties are durable, with the request's credential; no connection is registered", async () => {
      await create("tel-dev");
      const c = client("tel-dev");
      await c.open();
      const message = new Message(JSON.stringify({ temp: 21.5 }));
      message.messageId = "m-1";
      message.correlationId = "c-1";
      message.userId = "u-1";
      message.contentType = "application/json";
      message.contentEncoding = "utf-8";
      message.expiryTimeUtc = "2030-01-01T00:00:00.000Z";
      message.ack = "full";
      message.properties.add("Level", "warn");
      message.properties.add("dt-subject", "thermostat1");
      await c.sendEvent(message);

      const [record, ...rest] = await records("tel-dev");
      assert.ok(record, "the message is in the telemetry log");
      assert.equal(rest.length, 0);
      assert.equal(record.body.toString(), JSON.stringify({ temp: 21.5 }));
      // Application properties keep their case; request headers (Host, User-Agent, Authorization…) are not properties.
      assert.deepEqual(record.properties, { Level: "warn", "iothub-ack": "full" });
      const system = record.systemProperties;
      assert.equal(system["messageId"], "m-1");
      assert.equal(system["correlationId"], "c-1");
      assert.equal(system["userId"], "u-1");
      assert.equal(system["contentType"], "application/json");
      assert.equal(system["contentEncoding"], "utf-8");
      assert.equal(system["expiryTimeUtc"], "2030-01-01T00:00:00.000Z");
      assert.equal(system["dt-subject"], "thermostat1");
      assert.equal(system["to"], "/devices/tel-dev/messages/events");
      assert.equal(system["iothub-message-source"], "Telemetry");
      assert.equal(system["iothub-connection-auth-method"], DEVICE_SAS);
      const { responseBody: identity } = await registry.get("tel-dev");
      assert.equal(system["iothub-connection-auth-generation-id"], identity.generationId);
      // HTTPS is connectionless: the device is not shown as connected.
      assert.equal(identity.connectionState, "Disconnected");
    });

    test("sendEventBatch: every message is durable, binary bodies and properties intact, in order", async () => {
      await create("batch-dev");
      const c = client("batch-dev");
      const first = new Message("one");
      first.properties.add("a", "1");
      first.properties.add("b", "two words");
      const second = new Message(Buffer.from([0, 1, 2, 0xff]));
      const third = new Message("three");
      third.properties.add("dt-subject", "comp1");
      await c.sendEventBatch([first, second, third]);

      const stored = await records("batch-dev");
      assert.equal(stored.length, 3);
      assert.deepEqual(stored.map((r) => r.body), [Buffer.from("one"), Buffer.from([0, 1, 2, 0xff]), Buffer.from("three")]);
      assert.deepEqual(stored[0]!.properties, { a: "1", b: "two words" });
      assert.deepEqual(stored[1]!.properties, {});
      assert.equal(stored[2]!.systemProperties["dt-subject"], "comp1");
      for (const r of stored) assert.equal(r.systemProperties["iothub-connection-auth-method"], DEVICE_SAS);
    });

    test("a batch with system properties and base64Encoded (as the Java and C SDKs write it), and a text body", async () => {
      await create("batch-raw");
      const body = JSON.stringify([
        { body: Buffer.from("java").toString("base64"), base64Encoded: true, properties: { "iothub-app-k": "v", "iothub-messageid": "mid-1", "iothub-contenttype": "text/plain" } },
        { body: "plain text", base64Encoded: false },
      ]);
      const response = await asDevice("batch-raw", "POST", `/devices/batch-raw/messages/events?${API}`, { body, headers: BATCH_TYPE });
      assert.equal(response.status, 204);
      const stored = await records("batch-raw");
      assert.deepEqual(stored.map((r) => r.body.toString()), ["java", "plain text"]);
      assert.deepEqual(stored[0]!.properties, { k: "v" });
      assert.equal(stored[0]!.systemProperties["messageId"], "mid-1");
      assert.equal(stored[0]!.systemProperties["contentType"], "text/plain");

      const empty = await asDevice("batch-raw", "POST", `/devices/batch-raw/messages/events?${API}`, { body: "[]", headers: BATCH_TYPE });
      assert.equal(empty.status, 204);
      assert.equal((await records("batch-raw")).length, 2);
    });

    test("a single message's body is bytes whatever its Content-Type: JSON parsing stays with the service API", async () => {
      await create("ct-dev");
      const response = await asDevice("ct-dev", "POST", `/devices/ct-dev/messages/events?${API}`, { body: "{not json", headers: JSON_TYPE });
      assert.equal(response.status, 204);
      const [record] = await records("ct-dev");
      assert.equal(record!.body.toString(), "{not json");
      // The HTTP Content-Type describes the request; the message's content type is iothub-contenttype.
      assert.equal(record!.systemProperties["contentType"], undefined);
    });

    test("a DeviceConnect policy token (skn) authenticates the device; the auth method's scope is hub", async () => {
      await create("policy-dev");
      const c = client("policy-dev", policyKey(hub, "device"), { keyName: "device" });
      await c.sendEvent(new Message("via policy"));
      const [record] = await records("policy-dev");
      assert.equal(record!.body.toString(), "via policy");
      assert.equal(JSON.parse(record!.systemProperties["iothub-connection-auth-method"]!).scope, "hub");
      // The service policy has no DeviceConnect.
      const refused = client("policy-dev", policyKey(hub, "service"), { keyName: "service" });
      await assert.rejects(refused.sendEvent(new Message("no")), (err: Error) => err.name === "UnauthorizedError");
    });

    test("modules send on their own path with their own token, and only there", async () => {
      await create("mod-parent");
      const { responseBody: module } = await registry.addModule({ deviceId: "mod-parent", moduleId: "sensor" });
      const moduleKey = module.authentication.symmetricKey.primaryKey as string;
      const token = deviceToken(hub, "mod-parent", moduleKey, "sensor");
      const ok = await deviceRequest(hub, "POST", `/devices/mod-parent/modules/sensor/messages/events?${API}`, {
        body: "from a module",
        headers: { "iothub-app-kind": "module" },
        authorization: token,
      });
      assert.equal(ok.status, 204);
      const [record] = await records("mod-parent");
      assert.equal(record!.body.toString(), "from a module");
      assert.equal(record!.systemProperties["iothub-connection-module-id"], "sensor");
      assert.equal(JSON.parse(record!.systemProperties["iothub-connection-auth-method"]!).scope, "module");
      assert.deepEqual(record!.properties, { kind: "module" });

      const onDevicePath = await deviceRequest(hub, "POST", `/devices/mod-parent/messages/events?${API}`, { body: "x", authorization: token });
      assert.equal(onDevicePath.status, 401);
      // Modules have no cloud-to-device queue over HTTPS.
      const c2d = await deviceRequest(hub, "GET", `/devices/mod-parent/modules/sensor/messages/devicebound?${API}`, { authorization: token });
      assert.equal(c2d.status, 404);
    });

    test("X.509: a registered self-signed certificate sends; an unregistered one is UnauthorizedError", async () => {
      const credential = await selfSignedCertificate("x509-http");
      await registry.create({ deviceId: "x509-http", authentication: { x509Thumbprint: { primaryThumbprint: credential.sha1 } } });
      const c = await httpX509Client(hub, "x509-http", credential);
      clients.push(c);
      await c.sendEvent(new Message("signed"));
      const [record] = await records("x509-http");
      assert.equal(record!.body.toString(), "signed");
      assert.equal(JSON.parse(record!.systemProperties["iothub-connection-auth-method"]!).type, "x509Certificate");

      const stranger = await httpX509Client(hub, "x509-http", await selfSignedCertificate("x509-http"));
      clients.push(stranger);
      await assert.rejects(stranger.sendEvent(new Message("nope")), (err: Error) => err.name === "UnauthorizedError");
      // No certificate and no Authorization header at all.
      const bare = await deviceRequest(hub, "POST", `/devices/x509-http/messages/events?${API}`, { body: "x" });
      assert.equal(bare.status, 401);
      assert.equal((await records("x509-http")).length, 1);
    });

    test("an id with reserved characters works: the SDK percent-encodes it strictly in the path and the token", async () => {
      const id = "odd#dev?*'(x)!%$=@,.+_-";
      await create(id);
      const c = client(id);
      const message = new Message("odd");
      message.properties.add("k", "v");
      await c.sendEvent(message);
      const [record] = await records(id);
      assert.equal(record!.body.toString(), "odd");
      assert.deepEqual(record!.properties, { k: "v" });
      await queue(id, { body: "back", messageId: "odd-1" });
      const { client: poller, next } = await pollingClient(id);
      const msg = await next();
      assert.equal(msg.messageId, "odd-1");
      await poller.complete(msg);
      assert.equal(await c2dCount(id), 0);
    });

    test("wrong key is UnauthorizedError, an unknown device DeviceNotFoundError, an oversize message MessageTooLargeError", async () => {
      await create("err-dev");
      const wrongKey = client("err-dev", Buffer.from("not the key of this device at all").toString("base64"));
      await assert.rejects(wrongKey.sendEvent(new Message("x")), (err: Error) => err.name === "UnauthorizedError");
      const nobody = client("nobody-here", keys.get("err-dev")!);
      await assert.rejects(nobody.sendEvent(new Message("x")), (err: Error) => err.name === "DeviceNotFoundError");
      const c = client("err-dev");
      await assert.rejects(c.sendEvent(new Message(Buffer.alloc(256 * 1024 + 1, 0x61))), (err: Error) => err.name === "MessageTooLargeError");
      await assert.rejects(c.sendEventBatch([new Message(Buffer.alloc(200 * 1024, 0x61))]), (err: Error) => err.name === "MessageTooLargeError");
      assert.equal((await records("err-dev")).length, 0);
      // The limit counts the properties too, and the SDK always sends iothub-to (the system property `to`).
      await c.sendEvent(new Message(Buffer.alloc(256 * 1024 - "/devices/err-dev/messages/events".length, 0x62)));
      assert.equal((await records("err-dev")).length, 1);
    });
  });

  describe("cloud-to-device polling", () => {
    test("receive with manual polling, then complete: the message and its properties reach the SDK and leave the queue", async () => {
      await create("c2d-dev");
      assert.equal((await queue("c2d-dev", { body: "hello", messageId: "c2d-1", correlationId: "corr-1", ack: "full", properties: { color: "blue" } })).status, 201);
      const { client: c, next } = await pollingClient("c2d-dev");
      await c.open();
      const msg = await next();
      assert.equal(msg.data, "hello");
      assert.equal(msg.messageId, "c2d-1");
      assert.equal(msg.correlationId, "corr-1");
      assert.equal(msg.to, "/devices/c2d-dev/messages/devicebound");
      assert.equal(msg.properties.getValue("iothub-app-color"), "blue");
      assert.match(msg.lockToken, GUID);
      assert.ok(!Number.isNaN(Date.parse(msg.expiryTimeUtc)));
      await c.complete(msg);
      assert.equal(await c2dCount("c2d-dev"), 0);
      assert.equal((await asDevice("c2d-dev", "GET", `/devices/c2d-dev/messages/devicebound?${API}`)).status, 204);
    });

    test("abandon puts the message back for another delivery; reject removes it", async () => {
      await create("c2d-abandon");
      await queue("c2d-abandon", { body: "again", messageId: "ab-1" });
      const { next, client: c } = await pollingClient("c2d-abandon");
      const first = await next();
      await c.abandon(first);
      const second = await next();
      assert.equal(second.messageId, "ab-1");
      assert.notEqual(second.lockToken, first.lockToken);
      await c.reject(second);
      assert.equal(await c2dCount("c2d-abandon"), 0);
      assert.equal((await asDevice("c2d-abandon", "GET", `/devices/c2d-abandon/messages/devicebound?${API}`)).status, 204);
    });

    test("the response carries IoT Hub's headers and the body bytes; raw complete and ?reject work", async () => {
      await create("c2d-raw");
      await queue("c2d-raw", { body: Buffer.from([0, 1, 2, 0xff]).toString("base64"), bodyEncoding: "base64", messageId: "raw-1", userId: "svc", contentType: "application/octet-stream", contentEncoding: "binary", ack: "positive", properties: { color: "red" } });
      await queue("c2d-raw", { body: "second" });
      // IoT Hub's REST reference spells the path deviceBound; the SDKs send devicebound. Both are served.
      const got = await asDevice("c2d-raw", "GET", `/devices/c2d-raw/messages/deviceBound?${API}`);
      assert.equal(got.status, 200);
      assert.deepEqual(got.body, Buffer.from([0, 1, 2, 0xff]));
      const names = got.rawHeaders.filter((_, i) => i % 2 === 0);
      for (const name of ["ETag", "ContentType", "ContentEncoding"]) assert.ok(names.includes(name), `${name} is sent in IoT Hub's case`);
      const h = got.headers;
      const lockToken = String(h["etag"]).slice(1, -1);
      assert.match(String(h["etag"]), /^".*"$/);
      assert.match(lockToken, GUID);
      assert.equal(h["iothub-messageid"], "raw-1");
      assert.equal(h["iothub-correlationid"], "");
      assert.equal(h["iothub-userid"], "svc");
      assert.equal(h["iothub-to"], "/devices/c2d-raw/messages/devicebound");
      assert.equal(h["iothub-sequencenumber"], "1");
      assert.equal(h["iothub-deliverycount"], "1");
      assert.equal(h["iothub-ack"], "positive");
      assert.match(String(h["iothub-enqueuedtime"]), /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{7}Z$/);
      assert.match(String(h["iothub-expiry"]), /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{7}Z$/);
      assert.equal(h["contenttype"], "application/octet-stream");
      assert.equal(h["contentencoding"], "binary");
      assert.equal(h["iothub-app-color"], "red");
      // The first is locked, so the next GET hands out the second.
      const other = await asDevice("c2d-raw", "GET", `/devices/c2d-raw/messages/devicebound?${API}`);
      assert.equal(other.text, "second");
      assert.equal(other.headers["iothub-sequencenumber"], "2");

      const complete = await asDevice("c2d-raw", "DELETE", `/devices/c2d-raw/messages/devicebound/${lockToken}?${API}`, { headers: { "if-match": lockToken } });
      assert.equal(complete.status, 204);
      const otherToken = String(other.headers["etag"]).slice(1, -1);
      const reject = await asDevice("c2d-raw", "DELETE", `/devices/c2d-raw/messages/devicebound/${otherToken}?${API}&reject`);
      assert.equal(reject.status, 204);
      assert.equal(await c2dCount("c2d-raw"), 0);
      // Settling a message twice: its lock token is gone.
      const again = await asDevice("c2d-raw", "DELETE", `/devices/c2d-raw/messages/devicebound/${lockToken}?${API}`);
      assert.equal(again.status, 412);
    });

    test("412002 DeviceMessageLockLost once the one-minute lock has passed, and for unknown lock tokens", async () => {
      await create("c2d-lock");
      await queue("c2d-lock", { body: "slow", messageId: "lock-1" });
      const { client: c, next } = await pollingClient("c2d-lock");
      const msg = await next();
      hub.advanceClock(61);
      // The SDK reports a failed settlement as a plain Error carrying the response (device-protocol.md §4.3).
      await assert.rejects(c.complete(msg), (err: Error & { response?: { statusCode: number } }) => err.response?.statusCode === 412);
      for (const [method, suffix] of [["DELETE", ""], ["DELETE", "&reject"], ["POST", "/abandon"]] as const) {
        const path = suffix === "/abandon" ? `/devices/c2d-lock/messages/devicebound/${msg.lockToken}/abandon?${API}` : `/devices/c2d-lock/messages/devicebound/${msg.lockToken}?${API}${suffix}`;
        const stale = await asDevice("c2d-lock", method, path);
        assert.equal(stale.status, 412, `${method} ${suffix}`);
        assert.equal(stale.headers["iothub-errorcode"], "DeviceMessageLockLost");
        assert.match((stale.json as { Message: string }).Message, /^ErrorCode:DeviceMessageLockLost;/);
      }
      // The message went back to the queue and comes again, with its delivery count kept.
      const again = await asDevice("c2d-lock", "GET", `/devices/c2d-lock/messages/devicebound?${API}`);
      assert.equal(again.headers["iothub-messageid"], "lock-1");
      assert.equal(again.headers["iothub-deliverycount"], "2");
      for (const bogus of ["not-a-lock-token", "00000000-0000-0000-0000-000000000000", "%22%22"]) {
        const response = await asDevice("c2d-lock", "DELETE", `/devices/c2d-lock/messages/devicebound/${bogus}?${API}`);
        assert.equal(response.status, 412, bogus);
      }
      // A client that copied the quoted ETag into the path is understood.
      const quoted = await asDevice("c2d-lock", "DELETE", `/devices/c2d-lock/messages/devicebound/${encodeURIComponent(String(again.headers["etag"]))}?${API}`);
      assert.equal(quoted.status, 204);
    });

    test("the 51st queued message is 403004; a draining poll then hands the device all 50", async () => {
      await create("c2d-full");
      for (let i = 0; i < 50; i++) assert.equal((await queue("c2d-full", { body: `m${i}` })).status, 201);
      const refused = await queue("c2d-full", { body: "one too many" });
      assert.equal(refused.status, 403);
      assert.equal(refused.headers["iothub-errorcode"], "DeviceMaximumQueueDepthExceeded");
      assert.match((refused.json as { Message: string }).Message, /^ErrorCode:DeviceMaximumQueueDepthExceeded;/);

      const { client: c } = await pollingClient("c2d-full", true);
      const arrived: any[] = [];
      c.on("message", (msg: any) => arrived.push(msg));
      httpTransport(c).receive();
      await eventually(() => arrived.length === 50, "50 messages from one draining poll");
      assert.deepEqual(arrived.map((m) => m.data), Array.from({ length: 50 }, (_, i) => `m${i}`));
      await Promise.all(arrived.map((m) => c.complete(m)));
      assert.equal(await c2dCount("c2d-full"), 0);
    });
  });

  describe("bad input", () => {
    before(async () => {
      await create("bad-dev");
      await create("victim");
    });

    test("malformed batch JSON is 400 IotHubFormatError; a wrong shape or bad base64 400 ArgumentInvalid; nothing is stored", async () => {
      const path = `/devices/bad-dev/messages/events?${API}`;
      const malformed = await asDevice("bad-dev", "POST", path, { body: '[{"body": "b25l"', headers: BATCH_TYPE });
      assert.equal(malformed.status, 400);
      assert.equal(malformed.headers["iothub-errorcode"], "IotHubFormatError");
      const emptyBody = await asDevice("bad-dev", "POST", path, { body: "", headers: BATCH_TYPE });
      assert.equal(emptyBody.status, 400);
      for (const body of ['{"body": "b25l"}', '[{"body": "b25l"}, 5]', '[{"body": "%%%"}]', '[{"body": "b25l", "properties": {"iothub-app-n": 1}}]', '[{"body": 5}]']) {
        const response = await asDevice("bad-dev", "POST", path, { body, headers: BATCH_TYPE });
        assert.equal(response.status, 400, body);
        assert.equal(response.headers["iothub-errorcode"], "ArgumentInvalid", body);
      }
      assert.equal((await records("bad-dev")).length, 0);
    });

    test("oversize bodies are 413 MessageTooLarge: single, batch, and body plus properties", async () => {
      const path = `/devices/bad-dev/messages/events?${API}`;
      const single = await asDevice("bad-dev", "POST", path, { body: Buffer.alloc(256 * 1024 + 1, 0x61) });
      assert.equal(single.status, 413);
      assert.equal(single.headers["iothub-errorcode"], "MessageTooLarge");
      const batch = await asDevice("bad-dev", "POST", path, { body: JSON.stringify([{ body: Buffer.alloc(200 * 1024).toString("base64") }]), headers: BATCH_TYPE });
      assert.equal(batch.status, 413);
      const withProperties = await asDevice("bad-dev", "POST", path, { body: Buffer.alloc(256 * 1024, 0x61), headers: { "iothub-app-extra": "tips it over" } });
      assert.equal(withProperties.status, 413);
      assert.equal((await records("bad-dev")).length, 0);
    });

    test("another device's path is 401, for telemetry and for its queue; nothing of it is touched", async () => {
      await queue("victim", { body: "private", messageId: "v-1" });
      const telemetry = await asDevice("bad-dev", "POST", `/devices/victim/messages/events?${API}`, { body: "spoofed" });
      assert.equal(telemetry.status, 401);
      assert.equal(telemetry.headers["iothub-errorcode"], "IotHubUnauthorizedAccess");
      const receive = await asDevice("bad-dev", "GET", `/devices/victim/messages/devicebound?${API}`);
      assert.equal(receive.status, 401);
      const settle = await asDevice("bad-dev", "DELETE", `/devices/victim/messages/devicebound/00000000-0000-0000-0000-000000000000?${API}`);
      assert.equal(settle.status, 401);
      assert.equal((await records("victim")).length, 0);
      const own = await asDevice("victim", "GET", `/devices/victim/messages/devicebound?${API}`);
      assert.equal(own.headers["iothub-messageid"], "v-1");
      assert.equal(own.headers["iothub-deliverycount"], "1", "the intruder's GET locked nothing");
    });

    test("missing api-version, missing or expired credentials, unknown devices, HEAD", async () => {
      const noVersion = await asDevice("bad-dev", "POST", "/devices/bad-dev/messages/events", { body: "x" });
      assert.equal(noVersion.status, 400);
      assert.equal(noVersion.headers["iothub-errorcode"], "InvalidProtocolVersion");
      const anonymous = await deviceRequest(hub, "GET", `/devices/bad-dev/messages/devicebound?${API}`);
      assert.equal(anonymous.status, 401);
      const expired = await deviceRequest(hub, "POST", `/devices/bad-dev/messages/events?${API}`, {
        body: "x",
        authorization: deviceToken(hub, "bad-dev", keys.get("bad-dev")!, undefined, Math.floor(Date.now() / 1000) - 10),
      });
      assert.equal(expired.status, 401);
      const garbage = await deviceRequest(hub, "POST", `/devices/bad-dev/messages/events?${API}`, { body: "x", authorization: "Bearer abc" });
      assert.equal(garbage.status, 401);
      const unknown = await deviceRequest(hub, "POST", `/devices/ghost/messages/events?${API}`, { body: "x", authorization: deviceToken(hub, "ghost", keys.get("bad-dev")!) });
      assert.equal(unknown.status, 404);
      assert.equal(unknown.headers["iothub-errorcode"], "DeviceNotFound");
      // A HEAD must not lock a message.
      await queue("bad-dev", { body: "peek" });
      const head = await asDevice("bad-dev", "HEAD", `/devices/bad-dev/messages/devicebound?${API}`);
      assert.notEqual(head.status, 200);
      const got = await asDevice("bad-dev", "GET", `/devices/bad-dev/messages/devicebound?${API}`);
      assert.equal(got.headers["iothub-deliverycount"], "1");
      assert.equal((await records("bad-dev")).length, 0);
    });

    test("the service API keeps its JSON-only parsing beside the device routes", async () => {
      const wrongType = await serviceRequest(hub, "PUT", `/devices/svc-dev?${API}`, { body: '{"deviceId":"svc-dev"}', headers: { "content-type": "text/plain" } });
      assert.equal(wrongType.status, 400);
      assert.equal(wrongType.headers["iothub-errorcode"], "InvalidContentEncodingOrType");
      const created = await serviceRequest(hub, "PUT", `/devices/svc-dev?${API}`, { body: '{"deviceId":"svc-dev"}', headers: JSON_TYPE });
      assert.equal(created.status, 200);
    });
  });
});

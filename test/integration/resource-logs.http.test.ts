import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import iothub from "azure-iothub";
import deviceSdk from "azure-iot-device";
import mqttSdk from "azure-iot-device-mqtt";
import { startTestHub, type TestHub } from "./harness/start-test-hub.js";
import { serviceRequest, serviceToken } from "./harness/service-request.js";
import { deviceClient, type Transport } from "./harness/device-client.js";
import { deviceToken } from "./harness/http-device-client.js";
import { deviceKeys } from "./harness/device-keys.js";

const { Registry, Client: ServiceClient } = iothub;
const root = new URL("../..", import.meta.url).pathname;
const RESOURCE_ID = "/SUBSCRIPTIONS/00000000-0000-0000-0000-000000000000/RESOURCEGROUPS/MALACHITE/PROVIDERS/MICROSOFT.DEVICES/IOTHUBS/TEST-HUB";

interface LogRecord {
  time: string;
  resourceId: string;
  operationName: string;
  category: string;
  level: string;
  resultType?: string;
  resultDescription?: string;
  durationMs?: string;
  properties: string;
  location: string;
}

const props = (record: LogRecord): Record<string, unknown> => JSON.parse(record.properties) as Record<string, unknown>;

async function eventually<T>(check: () => Promise<T | undefined>, what: string): Promise<T> {
  for (let i = 0; i < 200; i++) {
    const value = await check();
    if (value !== undefined) return value;
    await new Promise((r) => setTimeout(r, 25));
  }
  throw new Error(`Timed out waiting for ${what}`);
}

const noRetry = { shouldRetry: () => false, nextRetryTimeout: () => 0 };

describe("resource logs: every hub event as IoT Hub's Azure Monitor records, at GET /admin/logs and `malachite logs`", () => {
  let hub: TestHub;
  let registry: any;
  let service: InstanceType<typeof ServiceClient>;
  const keys = deviceKeys(() => registry);
  const clients: Array<{ close(): Promise<unknown> }> = [];

  async function logs(query: Record<string, string>): Promise<LogRecord[]> {
    const reply = await serviceRequest(hub, "GET", `/admin/logs?${new URLSearchParams({ ...query, "api-version": "2021-04-12" }).toString()}`);
    assert.equal(reply.status, 200, reply.text);
    return (reply.json as { records: LogRecord[] }).records;
  }

  /** Waits for a record of the device in the category that passes `match`. */
  function recordOf(category: string, deviceId: string, match: (r: LogRecord) => boolean): Promise<LogRecord> {
    return eventually(async () => (await logs({ category, deviceId })).find(match), `a ${category} record of ${deviceId}`);
  }

  async function device(id: string, transport: Transport = "Mqtt") {
    const client = deviceClient(hub, id, await keys.of(id), transport);
    clients.push(client);
    return client;
  }

  before(async () => {
    hub = await startTestHub();
    registry = Registry.fromConnectionString(hub.connectionStrings["iothubowner"]!);
    service = ServiceClient.fromConnectionString(hub.connectionStrings["service"]!);
  });
  after(async () => {
    for (const c of clients) await c.close().catch(() => undefined);
    await hub.dispose();
  });

  test("a failed registry create is a DeviceIdentityOperations error; a successful one is not logged", async () => {
    await registry.create({ deviceId: "log-reg" });
    await assert.rejects(registry.create({ deviceId: "log-reg" }));
    const records = await logs({ category: "DeviceIdentityOperations", deviceId: "log-reg" });
    assert.equal(records.length, 1, JSON.stringify(records));
    const [record] = records;
    assert.equal(record!.operationName, "create");
    assert.equal(record!.level, "Error");
    assert.equal(record!.resultType, "409001");
    assert.equal(record!.resultDescription, "DeviceAlreadyExists");
    assert.equal(record!.resourceId, RESOURCE_ID);
    assert.equal(record!.location, "local");
    assert.match(record!.time, /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$/);
    assert.deepEqual(Object.keys(props(record!)), ["maskedIpAddress", "deviceId", "statusCode"]);
    assert.match(String(props(record!)["maskedIpAddress"]), /^127\.\d+\.\d+\.XXX$/);
    assert.equal(props(record!)["statusCode"], "409");
  });

  test("connects and a clean disconnect are Connections records with protocol, deviceId, masked IP and sdkVersion", async () => {
    const mqtt = await device("log-mqtt");
    const amqp = await device("log-amqp", "Amqp");
    await mqtt.open();
    await amqp.open();
    for (const [id, protocol] of [["log-mqtt", "Mqtt"], ["log-amqp", "Amqp"]] as const) {
      const record = await recordOf("Connections", id, (r) => r.operationName === "deviceConnect");
      assert.equal(record.level, "Information");
      assert.equal(record.resultType, undefined);
      const p = props(record);
      assert.equal(p["deviceId"], id);
      assert.equal(p["protocol"], protocol);
      assert.match(String(p["maskedIpAddress"]), /^127\.\d+\.\d+\.XXX$/);
      assert.match(String(p["sdkVersion"]), /^azure-iot-device\/\d/, `${protocol} carries the SDK's user agent`);
      assert.equal(JSON.parse(String(p["authType"])).type, "sas", "authType is JSON text inside the properties text");
      assert.equal(p["statusCode"], null);
    }
    await mqtt.close();
    const gone = await recordOf("Connections", "log-mqtt", (r) => r.operationName === "deviceDisconnect");
    assert.equal(gone.level, "Information");
    assert.equal(props(gone)["protocol"], "Mqtt");
    await amqp.close();
  });

  test("refused telemetry is a DeviceTelemetry ingress error; accepted telemetry is not logged", async () => {
    const client = await device("log-big", "Amqp");
    await client.open();
    await client.sendEvent(new deviceSdk.Message("fine"));
    await assert.rejects(client.sendEvent(new deviceSdk.Message(Buffer.alloc(300 * 1024, 0x61))));
    const records = await eventually(async () => {
      const found = await logs({ category: "DeviceTelemetry", deviceId: "log-big" });
      return found.length > 0 ? found : undefined;
    }, "the DeviceTelemetry record");
    assert.equal(records.length, 1, "only the refused message is logged");
    assert.equal(records[0]!.operationName, "ingress");
    assert.equal(records[0]!.resultType, "413001");
    assert.equal(records[0]!.resultDescription, "MessageTooLarge");
    assert.equal(Number(props(records[0]!)["messageSizeInBytes"]) >= 300 * 1024, true);
    await client.close();
  });

  test("a reported-properties update is D2CTwinOperations; a direct method is DirectMethods", async () => {
    const client = await device("log-twin");
    await client.open();
    const twin = await client.getTwin();
    await new Promise<void>((resolve, reject) => twin.properties.reported.update({ firmware: "1.2" }, (err?: Error) => (err ? reject(err) : resolve())));
    const update = await recordOf("D2CTwinOperations", "log-twin", (r) => r.operationName === "update");
    assert.equal(update.level, "Information");
    assert.match(update.durationMs ?? "", /^\d+$/);
    assert.equal(props(update)["protocol"], "Mqtt");
    assert.match(String(props(update)["sdkVersion"]), /^azure-iot-device\//);
    assert.equal(JSON.parse(String(props(update)["authenticationType"])).scope, "device");

    client.onDeviceMethod("reboot", (_request, response) => void response.send(200, { rebooting: true }));
    const reply = await service.invokeDeviceMethod("log-twin", { methodName: "reboot", payload: { delay: 1 }, responseTimeoutInSeconds: 10 });
    assert.equal(reply.result.status, 200);
    const method = await recordOf("DirectMethods", "log-twin", (r) => r.operationName === "send");
    assert.equal(method.level, "Information");
    assert.match(method.durationMs ?? "", /^\d+$/);
    const p = props(method);
    assert.equal(p["RequestSize"], Buffer.byteLength(JSON.stringify({ delay: 1 })));
    assert.equal(p["ResponseSize"], Buffer.byteLength(JSON.stringify({ rebooting: true })));
    assert.match(String(p["sdkVersion"]), /^\d{4}-\d{2}-\d{2}/, "service calls log their api-version");

    await assert.rejects(service.invokeDeviceMethod("log-reg", { methodName: "reboot", payload: null, responseTimeoutInSeconds: 5 }));
    const offline = await recordOf("DirectMethods", "log-reg", () => true);
    assert.equal(offline.resultType, "404103");
  });

  test("a second connection of the same identity logs 400027 for the first", async () => {
    const first = await device("log-twice");
    const second = deviceClient(hub, "log-twice", await keys.of("log-twice"), "Mqtt");
    clients.push(second);
    first.setRetryPolicy(noRetry);
    await first.open();
    const disconnected = new Promise<void>((resolve) => first.on("disconnect", () => resolve()));
    await second.open();
    await disconnected;
    const displaced = await recordOf("Connections", "log-twice", (r) => r.resultType === "400027");
    assert.equal(displaced.operationName, "deviceDisconnect");
    assert.equal(displaced.level, "Error");
    assert.equal(displaced.resultDescription, "ConnectionForcefullyClosedOnNewConnection");
    assert.equal(props(displaced)["statusCode"], "400");
    assert.match(String(props(displaced)["errorMessage"]), /aka\.ms\/iothub400027$/);
    const sequence = (await logs({ category: "Connections", deviceId: "log-twice" })).map((r) => `${r.operationName}:${r.resultType ?? "ok"}`);
    assert.deepEqual(sequence, ["deviceConnect:ok", "deviceDisconnect:400027", "deviceConnect:ok"]);
  });

  test("a SAS token expiring on a live connection logs 401003, then 404104", async () => {
    const key = (await registry.create({ deviceId: "log-sas" })).responseBody.authentication.symmetricKey.primaryKey as string;
    const token = deviceToken(hub, "log-sas", key, undefined, Math.ceil(Date.now() / 1000) + 30);
    const client = deviceSdk.Client.fromConnectionString(`HostName=${hub.hostName};DeviceId=log-sas;SharedAccessSignature=${token}`, mqttSdk.Mqtt);
    clients.push(client);
    client.setRetryPolicy(noRetry);
    await client.open();
    const disconnected = new Promise<void>((resolve) => client.on("disconnect", () => resolve()));
    hub.advanceClock(60);
    await disconnected;
    const records = await eventually(async () => {
      const found = (await logs({ category: "Connections", deviceId: "log-sas" })).filter((r) => r.operationName === "deviceDisconnect");
      return found.length >= 2 ? found : undefined;
    }, "the two disconnect records");
    assert.deepEqual(
      records.map((r) => [r.level, r.resultType, r.resultDescription]),
      [
        ["Error", "401003", "IotHubUnauthorized"],
        ["Error", "404104", "DeviceConnectionClosedRemotely"],
      ],
    );
  });

  test("GET /admin/logs needs a policy with every right, and refuses bad parameters with 400 ArgumentInvalid", async () => {
    for (const policy of ["service", "registryReadWrite", "device"]) {
      const reply = await serviceRequest(hub, "GET", "/admin/logs?api-version=2021-04-12", { authorization: serviceToken(hub, policy) });
      assert.equal(reply.status, 401, policy);
    }
    assert.equal((await serviceRequest(hub, "GET", "/admin/logs?api-version=2021-04-12", { authorization: null })).status, 401);
    for (const query of ["since=yesterday", "category=Nope", "limit=0", "limit=abc", "device=x"]) {
      const reply = await serviceRequest(hub, "GET", `/admin/logs?api-version=2021-04-12&${query}`);
      assert.equal(reply.status, 400, query);
      assert.equal(reply.headers["iothub-errorcode"], "ArgumentInvalid", query);
    }
    const since = await serviceRequest(hub, "GET", "/admin/logs?api-version=2021-04-12&since=yesterday");
    assert.match((since.json as { Message: string }).Message, /'since' must be an ISO-8601 time .* or a duration/);
    const limited = await logs({ limit: "2" });
    assert.equal(limited.length, 2);
    const recent = await logs({ since: "1h", category: "connections" });
    assert.ok(recent.length > 0 && recent.every((r) => r.category === "Connections"));
  });

  test("the records are in <data-dir>/logs as JSON Lines, one record per line", async () => {
    const dir = join(hub.dataDir, "logs");
    const lines = await eventually(async () => {
      if (!existsSync(dir)) return undefined;
      const text = readdirSync(dir)
        .filter((n) => /^resource-logs-\d+\.jsonl$/.test(n))
        .map((n) => readFileSync(join(dir, n), "utf8"))
        .join("");
      return text.includes('"resultType":"401003"') ? text.trim().split("\n") : undefined;
    }, "the log file");
    for (const line of lines) {
      const record = JSON.parse(line) as LogRecord;
      assert.equal(typeof record.properties, "string");
      assert.equal(record.resourceId, RESOURCE_ID);
    }
  });

  test("`malachite logs` prints the hub's records, one JSON line each", async () => {
    const run = (args: string[]) => {
      const child = spawn(process.execPath, ["--import", "tsx", join(root, "src/main.ts"), "logs", "--data-dir", hub.dataDir, ...args], { cwd: root, stdio: ["ignore", "pipe", "pipe"] });
      let stdout = "";
      let stderr = "";
      child.stdout.on("data", (c: Buffer) => (stdout += c.toString()));
      child.stderr.on("data", (c: Buffer) => (stderr += c.toString()));
      return new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) => child.on("exit", (code) => resolve({ code, stdout, stderr })));
    };
    const printed = await run(["--category", "Connections", "--device", "log-sas", "--since", "1h", "--limit", "10"]);
    assert.equal(printed.code, 0, printed.stderr);
    const records = printed.stdout.trim().split("\n").map((line) => JSON.parse(line) as LogRecord);
    assert.deepEqual(
      records.map((r) => `${r.operationName}:${r.resultType ?? "ok"}`),
      ["deviceConnect:ok", "deviceDisconnect:401003", "deviceDisconnect:404104"],
    );
    assert.ok(records.every((r) => props(r)["deviceId"] === "log-sas"));
    const bad = await run(["--since", "whenever"]);
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /--since/);
  });
});

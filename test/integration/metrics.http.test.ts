import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { request } from "node:http";
import iothub from "azure-iothub";
import deviceSdk from "azure-iot-device";
import { startTestHub, type TestHub } from "./harness/start-test-hub.js";
import { deviceClient } from "./harness/device-client.js";
import { serviceRequest } from "./harness/service-request.js";

const { Registry, Client: ServiceClient } = iothub;

function scrape(hub: TestHub): Promise<{ status: number; type: string | undefined; text: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: hub.hostName, port: hub.ports.metrics!, path: "/metrics" }, (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (c: Buffer) => chunks.push(c));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, type: res.headers["content-type"], text: Buffer.concat(chunks).toString("utf8") }));
    });
    req.on("error", reject);
    req.end();
  });
}

/** The value of one unlabelled sample (or a sample written with its labels) in a scrape. */
async function metric(hub: TestHub, sample: string): Promise<number | undefined> {
  const { text } = await scrape(hub);
  const line = text.split("\n").find((l) => l.startsWith(`${sample} `));
  return line === undefined ? undefined : Number(line.slice(sample.length + 1));
}

async function eventually(hub: TestHub, sample: string, expected: number): Promise<void> {
  let last: number | undefined;
  for (let i = 0; i < 200; i++) {
    last = await metric(hub, sample);
    if (last === expected) return;
    await new Promise((r) => setTimeout(r, 25));
  }
  assert.fail(`${sample} stayed at ${String(last)}, expected ${expected}`);
}

describe("GET /metrics on --metrics-port", () => {
  let hub: TestHub;
  let registry: any;
  let service: InstanceType<typeof ServiceClient>;
  let client: InstanceType<typeof deviceSdk.Client> | undefined;

  before(async () => {
    // Queries: a bucket of one, refilled every 100 s; the second is refused with 429001 (its wait is past the backlog's).
    hub = await startTestHub({ metricsPort: 0, limits: { queriesPerSecond: 0.01, throttleBurstSeconds: 1 } });
    registry = Registry.fromConnectionString(hub.connectionStrings["iothubowner"]!);
    service = ServiceClient.fromConnectionString(hub.connectionStrings["service"]!);
  });
  after(async () => {
    await client?.close();
    await hub.dispose();
  });

  test("the listener is plain HTTP on its own port, listed in hub.json", async () => {
    assert.equal(typeof hub.ports.metrics, "number");
    assert.notEqual(hub.ports.metrics, hub.ports.https);
    const json = JSON.parse(readFileSync(hub.hubJsonPath, "utf8")) as { ports: { metrics?: number } };
    assert.equal(json.ports.metrics, hub.ports.metrics);
    const got = await scrape(hub);
    assert.equal(got.status, 200);
    assert.equal(got.type, "text/plain; version=0.0.4; charset=utf-8");
    assert.match(got.text, /^# TYPE iothub_connected_device_count gauge$/m);
    assert.match(got.text, /^iothub_d2c_telemetry_ingress_success_total 0$/m);
  });

  test("telemetry, C2D, a direct method and twin calls from an MQTT device show in the metrics", async () => {
    const key = (await registry.create({ deviceId: "metrics-dev" })).responseBody.authentication.symmetricKey.primaryKey as string;
    assert.equal(await metric(hub, "iothub_total_device_count"), 1);
    client = deviceClient(hub, "metrics-dev", key, "Mqtt");
    const device = client;
    device.onDeviceMethod("reboot", (_request, response) => void response.send(200, { rebooted: true }));
    const completed = new Promise<void>((resolve) => device.on("message", (msg: any) => void device.complete(msg).then(() => resolve())));
    await device.open();
    await eventually(hub, "iothub_connected_device_count", 1);

    // 5000 bytes of body: two 4 KB blocks of the daily quota.
    await device.sendEvent(new deviceSdk.Message("x".repeat(5000)));
    await device.sendEvent(new deviceSdk.Message("small"));
    assert.equal(await metric(hub, "iothub_d2c_telemetry_ingress_all_protocol_total"), 2);
    assert.equal(await metric(hub, "iothub_d2c_telemetry_ingress_success_total"), 2);
    assert.equal(await metric(hub, "iothub_d2c_telemetry_ingress_send_throttle_total"), 0);
    assert.equal(await metric(hub, "iothub_daily_message_quota_used"), 3);

    const sent = await serviceRequest(hub, "POST", "/admin/devices/metrics-dev/messages/devicebound?api-version=2021-04-12", {
      body: JSON.stringify({ body: "x" }),
      headers: { "content-type": "application/json; charset=utf-8" },
    });
    assert.equal(sent.status, 201);
    await completed;
    await eventually(hub, "iothub_c2d_commands_egress_complete_success_total", 1);

    const { result } = await service.invokeDeviceMethod("metrics-dev", { methodName: "reboot", payload: { delay: 1 }, responseTimeoutInSeconds: 10 });
    assert.equal((result as { status: number }).status, 200);
    assert.equal(await metric(hub, "iothub_c2d_methods_success_total"), 1);
    assert.equal(await metric(hub, "iothub_c2d_methods_failure_total"), 0);
    assert.equal(await metric(hub, "iothub_c2d_methods_request_size_bytes_count"), 1);
    assert.equal(await metric(hub, "iothub_c2d_methods_response_size_bytes_count"), 1);
    assert.equal(await metric(hub, "iothub_c2d_methods_duration_seconds_count"), 1);

    const twin = await device.getTwin();
    await new Promise<void>((resolve, reject) => twin.properties.reported.update({ firmware: "1.0" }, (err?: Error) => (err ? reject(err) : resolve())));
    assert.equal(await metric(hub, "iothub_d2c_twin_read_success_total"), 1);
    assert.equal(await metric(hub, "iothub_d2c_twin_update_success_total"), 1);
    // d2c.twin.read.size: the document the device received, a new device's empty desired and reported sections.
    assert.equal(await metric(hub, "iothub_d2c_twin_read_size_bytes_count"), 1);
    assert.equal(await metric(hub, "iothub_d2c_twin_read_size_bytes_sum"), Buffer.byteLength(JSON.stringify({ desired: { $version: 1 }, reported: { $version: 1 } })));
    // d2c.twin.update.size: the reported patch the SDK sent.
    assert.equal(await metric(hub, "iothub_d2c_twin_update_size_bytes_count"), 1);
    assert.equal(await metric(hub, "iothub_d2c_twin_update_size_bytes_sum"), Buffer.byteLength(JSON.stringify({ firmware: "1.0" })));
    await registry.getTwin("metrics-dev");
    assert.equal(await metric(hub, "iothub_c2d_twin_read_success_total"), 1);

    await device.close();
    client = undefined;
    await eventually(hub, "iothub_connected_device_count", 0);
  });

  test("a query refused with 429001 counts under throttling errors by operation; no other operation moves", async () => {
    const { text } = await scrape(hub);
    assert.match(text, /^# TYPE iothub_throttling_errors_total counter$/m);
    assert.equal(await metric(hub, 'iothub_throttling_errors_total{operation="query"}'), 0);
    await registry.createQuery("SELECT * FROM devices").nextAsTwin();
    await assert.rejects(registry.createQuery("SELECT * FROM devices").nextAsTwin(), { name: "ThrottlingError" });
    assert.equal(await metric(hub, 'iothub_throttling_errors_total{operation="query"}'), 1);
    // The refused page is a failed twin query too (its TwinQueries record carries the 429001).
    assert.equal(await metric(hub, "iothub_twin_queries_success_total"), 1);
    assert.equal(await metric(hub, "iothub_twin_queries_failure_total"), 1);
    const after = (await scrape(hub)).text;
    for (const operation of ["deviceConnect", "d2cSend", "c2dSend", "methodInvoke", "twinRead", "twinUpdate", "registryOp"]) {
      assert.match(after, new RegExp(`^iothub_throttling_errors_total\\{operation="${operation}"\\} 0$`, "m"), operation);
    }
    assert.equal(await metric(hub, "iothub_d2c_telemetry_ingress_send_throttle_total"), 0);
  });

  test("the daily quota starts again at 00:00 UTC on the hub clock; the counters do not", async () => {
    const used = await metric(hub, "iothub_daily_message_quota_used");
    assert.ok(used !== undefined && used > 0);
    const { now } = hub.advanceClock(0);
    const untilMidnight = Math.ceil((86_400_000 - (Date.parse(now) % 86_400_000)) / 1000) + 1;
    hub.advanceClock(untilMidnight);
    assert.equal(await metric(hub, "iothub_daily_message_quota_used"), 0);
    assert.equal(await metric(hub, "iothub_d2c_telemetry_ingress_success_total"), 2);
  });
});

describe("without --metrics-port", () => {
  test("no metrics listener exists", async (t) => {
    const hub = await startTestHub();
    t.after(() => hub.dispose());
    assert.equal(hub.ports.metrics, undefined);
    const json = JSON.parse(readFileSync(hub.hubJsonPath, "utf8")) as { ports: Record<string, unknown> };
    assert.equal("metrics" in json.ports, false);
  });
});

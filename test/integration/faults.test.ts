import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import iothub from "azure-iothub";
import deviceSdk from "azure-iot-device";
import { startTestHub, type TestHub } from "./harness/start-test-hub.js";
import { serviceRequest, serviceToken } from "./harness/service-request.js";
import { deviceClient, type Transport } from "./harness/device-client.js";
import { storedTelemetry } from "./harness/stored-telemetry.js";
import { within } from "./harness/within.js";

// Issue #6, fault injection (decision 0012): admin rules and the SDK e2e suites' AzIoTHub_FaultOperation* messages,
// seen through the official SDKs.

const { Registry } = iothub;
const JSON_TYPE = { "content-type": "application/json; charset=utf-8" };
const API = "api-version=2021-04-12";
const noRetry = { shouldRetry: () => false, nextRetryTimeout: () => 0 };


type Client = ReturnType<typeof deviceClient>;

describe("fault injection", () => {
  let hub: TestHub;
  let registry: any;
  const clients: Client[] = [];

  before(async () => {
    hub = await startTestHub();
    registry = Registry.fromConnectionString(hub.connectionStrings["iothubowner"]!);
  });
  after(async () => {
    for (const client of clients) await client.close().catch(() => undefined);
    await hub.dispose();
  });

  async function device(id: string, transport: Transport, retry: "none" | "default" = "none"): Promise<Client> {
    const key = (await registry.create({ deviceId: id })).responseBody.authentication.symmetricKey.primaryKey;
    const client = deviceClient(hub, id, key, transport);
    if (retry === "none") client.setRetryPolicy(noRetry);
    clients.push(client);
    return client;
  }

  async function addRule(rule: Record<string, unknown>): Promise<{ id: string; applied: number; state: string }> {
    const reply = await serviceRequest(hub, "POST", `/admin/faults?${API}`, { body: JSON.stringify(rule), headers: JSON_TYPE });
    assert.equal(reply.status, 201, reply.text);
    return reply.json as { id: string; applied: number; state: string };
  }

  async function rules(): Promise<Array<{ id: string; applied: number; state: string; source: string }>> {
    const reply = await serviceRequest(hub, "GET", `/admin/faults?${API}`);
    assert.equal(reply.status, 200);
    return (reply.json as { rules: Array<{ id: string; applied: number; state: string; source: string }> }).rules;
  }

  async function removeRule(id: string): Promise<void> {
    assert.equal((await serviceRequest(hub, "DELETE", `/admin/faults/${id}?${API}`)).status, 204);
  }

  test("the admin API refuses bad rules (400), weaker policies (401) and unknown ids (404)", async () => {
    const post = (body: unknown, authorization?: string) =>
      serviceRequest(hub, "POST", `/admin/faults?${API}`, { body: JSON.stringify(body), headers: JSON_TYPE, ...(authorization === undefined ? {} : { authorization }) });
    for (const [body, text] of [
      [{ error: 123456, operation: "d2c" }, /drop, refuseConnect, delay/],
      [{ error: "KillTheHub", operation: "d2c" }, /'error' must be/],
      [{ error: 403002, operation: "launch" }, /connect, d2c, c2d.send/],
      [{ error: 403002, operation: "d2c", probability: 2 }, /'probability'/],
      [{ error: 403002 }, /'operation'/],
    ] as const) {
      const reply = await post(body);
      assert.equal(reply.status, 400, JSON.stringify(body));
      assert.equal(reply.headers["iothub-errorcode"], "ArgumentInvalid");
      assert.match(reply.text, text);
    }
    for (const policy of ["service", "registryReadWrite", "device"]) {
      assert.equal((await post({ error: 403002, operation: "d2c" }, serviceToken(hub, policy))).status, 401, policy);
      assert.equal((await serviceRequest(hub, "GET", `/admin/faults?${API}`, { authorization: serviceToken(hub, policy) })).status, 401, policy);
    }
    const missing = await serviceRequest(hub, "DELETE", `/admin/faults/f999?${API}`);
    assert.equal(missing.status, 404);
    assert.deepEqual(await rules(), []);
  });

  test("403002 on d2c for one device: its AMQP send fails with IotHubQuotaExceededError once (count 1), another device is unaffected", async () => {
    const faulty = await device("q-faulty", "Amqp");
    const other = await device("q-other", "Amqp");
    await faulty.open();
    await other.open();
    const rule = await addRule({ error: 403002, operation: "d2c", deviceId: "q-faulty", count: 1 });
    assert.equal(rule.state, "active");
    await other.sendEvent(new deviceSdk.Message("other"));
    await assert.rejects(faulty.sendEvent(new deviceSdk.Message("refused")), { name: "IotHubQuotaExceededError" });
    await faulty.sendEvent(new deviceSdk.Message("accepted"));
    const stored = (await storedTelemetry(hub)).map((r) => r.body.toString());
    assert.ok(stored.includes("accepted") && stored.includes("other") && !stored.includes("refused"));
    assert.deepEqual((await rules()).map((r) => [r.id, r.applied, r.state]), [[rule.id, 1, "spent"]]);
    await removeRule(rule.id);
  });

  test("403002 on d2c over MQTT: the hub closes the connection, as IoT Hub does when it refuses a PUBLISH", async () => {
    const client = await device("q-mqtt", "Mqtt");
    await client.open();
    const rule = await addRule({ error: "IotHubQuotaExceeded", operation: "d2c", deviceId: "q-mqtt", protocol: "mqtt" });
    const dropped = new Promise<unknown>((resolve) => client.on("disconnect", resolve));
    await assert.rejects(client.sendEvent(new deviceSdk.Message("x")));
    await within(dropped, 10_000, "the MQTT connection stayed open");
    await removeRule(rule.id);
  });

  test("500001 on twin.get: the device SDK's getTwin fails until the rule is removed", async () => {
    const client = await device("twin-faulty", "Mqtt");
    await client.open();
    const rule = await addRule({ error: 500001, operation: "twin.get", deviceId: "twin-faulty" });
    await assert.rejects(client.getTwin());
    await removeRule(rule.id);
    const twin = await client.getTwin();
    assert.equal(typeof twin.properties.reported, "object");
  });

  test("drop on d2c and then on the reconnect: the MQTT SDK's default retry policy connects again and the send goes through", async () => {
    // The Node MQTT SDK takes any failure of its very first connect for an authorization failure and never retries
    // it, so the connect fault is met on a reconnect, as it would be in a real outage.
    const client = await device("drop-connect", "Mqtt", "default");
    await client.open();
    const onConnect = await addRule({ error: "drop", operation: "connect", deviceId: "drop-connect", count: 1 });
    const onSend = await addRule({ error: "drop", operation: "d2c", deviceId: "drop-connect", count: 1 });
    await within(client.sendEvent(new deviceSdk.Message("after two drops")), 30_000, "the send never went through");
    const applied = new Map((await rules()).map((r) => [r.id, r.applied]));
    assert.equal(applied.get(onConnect.id), 1);
    assert.equal(applied.get(onSend.id), 1);
    assert.ok((await storedTelemetry(hub)).some((r) => r.body.toString() === "after two drops"));
    await removeRule(onConnect.id);
    await removeRule(onSend.id);
  });

  test("drop on d2c closes the MQTT connection; the SDK reconnects and the send goes through", async () => {
    const client = await device("drop-d2c", "Mqtt", "default");
    await client.open();
    const rule = await addRule({ error: "drop", operation: "d2c", deviceId: "drop-d2c", count: 1 });
    await within(client.sendEvent(new deviceSdk.Message("retried")), 20_000, "the send never went through");
    assert.equal((await rules()).find((r) => r.id === rule.id)?.applied, 1);
    assert.ok((await storedTelemetry(hub)).some((r) => r.body.toString() === "retried"));
    await removeRule(rule.id);
    assert.deepEqual(await rules(), []);
  });

  for (const fault of ["KillTcp", "ShutDownMqtt"]) {
    test(`AzIoTHub_FaultOperationType ${fault} over MQTT: the message is accepted, the connection is killed after the delay, the SDK reconnects`, async () => {
      const client = await device(`kill-${fault.toLowerCase()}`, "Mqtt", "default");
      // A C2D listener makes the SDK reconnect on its own after a drop (it re-enables C2D).
      client.on("message", (message: any) => void client.complete(message).catch(() => undefined));
      await client.open();
      const reconnected = new Promise<void>((resolve) => client.once("connect", () => resolve()));
      const message = new deviceSdk.Message(`kill ${fault}`);
      message.properties.add("AzIoTHub_FaultOperationType", fault);
      message.properties.add("AzIoTHub_FaultOperationCloseReason", "boom");
      message.properties.add("AzIoTHub_FaultOperationDelayInSecs", "5");
      await client.sendEvent(message);
      assert.ok((await storedTelemetry(hub)).some((r) => r.body.toString() === `kill ${fault}`), "the fault message itself is accepted");
      // The delay runs on the hub clock: advancing it fires the kill at once.
      hub.advanceClock(5);
      await within(reconnected, 20_000, "the SDK did not reconnect");
      await client.sendEvent(new deviceSdk.Message(`after ${fault}`));
    });
  }

  test("AzIoTHub_FaultOperationType InvokeThrottling over AMQP: ThrottlingError for the duration, then fine", async () => {
    const client = await device("throttled", "Amqp");
    const bystander = await device("not-throttled", "Amqp");
    await client.open();
    await bystander.open();
    const message = new deviceSdk.Message("throttle me");
    message.properties.add("AzIoTHub_FaultOperationType", "InvokeThrottling");
    message.properties.add("AzIoTHub_FaultOperationCloseReason", "boom");
    message.properties.add("AzIoTHub_FaultOperationDelayInSecs", "0");
    message.properties.add("AzIoTHub_FaultOperationDurationInSecs", "30");
    await client.sendEvent(message);
    await assert.rejects(client.sendEvent(new deviceSdk.Message("throttled")), { name: "ThrottlingError" });
    await bystander.sendEvent(new deviceSdk.Message("bystander"));
    assert.deepEqual((await rules()).map((r) => r.source), ["message"]);
    hub.advanceClock(30);
    await client.sendEvent(new deviceSdk.Message("after the throttling"));
    assert.deepEqual(await rules(), []);
  });

  test("AzIoTHub_FaultOperationType KillAmqpD2CLink: the hub detaches the telemetry link with an error; later sends go through", async () => {
    const client = await device("kill-link", "Amqp", "default");
    await client.open();
    const message = new deviceSdk.Message("kill the link");
    message.properties.add("AzIoTHub_FaultOperationType", "KillAmqpD2CLink");
    message.properties.add("AzIoTHub_FaultOperationCloseReason", "boom");
    message.properties.add("AzIoTHub_FaultOperationDelayInSecs", "1");
    await client.sendEvent(message);
    hub.advanceClock(1);
    await new Promise((resolve) => setTimeout(resolve, 200));
    await within(client.sendEvent(new deviceSdk.Message("after the detach")), 30_000, "the send never went through");
    assert.ok((await storedTelemetry(hub)).some((r) => r.body.toString() === "after the detach"));
  });

  test("an unknown AzIoTHub_FaultOperationType is refused (400004), so a typo does not pass silently", async () => {
    const client = await device("typo", "Amqp");
    await client.open();
    const message = new deviceSdk.Message("typo");
    message.properties.add("AzIoTHub_FaultOperationType", "KillTcpp");
    // The AMQP SDK reports a rejected delivery with com.microsoft:argument-error as ArgumentError.
    await assert.rejects(client.sendEvent(message), { name: "ArgumentError" });
    assert.ok(!(await storedTelemetry(hub)).some((r) => r.body.toString() === "typo"));
  });
});

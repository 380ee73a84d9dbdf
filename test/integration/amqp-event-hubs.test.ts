import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import WebSocket from "ws";
import iothub from "azure-iothub";
import deviceSdk from "azure-iot-device";
import {
  EventHubConsumerClient,
  earliestEventPosition,
  latestEventPosition,
  type EventPosition,
  type LastEnqueuedEventProperties,
  type ReceivedEventData,
  type Subscription,
  type SubscribeOptions,
} from "@azure/event-hubs";
import { startTestHub, type TestHub } from "./harness/start-test-hub.js";
import { serviceRequest } from "./harness/service-request.js";
import { deviceClient } from "./harness/device-client.js";
import { httpDeviceClient } from "./harness/http-device-client.js";
import { deviceKeys } from "./harness/device-keys.js";
import { partitionOf } from "../../src/hub/telemetry/partition-of.js";

const { Registry } = iothub;
const { Message } = deviceSdk;
const API = "api-version=2021-04-12";
// Bounded retries: the SDK's defaults (3 retries, 30 s apart, 60 s per attempt) would outlast the test.
const RETRY = { maxRetries: 1, retryDelayInMs: 200, timeoutInMs: 10_000 };

async function eventually(check: () => boolean, what: string, ms = 5000): Promise<void> {
  const until = Date.now() + ms;
  while (!check()) {
    if (Date.now() > until) throw new Error(`Timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

/** A device id whose events land in `partition` (the hub hashes device ids onto its 4 partitions). */
function idIn(prefix: string, partition: number): string {
  for (let i = 0; ; i++) if (partitionOf(`${prefix}-${i}`, 4) === partition) return `${prefix}-${i}`;
}

interface Collector {
  readonly events: ReceivedEventData[];
  readonly errors: Array<Error & { code?: string }>;
  readonly closes: string[];
  /** processEvents calls, empty ones included: the first one means the receiver link is up. */
  batches: number;
  /** `context.lastEnqueuedEventProperties` at the last batch (with trackLastEnqueuedEventProperties). */
  lastEnqueued: LastEnqueuedEventProperties | undefined;
  readonly subscription: Subscription;
}

describe("the Event Hub-compatible endpoint with @azure/event-hubs EventHubConsumerClient", () => {
  let hub: TestHub;
  let registry: any;
  const clients: EventHubConsumerClient[] = [];
  const subscriptions: Subscription[] = [];
  const devices: Array<{ close(): Promise<unknown> }> = [];
  // Partition 3 stays empty; 1 gets telemetry from every transport; 2 is for the epoch test.
  const mqttId = idIn("eh-mqtt", 1);
  const amqpId = idIn("eh-amqp", 1);
  const httpId = idIn("eh-http", 1);
  const epochId = idIn("eh-epoch", 2);
  const keys = deviceKeys(() => registry);

  function consumer(consumerGroup = "$Default", connectionString = hub.eventHubConnectionString, options: object = {}): EventHubConsumerClient {
    const client = new EventHubConsumerClient(consumerGroup, connectionString, { retryOptions: RETRY, ...options });
    clients.push(client);
    return client;
  }

  function collect(client: EventHubConsumerClient, partitionId: string, startPosition: EventPosition, options: SubscribeOptions = {}): Collector {
    const c = { events: [] as ReceivedEventData[], errors: [] as Error[], closes: [] as string[], batches: 0 } as unknown as { -readonly [K in keyof Collector]: Collector[K] };
    c.subscription = client.subscribe(
      partitionId,
      {
        processEvents: async (events, context) => {
          c.batches++;
          c.lastEnqueued = { ...context.lastEnqueuedEventProperties };
          c.events.push(...events);
        },
        processError: async (error) => {
          c.errors.push(error);
        },
        processClose: async (reason) => {
          c.closes.push(reason);
        },
      },
      { startPosition, maxWaitTimeInSeconds: 1, ...options },
    );
    subscriptions.push(c.subscription);
    return c;
  }

  /** Closes subscriptions a test is done with: Event Hubs allows 5 non-epoch receivers per partition and group. */
  async function stop(...collectors: Collector[]): Promise<void> {
    await Promise.all(collectors.map((c) => c.subscription.close()));
  }

  async function device(id: string, transport: "Mqtt" | "Amqp" | "Http") {
    const client = transport === "Http" ? httpDeviceClient(hub, id, await keys.of(id)) : deviceClient(hub, id, await keys.of(id), transport);
    devices.push(client);
    return client;
  }

  function telemetry(n: number, transport: string): InstanceType<typeof Message> {
    const message = new Message(JSON.stringify({ n, transport }));
    message.messageId = `msg-${n}`;
    message.correlationId = `corr-${n}`;
    message.contentType = "application/json";
    message.contentEncoding = "utf-8";
    message.properties.add("transport", transport);
    message.properties.add("level", "info");
    return message;
  }

  before(async () => {
    hub = await startTestHub();
    registry = Registry.fromConnectionString(hub.connectionStrings["iothubowner"]!);
    const created = await serviceRequest(hub, "PUT", `/admin/consumer-groups/analytics?${API}`);
    assert.equal(created.status, 200, created.text);
  });
  after(async () => {
    for (const s of subscriptions) await s.close().catch(() => undefined);
    for (const c of clients) await c.close().catch(() => undefined);
    for (const d of devices) await d.close().catch(() => undefined);
    await hub.dispose();
  });

  test("the connection string names the hub's AMQP endpoint and entity, as hub.json does", async () => {
    assert.match(hub.eventHubConnectionString, new RegExp(`^Endpoint=sb://${hub.hostName.replace(/\./g, "\\.")}/;SharedAccessKeyName=service;SharedAccessKey=[^;]+;EntityPath=test-hub$`));
    const { readFile } = await import("node:fs/promises");
    const json = JSON.parse(await readFile(hub.hubJsonPath, "utf8"));
    assert.deepEqual(json.eventHubCompatible, { connectionString: hub.eventHubConnectionString, name: "test-hub", partitionCount: 4 });
  });

  test("$management: partition ids, entity properties, an empty partition, an unknown partition", async () => {
    const client = consumer();
    assert.deepEqual(await client.getPartitionIds(), ["0", "1", "2", "3"]);
    const properties = await client.getEventHubProperties();
    assert.equal(properties.name, "test-hub");
    assert.deepEqual(properties.partitionIds, ["0", "1", "2", "3"]);
    assert.ok(properties.createdOn instanceof Date && Math.abs(properties.createdOn.getTime() - Date.now()) < 60_000, String(properties.createdOn));
    const empty = await client.getPartitionProperties("3");
    assert.deepEqual(
      { ...empty, lastEnqueuedOnUtc: empty.lastEnqueuedOnUtc.getTime() },
      { eventHubName: "test-hub", partitionId: "3", beginningSequenceNumber: 0, lastEnqueuedSequenceNumber: -1, lastEnqueuedOffset: "-1", lastEnqueuedOnUtc: 0, isEmpty: true },
    );
    await assert.rejects(client.getPartitionProperties("9"), (error: Error & { code?: string }) => {
      assert.equal(error.code, "ArgumentOutOfRangeError");
      assert.match(error.message, /partition '9' does not exist/);
      return true;
    });
  });

  let sent: ReceivedEventData[] = [];
  /** The MQTT device of the telemetry test, still connected: it produces the later events on partition 1. */
  let producer: { sendEvent(message: InstanceType<typeof Message>): Promise<unknown> };

  test("telemetry from MQTT, AMQP and HTTPS devices arrives with its body, properties and system properties", async () => {
    const reader = collect(consumer(), "1", earliestEventPosition);
    const transports = [
      [mqttId, "Mqtt"],
      [amqpId, "Amqp"],
      [httpId, "Http"],
    ] as const;
    for (const [n, [id, transport]] of transports.entries()) {
      const client = await device(id, transport);
      if (transport !== "Http") await client.open();
      if (transport === "Mqtt") producer = client;
      await client.sendEvent(telemetry(n, transport));
      // Distinct enqueued times, for the enqueued-time position below.
      await new Promise((r) => setTimeout(r, 20));
    }
    await eventually(() => reader.events.length >= 3, "3 events on partition 1");
    assert.equal(reader.errors.length, 0, String(reader.errors[0]));
    sent = reader.events.slice(0, 3);
    for (const [n, [id, transport]] of transports.entries()) {
      const event = sent[n]!;
      assert.deepEqual(event.body, { n, transport });
      assert.equal(event.sequenceNumber, n);
      assert.equal(typeof event.offset, "string");
      assert.ok(event.enqueuedTimeUtc instanceof Date);
      assert.equal(event.messageId, `msg-${n}`);
      assert.equal(event.correlationId, `corr-${n}`);
      assert.equal(event.contentType, "application/json");
      assert.deepEqual(event.properties, { transport, level: "info" });
      const system = event.systemProperties!;
      assert.equal(system["iothub-connection-device-id"], id, transport);
      assert.equal(system["iothub-message-source"], "Telemetry");
      assert.equal(system["iothub-enqueuedtime"], event.enqueuedTimeUtc.getTime());
      assert.equal(system["messageId"], `msg-${n}`);
      assert.equal(system["contentType"], "application/json");
      assert.equal(system["contentEncoding"], "utf-8");
      assert.deepEqual(JSON.parse(system["iothub-connection-auth-method"]), { scope: "device", type: "sas", issuer: "iothub", acceptingIpFilterRule: null });
      assert.equal(typeof system["iothub-connection-auth-generation-id"], "string");
    }
    assert.ok(BigInt(sent[0]!.offset) < BigInt(sent[1]!.offset) && BigInt(sent[1]!.offset) < BigInt(sent[2]!.offset));
    assert.ok(sent[0]!.enqueuedTimeUtc < sent[1]!.enqueuedTimeUtc && sent[1]!.enqueuedTimeUtc < sent[2]!.enqueuedTimeUtc);

    await stop(reader);
    const partition = await consumer().getPartitionProperties("1");
    assert.equal(partition.isEmpty, false);
    assert.equal(partition.beginningSequenceNumber, 0);
    assert.equal(partition.lastEnqueuedSequenceNumber, 2);
    assert.equal(partition.lastEnqueuedOffset, sent[2]!.offset);
    assert.equal(partition.lastEnqueuedOnUtc.getTime(), sent[2]!.enqueuedTimeUtc.getTime());
  });

  test("start positions: sequence number, offset (inclusive and exclusive), enqueued time, latest", async () => {
    // One client per subscription: a client allows one subscriber per partition.
    const readers = {
      afterSeq0: collect(consumer(), "1", { sequenceNumber: 0 }),
      fromSeq1: collect(consumer(), "1", { sequenceNumber: 1, isInclusive: true }),
      afterOffset1: collect(consumer(), "1", { offset: sent[1]!.offset }),
      fromOffset1: collect(consumer(), "1", { offset: sent[1]!.offset, isInclusive: true }),
      afterTime0: collect(consumer(), "1", { enqueuedOn: sent[0]!.enqueuedTimeUtc }),
    };
    // Every receiver is up once it has reported an (empty) batch; only then is "latest" well defined.
    // Five non-epoch receivers per partition and consumer group at most (Event Hubs' quota): "latest" reads another group.
    const latest = collect(consumer("analytics"), "1", latestEventPosition);
    await eventually(() => [...Object.values(readers), latest].every((r) => r.batches > 0 || r.events.length > 0), "every receiver to report");
    await producer.sendEvent(telemetry(3, "Mqtt"));
    await eventually(() => [...Object.values(readers), latest].every((r) => r.events.some((e) => e.sequenceNumber === 3)), "the new event everywhere");
    const seqs = (c: Collector) => c.events.map((e) => e.sequenceNumber);
    assert.deepEqual(seqs(readers.afterSeq0), [1, 2, 3]);
    assert.deepEqual(seqs(readers.fromSeq1), [1, 2, 3]);
    assert.deepEqual(seqs(readers.afterOffset1), [2, 3]);
    assert.deepEqual(seqs(readers.fromOffset1), [1, 2, 3]);
    assert.deepEqual(seqs(readers.afterTime0), [1, 2, 3]);
    assert.deepEqual(seqs(latest), [3]);
    for (const r of [...Object.values(readers), latest]) assert.equal(r.errors.length, 0, String(r.errors[0]));
    await stop(...Object.values(readers), latest);
  });

  test("two consumer groups read the same partition independently", async () => {
    const byDefault = collect(consumer("$default"), "1", earliestEventPosition, { maxBatchSize: 10, trackLastEnqueuedEventProperties: true });
    const byAnalytics = collect(consumer("Analytics"), "1", earliestEventPosition);
    await eventually(() => byDefault.events.length >= 4 && byAnalytics.events.length >= 4, "4 events in each group");
    assert.deepEqual(byDefault.events.map((e) => e.sequenceNumber), [0, 1, 2, 3]);
    assert.deepEqual(byAnalytics.events.map((e) => e.sequenceNumber), [0, 1, 2, 3]);
    // The runtime-metric delivery annotations: the partition's last event as of each delivery.
    const last = byDefault.events[3]!;
    assert.deepEqual(
      { ...byDefault.lastEnqueued, enqueuedOn: byDefault.lastEnqueued?.enqueuedOn?.getTime(), retrievedOn: typeof byDefault.lastEnqueued?.retrievedOn?.getTime() },
      { sequenceNumber: 3, offset: last.offset, enqueuedOn: last.enqueuedTimeUtc.getTime(), retrievedOn: "number" },
    );
    assert.equal(byDefault.errors.length + byAnalytics.errors.length, 0);
    await stop(byDefault, byAnalytics);
  });

  test("a receiver with a higher owner level displaces the one holding the partition; a lower one is refused", async () => {
    const first = collect(consumer(), "2", earliestEventPosition, { ownerLevel: 1 });
    await eventually(() => first.batches > 0, "the first receiver to report");
    const second = collect(consumer(), "2", earliestEventPosition, { ownerLevel: 2 });
    await eventually(() => first.closes.includes("OwnershipLost"), "the first receiver to lose ownership");
    assert.equal(first.errors[0]?.code, "ReceiverDisconnectedError");
    assert.match(first.errors[0]!.message, /higher epoch of '2'/);

    const client = await device(epochId, "Mqtt");
    await client.open();
    await client.sendEvent(new Message("owned"));
    await eventually(() => second.events.length === 1, "the new owner to receive");
    assert.equal(Buffer.from(second.events[0]!.body as Buffer).toString(), "owned");
    assert.equal(first.events.length, 0);

    const lower = collect(consumer(), "2", earliestEventPosition, { ownerLevel: 1 });
    await eventually(() => lower.closes.includes("OwnershipLost"), "the lower owner level to be refused");
    assert.equal(lower.errors[0]?.code, "ReceiverDisconnectedError");
    assert.equal(second.errors.length, 0);
  });

  test("over WebSockets (port 443, /$servicebus/websocket) with the ws package", async () => {
    const endpoint = hub.eventHubConnectionString.replace(/^Endpoint=sb:\/\/[^/]+\//, `Endpoint=sb://${hub.hostName}/`);
    assert.equal(hub.ports.https, 443);
    const client = consumer("$Default", endpoint, { webSocketOptions: { webSocket: WebSocket } });
    assert.deepEqual(await client.getPartitionIds(), ["0", "1", "2", "3"]);
    const reader = collect(client, "1", earliestEventPosition, { maxBatchSize: 10 });
    await eventually(() => reader.events.length >= 4, "4 events over WebSockets");
    assert.deepEqual(reader.events.map((e) => e.sequenceNumber), [0, 1, 2, 3]);
  });

  test("a burst larger than the client's credit arrives whole and in order", async () => {
    // Default subscribe options: maxBatchSize 1, so the client grants 3 credits at a time.
    const reader = collect(consumer(), "0", earliestEventPosition);
    const client = await device(idIn("eh-burst", 0), "Http");
    await client.sendEventBatch(Array.from({ length: 25 }, (_, i) => new Message(JSON.stringify({ i }))));
    await eventually(() => reader.events.length >= 25, "25 events", 15_000);
    assert.deepEqual(reader.events.map((e) => (e.body as { i: number }).i), Array.from({ length: 25 }, (_, i) => i));
    assert.deepEqual(reader.events.map((e) => e.sequenceNumber), Array.from({ length: 25 }, (_, i) => i));
    await stop(reader);
  });

  test("a client closed while a backlog is streaming closes promptly", async () => {
    const client = await device(idIn("eh-close", 3), "Http");
    for (let batch = 0; batch < 16; batch++) await client.sendEventBatch(Array.from({ length: 250 }, (_, i) => new Message(`${batch}-${i}`)));
    const reader = consumer();
    const streaming = collect(reader, "3", earliestEventPosition, { maxBatchSize: 300, prefetchCount: 1000 });
    await eventually(() => streaming.events.length > 0, "the first events");
    const started = Date.now();
    await Promise.race([
      (async () => {
        await streaming.subscription.close();
        await reader.close();
      })(),
      new Promise((_, reject) => setTimeout(() => reject(new Error("close() did not resolve within 5 s")), 5000)),
    ]);
    assert.ok(Date.now() - started < 5000);
  });

  test("a sixth receiver without an owner level on one partition and group is refused (QuotaExceededError)", async () => {
    const five = Array.from({ length: 5 }, () => collect(consumer(), "0", latestEventPosition));
    await eventually(() => five.every((r) => r.batches > 0), "five receivers to report");
    const sixth = collect(consumer(), "0", latestEventPosition);
    await eventually(() => sixth.errors.length > 0, "the sixth receiver's error");
    assert.equal(sixth.errors[0]!.code, "QuotaExceededError");
    assert.match(sixth.errors[0]!.message, /maximum number of allowed receivers per partition/);
    assert.ok(five.every((r) => r.errors.length === 0));
    await stop(...five, sixth);
  });

  test("an unknown consumer group is reported to processError, not left hanging", async () => {
    const reader = collect(consumer("nobody"), "0", earliestEventPosition);
    await eventually(() => reader.errors.length > 0, "processError");
    assert.equal(reader.errors[0]!.code, "ServiceCommunicationError");
    assert.match(reader.errors[0]!.message, /consumer group 'nobody' does not exist/);
    assert.equal(reader.events.length, 0);
  });

  test("deleting a consumer group detaches its receivers with amqp:not-found", async () => {
    assert.equal((await serviceRequest(hub, "PUT", `/admin/consumer-groups/short-lived?${API}`)).status, 200);
    const reader = collect(consumer("short-lived"), "3", earliestEventPosition);
    await eventually(() => reader.batches > 0, "the receiver to report");
    assert.equal((await serviceRequest(hub, "DELETE", `/admin/consumer-groups/short-lived?${API}`)).status, 204);
    await eventually(() => reader.errors.length > 0, "processError");
    assert.equal(reader.errors[0]!.code, "ServiceCommunicationError");
    assert.match(reader.errors[0]!.message, /consumer group 'short-lived' does not exist: it was deleted/);
    await stop(reader);
  });

  test("a wrong key is refused with UnauthorizedError", async () => {
    const wrong = hub.eventHubConnectionString.replace(/SharedAccessKey=[^;]+/, `SharedAccessKey=${Buffer.alloc(32, 7).toString("base64")}`);
    const client = consumer("$Default", wrong, { retryOptions: { maxRetries: 0, timeoutInMs: 10_000 } });
    await assert.rejects(client.getPartitionIds(), (error: Error & { code?: string }) => {
      assert.equal(error.code, "UnauthorizedError", String(error));
      return true;
    });
  });
});

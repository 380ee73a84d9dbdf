import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { join } from "node:path";
import { Readable } from "node:stream";
import rhea, { type Connection, type Delivery, type EventContext, type Message, type Receiver, type Sender } from "rhea";
import iothub from "azure-iothub";
import deviceSdk from "azure-iot-device";
import { startTestHub, type TestHub } from "./harness/start-test-hub.js";
import { deviceClient, type Transport } from "./harness/device-client.js";
import { serviceRequest, serviceToken } from "./harness/service-request.js";
import { SqliteC2dStore } from "../../src/storage/sqlite/sqlite-c2d-store.js";
import { SqliteFileUploadStore } from "../../src/storage/sqlite/sqlite-file-upload-store.js";
import type { C2dFeedbackRecord, C2dMessage, FileNotificationRecord } from "../../src/hub/index.js";

const { Client, Registry } = iothub;

async function eventually(check: () => Promise<boolean> | boolean, what: string): Promise<void> {
  for (let i = 0; i < 400; i++) {
    if (await check()) return;
    await new Promise((r) => setTimeout(r, 25));
  }
  throw new Error(`Timed out waiting for ${what}`);
}

/** The error a promise rejected with (azure-iothub bundles its own error classes, so they are told apart by name). */
async function failure(promise: Promise<unknown>): Promise<Error> {
  try {
    await promise;
  } catch (error) {
    return error as Error;
  }
  assert.fail("expected the call to fail");
}

/** The hub's C2D store, read from its data dir as a second reader: what the core stored, and the feedback left. */
async function readC2d(hub: TestHub): Promise<{ messages: (deviceId: string) => Promise<C2dMessage[]>; feedback: C2dFeedbackRecord[]; close(): Promise<void> }> {
  const store = SqliteC2dStore.open({ path: join(hub.dataDir, "c2d.db") });
  return { messages: (deviceId) => store.list(deviceId), feedback: await store.readFeedback({ fromSequenceNumber: 0, limit: 1000 }), close: () => store.close() };
}

async function pendingNotifications(hub: TestHub): Promise<FileNotificationRecord[]> {
  const store = SqliteFileUploadStore.open({ path: join(hub.dataDir, "files.db") });
  try {
    return await store.notifications();
  } finally {
    await store.close();
  }
}

async function pendingFeedback(hub: TestHub): Promise<number> {
  const store = await readC2d(hub);
  await store.close();
  return store.feedback.length;
}

interface FeedbackRecord {
  originalMessageId: string;
  statusCode: string;
  description: string;
  deviceId: string;
  deviceGenerationId: string;
  enqueuedTimeUtc: string;
}

describe("back-end AMQP links with azure-iothub's Client", () => {
  let hub: TestHub;
  let registry: any;
  let service: any;
  const keys = new Map<string, string>();
  const closers: Array<() => Promise<unknown>> = [];
  /** Every feedback record the service's receiver got, in order, and the messages that carried them. */
  const feedback: FeedbackRecord[] = [];
  const feedbackMessages: any[] = [];

  async function create(id: string): Promise<string> {
    const key = (await registry.create({ deviceId: id })).responseBody.authentication.symmetricKey.primaryKey as string;
    keys.set(id, key);
    return key;
  }
  async function device(id: string, transport: Transport) {
    const client = deviceClient(hub, id, keys.get(id) ?? (await create(id)), transport);
    closers.push(() => client.close());
    return client;
  }
  function c2d(body: string | Buffer, fields: { messageId?: string; ack?: string; properties?: Record<string, string>; expiryTimeUtc?: number } = {}) {
    const message = new deviceSdk.Message(body);
    if (fields.messageId !== undefined) message.messageId = fields.messageId;
    if (fields.ack !== undefined) message.ack = fields.ack;
    // A number of ms: azure-iothub's rhea (1.x) cannot encode a Date as the absolute-expiry-time timestamp.
    if (fields.expiryTimeUtc !== undefined) message.expiryTimeUtc = fields.expiryTimeUtc;
    for (const [k, v] of Object.entries(fields.properties ?? {})) message.properties.add(k, v);
    return message;
  }
  function recordFor(messageId: string): FeedbackRecord | undefined {
    return feedback.find((r) => r.originalMessageId === messageId);
  }
  async function depth(id: string): Promise<number> {
    return (await registry.get(id)).responseBody.cloudToDeviceMessageCount as number;
  }

  before(async () => {
    hub = await startTestHub();
    registry = Registry.fromConnectionString(hub.connectionStrings["iothubowner"]!);
    service = Client.fromConnectionString(hub.connectionStrings["service"]!);
    await service.open();
    closers.push(() => service.close());
    // One receiver for the whole file: feedback is one hub-wide queue, so every test looks for its own records.
    const { result: receiver } = await service.getFeedbackReceiver();
    receiver.on("message", (msg: any) => {
      feedbackMessages.push(msg);
      feedback.push(...(JSON.parse(msg.data.toString()) as FeedbackRecord[]));
    });
  });
  after(async () => {
    for (const close of closers.reverse()) await close().catch(() => undefined);
    await hub.dispose();
  });

  test("send reaches an MQTT device with its id, properties and ack; completion gives Success feedback", async () => {
    const client = await device("mqtt-dev", "Mqtt");
    const received = new Promise<any>((resolve) => client.on("message", (msg: any) => void client.complete(msg).then(() => resolve(msg))));
    await client.open();
    const result = await service.send("mqtt-dev", c2d("hello mqtt", { messageId: "m-mqtt", ack: "full", properties: { color: "blue" } }));
    assert.equal(result.result.constructor.name, "MessageEnqueued");
    const msg = await received;
    assert.equal(msg.data.toString(), "hello mqtt");
    assert.equal(msg.messageId, "m-mqtt");
    assert.equal(msg.properties.getValue("color"), "blue");
    await eventually(() => recordFor("m-mqtt") !== undefined, "the Success feedback");
    const record = recordFor("m-mqtt")!;
    assert.equal(record.statusCode, "Success");
    assert.equal(record.deviceId, "mqtt-dev");
    assert.match(record.deviceGenerationId, /\S/);
    assert.ok(!Number.isNaN(Date.parse(record.enqueuedTimeUtc)));
    // What IoT Hub puts on a feedback message (service-protocol.md §4.5).
    const carrier = feedbackMessages.find((m) => m.data.toString().includes("m-mqtt"));
    assert.equal(carrier.contentType, "application/vnd.microsoft.iothub.feedback.json");
    assert.equal(carrier.transportObj.user_id.toString(), "test-hub");
    // azure-iothub's own rhea (1.x) decodes AMQP timestamps as ms numbers.
    const enqueued = Number(carrier.transportObj.message_annotations["iothub-enqueuedtime"]);
    assert.ok(Math.abs(enqueued - Date.now()) < 60_000);
    assert.equal(carrier.transportObj.delivery_annotations, undefined);
    assert.equal(await depth("mqtt-dev"), 0);
  });

  test("send reaches an AMQP device with a uuid message id, properties and ack; a rejection gives Rejected feedback", async () => {
    const client = await device("amqp-dev", "Amqp");
    const received: any[] = [];
    client.on("message", (msg: any) => {
      received.push(msg);
      if (msg.data.toString() === "reject me") void client.reject(msg);
      else void client.complete(msg);
    });
    await client.open();
    const uuid = "3f2b8c1e-5a4d-4e6f-8a7b-9c0d1e2f3a4b";
    await service.send("amqp-dev", c2d("hello amqp", { messageId: uuid, ack: "positive", properties: { k: "v" } }));
    await service.send("amqp-dev", c2d("reject me", { messageId: "m-reject", ack: "negative" }));
    await eventually(() => received.length === 2, "both messages");
    assert.equal(received[0].data.toString(), "hello amqp");
    assert.equal(received[0].messageId, uuid);
    assert.equal(received[0].properties.getValue("k"), "v");
    assert.equal(received[0].ack, "positive");
    await eventually(() => recordFor(uuid) !== undefined && recordFor("m-reject") !== undefined, "both feedback records");
    assert.equal(recordFor(uuid)!.statusCode, "Success");
    assert.equal(recordFor("m-reject")!.statusCode, "Rejected");
    await eventually(async () => (await depth("amqp-dev")) === 0, "an empty queue");
  });

  test("a message abandoned once per allowed delivery (10) gives DeliveryCountExceeded feedback", async () => {
    const client = await device("abandon-dev", "Amqp");
    let deliveries = 0;
    client.on("message", (msg: any) => {
      deliveries++;
      void client.abandon(msg);
    });
    await client.open();
    await service.send("abandon-dev", c2d("abandon me", { messageId: "m-abandon", ack: "negative" }));
    await eventually(() => recordFor("m-abandon") !== undefined, "the DeliveryCountExceeded feedback");
    assert.equal(recordFor("m-abandon")!.statusCode, "DeliveryCountExceeded");
    assert.equal(deliveries, 10);
    assert.equal(await depth("abandon-dev"), 0);
  });

  test("purging a device's queue gives Purged feedback", async () => {
    await create("purge-dev");
    await service.send("purge-dev", c2d("purge me", { messageId: "m-purge", ack: "full" }));
    assert.equal(await depth("purge-dev"), 1);
    const purge = await serviceRequest(hub, "DELETE", "/devices/purge-dev/commands?api-version=2021-04-12");
    assert.equal(purge.status, 200);
    await eventually(() => recordFor("m-purge") !== undefined, "the Purged feedback");
    assert.equal(recordFor("m-purge")!.statusCode, "Purged");
  });

  test("the 51st queued message is DeviceMaximumQueueDepthExceededError", async () => {
    await create("full-dev");
    for (let i = 0; i < 50; i++) await service.send("full-dev", c2d(`m${i}`));
    const error = await failure(service.send("full-dev", c2d("one too many")));
    assert.equal(error.constructor.name, "DeviceMaximumQueueDepthExceededError");
    assert.equal((error as any).amqpError.condition, "amqp:resource-limit-exceeded");
    assert.equal(JSON.parse((error as any).amqpError.description).errorCode, 403004);
    assert.equal(await depth("full-dev"), 50);
  });

  test("an unknown device is DeviceNotFoundError; a message over 64 KB is MessageTooLargeError", async () => {
    const unknown = await failure(service.send("nobody-here", c2d("x")));
    assert.equal(unknown.constructor.name, "DeviceNotFoundError");
    await create("big-dev");
    const big = await failure(service.send("big-dev", c2d(Buffer.alloc(65 * 1024, 1))));
    assert.equal(big.constructor.name, "MessageTooLargeError");
    assert.equal(await depth("big-dev"), 0);
    // The link survives refusals: the next message goes through.
    await service.send("big-dev", c2d("small"));
    assert.equal(await depth("big-dev"), 1);
  });

  test("send works over AMQP on WebSockets (443) too", async () => {
    const ws = Client.fromConnectionString(hub.connectionStrings["service"]!, iothub.AmqpWs);
    closers.push(() => ws.close());
    await create("ws-dev");
    const result = await ws.send("ws-dev", c2d("over websockets"));
    assert.equal(result.result.constructor.name, "MessageEnqueued");
    assert.equal(await depth("ws-dev"), 1);
  });

  test("a device id that needs encoding travels percent-encoded in 'to'", async () => {
    await create("dev#1+x");
    await service.send("dev#1+x", c2d("encoded"));
    assert.equal(await depth("dev#1+x"), 1);
  });

  test("an uploaded file reaches getFileNotificationReceiver", async () => {
    const client = await device("uploader", "Mqtt");
    await client.open();
    const { result: receiver } = await service.getFileNotificationReceiver();
    const notifications: any[] = [];
    receiver.on("message", (msg: any) => {
      notifications.push({ msg, body: JSON.parse(msg.data.toString()) });
      void receiver.complete(msg);
    });
    const data = Buffer.from("file contents from a device\n");
    await client.uploadToBlob("logs/today.txt", Readable.from([data]), data.length);
    await eventually(() => notifications.length === 1, "the file notification");
    const { msg, body } = notifications[0];
    assert.equal(body.deviceId, "uploader");
    assert.equal(body.blobName, "uploader/logs/today.txt");
    assert.match(body.blobUri, /\/uploader\/logs\/today\.txt$/);
    assert.equal(body.blobSizeInBytes, data.length);
    assert.equal(msg.contentType, "application/vnd.microsoft.iothub.filenotification.json");
    assert.equal(msg.transportObj.user_id.toString(), "test-hub");
    // Completed (first by the SDK's autoaccept): nothing left in the queue.
    await eventually(async () => (await pendingNotifications(hub)).length === 0, "an empty notification queue");
  });

  test("a policy without ServiceConnect is refused with UnauthorizedError", async () => {
    const reader = Client.fromConnectionString(hub.connectionStrings["registryRead"]!);
    closers.push(() => reader.close());
    reader.setRetryPolicy({ shouldRetry: () => false, nextRetryTimeout: () => 0 });
    await create("guarded-dev");
    const error = await failure(reader.send("guarded-dev", c2d("nope")));
    assert.equal(error.constructor.name, "UnauthorizedError");
    assert.equal(JSON.parse((error as any).amqpError.description).errorCode, 401002);
    // Refused per message, so the connection stays up and the next send fails just as fast.
    const started = Date.now();
    assert.equal((await failure(reader.send("guarded-dev", c2d("nope again")))).constructor.name, "UnauthorizedError");
    assert.ok(Date.now() - started < 5_000);
    assert.equal(await depth("guarded-dev"), 0);
  });

  test("a message past its expiry time gives Expired feedback", async () => {
    await create("expiring-dev");
    const hubNow = Date.now() + hub.advanceClock(0).offsetSeconds * 1000;
    await service.send("expiring-dev", c2d("too late", { messageId: "m-expired", ack: "negative", expiryTimeUtc: hubNow + 30_000 }));
    assert.equal(await depth("expiring-dev"), 1);
    hub.advanceClock(31);
    await eventually(() => recordFor("m-expired") !== undefined, "the Expired feedback");
    assert.equal(recordFor("m-expired")!.statusCode, "Expired");
    assert.equal(await depth("expiring-dev"), 0);
  });
});

/** A raw rhea client on the service endpoint: for what the SDK never sends (a bad `to`, manual dispositions, detach). */
describe("back-end AMQP links with a raw AMQP client", () => {
  let hub: TestHub;
  let registry: any;
  let connection: Connection;

  function waitFor<T>(emitter: { once(event: string, listener: (context: EventContext) => void): unknown }, event: string, pick: (context: EventContext) => T): Promise<T> {
    return new Promise((resolve) => emitter.once(event, (context) => resolve(pick(context))));
  }

  async function rawConnection(): Promise<Connection> {
    const c = rhea.create_container({ id: "raw-service" }).connect({ host: hub.hostName, port: hub.ports.amqp, transport: "tls", rejectUnauthorized: true } as never);
    await waitFor(c, "connection_open", () => undefined);
    return c;
  }

  async function putToken(c: Connection, policy: string): Promise<number> {
    const sender = c.open_sender({ target: { address: "$cbs" } });
    const receiver = c.open_receiver({ source: { address: "$cbs" } });
    await waitFor(receiver, "receiver_open", () => undefined);
    const reply = waitFor(receiver, "message", (context) => context.message!);
    sender.send({
      to: "$cbs",
      message_id: "put-1",
      reply_to: "cbs",
      application_properties: { operation: "put-token", type: "servicebus.windows.net:sastoken", name: hub.hostName },
      body: serviceToken(hub, policy),
    } as Message);
    return Number((await reply).application_properties!["status-code"]);
  }

  function openSender(address: string): Promise<Sender> {
    const sender = connection.open_sender({ target: { address } });
    return waitFor(sender, "sendable", () => sender);
  }

  function send(sender: Sender, message: Message): Promise<{ outcome: string; condition?: string }> {
    return new Promise((resolve) => {
      const delivery = sender.send(message);
      const done = (outcome: string) => (context: EventContext) => {
        if (context.delivery !== delivery) return;
        resolve({ outcome, condition: (context.delivery.remote_state as { error?: { condition?: string } } | undefined)?.error?.condition });
      };
      sender.on("accepted", done("accepted"));
      sender.on("rejected", done("rejected"));
    });
  }

  before(async () => {
    hub = await startTestHub();
    registry = Registry.fromConnectionString(hub.connectionStrings["iothubowner"]!);
    connection = await rawConnection();
    assert.equal(await putToken(connection, "service"), 200);
  });
  after(async () => {
    connection?.close();
    await hub.dispose();
  });

  test("back-end links need a policy token on $cbs, and the queues need ServiceConnect", async () => {
    const refusal = (c: Connection, address: string, role: "sender" | "receiver") =>
      new Promise<string | undefined>((resolve) => {
        const link = role === "sender" ? c.open_sender({ target: { address } }) : c.open_receiver({ source: { address } });
        link.once(role === "sender" ? "sender_close" : "receiver_close", (context: EventContext) => resolve((context[role]!.error as { condition?: string } | undefined)?.condition));
      });
    const bare = await rawConnection();
    try {
      for (const address of ["/messages/devicebound", "/messages/serviceBound/feedback"]) {
        assert.equal(await refusal(bare, address, address.endsWith("devicebound") ? "sender" : "receiver"), "amqp:unauthorized-access", address);
      }
    } finally {
      bare.close();
    }
    const reader = await rawConnection();
    try {
      assert.equal(await putToken(reader, "registryRead"), 200);
      assert.equal(await refusal(reader, "/messages/serviceBound/feedback", "receiver"), "amqp:unauthorized-access");
      assert.equal(await refusal(reader, "/messages/serviceBound/fileNotifications", "receiver"), "amqp:unauthorized-access");
    } finally {
      reader.close();
    }
  });

  test("a message without a device address in 'to' is rejected with ArgumentInvalid, one for an unknown device with not-found, never accepted first", async () => {
    await registry.create({ deviceId: "raw-dev" });
    const sender = await openSender("/messages/devicebound");
    for (const to of [undefined, "garbage", "/devices/raw-dev/modules/m1/messages/devicebound", "/devices/%zz/messages/devicebound"]) {
      const result = await send(sender, { to, body: rhea.message.data_section(Buffer.from("x")) } as Message);
      assert.deepEqual(result, { outcome: "rejected", condition: "com.microsoft:argument-error" }, `to = ${String(to)}`);
    }
    // Refused after the hub looked the device up: the first outcome the sender hears is the rejection.
    const unknown = await send(sender, { to: "/devices/nobody/messages/devicebound", body: rhea.message.data_section(Buffer.from("x")) } as Message);
    assert.deepEqual(unknown, { outcome: "rejected", condition: "amqp:not-found" });
    const good = await send(sender, {
      to: "/devices/raw-dev/messages/devicebound",
      message_id: 42,
      correlation_id: rhea.types.wrap_uuid(rhea.string_to_uuid("3f2b8c1e-5a4d-4e6f-8a7b-9c0d1e2f3a4b")),
      application_properties: { "iothub-ack": "full", n: 7 },
      content_type: "text/plain",
      body: rhea.message.data_section(Buffer.from("raw")),
    } as unknown as Message);
    assert.deepEqual(good, { outcome: "accepted", condition: undefined });
    const store = await readC2d(hub);
    const stored = await store.messages("raw-dev");
    await store.close();
    assert.equal(stored.length, 1);
    assert.equal(stored[0]!.systemProperties.messageId, "42");
    assert.equal(stored[0]!.systemProperties.correlationId, "3f2b8c1e-5a4d-4e6f-8a7b-9c0d1e2f3a4b");
    assert.equal(stored[0]!.systemProperties.contentType, "text/plain");
    assert.equal(stored[0]!.systemProperties.ack, "full");
    assert.deepEqual(stored[0]!.properties, { n: "7" });
    assert.equal(stored[0]!.body.toString(), "raw");
  });

  test("feedback: the first disposition is final, and batches unsettled at detach come back", async () => {
    const sender = await openSender("/messages/devicebound");
    for (const id of ["fb-1", "fb-2"]) {
      const result = await send(sender, { to: "/devices/raw-dev/messages/devicebound", message_id: id, application_properties: { "iothub-ack": "full" }, body: rhea.message.data_section(Buffer.from(id)) } as Message);
      assert.equal(result.outcome, "accepted");
    }
    await serviceRequest(hub, "DELETE", "/devices/raw-dev/commands?api-version=2021-04-12");

    const open = (): { receiver: Receiver; deliveries: Array<{ delivery: Delivery; message: Message }> } => {
      const receiver = connection.open_receiver({ source: { address: "/messages/serviceBound/feedback" }, autoaccept: false, credit_window: 0 });
      const deliveries: Array<{ delivery: Delivery; message: Message }> = [];
      receiver.on("message", (context: EventContext) => deliveries.push({ delivery: context.delivery!, message: context.message! }));
      return { receiver, deliveries };
    };
    const tick = () => new Promise((r) => setImmediate(r));
    const outcome = (name: "accepted" | "released") => (rhea.message as unknown as Record<string, () => { described(): unknown }>)[name]!().described();
    const recordsOf = (message: Message) => JSON.parse(Buffer.from((message.body as { content: Buffer }).content).toString()) as FeedbackRecord[];
    // Released (unsettled, as an autoaccept would send it): the batch is abandoned and comes back under a new lock.
    const first = open();
    await waitFor(first.receiver, "receiver_open", () => undefined);
    first.receiver.add_credit(1);
    await eventually(() => first.deliveries.length === 1, "a feedback batch");
    const batch = first.deliveries[0]!;
    assert.equal(batch.message.content_type, "application/vnd.microsoft.iothub.feedback.json");
    assert.equal(Buffer.from(batch.message.user_id as unknown as Buffer).toString(), "test-hub");
    assert.ok(batch.message.message_annotations!["iothub-enqueuedtime"] instanceof Date);
    assert.equal((batch.delivery.tag as Buffer).length, 16);
    assert.equal(rhea.uuid_to_string(batch.delivery.tag as Buffer), batch.message.message_id);
    assert.deepEqual(recordsOf(batch.message).map((r) => [r.originalMessageId, r.statusCode]), [["42", "Purged"], ["fb-1", "Purged"], ["fb-2", "Purged"]]);
    batch.delivery.update(false, outcome("released"));
    await tick();
    // A later disposition of the same delivery does not undo the first.
    batch.delivery.accept();
    first.receiver.add_credit(1);
    await eventually(() => first.deliveries.length === 2, "the batch again");
    const again = first.deliveries[1]!;
    assert.notEqual(again.message.message_id, batch.message.message_id);
    assert.deepEqual(recordsOf(again.message), recordsOf(batch.message));
    assert.equal(again.message.delivery_count, 1);
    // Left unsettled when the link detaches: abandoned, so a new receiver gets it at once.
    first.receiver.close();
    await waitFor(first.receiver, "receiver_close", () => undefined);
    const second = open();
    await waitFor(second.receiver, "receiver_open", () => undefined);
    second.receiver.add_credit(1);
    await eventually(() => second.deliveries.length === 1, "the batch after the detach");
    const last = second.deliveries[0]!;
    assert.deepEqual(recordsOf(last.message), recordsOf(batch.message));
    // Accepted (unsettled) then released, as azure-iothub's autoaccept and a later abandon() send them: completed.
    last.delivery.update(false, outcome("accepted"));
    await tick();
    last.delivery.release();
    await eventually(async () => (await pendingFeedback(hub)) === 0, "an empty feedback queue");
    second.receiver.close();
  });
});

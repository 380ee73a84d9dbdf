import { afterEach, describe, test } from "node:test";
import assert from "node:assert/strict";
import type { CallContext } from "../call-context.js";
import { HubClock } from "../clock.js";
import { HubError } from "../errors/index.js";
import type { Ids } from "../ports/ids.js";
import type { C2dAck, C2dFeedbackRecord, C2dStore } from "../ports/c2d-store.js";
import type { Store } from "../ports/store.js";
import { Registry } from "../registry/registry.js";
import { HubTimers } from "../timers/hub-timers.js";
import { SerialQueue } from "../../shared/serial-queue.js";
import { MemoryStore } from "../../storage/memory/memory-store.js";
import { MemoryC2dStore } from "../../storage/memory/memory-c2d-store.js";
import type { C2dEvent } from "./c2d-events.js";
import { C2dQueue, type C2dSendInput, type C2dSettings } from "./c2d-queue.js";

const T0 = Date.UTC(2024, 0, 1);
const HOUR = 3600;

const service: CallContext = { caller: { kind: "policy", policyName: "service", rights: ["ServiceConnect"] }, protocol: "amqp", trackingId: "svc" };
const registryOnly: CallContext = { caller: { kind: "policy", policyName: "registryReadWrite", rights: ["RegistryRead", "RegistryWrite"] }, protocol: "https", trackingId: "reg" };
const owner: CallContext = { caller: { kind: "policy", policyName: "iothubowner", rights: ["RegistryRead", "RegistryWrite", "ServiceConnect", "DeviceConnect"] }, protocol: "https", trackingId: "own" };

function device(deviceId: string, moduleId = ""): CallContext {
  return { caller: { kind: "device", deviceId, moduleId }, protocol: "https", trackingId: `dev-${deviceId}` };
}

interface Options {
  identities?: Store;
  store?: C2dStore;
  clock?: HubClock;
  settings?: Partial<C2dSettings>;
}

const cleanups: Array<() => void> = [];
afterEach(() => {
  for (const cleanup of cleanups.splice(0)) cleanup();
});

let idCounter = 0;
/** Predictable ids, unique across the whole test file (so queues built on one store never reuse a message id). */
const ids: Ids = {
  trackingId: () => (++idCounter).toString(16).padStart(32, "0"),
  generationId: () => `6380000000000${String(++idCounter).padStart(5, "0")}`,
  symmetricKey: () => Buffer.alloc(32, 7).toString("base64"),
};

function setup(options: Options = {}) {
  const clock = options.clock ?? new HubClock({ now: () => T0 });
  const errors: unknown[] = [];
  const timers = new HubTimers(clock, (error) => errors.push(error));
  const identities = options.identities ?? new MemoryStore();
  const store = options.store ?? new MemoryC2dStore();
  const writes = new SerialQueue();
  const events: C2dEvent[] = [];
  const available: string[] = [];
  const feedbackSeen: C2dFeedbackRecord[] = [];
  const registry = new Registry({ store: identities, clock, ids, writes, limits: { maxDevicesInList: 1000, maxModulesPerDevice: 50 }, connectedCount: () => 0 });
  const queue = new C2dQueue({
    store,
    identities,
    writes,
    clock,
    timers,
    events: { emit: (event) => events.push(event) },
    ids,
    onMessageAvailable: (deviceId) => available.push(deviceId),
    onFeedback: (records) => feedbackSeen.push(...records),
    reportError: (error) => errors.push(error),
    ...(options.settings === undefined ? {} : { settings: options.settings }),
  });
  cleanups.push(() => timers.clear());
  return {
    clock,
    timers,
    identities,
    store,
    registry,
    queue,
    events,
    available,
    errors,
    feedbackSeen,
    async createDevice(deviceId: string, status: "enabled" | "disabled" = "enabled") {
      await registry.put(registryOnly, { deviceId, body: { deviceId, status }, ifMatch: undefined });
    },
    async count(deviceId: string): Promise<number | undefined> {
      return (await identities.getIdentity({ deviceId, moduleId: "" }))?.identity.cloudToDeviceMessageCount;
    },
    /** Moves hub time forward, fires due hub timers and waits for the work they started. */
    async advance(seconds: number) {
      clock.advance(seconds);
      timers.poke();
      await queue.idle();
    },
    async feedback(): Promise<C2dFeedbackRecord[]> {
      return store.readFeedback({ fromSequenceNumber: 0, limit: 1000 });
    },
    send(deviceId: string, extra: Partial<C2dSendInput> & { ack?: C2dAck; messageId?: string } = {}) {
      const { ack, messageId, ...rest } = extra;
      return queue.send(service, {
        deviceId,
        body: Buffer.from("hello"),
        systemProperties: { ...(messageId === undefined ? {} : { messageId }), ...(ack === undefined ? {} : { ack }) },
        ...rest,
      });
    },
  };
}

async function rejectsWith(promise: Promise<unknown>, name: string, code?: number): Promise<HubError> {
  let caught: unknown;
  try {
    await promise;
  } catch (error) {
    caught = error;
  }
  assert.ok(caught instanceof HubError, `expected HubError ${name}, got ${String(caught)}`);
  assert.equal(caught.errorName, name);
  if (code !== undefined) assert.equal(caught.code, code);
  return caught;
}

describe("send", () => {
  test("stores the message durably, counts it on the identity and announces it", async () => {
    const hub = setup();
    await hub.createDevice("d1");
    const sent = await hub.queue.send(service, {
      deviceId: "d1",
      body: Buffer.from([0, 1, 2, 255]),
      properties: { color: "blue" },
      systemProperties: { messageId: "m-1", correlationId: "c-1", contentType: "application/json", contentEncoding: "utf-8", ack: "full" },
    });
    assert.equal(sent.deviceId, "d1");
    assert.equal(sent.sequenceNumber, 1);
    assert.equal(sent.deliveryCount, 0);
    assert.equal(sent.lockToken, null);
    assert.equal(sent.enqueuedTime, T0);
    assert.equal(sent.expiryTime, T0 + HOUR * 1000);
    assert.match(sent.id, /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
    assert.deepEqual(sent.systemProperties, { to: "/devices/d1/messages/devicebound", ack: "full", messageId: "m-1", correlationId: "c-1", contentType: "application/json", contentEncoding: "utf-8" });
    const [stored] = await hub.store.list("d1");
    assert.deepEqual(stored, sent);
    assert.equal(await hub.count("d1"), 1);
    assert.deepEqual(hub.available, ["d1"]);
    assert.deepEqual(hub.events.map((e) => e.type), ["c2dSent"]);
    assert.equal(await hub.queue.depth("d1"), 1);
  });

  test("needs ServiceConnect", async () => {
    const hub = setup();
    await hub.createDevice("d1");
    await rejectsWith(hub.queue.send(registryOnly, { deviceId: "d1", body: Buffer.from("x") }), "IotHubUnauthorizedAccess", 401002);
    await rejectsWith(hub.queue.send(device("d1"), { deviceId: "d1", body: Buffer.from("x") }), "IotHubUnauthorizedAccess");
    assert.equal(await hub.queue.depth("d1"), 0);
  });

  test("an unknown or disabled device is 404001 DeviceNotFound; an invalid id is 400004", async () => {
    const hub = setup();
    await rejectsWith(hub.send("nobody"), "DeviceNotFound", 404001);
    await hub.createDevice("off", "disabled");
    await rejectsWith(hub.send("off"), "DeviceNotFound", 404001);
    await rejectsWith(hub.send("bad/id"), "ArgumentInvalid", 400004);
    assert.deepEqual(await hub.store.devices(), []);
  });

  test("50 messages fill the queue; the 51st is 403004, counting locked ones and not expired ones", async () => {
    const hub = setup();
    await hub.createDevice("d1");
    await hub.createDevice("d2");
    for (let i = 0; i < 49; i++) await hub.send("d1");
    // One message with a short life, and one locked by a delivery: both count while alive.
    await hub.send("d1", { expiryTimeUtc: T0 + 120_000 });
    assert.ok(await hub.queue.receive(device("d1"), { deviceId: "d1" }));
    const error = await rejectsWith(hub.send("d1"), "DeviceMaximumQueueDepthExceeded", 403004);
    assert.equal(error.spec.amqpCondition, "amqp:resource-limit-exceeded");
    assert.equal(await hub.count("d1"), 50);
    // Another device's queue is its own.
    await hub.send("d2");
    // Once the short-lived one expired, there is room for one more.
    hub.clock.advance(121);
    await hub.send("d1");
    await rejectsWith(hub.send("d1"), "DeviceMaximumQueueDepthExceeded", 403004);
    assert.equal(await hub.queue.depth("d1"), 50);
    assert.equal(await hub.count("d1"), 50);
  });

  test("64 KB of body and properties is accepted; one byte more is 413001 MessageTooLarge", async () => {
    const hub = setup();
    await hub.createDevice("d1");
    const properties = { name: "value" }; // 9 bytes
    const systemProperties = { messageId: "0123456789", ack: "full" }; // 10 + "iothub-ack" 10 + "full" 4
    const room = 64 * 1024 - 9 - 24;
    await hub.queue.send(service, { deviceId: "d1", body: Buffer.alloc(room), properties, systemProperties });
    await rejectsWith(hub.queue.send(service, { deviceId: "d1", body: Buffer.alloc(room + 1), properties, systemProperties }), "MessageTooLarge", 413001);
    assert.equal(await hub.queue.depth("d1"), 1);
  });

  test("an unknown iothub-ack value or a non-string property is 400004", async () => {
    const hub = setup();
    await hub.createDevice("d1");
    await rejectsWith(hub.queue.send(service, { deviceId: "d1", body: Buffer.from("x"), systemProperties: { ack: "Full" } }), "ArgumentInvalid", 400004);
    await rejectsWith(hub.queue.send(service, { deviceId: "d1", body: Buffer.from("x"), properties: { n: 1 as unknown as string } }), "ArgumentInvalid", 400004);
    await rejectsWith(hub.queue.send(service, { deviceId: "d1", body: "text" as unknown as Buffer }), "ArgumentInvalid", 400004);
    assert.equal(await hub.queue.depth("d1"), 0);
  });

  test("the caller's body and maps are copied", async () => {
    const hub = setup();
    await hub.createDevice("d1");
    const body = Buffer.from("original");
    const properties: Record<string, string> = { k: "v" };
    const pending = hub.queue.send(service, { deviceId: "d1", body, properties });
    body.write("CHANGED!");
    properties["k"] = "changed";
    await pending;
    const [stored] = await hub.store.list("d1");
    assert.equal(stored!.body.toString(), "original");
    assert.deepEqual(stored!.properties, { k: "v" });
  });
});

describe("TTL", () => {
  test("default 1 h: the hub timer removes the message when it expires, with Expired feedback for negative/full", async () => {
    const hub = setup();
    await hub.createDevice("d1");
    for (const ack of ["none", "positive", "negative", "full"] as const) await hub.send("d1", { ack, messageId: `m-${ack}` });
    await hub.advance(HOUR - 1);
    assert.equal(await hub.queue.depth("d1"), 4);
    await hub.advance(1);
    assert.equal(await hub.store.count("d1"), 0);
    assert.equal(await hub.count("d1"), 0);
    const feedback = await hub.feedback();
    assert.deepEqual(
      feedback.map((f) => [f.originalMessageId, f.statusCode, f.enqueuedTimeUtc]),
      [
        ["m-negative", "Expired", T0 + HOUR * 1000],
        ["m-full", "Expired", T0 + HOUR * 1000],
      ],
    );
    const generationId = (await hub.identities.getIdentity({ deviceId: "d1", moduleId: "" }))!.identity.generationId;
    assert.equal(feedback[0]!.deviceGenerationId, generationId);
    assert.equal(feedback[0]!.deviceId, "d1");
    assert.equal(feedback[0]!.description, "Message expired");
    assert.deepEqual(hub.feedbackSeen, feedback);
    assert.equal(hub.events.filter((e) => e.type === "c2dDeadLettered").length, 4);
    assert.deepEqual(hub.errors, []);
  });

  test("the service's expiry is kept; beyond 48 h it is brought down to 48 h", async () => {
    const hub = setup();
    await hub.createDevice("d1");
    const short = await hub.send("d1", { expiryTimeUtc: T0 + 90_000 });
    assert.equal(short.expiryTime, T0 + 90_000);
    const long = await hub.send("d1", { expiryTimeUtc: T0 + 72 * HOUR * 1000 });
    assert.equal(long.expiryTime, T0 + 48 * HOUR * 1000);
    await hub.advance(90);
    assert.deepEqual((await hub.store.list("d1")).map((m) => m.id), [long.id]);
    await hub.advance(48 * HOUR - 91);
    assert.equal(await hub.queue.depth("d1"), 1);
    await hub.advance(1);
    assert.equal(await hub.queue.depth("d1"), 0);
  });

  test("the hub's default TTL is a setting (1 min to 48 h)", async () => {
    const hub = setup({ settings: { defaultTtlMs: 120_000 } });
    await hub.createDevice("d1");
    assert.equal((await hub.send("d1")).expiryTime, T0 + 120_000);
    assert.throws(() => setup({ settings: { defaultTtlMs: 59_000 } }), RangeError);
    assert.throws(() => setup({ settings: { defaultTtlMs: 49 * HOUR * 1000 } }), RangeError);
    assert.throws(() => setup({ settings: { maxDeliveryCount: 0 } }), RangeError);
    assert.throws(() => setup({ settings: { maxDeliveryCount: 101 } }), RangeError);
  });

  test("an expiry already past is accepted and the message expires at once", async () => {
    const hub = setup();
    await hub.createDevice("d1");
    await hub.send("d1", { expiryTimeUtc: T0 - 1000, ack: "negative", messageId: "late" });
    await hub.advance(0);
    assert.equal(await hub.store.count("d1"), 0);
    assert.deepEqual((await hub.feedback()).map((f) => f.statusCode), ["Expired"]);
  });

  test("expiry is also checked when the queue is touched, before the timer fires", async () => {
    const hub = setup();
    await hub.createDevice("d1");
    await hub.send("d1", { expiryTimeUtc: T0 + 60_000, ack: "full" });
    hub.clock.advance(60); // no poke: the timer has not run
    assert.equal(await hub.queue.receive(device("d1"), { deviceId: "d1" }), undefined);
    assert.deepEqual((await hub.feedback()).map((f) => f.statusCode), ["Expired"]);
    assert.equal(await hub.count("d1"), 0);
  });
});

describe("receive and locks", () => {
  test("receive locks the oldest available message for 60 s with a fresh lock token and counts the delivery", async () => {
    const hub = setup();
    await hub.createDevice("d1");
    const first = await hub.send("d1", { messageId: "1" });
    const second = await hub.send("d1", { messageId: "2" });
    hub.clock.advance(5);
    const got = await hub.queue.receive(device("d1"), { deviceId: "d1" });
    assert.equal(got?.id, first.id);
    assert.equal(got?.deliveryCount, 1);
    assert.equal(got?.lockedUntil, T0 + 65_000);
    assert.match(got!.lockToken!, /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
    assert.deepEqual(got!.body, Buffer.from("hello"));
    const next = await hub.queue.receive(device("d1"), { deviceId: "d1" });
    assert.equal(next?.id, second.id);
    assert.notEqual(next?.lockToken, got?.lockToken);
    assert.equal(await hub.queue.receive(device("d1"), { deviceId: "d1" }), undefined);
    // Locked messages still count.
    assert.equal(await hub.count("d1"), 2);
    assert.equal(await hub.queue.depth("d1"), 2);
    assert.deepEqual(hub.events.filter((e) => e.type === "c2dDelivered").length, 2);
  });

  test("only the device itself receives and settles; modules have no queue", async () => {
    const hub = setup();
    await hub.createDevice("d1");
    await hub.createDevice("d2");
    await hub.send("d1");
    await rejectsWith(hub.queue.receive(device("d2"), { deviceId: "d1" }), "IotHubUnauthorizedAccess");
    await rejectsWith(hub.queue.receive(device("d1", "m1"), { deviceId: "d1" }), "IotHubUnauthorizedAccess");
    await rejectsWith(hub.queue.receive(service, { deviceId: "d1" }), "IotHubUnauthorizedAccess");
    const got = await hub.queue.receive(device("d1"), { deviceId: "d1" });
    // Another device holding the token does not hold the lock.
    await rejectsWith(hub.queue.complete(device("d2"), got!.lockToken!), "DeviceMessageLockLost", 412002);
    await hub.queue.complete(device("d1"), got!.lockToken!);
  });

  test("a lock ends after 60 s: the message is queued again (announced), the old token is lost, the next delivery counts 2", async () => {
    const hub = setup();
    await hub.createDevice("d1");
    await hub.send("d1", { messageId: "m" });
    const first = await hub.queue.receive(device("d1"), { deviceId: "d1" });
    hub.available.length = 0;
    await hub.advance(59);
    assert.equal(await hub.queue.receive(device("d1"), { deviceId: "d1" }), undefined);
    assert.deepEqual(hub.available, []);
    await hub.advance(1);
    assert.deepEqual(hub.available, ["d1"]);
    const [queued] = await hub.store.list("d1");
    assert.equal(queued!.lockToken, null);
    assert.equal(queued!.deliveryCount, 1);
    assert.ok(hub.events.some((e) => e.type === "c2dLockExpired"));
    await rejectsWith(hub.queue.complete(device("d1"), first!.lockToken!), "DeviceMessageLockLost", 412002);
    const again = await hub.queue.receive(device("d1"), { deviceId: "d1" });
    assert.equal(again?.id, first?.id);
    assert.equal(again?.deliveryCount, 2);
    assert.notEqual(again?.lockToken, first?.lockToken);
    await hub.queue.complete(device("d1"), again!.lockToken!);
    assert.equal(await hub.count("d1"), 0);
  });

  test("a lock that ended is lost even before its timer ran", async () => {
    const hub = setup();
    await hub.createDevice("d1");
    await hub.send("d1");
    const got = await hub.queue.receive(device("d1"), { deviceId: "d1" });
    hub.clock.advance(60); // no poke
    await rejectsWith(hub.queue.complete(device("d1"), got!.lockToken!), "DeviceMessageLockLost", 412002);
    assert.equal(await hub.queue.depth("d1"), 1);
  });

  test("an unknown, empty or already used lock token is 412002", async () => {
    const hub = setup();
    await hub.createDevice("d1");
    await hub.send("d1");
    await rejectsWith(hub.queue.complete(device("d1"), "00000000-0000-0000-0000-000000000000"), "DeviceMessageLockLost", 412002);
    await rejectsWith(hub.queue.abandon(device("d1"), ""), "DeviceMessageLockLost", 412002);
    const got = await hub.queue.receive(device("d1"), { deviceId: "d1" });
    await hub.queue.complete(device("d1"), got!.lockToken!);
    await rejectsWith(hub.queue.complete(device("d1"), got!.lockToken!), "DeviceMessageLockLost", 412002);
    await rejectsWith(hub.queue.reject(device("d1"), got!.lockToken!), "DeviceMessageLockLost", 412002);
    const error = await rejectsWith(hub.queue.abandon(device("d1"), got!.lockToken!), "DeviceMessageLockLost", 412002);
    assert.equal(error.spec.httpStatus, 412);
    assert.equal(error.spec.amqpCondition, "com.microsoft:message-lock-lost");
  });

  test("an abandoned message goes back to its place, keeps its delivery count, and is announced", async () => {
    const hub = setup();
    await hub.createDevice("d1");
    const a = await hub.send("d1", { messageId: "a" });
    await hub.send("d1", { messageId: "b" });
    const got = await hub.queue.receive(device("d1"), { deviceId: "d1" });
    hub.available.length = 0;
    await hub.queue.abandon(device("d1"), got!.lockToken!);
    assert.deepEqual(hub.available, ["d1"]);
    const [first] = await hub.store.list("d1");
    assert.equal(first!.deliveryCount, 1);
    assert.equal(first!.lockToken, null);
    const again = await hub.queue.receive(device("d1"), { deviceId: "d1" });
    assert.equal(again?.id, a.id);
    assert.equal(again?.deliveryCount, 2);
    assert.equal(await hub.count("d1"), 2);
    assert.deepEqual(await hub.feedback(), []);
  });
});

describe("delivery count", () => {
  test("after maxDeliveryCount (10) deliveries the abandoned message is dead-lettered with DeliveryCountExceeded", async () => {
    const hub = setup();
    await hub.createDevice("d1");
    await hub.send("d1", { ack: "full", messageId: "m" });
    await hub.send("d1", { ack: "none", messageId: "quiet" });
    for (let i = 1; i <= 10; i++) {
      const got = await hub.queue.receive(device("d1"), { deviceId: "d1" });
      assert.equal(got?.systemProperties.messageId, "m");
      assert.equal(got?.deliveryCount, i);
      await hub.queue.abandon(device("d1"), got!.lockToken!);
    }
    const feedback = await hub.feedback();
    assert.deepEqual(feedback.map((f) => [f.originalMessageId, f.statusCode, f.description]), [["m", "DeliveryCountExceeded", "Message delivery count exceeded"]]);
    // The next receive gets the other message.
    assert.equal((await hub.queue.receive(device("d1"), { deviceId: "d1" }))?.systemProperties.messageId, "quiet");
    assert.equal(await hub.count("d1"), 1);
    assert.ok(hub.events.some((e) => e.type === "c2dDeadLettered" && e.reason === "DeliveryCountExceeded" && e.deliveryCount === 10));
  });

  test("lock expiries count too: the last lock ending dead-letters the message", async () => {
    const hub = setup({ settings: { maxDeliveryCount: 2 } });
    await hub.createDevice("d1");
    await hub.send("d1", { ack: "negative", messageId: "m" });
    assert.equal((await hub.queue.receive(device("d1"), { deviceId: "d1" }))?.deliveryCount, 1);
    await hub.advance(60);
    assert.equal((await hub.queue.receive(device("d1"), { deviceId: "d1" }))?.deliveryCount, 2);
    await hub.advance(60);
    assert.equal(await hub.store.count("d1"), 0);
    assert.equal(await hub.count("d1"), 0);
    assert.deepEqual((await hub.feedback()).map((f) => f.statusCode), ["DeliveryCountExceeded"]);
  });

  test("a message already at the limit (the setting was lowered) is dead-lettered by receive, which tries the next", async () => {
    const store = new MemoryC2dStore();
    const identities = new MemoryStore();
    const clock = new HubClock({ now: () => T0 });
    const before = setup({ store, identities, clock });
    await before.createDevice("d1");
    await before.send("d1", { ack: "full", messageId: "old" });
    await before.send("d1", { ack: "full", messageId: "new" });
    for (let i = 0; i < 3; i++) {
      const got = await before.queue.receive(device("d1"), { deviceId: "d1" });
      await before.queue.abandon(device("d1"), got!.lockToken!);
    }
    const after = setup({ store, identities, clock, settings: { maxDeliveryCount: 3 } });
    const got = await after.queue.receive(device("d1"), { deviceId: "d1" });
    assert.equal(got?.systemProperties.messageId, "new");
    assert.deepEqual((await after.feedback()).map((f) => [f.originalMessageId, f.statusCode]), [["old", "DeliveryCountExceeded"]]);
    assert.equal(await after.count("d1"), 1);
  });
});

describe("settlement feedback per ack mode", () => {
  const cases: Array<[C2dAck, "complete" | "reject" | "abandon", string[]]> = [
    ["none", "complete", []],
    ["positive", "complete", ["Success"]],
    ["negative", "complete", []],
    ["full", "complete", ["Success"]],
    ["none", "reject", []],
    ["positive", "reject", []],
    ["negative", "reject", ["Rejected"]],
    ["full", "reject", ["Rejected"]],
    ["none", "abandon", []],
    ["positive", "abandon", []],
    ["negative", "abandon", []],
    ["full", "abandon", []],
  ];
  for (const [ack, outcome, expected] of cases) {
    test(`${outcome} with ack ${ack} gives ${expected.length === 0 ? "no feedback" : expected.join(", ")}`, async () => {
      const hub = setup();
      await hub.createDevice("d1");
      await hub.send("d1", { ack, messageId: "m-1" });
      hub.clock.advance(3);
      const got = await hub.queue.receive(device("d1"), { deviceId: "d1" });
      await hub.queue[outcome](device("d1"), got!.lockToken!);
      const feedback = await hub.feedback();
      assert.deepEqual(feedback.map((f) => f.statusCode), expected);
      for (const record of feedback) {
        assert.equal(record.originalMessageId, "m-1");
        assert.equal(record.enqueuedTimeUtc, T0 + 3000);
        assert.equal(record.description, record.statusCode === "Success" ? "Success" : "Message rejected");
      }
      assert.equal(await hub.count("d1"), outcome === "abandon" ? 1 : 0);
      assert.equal(await hub.queue.depth("d1"), outcome === "abandon" ? 1 : 0);
      assert.ok(hub.events.some((e) => e.type === "c2dSettled" && e.outcome === outcome));
    });
  }

  test("a message without a message-id gets feedback with an empty originalMessageId", async () => {
    const hub = setup();
    await hub.createDevice("d1");
    await hub.send("d1", { ack: "positive" });
    const got = await hub.queue.receive(device("d1"), { deviceId: "d1" });
    await hub.queue.complete(device("d1"), got!.lockToken!);
    assert.deepEqual((await hub.feedback()).map((f) => f.originalMessageId), [""]);
  });
});

describe("purge", () => {
  test("removes every message, locked or not, and replies {totalMessagesPurged, deviceId, moduleId: null}", async () => {
    const hub = setup();
    await hub.createDevice("d1");
    await hub.send("d1", { ack: "full", messageId: "a" });
    await hub.send("d1", { ack: "positive", messageId: "b" });
    await hub.send("d1", { ack: "negative", messageId: "c" });
    await hub.queue.receive(device("d1"), { deviceId: "d1" });
    const reply = await hub.queue.purge(service, "d1");
    assert.deepEqual(reply, { totalMessagesPurged: 3, deviceId: "d1", moduleId: null });
    assert.equal(await hub.store.count("d1"), 0);
    assert.equal(await hub.count("d1"), 0);
    assert.deepEqual((await hub.feedback()).map((f) => [f.originalMessageId, f.statusCode, f.description]), [
      ["a", "Purged", "Message purged"],
      ["c", "Purged", "Message purged"],
    ]);
    assert.deepEqual(await hub.queue.purge(owner, "d1"), { totalMessagesPurged: 0, deviceId: "d1", moduleId: null });
    // Purged messages' timers are gone: nothing happens when they would have expired.
    await hub.advance(HOUR);
    assert.equal((await hub.feedback()).length, 2);
  });

  test("needs ServiceConnect, and an existing device", async () => {
    const hub = setup();
    await hub.createDevice("d1");
    await rejectsWith(hub.queue.purge(registryOnly, "d1"), "IotHubUnauthorizedAccess", 401002);
    await rejectsWith(hub.queue.purge(service, "ghost"), "DeviceNotFound", 404001);
  });

  test("messages already expired get Expired feedback rather than Purged, and are not counted as purged", async () => {
    const hub = setup();
    await hub.createDevice("d1");
    await hub.send("d1", { ack: "full", messageId: "gone", expiryTimeUtc: T0 + 1000 });
    await hub.send("d1", { ack: "full", messageId: "here" });
    hub.clock.advance(2);
    assert.equal((await hub.queue.purge(service, "d1")).totalMessagesPurged, 1);
    assert.deepEqual((await hub.feedback()).map((f) => [f.originalMessageId, f.statusCode]), [
      ["gone", "Expired"],
      ["here", "Purged"],
    ]);
  });
});

describe("cloudToDeviceMessageCount", () => {
  test("follows the queue depth through send, receive, complete, reject, abandon, expiry and purge", async () => {
    const hub = setup();
    await hub.createDevice("d1");
    const counts: Array<number | undefined> = [];
    const note = async () => counts.push(await hub.count("d1"));
    await hub.send("d1");
    await hub.send("d1");
    await hub.send("d1", { expiryTimeUtc: T0 + 30_000 });
    await hub.send("d1");
    await note(); // 4
    const a = await hub.queue.receive(device("d1"), { deviceId: "d1" });
    await note(); // 4
    await hub.queue.complete(device("d1"), a!.lockToken!);
    await note(); // 3
    const b = await hub.queue.receive(device("d1"), { deviceId: "d1" });
    await hub.queue.reject(device("d1"), b!.lockToken!);
    await note(); // 2
    await hub.advance(30);
    await note(); // 1
    const c = await hub.queue.receive(device("d1"), { deviceId: "d1" });
    await hub.queue.abandon(device("d1"), c!.lockToken!);
    await note(); // 1
    await hub.send("d1");
    await note(); // 2
    await hub.queue.purge(service, "d1");
    await note(); // 0
    assert.deepEqual(counts, [4, 4, 3, 2, 1, 1, 2, 0]);
  });

  test("concurrent sends and registry updates lose no count and no registry change", async () => {
    const hub = setup();
    await hub.createDevice("d1");
    const etag = (await hub.registry.get(registryOnly, "d1"))["etag"] as string;
    await Promise.all([
      ...Array.from({ length: 10 }, () => hub.send("d1")),
      hub.registry.put(registryOnly, { deviceId: "d1", body: { deviceId: "d1", status: "enabled", statusReason: "kept" }, ifMatch: etag }),
      ...Array.from({ length: 10 }, () => hub.send("d1")),
    ]);
    const entry = await hub.identities.getIdentity({ deviceId: "d1", moduleId: "" });
    assert.equal(entry!.identity.cloudToDeviceMessageCount, 20);
    assert.equal(entry!.identity.statusReason, "kept");
    assert.equal((await hub.registry.get(registryOnly, "d1"))["cloudToDeviceMessageCount"], 20);
  });

  test("concurrent changes on many devices share batched count writes, and every count is right", async () => {
    const hub = setup();
    const devices = Array.from({ length: 20 }, (_, i) => `batch-${i}`);
    for (const id of devices) await hub.createDevice(id);
    const identities = hub.identities as MemoryStore;
    const write = identities.write.bind(identities);
    let writes = 0;
    identities.write = async (batch) => {
      writes++;
      return write(batch);
    };
    await Promise.all(devices.flatMap((id) => [hub.send(id), hub.send(id)]));
    identities.write = write;
    for (const id of devices) assert.equal(await hub.count(id), 2, id);
    // One write for the first device's count, then one for everything that asked meanwhile (not 40, one per send).
    assert.ok(writes <= 3, `${writes} identity writes for 40 sends`);
  });

  test("a failing count update is reported; the send itself still succeeds", async () => {
    const hub = setup();
    await hub.createDevice("d1");
    const identities = hub.identities as MemoryStore;
    const write = identities.write.bind(identities);
    identities.write = async () => {
      throw new Error("identity store down");
    };
    await hub.send("d1");
    identities.write = write;
    assert.equal(await hub.queue.depth("d1"), 1);
    assert.equal((hub.errors[0] as Error).message, "identity store down");
    // The next change puts it right.
    await hub.send("d1");
    assert.equal(await hub.count("d1"), 2);
  });
});

describe("device deletion", () => {
  test("drops the device's queue and its pending feedback", async () => {
    const hub = setup();
    await hub.createDevice("d1");
    await hub.createDevice("d2");
    await hub.send("d1", { ack: "full", messageId: "x", expiryTimeUtc: T0 + 1000 });
    await hub.send("d1");
    await hub.send("d2", { ack: "full", messageId: "y", expiryTimeUtc: T0 + 1000 });
    await hub.advance(1);
    assert.equal((await hub.feedback()).length, 2);
    await hub.registry.delete(registryOnly, { deviceId: "d1", ifMatch: "*" });
    await hub.queue.deviceDeleted("d1");
    assert.deepEqual(await hub.store.list("d1"), []);
    assert.deepEqual(await hub.store.devices(), ["d2"]);
    assert.deepEqual((await hub.feedback()).map((f) => f.deviceId), ["d2"]);
    // Recreated, the device starts with an empty queue.
    await hub.createDevice("d1");
    assert.equal((await hub.send("d1")).sequenceNumber, 1);
    assert.equal(await hub.count("d1"), 1);
  });
});

import { afterEach, describe, test } from "node:test";
import assert from "node:assert/strict";
import type { CallContext } from "../call-context.js";
import { HubClock } from "../clock.js";
import { HubError } from "../errors/index.js";
import type { Ids } from "../ports/ids.js";
import type { C2dFeedbackRecord, C2dFeedbackStatus } from "../ports/c2d-store.js";
import { HubTimers } from "../timers/hub-timers.js";
import { MemoryC2dStore } from "../../storage/memory/memory-c2d-store.js";
import { C2dFeedback, FEEDBACK_CONTENT_TYPE, renderFeedbackBody, type C2dFeedbackSettings } from "./c2d-feedback.js";

const T0 = Date.UTC(2024, 0, 1);
const GUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

const service: CallContext = { caller: { kind: "policy", policyName: "service", rights: ["ServiceConnect"] }, protocol: "amqp", trackingId: "svc" };
const registryOnly: CallContext = { caller: { kind: "policy", policyName: "registryReadWrite", rights: ["RegistryRead", "RegistryWrite"] }, protocol: "amqp", trackingId: "reg" };
const aDevice: CallContext = { caller: { kind: "device", deviceId: "d1", moduleId: "" }, protocol: "amqp", trackingId: "dev" };

const cleanups: Array<() => void> = [];
afterEach(() => {
  for (const cleanup of cleanups.splice(0)) cleanup();
});

let idCounter = 0;
const ids: Ids = {
  trackingId: () => (++idCounter).toString(16).padStart(32, "0"),
  generationId: () => `6380000000000${String(++idCounter).padStart(5, "0")}`,
  symmetricKey: () => Buffer.alloc(32, 7).toString("base64"),
};

function setup(settings?: Partial<C2dFeedbackSettings>) {
  const clock = new HubClock({ now: () => T0 });
  const errors: unknown[] = [];
  const timers = new HubTimers(clock, (error) => errors.push(error));
  const store = new MemoryC2dStore();
  const feedback = new C2dFeedback({ store, clock, timers, ids, reportError: (error) => errors.push(error), ...(settings === undefined ? {} : { settings }) });
  let available = 0;
  feedback.onAvailable(() => available++);
  cleanups.push(() => timers.clear());
  let messages = 0;
  return {
    clock,
    store,
    feedback,
    errors,
    get available() {
      return available;
    },
    /** Moves hub time forward, fires due hub timers and waits for the work they started. */
    async advance(seconds: number) {
      clock.advance(seconds);
      timers.poke();
      await feedback.idle();
    },
    /** Queues `n` feedback records the way C2dQueue does: removing a message with its feedback in one write. */
    async add(n: number, statusCode: C2dFeedbackStatus = "Success"): Promise<C2dFeedbackRecord[]> {
      const records: C2dFeedbackRecord[] = [];
      for (let i = 0; i < n; i++) {
        const id = `m-${++messages}`;
        await store.enqueue({ id, deviceId: "d1", deviceGenerationId: "g1", enqueuedTime: clock.now(), expiryTime: clock.now() + 3600_000, body: Buffer.alloc(0), properties: {}, systemProperties: { ack: "full", messageId: id } });
        const result = await store.remove([{ id, feedback: { originalMessageId: id, deviceId: "d1", deviceGenerationId: "g1", enqueuedTimeUtc: clock.now(), statusCode, description: statusCode } }]);
        records.push(...result.feedback);
      }
      feedback.notify(records);
      return records;
    },
    async stored(): Promise<number[]> {
      return (await store.readFeedback({ fromSequenceNumber: 0, limit: 1000 })).map((r) => r.sequenceNumber);
    },
  };
}

async function rejectsWith(promise: Promise<unknown>, name: string, code: number): Promise<HubError> {
  let caught: unknown;
  try {
    await promise;
  } catch (error) {
    caught = error;
  }
  assert.ok(caught instanceof HubError, `expected HubError ${name}, got ${String(caught)}`);
  assert.equal(caught.errorName, name);
  assert.equal(caught.code, code);
  return caught;
}

function range(from: number, to: number): number[] {
  return Array.from({ length: to - from + 1 }, (_, i) => from + i);
}

describe("receive", () => {
  test("hands out the oldest records in batches of at most 64, each under its own lock", async () => {
    const hub = setup();
    await hub.add(70);
    const first = await hub.feedback.receive(service);
    assert.ok(first !== undefined);
    assert.match(first.lockToken, GUID);
    assert.equal(first.deliveryCount, 1);
    assert.deepEqual(first.records.map((r) => r.sequenceNumber), range(1, 64));
    const second = await hub.feedback.receive(service);
    assert.ok(second !== undefined);
    assert.notEqual(second.lockToken, first.lockToken);
    assert.deepEqual(second.records.map((r) => r.sequenceNumber), range(65, 70));
    // Everything is locked now.
    assert.equal(await hub.feedback.receive(service), undefined);
    assert.equal(await hub.feedback.pending(), 70);
  });

  test("is undefined on an empty queue", async () => {
    const hub = setup();
    assert.equal(await hub.feedback.receive(service), undefined);
    assert.equal(await hub.feedback.pending(), 0);
  });

  test("honours a smaller batch size", async () => {
    const hub = setup({ maxBatch: 2 });
    await hub.add(3);
    assert.deepEqual((await hub.feedback.receive(service))?.records.map((r) => r.sequenceNumber), [1, 2]);
    assert.deepEqual((await hub.feedback.receive(service))?.records.map((r) => r.sequenceNumber), [3]);
  });

  test("needs ServiceConnect (401) for every operation", async () => {
    const hub = setup();
    await hub.add(1);
    const refused = await rejectsWith(hub.feedback.receive(registryOnly), "IotHubUnauthorizedAccess", 401002);
    assert.equal(refused.message, "Authorization rule 'registryReadWrite' does not allow access for 'ServiceConnect'");
    await rejectsWith(hub.feedback.receive(aDevice), "IotHubUnauthorizedAccess", 401002);
    const batch = await hub.feedback.receive(service);
    assert.ok(batch !== undefined);
    await rejectsWith(hub.feedback.complete(registryOnly, batch.lockToken), "IotHubUnauthorizedAccess", 401002);
    await rejectsWith(hub.feedback.abandon(registryOnly, batch.lockToken), "IotHubUnauthorizedAccess", 401002);
    await rejectsWith(hub.feedback.reject(registryOnly, batch.lockToken), "IotHubUnauthorizedAccess", 401002);
    await hub.feedback.complete(service, batch.lockToken);
  });
});

describe("settlement", () => {
  test("complete deletes the batch's records; the token is then unknown (412002)", async () => {
    const hub = setup();
    await hub.add(3);
    const batch = await hub.feedback.receive(service);
    assert.ok(batch !== undefined);
    await hub.feedback.complete(service, batch.lockToken);
    assert.deepEqual(await hub.stored(), []);
    assert.equal(await hub.feedback.pending(), 0);
    await rejectsWith(hub.feedback.complete(service, batch.lockToken), "DeviceMessageLockLost", 412002);
    await rejectsWith(hub.feedback.complete(service, "00000000-0000-0000-0000-000000000000"), "DeviceMessageLockLost", 412002);
    await rejectsWith(hub.feedback.abandon(service, "nope"), "DeviceMessageLockLost", 412002);
    await rejectsWith(hub.feedback.reject(service, ""), "DeviceMessageLockLost", 412002);
  });

  test("complete deletes only its own batch", async () => {
    const hub = setup({ maxBatch: 2 });
    await hub.add(4);
    const a = await hub.feedback.receive(service);
    const b = await hub.feedback.receive(service);
    assert.ok(a !== undefined && b !== undefined);
    await hub.feedback.complete(service, b.lockToken);
    assert.deepEqual(await hub.stored(), [1, 2]);
  });

  test("complete after the lock ended is 412002, and the records are delivered again", async () => {
    const hub = setup();
    await hub.add(2);
    const batch = await hub.feedback.receive(service);
    assert.ok(batch !== undefined);
    // The clock moves without the timer firing: the settlement itself notices the lock ended.
    hub.clock.advance(60);
    await rejectsWith(hub.feedback.complete(service, batch.lockToken), "DeviceMessageLockLost", 412002);
    const again = await hub.feedback.receive(service);
    assert.ok(again !== undefined);
    assert.deepEqual(again.records.map((r) => r.sequenceNumber), [1, 2]);
    assert.equal(again.deliveryCount, 2);
  });

  test("abandon makes the records available again, counts kept, and tells the listeners", async () => {
    const hub = setup();
    await hub.add(2);
    const before = hub.available;
    const batch = await hub.feedback.receive(service);
    assert.ok(batch !== undefined);
    await hub.feedback.abandon(service, batch.lockToken);
    assert.equal(hub.available, before + 1);
    const again = await hub.feedback.receive(service);
    assert.ok(again !== undefined);
    assert.notEqual(again.lockToken, batch.lockToken);
    assert.deepEqual(again.records, batch.records);
    assert.equal(again.deliveryCount, 2);
    await rejectsWith(hub.feedback.complete(service, batch.lockToken), "DeviceMessageLockLost", 412002);
    await hub.feedback.complete(service, again.lockToken);
    assert.deepEqual(await hub.stored(), []);
  });

  test("reject dead-letters: the records are deleted", async () => {
    const hub = setup();
    await hub.add(2);
    const batch = await hub.feedback.receive(service);
    assert.ok(batch !== undefined);
    await hub.feedback.reject(service, batch.lockToken);
    assert.deepEqual(await hub.stored(), []);
    assert.equal(await hub.feedback.receive(service), undefined);
  });
});

describe("locks, TTL and delivery count", () => {
  test("a lock ending on the hub clock releases the records and tells the listeners", async () => {
    const hub = setup();
    await hub.add(1);
    const batch = await hub.feedback.receive(service);
    assert.ok(batch !== undefined);
    const before = hub.available;
    await hub.advance(59);
    assert.equal(hub.available, before);
    assert.equal(await hub.feedback.receive(service), undefined);
    await hub.advance(1);
    assert.equal(hub.available, before + 1);
    const again = await hub.feedback.receive(service);
    assert.deepEqual(again?.records.map((r) => r.sequenceNumber), [1]);
    assert.equal(again?.deliveryCount, 2);
    assert.deepEqual(hub.errors, []);
  });

  test("a settled batch's lock timer does nothing", async () => {
    const hub = setup();
    await hub.add(1);
    const batch = await hub.feedback.receive(service);
    assert.ok(batch !== undefined);
    await hub.feedback.complete(service, batch.lockToken);
    const before = hub.available;
    await hub.advance(120);
    assert.equal(hub.available, before);
    assert.deepEqual(hub.errors, []);
  });

  test("records past the feedback TTL are deleted instead of delivered", async () => {
    const hub = setup({ ttlMs: 60_000 });
    await hub.add(2);
    hub.clock.advance(30);
    await hub.add(1);
    assert.equal(await hub.feedback.pending(), 3);
    hub.clock.advance(30);
    assert.equal(await hub.feedback.pending(), 1);
    const batch = await hub.feedback.receive(service);
    assert.deepEqual(batch?.records.map((r) => r.sequenceNumber), [3]);
    assert.deepEqual(await hub.stored(), [3]);
  });

  test("a record delivered maxDeliveryCount times without completion is dead-lettered (abandon)", async () => {
    const hub = setup({ maxDeliveryCount: 2 });
    await hub.add(1);
    const first = await hub.feedback.receive(service);
    assert.ok(first !== undefined);
    await hub.feedback.abandon(service, first.lockToken);
    const second = await hub.feedback.receive(service);
    assert.ok(second !== undefined);
    assert.equal(second.deliveryCount, 2);
    const before = hub.available;
    await hub.feedback.abandon(service, second.lockToken);
    // Nothing became available: the record is gone.
    assert.equal(hub.available, before);
    assert.deepEqual(await hub.stored(), []);
    assert.equal(await hub.feedback.receive(service), undefined);
  });

  test("a record delivered maxDeliveryCount times is dead-lettered when its last lock ends", async () => {
    const hub = setup({ maxDeliveryCount: 1 });
    await hub.add(2);
    const batch = await hub.feedback.receive(service);
    assert.equal(batch?.records.length, 2);
    await hub.add(1);
    await hub.advance(60);
    assert.deepEqual(await hub.stored(), [3]);
    assert.deepEqual((await hub.feedback.receive(service))?.records.map((r) => r.sequenceNumber), [3]);
  });

  test("a batch mixing delivery counts reports the highest", async () => {
    const hub = setup();
    await hub.add(1);
    const first = await hub.feedback.receive(service);
    assert.ok(first !== undefined);
    await hub.add(1);
    await hub.feedback.abandon(service, first.lockToken);
    const batch = await hub.feedback.receive(service);
    assert.deepEqual(batch?.records.map((r) => r.sequenceNumber), [1, 2]);
    assert.equal(batch?.deliveryCount, 2);
  });
});

describe("restart", () => {
  test("locks are in memory: a new queue on the same store delivers every record again", async () => {
    const hub = setup();
    await hub.add(2);
    assert.ok((await hub.feedback.receive(service)) !== undefined);
    const timers = new HubTimers(hub.clock, () => undefined);
    cleanups.push(() => timers.clear());
    const restarted = new C2dFeedback({ store: hub.store, clock: hub.clock, timers, ids, reportError: () => undefined });
    const batch = await restarted.receive(service);
    assert.deepEqual(batch?.records.map((r) => r.sequenceNumber), [1, 2]);
    assert.equal(batch?.deliveryCount, 1);
  });
});

describe("listeners", () => {
  test("notify tells the listeners of new records; unsubscribe stops it; a throwing listener is reported", async () => {
    const hub = setup();
    let calls = 0;
    const off = hub.feedback.onAvailable(() => calls++);
    hub.feedback.onAvailable(() => {
      throw new Error("listener failed");
    });
    await hub.add(1);
    assert.equal(calls, 1);
    hub.feedback.notify([]);
    assert.equal(calls, 1);
    off();
    await hub.add(1);
    assert.equal(calls, 1);
    assert.equal(hub.errors.length, 2);
  });
});

describe("renderFeedbackBody", () => {
  test("is IoT Hub's JSON array, fields in its order", () => {
    const body = renderFeedbackBody([
      { sequenceNumber: 7, originalMessageId: "m-1", deviceId: "d1", deviceGenerationId: "638000000000000001", enqueuedTimeUtc: Date.UTC(2015, 6, 28, 16, 24, 48, 789), statusCode: "Success", description: "Success" },
      { sequenceNumber: 8, originalMessageId: "", deviceId: "dé", deviceGenerationId: "g", enqueuedTimeUtc: T0, statusCode: "Expired", description: "Message expired" },
    ]);
    assert.equal(
      body.toString("utf8"),
      '[{"originalMessageId":"m-1","enqueuedTimeUtc":"2015-07-28T16:24:48.789Z","statusCode":"Success","description":"Success","deviceId":"d1","deviceGenerationId":"638000000000000001"},' +
        '{"originalMessageId":"","enqueuedTimeUtc":"2024-01-01T00:00:00.000Z","statusCode":"Expired","description":"Message expired","deviceId":"dé","deviceGenerationId":"g"}]',
    );
    assert.equal(renderFeedbackBody([]).toString("utf8"), "[]");
    assert.equal(FEEDBACK_CONTENT_TYPE, "application/vnd.microsoft.iothub.feedback.json");
  });
});

describe("settings", () => {
  test("are checked against IoT Hub's ranges", () => {
    const clock = new HubClock({ now: () => T0 });
    const timers = new HubTimers(clock, () => undefined);
    const make = (settings: Partial<C2dFeedbackSettings>) => new C2dFeedback({ store: new MemoryC2dStore(), clock, timers, ids, reportError: () => undefined, settings });
    assert.throws(() => make({ lockMs: 1000 }), RangeError);
    assert.throws(() => make({ ttlMs: 1000 }), RangeError);
    assert.throws(() => make({ maxDeliveryCount: 0 }), RangeError);
    assert.throws(() => make({ maxBatch: 65 }), RangeError);
    assert.deepEqual(make({}).settings, { lockMs: 60_000, ttlMs: 3600_000, maxDeliveryCount: 10, maxBatch: 64 });
  });
});

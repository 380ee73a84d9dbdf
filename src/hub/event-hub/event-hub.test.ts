import { afterEach, describe, test } from "node:test";
import assert from "node:assert/strict";
import type { CallContext } from "../call-context.js";
import { HubClock } from "../clock.js";
import { HubError, type HubErrorName } from "../errors/index.js";
import { HubEvents } from "../events/hub-event.js";
import type { Store } from "../ports/store.js";
import { HubTimers } from "../timers/hub-timers.js";
import { MemoryStore } from "../../storage/memory/memory-store.js";
import { MemoryTelemetryLog } from "../../storage/memory/memory-telemetry-log.js";
import { EVENT_HUB_CREATED_AT_SETTING, EventHubEndpoint, MAX_NON_EPOCH_RECEIVERS, RETENTION_SWEEP_MS, type ReceiverClaim } from "./event-hub.js";
import { OFFSET_STRIDE } from "./event-position.js";

const T0 = Date.UTC(2024, 0, 1);
const DAY_S = 24 * 3600;
const owner: CallContext = { caller: { kind: "policy", policyName: "iothubowner", rights: ["RegistryRead", "RegistryWrite", "ServiceConnect", "DeviceConnect"] }, protocol: "amqp", trackingId: "own" };
const service: CallContext = { caller: { kind: "policy", policyName: "service", rights: ["ServiceConnect"] }, protocol: "amqp", trackingId: "svc" };
const registryOnly: CallContext = { caller: { kind: "policy", policyName: "registryRead", rights: ["RegistryRead"] }, protocol: "amqp", trackingId: "reg" };

const hubError = (name: HubErrorName, text?: RegExp) => (error: unknown) => error instanceof HubError && error.errorName === name && (text === undefined || text.test(error.message));

const cleanups: Array<() => void> = [];
afterEach(() => {
  for (const cleanup of cleanups.splice(0)) cleanup();
});

async function setup(options: { store?: Store; log?: MemoryTelemetryLog; clock?: HubClock; retentionMs?: number } = {}) {
  const clock = options.clock ?? new HubClock({ now: () => T0 });
  const errors: unknown[] = [];
  const timers = new HubTimers(clock, (error) => errors.push(error));
  const events = new HubEvents((error) => errors.push(error));
  const log = options.log ?? new MemoryTelemetryLog();
  const store = options.store ?? new MemoryStore();
  const eventHub = await EventHubEndpoint.create({
    name: "myhub",
    partitionCount: 4,
    log,
    store,
    clock,
    timers,
    events,
    reportError: (error) => errors.push(error),
    ...(options.retentionMs === undefined ? {} : { retentionMs: options.retentionMs }),
  });
  cleanups.push(() => {
    eventHub.stop();
    timers.clear();
  });
  const append = async (partition: number, text = "x") => {
    const [record] = await log.append([{ partition, enqueuedTime: clock.now(), body: Buffer.from(text), properties: {}, systemProperties: {} }]);
    events.emit({ type: "telemetryAccepted", time: clock.now(), deviceId: "d", moduleId: "", partition, sizeInBytes: 1 });
    return record!;
  };
  const advance = (seconds: number) => {
    clock.advance(seconds);
    timers.poke();
  };
  return { eventHub, log, store, clock, timers, events, errors, append, advance };
}

describe("entity and partition properties", () => {
  test("properties: name, creation time kept across restarts, partition ids", async () => {
    const store = new MemoryStore();
    const { eventHub } = await setup({ store });
    assert.deepEqual(eventHub.properties(), { name: "myhub", createdAt: T0, partitionIds: ["0", "1", "2", "3"] });
    assert.equal(await store.getSetting(EVENT_HUB_CREATED_AT_SETTING), T0);
    const later = await setup({ store, clock: new HubClock({ now: () => T0 + 5000 }) });
    assert.equal(later.eventHub.createdAt, T0);
  });

  test("an empty partition, then one with events", async () => {
    const { eventHub, append, advance } = await setup();
    assert.deepEqual(await eventHub.partitionProperties("1"), {
      name: "myhub",
      partitionId: "1",
      beginningSequenceNumber: 0,
      lastEnqueuedSequenceNumber: -1,
      lastEnqueuedOffset: "-1",
      lastEnqueuedTimeUtc: 0,
      isEmpty: true,
    });
    await append(1);
    advance(10);
    await append(1);
    assert.deepEqual(await eventHub.partitionProperties("1"), {
      name: "myhub",
      partitionId: "1",
      beginningSequenceNumber: 0,
      lastEnqueuedSequenceNumber: 1,
      lastEnqueuedOffset: String(OFFSET_STRIDE),
      lastEnqueuedTimeUtc: T0 + 10_000,
      isEmpty: false,
    });
  });

  test("an unknown partition is ArgumentInvalid naming the valid range", async () => {
    const { eventHub } = await setup();
    for (const id of ["4", "-1", "01", "x", "", "1.0"]) {
      await assert.rejects(eventHub.partitionProperties(id), hubError("ArgumentInvalid", new RegExp(`The partition '${id.replace(".", "\\.")}' does not exist; partitions are 0-3`)), id);
    }
  });
});

describe("openReader", () => {
  test("starts where the filter says, for every form the SDK sends", async () => {
    const { eventHub, append, advance } = await setup();
    for (let i = 0; i < 5; i++) {
      await append(0, `e${i}`);
      advance(60);
    }
    const first = async (filter: string | undefined) => {
      const reader = await eventHub.openReader(service, { consumerGroup: "$default", partitionId: "0", filter });
      const [record] = await reader.next(1);
      reader.close();
      return record?.sequenceNumber;
    };
    assert.equal(await first(undefined), 0);
    assert.equal(await first("amqp.annotation.x-opt-offset > '-1'"), 0);
    assert.equal(await first("amqp.annotation.x-opt-offset > '@latest'"), undefined);
    assert.equal(await first(`amqp.annotation.x-opt-offset > '${2 * OFFSET_STRIDE}'`), 3);
    assert.equal(await first(`amqp.annotation.x-opt-offset >= '${2 * OFFSET_STRIDE}'`), 2);
    // A client that mistakes a sequence number for an offset lands elsewhere, as on Azure.
    assert.equal(await first("amqp.annotation.x-opt-offset > '2'"), 1);
    assert.equal(await first("amqp.annotation.x-opt-sequence-number > '2'"), 3);
    assert.equal(await first("amqp.annotation.x-opt-sequence-number >= '2'"), 2);
    assert.equal(await first(`amqp.annotation.x-opt-enqueued-time > '${T0 + 60_000}'`), 2);
  });

  test("@latest delivers only events enqueued after the attach", async () => {
    const { eventHub, append } = await setup();
    await append(3, "old");
    const reader = await eventHub.openReader(service, { consumerGroup: "$Default", partitionId: "3", filter: "amqp.annotation.x-opt-offset > '@latest'" });
    const waiting = reader.waitForEvents();
    await append(3, "new");
    await waiting;
    assert.deepEqual((await reader.next(10)).map((r) => r.body.toString()), ["new"]);
    reader.close();
  });

  test("refusals: rights, consumer group, partition, filter", async () => {
    const { eventHub } = await setup();
    await assert.rejects(eventHub.openReader(registryOnly, { consumerGroup: "$Default", partitionId: "0", filter: undefined }), hubError("IotHubUnauthorizedAccess"));
    await assert.rejects(eventHub.openReader(service, { consumerGroup: "nope", partitionId: "0", filter: undefined }), hubError("NotFound", /^The consumer group 'nope' does not exist$/));
    await assert.rejects(eventHub.openReader(service, { consumerGroup: "$Default", partitionId: "9", filter: undefined }), hubError("ArgumentInvalid", /partitions are 0-3/));
    await assert.rejects(eventHub.openReader(service, { consumerGroup: "$Default", partitionId: "0", filter: "bogus" }), hubError("ArgumentInvalid", /'bogus'/));
    await assert.rejects(
      eventHub.openReader(service, { consumerGroup: "$Default", partitionId: "0", filter: "amqp.annotation.x-opt-sequence-number > '5'" }),
      hubError("ArgumentInvalid", /The supplied sequence number '5' is invalid/),
    );
  });

  test("a consumer group added by the admin is usable in any case", async () => {
    const { eventHub } = await setup();
    await eventHub.consumerGroups.add(owner, "Analytics");
    const reader = await eventHub.openReader(service, { consumerGroup: "analytics", partitionId: "0", filter: undefined });
    reader.close();
  });
});

describe("epochs (Event Hubs receiver ownership)", () => {
  function receiver(epoch: number | undefined, partitionId = "0", consumerGroup = "$default") {
    const stolen: string[] = [];
    const revoked: HubError[] = [];
    const claim: ReceiverClaim = { consumerGroup, partitionId, epoch, receiverName: `r${epoch ?? "-"}`, onStolen: (m) => stolen.push(m), onRevoked: (e) => revoked.push(e) };
    return { claim, stolen, revoked };
  }

  test("a higher epoch displaces every lower-epoch and non-epoch receiver of that group and partition", async () => {
    const { eventHub } = await setup();
    const plain = receiver(undefined);
    eventHub.claim(plain.claim);
    const one = receiver(1);
    eventHub.claim(one.claim);
    assert.equal(plain.stolen.length, 1);
    assert.match(plain.stolen[0]!, /New receiver 'r1' with higher epoch of '1' is created hence current receiver 'r-' without an epoch is getting disconnected/);
    const two = receiver(2);
    eventHub.claim(two.claim);
    assert.deepEqual(one.stolen, ["New receiver 'r2' with higher epoch of '2' is created hence current receiver 'r1' with epoch '1' is getting disconnected. If you are recreating the receiver, make sure a higher epoch is used."]);
    // An equal epoch takes over too (Event Hubs: e1 <= e2 disconnects e1), so a reconnecting owner is not locked out.
    const twoAgain = receiver(2);
    eventHub.claim(twoAgain.claim);
    assert.equal(two.stolen.length, 1);
    // Other partitions and consumer groups are untouched.
    await eventHub.consumerGroups.add(owner, "other");
    const elsewhere = [receiver(undefined, "1"), receiver(undefined, "0", "other")];
    for (const r of elsewhere) eventHub.claim(r.claim);
    eventHub.claim(receiver(9).claim);
    for (const r of elsewhere) assert.deepEqual(r.stolen, []);
  });

  test("a lower epoch, or no epoch, is refused while an epoch receiver holds the partition", async () => {
    const { eventHub } = await setup();
    const release = eventHub.claim(receiver(5).claim);
    assert.throws(() => eventHub.claim(receiver(4).claim), hubError("LinkCreationConflict", /epoch '4' cannot be created .* higher epoch '5'/));
    assert.throws(() => eventHub.claim(receiver(undefined).claim), hubError("LinkCreationConflict", /epoch of '5', and so non-epoch receiver is not allowed/));
    // Once the owner detaches, anyone may attach.
    release();
    release();
    eventHub.claim(receiver(undefined).claim);
    eventHub.claim(receiver(1).claim);
  });

  test(`at most ${MAX_NON_EPOCH_RECEIVERS} non-epoch receivers per group and partition`, async () => {
    const { eventHub } = await setup();
    const releases = Array.from({ length: MAX_NON_EPOCH_RECEIVERS }, () => eventHub.claim(receiver(undefined).claim));
    assert.throws(
      () => eventHub.claim(receiver(undefined).claim),
      (error: unknown) => error instanceof HubError && error.errorName === "JobQuotaExceeded" && error.spec.amqpCondition === "amqp:resource-limit-exceeded" && /maximum number of allowed receivers per partition in a consumer group which is 5/.test(error.message),
    );
    eventHub.claim(receiver(undefined, "1").claim);
    releases[0]!();
    eventHub.claim(receiver(undefined).claim);
  });

  test("claims check the consumer group, the partition and the epoch", async () => {
    const { eventHub } = await setup();
    assert.throws(() => eventHub.claim(receiver(undefined, "0", "missing").claim), hubError("NotFound"));
    assert.throws(() => eventHub.claim(receiver(undefined, "7").claim), hubError("ArgumentInvalid"));
    assert.throws(() => eventHub.claim(receiver(Number.NaN).claim), hubError("ArgumentInvalid"));
  });

  test("deleting a consumer group revokes its receivers with NotFound", async () => {
    const { eventHub } = await setup();
    await eventHub.consumerGroups.add(owner, "Temp");
    const a = receiver(undefined, "0", "temp");
    const b = receiver(3, "2", "TEMP");
    const other = receiver(undefined);
    for (const r of [a, b, other]) eventHub.claim(r.claim);
    await eventHub.consumerGroups.remove(owner, "temp");
    assert.deepEqual([a, b].map((r) => r.revoked.map((e) => e.errorName)), [["NotFound"], ["NotFound"]]);
    assert.deepEqual(other.revoked, []);
    // Re-created, it starts with no receivers.
    await eventHub.consumerGroups.add(owner, "temp");
    eventHub.claim(receiver(undefined, "2", "temp").claim);
  });
});

describe("retention", () => {
  test("advancing the hub clock past the retention period trims old events at the next hourly sweep", async () => {
    const { eventHub, append, advance, log } = await setup();
    await append(0, "old");
    advance(DAY_S / 2);
    await append(0, "newer");
    const reader = await eventHub.openReader(service, { consumerGroup: "$Default", partitionId: "0", filter: "amqp.annotation.x-opt-offset > '-1'" });
    advance(DAY_S / 2 + RETENTION_SWEEP_MS / 1000);
    await eventHub.trimExpired(); // waits for the sweep the advance fired
    assert.deepEqual((await eventHub.partitionProperties("0")).beginningSequenceNumber, 1);
    assert.deepEqual((await reader.next(10)).map((r) => r.body.toString()), ["newer"]);
    advance(DAY_S);
    await eventHub.trimExpired();
    const properties = await eventHub.partitionProperties("0");
    assert.equal(properties.isEmpty, true);
    assert.equal(properties.lastEnqueuedSequenceNumber, 1, "the last sequence number survives retention");
    assert.equal(properties.beginningSequenceNumber, 2);
    assert.deepEqual(await log.read({ partition: 0, fromSequenceNumber: 0, limit: 10 }), []);
    reader.close();
  });

  test("the sweep runs on its own every hour of hub time", async () => {
    const { append, advance, log } = await setup();
    await append(2);
    advance(DAY_S + 1);
    // Let the fired sweep's trim finish.
    for (let i = 0; i < 10 && (await log.partitionInfo(2)).firstSequenceNumber === 0; i++) await new Promise((r) => setImmediate(r));
    assert.equal((await log.partitionInfo(2)).firstSequenceNumber, 1);
  });

  test("expired events are trimmed once at start, and the retention is configurable from 1 to 7 days", async () => {
    const log = new MemoryTelemetryLog();
    await log.append([{ partition: 0, enqueuedTime: T0 - 3 * DAY_S * 1000, body: Buffer.from("x"), properties: {}, systemProperties: {} }]);
    await log.append([{ partition: 0, enqueuedTime: T0 - DAY_S * 1000 - 1, body: Buffer.from("y"), properties: {}, systemProperties: {} }]);
    const { eventHub } = await setup({ log, retentionMs: 2 * DAY_S * 1000 });
    assert.equal(eventHub.retentionMs, 2 * DAY_S * 1000);
    assert.equal((await log.partitionInfo(0)).firstSequenceNumber, 1);
    await assert.rejects(setup({ retentionMs: 3600_000 }), hubError("ArgumentInvalid", /1 to 7 days/));
    await assert.rejects(setup({ retentionMs: 8 * DAY_S * 1000 }), hubError("ArgumentInvalid"));
  });
});

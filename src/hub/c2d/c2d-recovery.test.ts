import { after, test } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import type { CallContext } from "../call-context.js";
import { HubClock } from "../clock.js";
import { HubError } from "../errors/index.js";
import type { Ids } from "../ports/ids.js";
import { Registry } from "../registry/registry.js";
import { HubTimers } from "../timers/hub-timers.js";
import { SerialQueue } from "../../shared/serial-queue.js";
import { SqliteStore } from "../../storage/sqlite/sqlite-store.js";
import { SqliteC2dStore } from "../../storage/sqlite/sqlite-c2d-store.js";
import { C2dQueue } from "./c2d-queue.js";

const T0 = Date.UTC(2024, 0, 1);
const service: CallContext = { caller: { kind: "policy", policyName: "iothubowner", rights: ["RegistryRead", "RegistryWrite", "ServiceConnect"] }, protocol: "amqp", trackingId: "svc" };
const d1: CallContext = { caller: { kind: "device", deviceId: "d1", moduleId: "" }, protocol: "amqp", trackingId: "d1" };

const dir = fs.mkdtempSync(path.join(os.tmpdir(), "malachite-c2d-recovery-"));
after(() => fs.rmSync(dir, { recursive: true, force: true }));

let counter = 0;
const ids: Ids = {
  trackingId: () => (++counter).toString(16).padStart(32, "0"),
  generationId: () => `63800000000000${String(++counter).padStart(4, "0")}`,
  symmetricKey: () => Buffer.alloc(32, 7).toString("base64"),
};

/** One "hub process": both SQLite files opened, the hub clock at `offsetSeconds` past T0. */
function start(offsetSeconds: number) {
  const clock = new HubClock({ now: () => T0 });
  clock.advance(offsetSeconds);
  const errors: unknown[] = [];
  const timers = new HubTimers(clock, (error) => errors.push(error));
  const identities = SqliteStore.open({ path: path.join(dir, "malachite.db") });
  const store = SqliteC2dStore.open({ path: path.join(dir, "c2d.db") });
  const writes = new SerialQueue();
  const available: string[] = [];
  const registry = new Registry({ store: identities, clock, ids, writes, limits: { maxDevicesInList: 1000, maxModulesPerDevice: 50 }, connectedCount: () => 0 });
  const queue = new C2dQueue({
    store,
    identities,
    writes,
    clock,
    timers,
    events: { emit: () => undefined },
    ids,
    onMessageAvailable: (deviceId) => available.push(deviceId),
    reportError: (error) => errors.push(error),
  });
  return {
    clock,
    identities,
    store,
    registry,
    queue,
    available,
    errors,
    async advance(seconds: number) {
      clock.advance(seconds);
      timers.poke();
      await queue.idle();
    },
    async count(deviceId: string) {
      return (await identities.getIdentity({ deviceId, moduleId: "" }))?.identity.cloudToDeviceMessageCount;
    },
    async stop() {
      await queue.close();
      timers.clear();
      await store.close();
      await identities.close();
    },
  };
}

test("after a restart the queue, locks, delivery counts, feedback and timers carry on from the files", async () => {
  const first = start(0);
  await first.registry.put(service, { deviceId: "d1", body: { deviceId: "d1" }, ifMatch: undefined });
  await first.registry.put(service, { deviceId: "gone", body: { deviceId: "gone" }, ifMatch: undefined });
  const send = (messageId: string, expiryTimeUtc?: number) =>
    first.queue.send(service, { deviceId: "d1", body: Buffer.from(messageId), systemProperties: { messageId, ack: "full" }, ...(expiryTimeUtc === undefined ? {} : { expiryTimeUtc }) });
  await send("locked-then-lost");
  await send("short", T0 + 120_000);
  await send("done");
  await send("plain");
  await first.queue.send(service, { deviceId: "gone", body: Buffer.from("x") });
  const lost = await first.queue.receive(d1, { deviceId: "d1" });
  assert.equal(lost?.systemProperties.messageId, "locked-then-lost");
  await first.advance(30);
  const done = await first.queue.receive(d1, { deviceId: "d1" });
  assert.equal(done?.systemProperties.messageId, "short");
  await first.queue.abandon(d1, done!.lockToken!);
  const kept = await first.queue.receive(d1, { deviceId: "d1" });
  assert.equal(kept?.systemProperties.messageId, "short");
  assert.equal(kept?.deliveryCount, 2);
  // The device "gone" is deleted, but the hub stops before its queue is dropped.
  await first.registry.delete(service, { deviceId: "gone", ifMatch: "*" });
  // A count left wrong by a crash between the two files.
  const entry = (await first.identities.getIdentity({ deviceId: "d1", moduleId: "" }))!;
  await first.identities.write([{ kind: "put", entry: { ...entry, identity: { ...entry.identity, cloudToDeviceMessageCount: 17 } } }]);
  await first.stop();

  // The hub was down for 45 s of hub time: the first lock (taken at 0 s) ended at 60 s, the second (at 30 s) runs to 90 s.
  const second = start(75);
  try {
    await second.queue.recover();
    assert.deepEqual(second.errors, []);
    assert.equal(await second.count("d1"), 4);
    assert.deepEqual(await second.store.devices(), ["d1"]);
    const messages = await second.store.list("d1");
    assert.deepEqual(
      messages.map((m) => [m.systemProperties.messageId, m.deliveryCount, m.lockToken === null]),
      [
        ["locked-then-lost", 1, true],
        ["short", 2, false],
        ["done", 0, true],
        ["plain", 0, true],
      ],
    );
    // The lock still running survived the restart: its holder may settle it.
    await second.queue.complete(d1, kept!.lockToken!);
    // The lock that ended while the hub was down is lost.
    await assert.rejects(second.queue.complete(d1, lost!.lockToken!), (e: unknown) => e instanceof HubError && e.code === 412002);
    assert.equal(await second.count("d1"), 3);
    // The message is delivered again, counting its second delivery.
    const again = await second.queue.receive(d1, { deviceId: "d1" });
    assert.equal(again?.systemProperties.messageId, "locked-then-lost");
    assert.equal(again?.deliveryCount, 2);
    // Its new lock ends on this process's hub timer.
    second.available.length = 0;
    await second.advance(60);
    assert.deepEqual(second.available, ["d1"]);
    assert.equal((await second.store.list("d1"))[0]!.lockToken, null);
    // Numbering continues.
    const next = await second.queue.send(service, { deviceId: "d1", body: Buffer.from("n") });
    assert.equal(next.sequenceNumber, 5);
    const feedback = await second.store.readFeedback({ fromSequenceNumber: 0, limit: 10 });
    assert.deepEqual(feedback.map((f) => [f.originalMessageId, f.statusCode]), [["short", "Success"]]);
  } finally {
    await second.stop();
  }

  // Down again, past the default TTL of every message left: they expire at recovery, with their feedback ("n" asked for none).
  const third = start(3900);
  try {
    await third.queue.recover();
    assert.equal(await third.store.count("d1"), 0);
    assert.equal(await third.count("d1"), 0);
    const feedback = await third.store.readFeedback({ fromSequenceNumber: 0, limit: 10 });
    assert.deepEqual(feedback.map((f) => [f.originalMessageId, f.statusCode]), [
      ["short", "Success"],
      ["locked-then-lost", "Expired"],
      ["done", "Expired"],
      ["plain", "Expired"],
    ]);
    // Stamped with when they expired, not when the restarted hub noticed.
    assert.deepEqual(feedback.slice(1).map((f) => f.enqueuedTimeUtc), [T0 + 3600_000, T0 + 3600_000, T0 + 3600_000]);
  } finally {
    await third.stop();
  }
});

test("timers re-armed by recover() fire on the new process's hub clock", async () => {
  const first = start(0);
  await first.registry.put(service, { deviceId: "ttl", body: { deviceId: "ttl" }, ifMatch: undefined });
  await first.queue.send(service, { deviceId: "ttl", body: Buffer.from("x"), systemProperties: { messageId: "t", ack: "negative" }, expiryTimeUtc: T0 + 600_000 });
  await first.stop();
  const second = start(0);
  try {
    await second.queue.recover();
    await second.advance(599);
    assert.equal(await second.store.count("ttl"), 1);
    await second.advance(1);
    assert.equal(await second.store.count("ttl"), 0);
    assert.equal(await second.count("ttl"), 0);
    const feedback = await second.store.readFeedback({ fromSequenceNumber: 0, limit: 100 });
    assert.deepEqual(feedback.filter((f) => f.deviceId === "ttl").map((f) => f.statusCode), ["Expired"]);
  } finally {
    await second.stop();
  }
});

import { test } from "node:test";
import assert from "node:assert/strict";
import { HubEvents } from "../events/hub-event.js";
import { MemoryTelemetryLog } from "../../storage/memory/memory-telemetry-log.js";
import { PartitionReader, TelemetryFollowers } from "./partition-reader.js";

function setup() {
  const log = new MemoryTelemetryLog();
  const errors: unknown[] = [];
  const events = new HubEvents((error) => errors.push(error));
  const followers = new TelemetryFollowers(events, (error) => errors.push(error));
  /** Appends as Telemetry.send does: durable first, then the telemetryAccepted event. */
  const append = async (partition: number, enqueuedTime: number, text = "x") => {
    const [record] = await log.append([{ partition, enqueuedTime, body: Buffer.from(text), properties: {}, systemProperties: {} }]);
    events.emit({ type: "telemetryAccepted", time: enqueuedTime, deviceId: "d", moduleId: "", partition, sizeInBytes: 1 });
    return record!;
  };
  return { log, events, followers, append, errors };
}

const seqs = (records: ReadonlyArray<{ sequenceNumber: number }>) => records.map((r) => r.sequenceNumber);

test("next() reads from the cursor, at most max, and advances", async () => {
  const { log, followers, append } = setup();
  for (let i = 0; i < 5; i++) await append(0, 100 + i);
  await append(1, 100);
  const reader = new PartitionReader({ log, followers, partition: 0, startSequenceNumber: 1 });
  assert.deepEqual(seqs(await reader.next(3)), [1, 2, 3]);
  assert.equal(reader.position, 4);
  assert.deepEqual(seqs(await reader.next(10)), [4]);
  assert.deepEqual(await reader.next(10), []);
  assert.deepEqual(await reader.next(0), []);
  reader.close();
});

test("concurrent next() calls never deliver an event twice", async () => {
  const { log, followers, append } = setup();
  for (let i = 0; i < 6; i++) await append(0, 100 + i);
  const reader = new PartitionReader({ log, followers, partition: 0, startSequenceNumber: 0 });
  const [a, b, c] = await Promise.all([reader.next(2), reader.next(2), reader.next(2)]);
  assert.deepEqual([seqs(a), seqs(b), seqs(c)], [[0, 1], [2, 3], [4, 5]]);
  reader.close();
});

test("a reader hears about appends to its partition only, without polling", async () => {
  const { log, followers, append } = setup();
  const reader = new PartitionReader({ log, followers, partition: 2, startSequenceNumber: 0 });
  let heard = 0;
  const stop = reader.onAvailable(() => heard++);
  assert.deepEqual(await reader.next(5), []);
  const waiting = reader.waitForEvents();
  await append(1, 100);
  assert.equal(heard, 0);
  await append(2, 101, "hello");
  assert.equal(heard, 1);
  await waiting;
  const [record] = await reader.next(5);
  assert.equal(record!.body.toString(), "hello");
  stop();
  await append(2, 102);
  assert.equal(heard, 1);
  reader.close();
});

test("an append during a read is not lost: waitForEvents resolves at once afterwards", async () => {
  const { log, followers, append } = setup();
  const reader = new PartitionReader({ log, followers, partition: 0, startSequenceNumber: 0 });
  const reading = reader.next(5);
  await append(0, 100);
  await reading;
  // Whatever that read saw, the append after it started is signalled.
  await reader.waitForEvents();
  reader.close();
});

test("close() resolves waits, stops notifications and later reads return nothing", async () => {
  const { log, followers, append } = setup();
  const reader = new PartitionReader({ log, followers, partition: 0, startSequenceNumber: 0 });
  let heard = 0;
  reader.onAvailable(() => heard++);
  const waiting = reader.waitForEvents();
  reader.close();
  await waiting;
  await append(0, 100);
  assert.equal(heard, 0);
  assert.deepEqual(await reader.next(5), []);
  assert.equal(reader.closed, true);
});

test("events removed by retention are skipped: the cursor jumps to the first retained event", async () => {
  const { log, followers, append } = setup();
  for (let i = 0; i < 6; i++) await append(0, 100 + i);
  const reader = new PartitionReader({ log, followers, partition: 0, startSequenceNumber: 0 });
  assert.deepEqual(seqs(await reader.next(1)), [0]);
  await log.trim(104);
  assert.deepEqual(seqs(await reader.next(10)), [4, 5]);
  // Everything retained was read and then trimmed: new events still arrive in order.
  await log.trim(1000);
  await append(0, 2000);
  assert.deepEqual(seqs(await reader.next(10)), [6]);
  reader.close();
});

test("an enqueued-time filter also holds back events with an earlier time appended later (a future start time)", async () => {
  const { log, followers, append } = setup();
  await append(0, 100);
  const reader = new PartitionReader({ log, followers, partition: 0, startSequenceNumber: 1, enqueuedAfter: { time: 500, inclusive: false } });
  await append(0, 300);
  await append(0, 500);
  assert.deepEqual(await reader.next(10), []);
  await append(0, 501);
  await append(0, 502);
  assert.deepEqual(seqs(await reader.next(10)), [3, 4]);
  reader.close();
});

test("a time filter that drops a whole page keeps reading", async () => {
  const { log, followers, append } = setup();
  for (let i = 0; i < 1500; i++) await append(0, i);
  const reader = new PartitionReader({ log, followers, partition: 0, startSequenceNumber: 0, enqueuedAfter: { time: 1200, inclusive: true } });
  assert.deepEqual(seqs(await reader.next(3)), [1200, 1201, 1202]);
  reader.close();
});

import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { HubError } from "../errors/index.js";
import type { PartitionInfo } from "../ports/telemetry-log.js";
import { MemoryTelemetryLog } from "../../storage/memory/memory-telemetry-log.js";
import { OFFSET_STRIDE, enqueuedTimeFinder, offsetOf, parseEventPosition, resolveStartSequenceNumber, type EventPosition } from "./event-position.js";

describe("parseEventPosition", () => {
  test("the expressions @azure/event-hubs sends", () => {
    assert.deepEqual(parseEventPosition("amqp.annotation.x-opt-offset > '-1'"), { kind: "earliest" });
    assert.deepEqual(parseEventPosition("amqp.annotation.x-opt-offset > '@latest'"), { kind: "latest" });
    assert.deepEqual(parseEventPosition("amqp.annotation.x-opt-offset > '5096'"), { kind: "offset", offset: 5096n, inclusive: false });
    assert.deepEqual(parseEventPosition("amqp.annotation.x-opt-offset >= '5096'"), { kind: "offset", offset: 5096n, inclusive: true });
    assert.deepEqual(parseEventPosition("amqp.annotation.x-opt-sequence-number > '2'"), { kind: "sequenceNumber", sequenceNumber: 2, inclusive: false });
    assert.deepEqual(parseEventPosition("amqp.annotation.x-opt-sequence-number >= '2'"), { kind: "sequenceNumber", sequenceNumber: 2, inclusive: true });
    assert.deepEqual(parseEventPosition("amqp.annotation.x-opt-enqueued-time > '1717200120000'"), { kind: "enqueuedTime", enqueuedTime: 1717200120000, inclusive: false });
    assert.deepEqual(parseEventPosition("amqp.annotation.x-opt-enqueued-time >= '1717200120000'"), { kind: "enqueuedTime", enqueuedTime: 1717200120000, inclusive: true });
  });

  test("tolerates whitespace and the case of the field name", () => {
    assert.deepEqual(parseEventPosition("  AMQP.Annotation.X-Opt-Offset>'@LATEST'  "), { kind: "latest" });
    assert.deepEqual(parseEventPosition("amqp.annotation.X-OPT-SEQUENCE-NUMBER   >=   ' 7 '"), { kind: "sequenceNumber", sequenceNumber: 7, inclusive: true });
    assert.deepEqual(parseEventPosition("amqp.annotation.x-opt-offset >= '-1'"), { kind: "earliest" });
    assert.deepEqual(parseEventPosition("amqp.annotation.x-opt-sequence-number > '-1'"), { kind: "earliest" });
  });

  test("anything else is ArgumentInvalid quoting the expression", () => {
    for (const expression of [
      "",
      "garbage",
      "amqp.annotation.x-opt-offset = '5'",
      "amqp.annotation.x-opt-offset < '5'",
      "amqp.annotation.x-opt-offset > 5",
      "amqp.annotation.x-opt-offset > 'abc'",
      "amqp.annotation.x-opt-partition-key > '1'",
      "amqp.annotation.x-opt-sequence-number > '1.5'",
      "amqp.annotation.x-opt-sequence-number > '99999999999999999999'",
      "amqp.annotation.x-opt-enqueued-time > 'yesterday'",
      "amqp.annotation.x-opt-offset > '5' AND 1=1",
    ]) {
      assert.throws(
        () => parseEventPosition(expression, "t1"),
        (error: unknown) => error instanceof HubError && error.errorName === "ArgumentInvalid" && error.message.includes(`'${expression}'`) && error.trackingId === "t1",
        expression,
      );
    }
  });
});

describe("offsets", () => {
  test("grow with the sequence number by a stride, so they never equal it past 0", () => {
    assert.equal(OFFSET_STRIDE, 1024);
    assert.equal(offsetOf(0), "0");
    assert.equal(offsetOf(1), "1024");
    assert.equal(offsetOf(5), "5120");
  });
});

const info = (first: number, last: number): PartitionInfo => ({ partition: 0, firstSequenceNumber: first, lastSequenceNumber: last, lastEnqueuedTime: last >= 0 ? 1 : undefined });
const noTime = async (): Promise<number> => assert.fail("not an enqueued-time position");
const resolve = (position: EventPosition, partition = info(0, 9)) => resolveStartSequenceNumber(position, partition, noTime);
const offset = (value: number, inclusive: boolean): EventPosition => ({ kind: "offset", offset: BigInt(value), inclusive });

describe("resolveStartSequenceNumber", () => {
  test("earliest is the first retained event; latest is after the last one", async () => {
    assert.equal(await resolve({ kind: "earliest" }), 0);
    assert.equal(await resolve({ kind: "earliest" }, info(4, 9)), 4);
    assert.equal(await resolve({ kind: "latest" }), 10);
    assert.equal(await resolve({ kind: "latest" }, info(0, -1)), 0);
    // Everything expired: after the last event ever enqueued.
    assert.equal(await resolve({ kind: "earliest" }, info(10, 9)), 10);
  });

  test("offsets: exclusive and inclusive, on and between the stride", async () => {
    assert.equal(await resolve(offset(3 * OFFSET_STRIDE, false)), 4);
    assert.equal(await resolve(offset(3 * OFFSET_STRIDE, true)), 3);
    assert.equal(await resolve(offset(3 * OFFSET_STRIDE + 1, false)), 4);
    assert.equal(await resolve(offset(3 * OFFSET_STRIDE + 1, true)), 4);
    assert.equal(await resolve(offset(3 * OFFSET_STRIDE - 1, false)), 3);
    assert.equal(await resolve(offset(3 * OFFSET_STRIDE - 1, true)), 3);
    assert.equal(await resolve(offset(0, true)), 0);
    assert.equal(await resolve(offset(0, false)), 1);
    // The last event's offset, exclusive: the next event to arrive.
    assert.equal(await resolve(offset(9 * OFFSET_STRIDE, false)), 10);
  });

  test("sequence numbers: exclusive and inclusive", async () => {
    assert.equal(await resolve({ kind: "sequenceNumber", sequenceNumber: 3, inclusive: false }), 4);
    assert.equal(await resolve({ kind: "sequenceNumber", sequenceNumber: 3, inclusive: true }), 3);
    assert.equal(await resolve({ kind: "sequenceNumber", sequenceNumber: 9, inclusive: false }), 10);
    assert.equal(await resolve({ kind: "sequenceNumber", sequenceNumber: 10, inclusive: true }), 10);
  });

  test("a position before the retained range starts at the first retained event", async () => {
    const trimmed = info(6, 9);
    assert.equal(await resolve(offset(2 * OFFSET_STRIDE, false), trimmed), 6);
    assert.equal(await resolve(offset(0, true), trimmed), 6);
    assert.equal(await resolve({ kind: "sequenceNumber", sequenceNumber: 1, inclusive: true }, trimmed), 6);
  });

  test("a position beyond the end of the partition is refused, as Event Hubs refuses it", async () => {
    for (const position of [
      { kind: "sequenceNumber", sequenceNumber: 10, inclusive: false },
      { kind: "sequenceNumber", sequenceNumber: 11, inclusive: true },
      offset(10 * OFFSET_STRIDE, false),
      offset(10 * OFFSET_STRIDE + 1, true),
    ] as EventPosition[]) {
      await assert.rejects(resolve(position), (error: unknown) => error instanceof HubError && error.errorName === "ArgumentInvalid" && /The last .* in the system is/.test(error.message));
    }
    await assert.rejects(resolve({ kind: "sequenceNumber", sequenceNumber: 0, inclusive: false }, info(0, -1)), /The last sequence number in the system is '-1'/);
  });
});

describe("enqueued-time positions", () => {
  async function logWithTimes(times: number[]): Promise<MemoryTelemetryLog> {
    const log = new MemoryTelemetryLog();
    await log.append(times.map((enqueuedTime) => ({ partition: 0, enqueuedTime, body: Buffer.from("x"), properties: {}, systemProperties: {} })));
    return log;
  }

  test("finds the first event enqueued after (or at) the time, with equal times and gaps", async () => {
    const times = [100, 100, 200, 200, 200, 300, 450, 450, 900];
    const log = await logWithTimes(times);
    const partition = await log.partitionInfo(0);
    const at = (time: number, inclusive: boolean) => resolveStartSequenceNumber({ kind: "enqueuedTime", enqueuedTime: time, inclusive }, partition, enqueuedTimeFinder(log, partition));
    for (const time of [0, 99, 100, 150, 200, 201, 300, 449, 450, 451, 899, 900, 901, 10_000]) {
      const exclusive = times.findIndex((t) => t > time);
      const inclusive = times.findIndex((t) => t >= time);
      assert.equal(await at(time, false), exclusive === -1 ? times.length : exclusive, `> ${time}`);
      assert.equal(await at(time, true), inclusive === -1 ? times.length : inclusive, `>= ${time}`);
    }
  });

  test("starts at the first retained event when older ones were trimmed, and works on an empty partition", async () => {
    const log = await logWithTimes([10, 20, 30, 40, 50]);
    await log.trim(35);
    const partition = await log.partitionInfo(0);
    assert.equal(await resolveStartSequenceNumber({ kind: "enqueuedTime", enqueuedTime: 0, inclusive: false }, partition, enqueuedTimeFinder(log, partition)), 3);
    assert.equal(await resolveStartSequenceNumber({ kind: "enqueuedTime", enqueuedTime: 40, inclusive: false }, partition, enqueuedTimeFinder(log, partition)), 4);
    const empty = new MemoryTelemetryLog();
    const none = await empty.partitionInfo(1);
    assert.equal(await resolveStartSequenceNumber({ kind: "enqueuedTime", enqueuedTime: 5, inclusive: false }, none, enqueuedTimeFinder(empty, none)), 0);
  });

  test("a search over many events reads only a handful of records", async () => {
    const times = Array.from({ length: 5000 }, (_, i) => 1000 + Math.floor(i / 3));
    const log = await logWithTimes(times);
    let reads = 0;
    const counting = Object.assign(Object.create(log) as MemoryTelemetryLog, {
      read: (options: Parameters<MemoryTelemetryLog["read"]>[0]) => {
        reads++;
        return log.read(options);
      },
    });
    const partition = await log.partitionInfo(0);
    assert.equal(await enqueuedTimeFinder(counting, partition)(1500, false), times.findIndex((t) => t > 1500));
    assert.ok(reads <= 14, `${reads} reads`);
  });
});

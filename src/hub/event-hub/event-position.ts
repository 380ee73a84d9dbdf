import { HubError } from "../errors/index.js";
import type { PartitionInfo, TelemetryLog } from "../ports/telemetry-log.js";

/**
 * Distance between the offsets of consecutive events. IoT Hub's offsets are opaque strings that grow within a
 * partition (byte positions in the Event Hubs log, e.g. "550576") and are never equal to the sequence number. A
 * stride keeps them apart too, so a client that passes a sequence number where an offset belongs (or the reverse)
 * starts somewhere else, as it would on Azure, instead of happening to work here.
 */
export const OFFSET_STRIDE = 1024;

/**
 * Where a partition receiver starts, parsed from the `apache.org:selector-filter:string` expression of its attach.
 * `inclusive` is `>=` (the SDK's `isInclusive`); `>` otherwise.
 */
export type EventPosition =
  /** `x-opt-offset > '-1'`: the first retained event (the SDK's `earliestEventPosition`). */
  | { readonly kind: "earliest" }
  /** `x-opt-offset > '@latest'`: only events enqueued after the receiver attached. */
  | { readonly kind: "latest" }
  | { readonly kind: "offset"; readonly offset: bigint; readonly inclusive: boolean }
  | { readonly kind: "sequenceNumber"; readonly sequenceNumber: number; readonly inclusive: boolean }
  /** The SDK only ever sends `>`; `>=` is tolerated. `enqueuedTime` is epoch ms. */
  | { readonly kind: "enqueuedTime"; readonly enqueuedTime: number; readonly inclusive: boolean };

// `amqp.annotation.<field> <op> '<value>'`, as @azure/event-hubs' eventPosition.js writes it; whitespace is free and
// the field name is matched without regard to case (Event Hubs' SQL-92 filter grammar is case-insensitive).
const EXPRESSION = /^\s*amqp\.annotation\.(x-opt-offset|x-opt-sequence-number|x-opt-enqueued-time)\s*(>=|>)\s*'([^']*)'\s*$/i;
const INTEGER = /^-?\d+$/;

function invalid(expression: string, why: string, trackingId?: string): HubError {
  return new HubError("ArgumentInvalid", {
    message: `The filter expression '${expression}' is not valid: ${why}`,
    ...(trackingId === undefined ? {} : { trackingId }),
  });
}

/**
 * Parses a receiver's selector filter.
 * @throws HubError ArgumentInvalid quoting the expression when it is not one of the forms the SDK sends.
 */
export function parseEventPosition(expression: string, trackingId?: string): EventPosition {
  const match = EXPRESSION.exec(expression);
  if (match === null) {
    throw invalid(expression, "expected amqp.annotation.x-opt-offset, x-opt-sequence-number or x-opt-enqueued-time, then > or >=, then a quoted value", trackingId);
  }
  const field = match[1]!.toLowerCase();
  const inclusive = match[2] === ">=";
  const value = match[3]!.trim();
  if (field === "x-opt-offset") {
    if (value.toLowerCase() === "@latest") return { kind: "latest" };
    if (!INTEGER.test(value)) throw invalid(expression, `the offset '${value}' is not an offset this hub issued`, trackingId);
    const offset = BigInt(value);
    // "-1" is Event Hubs' "start of stream"; any offset before the first one means the same.
    if (offset < 0n) return { kind: "earliest" };
    return { kind: "offset", offset, inclusive };
  }
  if (!INTEGER.test(value)) throw invalid(expression, `'${value}' is not an integer`, trackingId);
  const number = Number(value);
  if (!Number.isSafeInteger(number)) throw invalid(expression, `'${value}' is out of range`, trackingId);
  if (field === "x-opt-sequence-number") {
    if (number < 0) return { kind: "earliest" };
    return { kind: "sequenceNumber", sequenceNumber: number, inclusive };
  }
  return { kind: "enqueuedTime", enqueuedTime: number, inclusive };
}

/** The `x-opt-offset` of the event with this sequence number (a string, as IoT Hub sends it). */
export function offsetOf(sequenceNumber: number): string {
  return String(sequenceNumber * OFFSET_STRIDE);
}

/** The first sequence number whose offset is `> offset` (or `>=` when inclusive). */
function firstSequenceForOffset(offset: bigint, inclusive: boolean): bigint {
  const stride = BigInt(OFFSET_STRIDE);
  const below = offset / stride; // offset >= 0 here, so this is floor.
  if (inclusive) return below * stride === offset ? below : below + 1n;
  return below + 1n;
}

/**
 * Finds the first sequence number, from `fromSequenceNumber` on, of an event enqueued after `time` (at or after
 * when inclusive); the partition's next sequence number when none is.
 */
export type FindByEnqueuedTime = (time: number, inclusive: boolean) => Promise<number>;

/**
 * The first sequence number a receiver at `position` should get, for a partition in the state `info` describes.
 * A position before the retained range starts at the first retained event (retention has removed the rest).
 * @throws HubError ArgumentInvalid for an offset or sequence number beyond the end of the partition: Event Hubs
 *   refuses those ("The supplied sequence number '…' is invalid. The last sequence number in the system is '…'")
 *   rather than wait for events the client claims to have already seen.
 */
export async function resolveStartSequenceNumber(
  position: EventPosition,
  info: PartitionInfo,
  findByEnqueuedTime: FindByEnqueuedTime,
  trackingId?: string,
): Promise<number> {
  const next = info.lastSequenceNumber + 1;
  const clamp = (sequenceNumber: number): number => Math.max(sequenceNumber, info.firstSequenceNumber);
  const refuse = (what: string, value: string, last: string): HubError =>
    new HubError("ArgumentInvalid", {
      message: `The supplied ${what} '${value}' is invalid. The last ${what} in the system is '${last}'`,
      ...(trackingId === undefined ? {} : { trackingId }),
    });
  switch (position.kind) {
    case "earliest":
      return info.firstSequenceNumber;
    case "latest":
      return next;
    case "sequenceNumber": {
      const first = position.inclusive ? position.sequenceNumber : position.sequenceNumber + 1;
      if (first > next) throw refuse("sequence number", String(position.sequenceNumber), String(info.lastSequenceNumber));
      return clamp(first);
    }
    case "offset": {
      const first = firstSequenceForOffset(position.offset, position.inclusive);
      if (first > BigInt(next)) throw refuse("offset", position.offset.toString(), info.lastSequenceNumber < 0 ? "-1" : offsetOf(info.lastSequenceNumber));
      return clamp(Number(first));
    }
    case "enqueuedTime":
      return clamp(await findByEnqueuedTime(position.enqueuedTime, position.inclusive));
  }
}

/**
 * Binary search for the first event enqueued after `time` (at or after when inclusive), one single-record read per
 * step: within a partition events are in enqueued-time order, because the hub clock never goes back and a partition's
 * appends are numbered in call order. Retention may trim while this runs; a trimmed probe lands on the next retained
 * event, which only moves the answer to where a reader would skip to anyway.
 */
export function enqueuedTimeFinder(log: TelemetryLog, info: PartitionInfo): FindByEnqueuedTime {
  return async (time, inclusive) => {
    const passes = (enqueuedTime: number): boolean => (inclusive ? enqueuedTime >= time : enqueuedTime > time);
    let lo = info.firstSequenceNumber;
    let hi = info.lastSequenceNumber + 1;
    while (lo < hi) {
      const mid = lo + Math.floor((hi - lo) / 2);
      const [record] = await log.read({ partition: info.partition, fromSequenceNumber: mid, limit: 1 });
      if (record === undefined || passes(record.enqueuedTime)) hi = mid;
      else lo = Math.max(mid, record.sequenceNumber) + 1;
    }
    return lo;
  };
}

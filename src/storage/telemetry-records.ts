import type { TelemetryAppend, TelemetryReadOptions } from "../hub/ports/telemetry-log.js";

/**
 * Checks shared by every TelemetryLog adapter, so they accept and refuse the same input.
 *
 * The log validates each append() call on its own, before it joins a group commit: a malformed call is refused alone
 * (a RangeError/TypeError, nothing of it appended) and never fails the unrelated calls it would have been committed
 * with. Only a failure of the commit itself (disk full, I/O error…) rejects every caller of a batch.
 */

/** One record of an append() call, validated, with its body copied and its maps serialized as they are stored. */
export interface PreparedAppend {
  readonly partition: number;
  readonly enqueuedTime: number;
  /** A private copy: the caller may reuse its buffer as soon as append() returns. */
  readonly body: Buffer;
  /** The caller's own objects, not copies (copying costs as much as serializing); what is stored is the JSON below. */
  readonly properties: Readonly<Record<string, string>>;
  readonly systemProperties: Readonly<Record<string, string>>;
  readonly propertiesJson: string;
  readonly systemPropertiesJson: string;
}

/**
 * Validates one append() call and snapshots it: bodies are copied and property maps serialized at call time, so what
 * is stored is what the caller passed, whatever it does with its objects afterwards.
 * @throws TypeError/RangeError naming the first offending record; then nothing of the call may be appended.
 */
export function prepareAppends(records: readonly TelemetryAppend[]): PreparedAppend[] {
  if (!Array.isArray(records)) throw new TypeError("telemetry append expects an array of records");
  const prepared = new Array<PreparedAppend>(records.length);
  for (let i = 0; i < records.length; i++) {
    const record = records[i] as TelemetryAppend | null | undefined;
    if (typeof record !== "object" || record === null) throw new TypeError(`telemetry record ${i} is not an object`);
    const { partition, enqueuedTime, body } = record;
    checkPartition(partition, `telemetry record ${i}`);
    if (!Number.isSafeInteger(enqueuedTime)) {
      throw new RangeError(`telemetry record ${i}: enqueuedTime must be an integer (ms since epoch)`);
    }
    if (!Buffer.isBuffer(body)) throw new TypeError(`telemetry record ${i}: body must be a Buffer`);
    const { properties, systemProperties } = record;
    checkStringMap(properties, `telemetry record ${i}: properties`);
    checkStringMap(systemProperties, `telemetry record ${i}: systemProperties`);
    prepared[i] = {
      partition,
      enqueuedTime,
      body: Buffer.from(body),
      properties,
      systemProperties,
      propertiesJson: JSON.stringify(properties),
      systemPropertiesJson: JSON.stringify(systemProperties),
    };
  }
  return prepared;
}

/** @throws RangeError unless `partition` is a non-negative integer. */
export function checkPartition(partition: unknown, what: string): asserts partition is number {
  if (typeof partition !== "number" || !Number.isSafeInteger(partition) || partition < 0) {
    throw new RangeError(`${what}: partition must be a non-negative integer`);
  }
}

/** @throws RangeError on a malformed read; a limit of 0 or less is valid and reads nothing. */
export function checkReadOptions(options: TelemetryReadOptions): void {
  checkPartition(options.partition, "telemetry read");
  if (!Number.isSafeInteger(options.fromSequenceNumber)) {
    throw new RangeError("telemetry read: fromSequenceNumber must be an integer");
  }
  if (!Number.isSafeInteger(options.limit)) throw new RangeError("telemetry read: limit must be an integer");
}

/** @throws RangeError when `enqueuedBefore` is not a number (NaN included); ±Infinity trims everything or nothing. */
export function checkTrimTime(enqueuedBefore: number): void {
  if (typeof enqueuedBefore !== "number" || Number.isNaN(enqueuedBefore)) {
    throw new RangeError("telemetry trim: enqueuedBefore must be a number");
  }
}

/**
 * Checks that every value JSON.stringify will write (own enumerable string keys) is a string: JSON would carry a number
 * or a nested object through and hand a reader something that is not a Record<string, string>.
 */
function checkStringMap(map: unknown, what: string): asserts map is Readonly<Record<string, string>> {
  if (typeof map !== "object" || map === null || Array.isArray(map)) throw new TypeError(`${what} must be an object`);
  // for…in allocates nothing, unlike Object.entries; an inherited key is only looked at when its value is wrong.
  for (const key in map) {
    if (typeof (map as Record<string, unknown>)[key] !== "string" && Object.hasOwn(map, key)) {
      throw new TypeError(`${what}: the value of ${JSON.stringify(key)} is not a string`);
    }
  }
}

import type {
  PartitionInfo,
  TelemetryAppend,
  TelemetryLog,
  TelemetryReadOptions,
  TelemetryRecord,
} from "../../hub/ports/telemetry-log.js";
import { checkPartition, checkReadOptions, checkTrimTime, prepareAppends } from "../telemetry-records.js";

interface Partition {
  /** Sequence number of `records[0]`; when `records` is empty, the next number to assign. */
  first: number;
  /** Retained records, in sequence order: records[i] has sequence number first + i. */
  records: TelemetryRecord[];
  lastEnqueuedTime: number;
}

/**
 * A TelemetryLog in process memory, for unit tests. It validates and copies exactly as the SQLite log does, so a test
 * sees the same refusals and the same independence from the caller's objects. Each append() is applied at once (there
 * is no sync to amortize), so concurrent calls still get consecutive numbers in call order.
 */
export class MemoryTelemetryLog implements TelemetryLog {
  private readonly partitions = new Map<number, Partition>();
  private closed = false;

  async append(records: readonly TelemetryAppend[]): Promise<TelemetryRecord[]> {
    this.assertOpen();
    // Validating the whole call first makes it all-or-nothing.
    const prepared = prepareAppends(records);
    const appended = new Array<TelemetryRecord>(prepared.length);
    for (let i = 0; i < prepared.length; i++) {
      const { partition, enqueuedTime, body, propertiesJson, systemPropertiesJson } = prepared[i]!;
      let state = this.partitions.get(partition);
      if (state === undefined) {
        state = { first: 0, records: [], lastEnqueuedTime: enqueuedTime };
        this.partitions.set(partition, state);
      }
      const stored: TelemetryRecord = {
        partition,
        sequenceNumber: state.first + state.records.length,
        enqueuedTime,
        body,
        // Parsed from the JSON, as the SQLite log stores it: a private copy, equal to what a read returns.
        properties: JSON.parse(propertiesJson) as Record<string, string>,
        systemProperties: JSON.parse(systemPropertiesJson) as Record<string, string>,
      };
      state.records.push(stored);
      state.lastEnqueuedTime = enqueuedTime;
      appended[i] = copyRecord(stored);
    }
    return appended;
  }

  async read(options: TelemetryReadOptions): Promise<TelemetryRecord[]> {
    this.assertOpen();
    checkReadOptions(options);
    const state = this.partitions.get(options.partition);
    if (state === undefined || options.limit <= 0) return [];
    const start = Math.max(0, options.fromSequenceNumber - state.first);
    return state.records.slice(start, start + options.limit).map(copyRecord);
  }

  async partitionInfo(partition: number): Promise<PartitionInfo> {
    this.assertOpen();
    checkPartition(partition, "telemetry partitionInfo");
    const state = this.partitions.get(partition);
    if (state === undefined) {
      return { partition, lastSequenceNumber: -1, firstSequenceNumber: 0, lastEnqueuedTime: undefined };
    }
    return {
      partition,
      lastSequenceNumber: state.first + state.records.length - 1,
      firstSequenceNumber: state.first,
      lastEnqueuedTime: state.lastEnqueuedTime,
    };
  }

  /** Drops, per partition, the longest run of oldest records all enqueued before `enqueuedBefore` (as SQLite does). */
  async trim(enqueuedBefore: number): Promise<number> {
    this.assertOpen();
    checkTrimTime(enqueuedBefore);
    let removed = 0;
    for (const state of this.partitions.values()) {
      let count = 0;
      while (count < state.records.length && state.records[count]!.enqueuedTime < enqueuedBefore) count++;
      if (count === 0) continue;
      state.records.splice(0, count);
      state.first += count;
      removed += count;
    }
    return removed;
  }

  async close(): Promise<void> {
    this.closed = true;
  }

  private assertOpen(): void {
    if (this.closed) throw new Error("the telemetry log is closed");
  }
}

/** Stored records are never handed out: a caller changing what it got must not change the log. */
function copyRecord(record: TelemetryRecord): TelemetryRecord {
  return {
    partition: record.partition,
    sequenceNumber: record.sequenceNumber,
    enqueuedTime: record.enqueuedTime,
    body: Buffer.from(record.body),
    properties: copyMap(record.properties),
    systemProperties: copyMap(record.systemProperties),
  };
}

function copyMap(map: Readonly<Record<string, string>>): Record<string, string> {
  // A JSON round trip, as the SQLite log's reads are: it keeps a "__proto__" key an ordinary property.
  return JSON.parse(JSON.stringify(map)) as Record<string, string>;
}

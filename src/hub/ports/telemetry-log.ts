/**
 * The durable log of device-to-cloud messages: what the Event Hub-compatible endpoint reads and what "acknowledged
 * means durable" protects. Adapters (memory, SQLite) pass the conformance suite in `test/conformance/`.
 */

/** One message as the device sent it plus what the hub stamped on it when it was accepted. */
export interface TelemetryRecord {
  /** Partition of the built-in endpoint (device id hashed). */
  readonly partition: number;
  /** Per-partition, starting at 0, strictly increasing by 1 (Event Hubs sequence numbers). */
  readonly sequenceNumber: number;
  /** Hub time (ms since epoch) at which the message was accepted: iothub-enqueuedtime / x-opt-enqueued-time. */
  readonly enqueuedTime: number;
  readonly body: Buffer;
  /** Application properties, exactly as sent. */
  readonly properties: Readonly<Record<string, string>>;
  /**
   * System properties: those the device set (messageId, correlationId, contentType, contentEncoding, userId,
   * creationTimeUtc, …) and those the hub stamps (iothub-connection-device-id, -module-id, -auth-method,
   * -auth-generation-id, iothub-enqueuedtime, iothub-message-source).
   */
  readonly systemProperties: Readonly<Record<string, string>>;
}

/** What the hub asks to append: the log assigns sequence numbers. */
export type TelemetryAppend = Omit<TelemetryRecord, "sequenceNumber">;

export interface TelemetryReadOptions {
  readonly partition: number;
  /** First sequence number to return (inclusive). */
  readonly fromSequenceNumber: number;
  readonly limit: number;
}

export interface PartitionInfo {
  readonly partition: number;
  /** The highest sequence number ever assigned (kept after retention trims it away); -1 if never written. */
  readonly lastSequenceNumber: number;
  /** Lowest sequence number still retained; lastSequenceNumber + 1 when nothing is retained. */
  readonly firstSequenceNumber: number;
  readonly lastEnqueuedTime: number | undefined;
}

export interface TelemetryLog {
  /**
   * Appends messages durably: when the promise resolves every record is on disk and has its sequence number.
   * Concurrent calls are committed together (group commit) so many small appends cost few syncs.
   */
  append(records: readonly TelemetryAppend[]): Promise<TelemetryRecord[]>;
  read(options: TelemetryReadOptions): Promise<TelemetryRecord[]>;
  partitionInfo(partition: number): Promise<PartitionInfo>;
  /** Drops records enqueued before `enqueuedBefore` (retention); returns how many were removed. */
  trim(enqueuedBefore: number): Promise<number>;
  close(): Promise<void>;
}

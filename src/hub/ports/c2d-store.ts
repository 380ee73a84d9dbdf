/**
 * The durable per-device cloud-to-device queues and the feedback records waiting for the service's feedback receiver.
 * Adapters (memory, SQLite) pass the conformance suite in `test/conformance/c2d-store.suite.ts`. Stores hold plain
 * records and never throw IoT Hub errors: the core (`hub/c2d/c2d-queue.ts`) decides depth, TTL, locks and feedback.
 *
 * Every write resolves only once it is durable, and each call is atomic: after a crash all of it or none of it is
 * visible. Records handed in are copied, records handed out are copies.
 */

/** `iothub-ack`: which outcomes of a message produce a feedback record. */
export type C2dAck = "none" | "positive" | "negative" | "full";

export const C2D_ACKS: readonly C2dAck[] = ["none", "positive", "negative", "full"];

/** The system properties a C2D message keeps from the service's send (plus the `to` the hub sets). */
export interface C2dSystemProperties {
  readonly messageId?: string;
  readonly correlationId?: string;
  readonly to?: string;
  readonly userId?: string;
  readonly contentType?: string;
  readonly contentEncoding?: string;
  readonly ack: C2dAck;
}

/** One message in a device's queue. */
export interface C2dMessage {
  /** Hub-assigned, unique in the hub (the core uses a GUID). */
  readonly id: string;
  readonly deviceId: string;
  /** The generationId of the device the message was sent to, for its feedback record. */
  readonly deviceGenerationId: string;
  /** Assigned by the store: 1, 2, 3… per device, never reused until the device's queue is deleted. */
  readonly sequenceNumber: number;
  /** Hub time (ms since epoch) of the send. */
  readonly enqueuedTime: number;
  /** Hub time (ms since epoch) at which the message expires. */
  readonly expiryTime: number;
  /** How many times the message has been handed to the device (Enqueued → Invisible transitions). */
  readonly deliveryCount: number;
  /** Set while the message is locked by a delivery (Invisible), null while it is queued (Enqueued). */
  readonly lockToken: string | null;
  /** Hub time (ms since epoch) the lock ends; null when not locked. */
  readonly lockedUntil: number | null;
  readonly body: Buffer;
  /** Application properties, exactly as sent. */
  readonly properties: Readonly<Record<string, string>>;
  readonly systemProperties: C2dSystemProperties;
}

/** What the core asks to enqueue: the store assigns the sequence number; a new message is unlocked, never delivered. */
export type C2dEnqueue = Omit<C2dMessage, "sequenceNumber" | "deliveryCount" | "lockToken" | "lockedUntil">;

/** The delivery state of a message: what receive, abandon and lock expiry change. */
export interface C2dDelivery {
  readonly deliveryCount: number;
  readonly lockToken: string | null;
  readonly lockedUntil: number | null;
}

export type C2dFeedbackStatus = "Success" | "Expired" | "DeliveryCountExceeded" | "Rejected" | "Purged";

export const C2D_FEEDBACK_STATUSES: readonly C2dFeedbackStatus[] = ["Success", "Expired", "DeliveryCountExceeded", "Rejected", "Purged"];

/** One feedback record (service-protocol.md §4.5), waiting for the service's feedback receiver. */
export interface C2dFeedbackRecord {
  /** Assigned by the store: 1, 2, 3… hub-wide, never reused (also not after a delete or a restart). */
  readonly sequenceNumber: number;
  /** The message-id the service gave the C2D message ("" if it gave none). */
  readonly originalMessageId: string;
  readonly deviceId: string;
  readonly deviceGenerationId: string;
  /** Hub time (ms since epoch) of the outcome; rendered as `enqueuedTimeUtc`. */
  readonly enqueuedTimeUtc: number;
  readonly statusCode: C2dFeedbackStatus;
  readonly description: string;
}

export type C2dFeedbackAppend = Omit<C2dFeedbackRecord, "sequenceNumber">;

/** One message to remove, with the feedback record its removal produces (if any). */
export interface C2dRemoval {
  readonly id: string;
  readonly feedback?: C2dFeedbackAppend;
}

export interface C2dRemoveResult {
  /** Ids of the messages that were there and are now removed, in the order asked. */
  readonly removed: string[];
  /** The feedback appended: only that of removals whose message was there. */
  readonly feedback: C2dFeedbackRecord[];
}

export interface C2dFeedbackReadOptions {
  /** First sequence number to return (inclusive). */
  readonly fromSequenceNumber: number;
  readonly limit: number;
}

export interface C2dStore {
  /** Appends a message to its device's queue, assigning the next sequence number of that device. */
  enqueue(message: C2dEnqueue): Promise<C2dMessage>;
  /** The messages of one device (locked or not, expired or not), in sequence order. */
  list(deviceId: string): Promise<C2dMessage[]>;
  /** How many messages the device's queue holds (locked or not, expired or not). */
  count(deviceId: string): Promise<number>;
  /**
   * Sets the delivery state of message `id` if its current lock token is `expectedLockToken` (compare-and-set: a
   * stale caller changes nothing). Returns the updated message, or undefined when it is gone or was not as expected.
   */
  setDelivery(id: string, expectedLockToken: string | null, delivery: C2dDelivery): Promise<C2dMessage | undefined>;
  /**
   * Removes messages and appends the feedback of those that were there, in one atomic write: a completed, rejected,
   * expired, dead-lettered or purged message and its feedback record are never seen one without the other.
   */
  remove(removals: readonly C2dRemoval[]): Promise<C2dRemoveResult>;
  /** Every device that has a queue (a message was ever enqueued for it and its queue was not deleted since). */
  devices(): Promise<string[]>;
  /**
   * Drops the device's queue (the device was deleted): its messages, its numbering and its pending feedback records.
   * Returns how many messages were dropped.
   */
  deleteDevice(deviceId: string): Promise<number>;
  /** Feedback records in sequence order from `fromSequenceNumber`, at most `limit`. */
  readFeedback(options: C2dFeedbackReadOptions): Promise<C2dFeedbackRecord[]>;
  /** Deletes feedback records (delivered to the service); returns how many were there. */
  deleteFeedback(sequenceNumbers: readonly number[]): Promise<number>;
  close(): Promise<void>;
}

/*
 * Checks shared by every adapter, so they accept and refuse the same input. A refused call throws a TypeError or
 * RangeError naming what was wrong, and nothing of it is written. (They live beside the port because adapters may
 * import only hub/ports; they hold no IoT Hub rule.)
 */

export function checkC2dEnqueue(message: C2dEnqueue): void {
  if (typeof message !== "object" || message === null) throw new TypeError("c2d enqueue: the message is not an object");
  checkString(message.id, "c2d enqueue: id", true);
  checkString(message.deviceId, "c2d enqueue: deviceId", true);
  checkString(message.deviceGenerationId, "c2d enqueue: deviceGenerationId", false);
  checkTime(message.enqueuedTime, "c2d enqueue: enqueuedTime");
  checkTime(message.expiryTime, "c2d enqueue: expiryTime");
  if (!Buffer.isBuffer(message.body)) throw new TypeError("c2d enqueue: body must be a Buffer");
  checkStringMap(message.properties, "c2d enqueue: properties");
  checkSystemProperties(message.systemProperties);
}

export function checkC2dDelivery(id: string, expectedLockToken: string | null, delivery: C2dDelivery): void {
  checkString(id, "c2d setDelivery: id", true);
  if (expectedLockToken !== null) checkString(expectedLockToken, "c2d setDelivery: expectedLockToken", true);
  if (typeof delivery !== "object" || delivery === null) throw new TypeError("c2d setDelivery: delivery is not an object");
  if (!Number.isSafeInteger(delivery.deliveryCount) || delivery.deliveryCount < 0) {
    throw new RangeError("c2d setDelivery: deliveryCount must be a non-negative integer");
  }
  if ((delivery.lockToken === null) !== (delivery.lockedUntil === null)) {
    throw new TypeError("c2d setDelivery: lockToken and lockedUntil are both set or both null");
  }
  if (delivery.lockToken !== null) checkString(delivery.lockToken, "c2d setDelivery: lockToken", true);
  if (delivery.lockedUntil !== null) checkTime(delivery.lockedUntil, "c2d setDelivery: lockedUntil");
}

export function checkC2dRemovals(removals: readonly C2dRemoval[]): void {
  if (!Array.isArray(removals)) throw new TypeError("c2d remove expects an array of removals");
  for (let i = 0; i < removals.length; i++) {
    const removal = removals[i] as C2dRemoval | null | undefined;
    if (typeof removal !== "object" || removal === null) throw new TypeError(`c2d removal ${i} is not an object`);
    checkString(removal.id, `c2d removal ${i}: id`, true);
    if (removal.feedback !== undefined) checkFeedback(removal.feedback, `c2d removal ${i}: feedback`);
  }
}

export function checkC2dFeedbackRead(options: C2dFeedbackReadOptions): void {
  if (!Number.isSafeInteger(options.fromSequenceNumber)) throw new RangeError("c2d readFeedback: fromSequenceNumber must be an integer");
  if (!Number.isSafeInteger(options.limit)) throw new RangeError("c2d readFeedback: limit must be an integer");
}

export function checkC2dSequenceNumbers(sequenceNumbers: readonly number[]): void {
  if (!Array.isArray(sequenceNumbers)) throw new TypeError("c2d deleteFeedback expects an array of sequence numbers");
  for (const n of sequenceNumbers) {
    if (!Number.isSafeInteger(n)) throw new RangeError("c2d deleteFeedback: sequence numbers must be integers");
  }
}

function checkFeedback(feedback: C2dFeedbackAppend, what: string): void {
  if (typeof feedback !== "object" || feedback === null) throw new TypeError(`${what} is not an object`);
  checkString(feedback.originalMessageId, `${what}: originalMessageId`, false);
  checkString(feedback.deviceId, `${what}: deviceId`, true);
  checkString(feedback.deviceGenerationId, `${what}: deviceGenerationId`, false);
  checkTime(feedback.enqueuedTimeUtc, `${what}: enqueuedTimeUtc`);
  if (!C2D_FEEDBACK_STATUSES.includes(feedback.statusCode)) throw new RangeError(`${what}: unknown statusCode ${JSON.stringify(feedback.statusCode)}`);
  checkString(feedback.description, `${what}: description`, false);
}

const SYSTEM_KEYS = ["messageId", "correlationId", "to", "userId", "contentType", "contentEncoding"] as const;

function checkSystemProperties(system: C2dSystemProperties): void {
  if (typeof system !== "object" || system === null || Array.isArray(system)) throw new TypeError("c2d enqueue: systemProperties must be an object");
  if (!C2D_ACKS.includes(system.ack)) throw new RangeError(`c2d enqueue: systemProperties.ack must be one of ${C2D_ACKS.join(", ")}`);
  for (const key of SYSTEM_KEYS) {
    const value = system[key];
    if (value !== undefined && typeof value !== "string") throw new TypeError(`c2d enqueue: systemProperties.${key} must be a string`);
  }
  for (const key of Object.keys(system)) {
    if (key !== "ack" && !(SYSTEM_KEYS as readonly string[]).includes(key)) throw new TypeError(`c2d enqueue: unknown system property ${JSON.stringify(key)}`);
  }
}

function checkString(value: unknown, what: string, nonEmpty: boolean): void {
  if (typeof value !== "string") throw new TypeError(`${what} must be a string`);
  if (nonEmpty && value === "") throw new RangeError(`${what} must not be empty`);
}

function checkTime(value: unknown, what: string): void {
  if (typeof value !== "number" || !Number.isSafeInteger(value)) throw new RangeError(`${what} must be an integer (ms since epoch)`);
}

function checkStringMap(map: unknown, what: string): void {
  if (typeof map !== "object" || map === null || Array.isArray(map)) throw new TypeError(`${what} must be an object`);
  for (const key in map) {
    if (typeof (map as Record<string, unknown>)[key] !== "string" && Object.hasOwn(map, key)) {
      throw new TypeError(`${what}: the value of ${JSON.stringify(key)} is not a string`);
    }
  }
}

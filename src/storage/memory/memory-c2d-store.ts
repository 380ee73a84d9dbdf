import {
  checkC2dDelivery,
  checkC2dEnqueue,
  checkC2dFeedbackRead,
  checkC2dRemovals,
  checkC2dSequenceNumbers,
  type C2dDelivery,
  type C2dEnqueue,
  type C2dFeedbackAppend,
  type C2dFeedbackReadOptions,
  type C2dFeedbackRecord,
  type C2dMessage,
  type C2dRemoval,
  type C2dRemoveResult,
  type C2dStore,
} from "../../hub/ports/c2d-store.js";
import { compareCodePoints } from "./compare-code-points.js";

interface DeviceQueue {
  lastSequenceNumber: number;
  /** In sequence order. */
  messages: C2dMessage[];
}

/**
 * A C2dStore in process memory, for unit tests and `storage: "memory"`. It validates and copies exactly as the SQLite
 * store does, so a test sees the same refusals and the same independence from the caller's objects.
 */
export class MemoryC2dStore implements C2dStore {
  private readonly queues = new Map<string, DeviceQueue>();
  /** message id → device id. */
  private readonly owners = new Map<string, string>();
  private readonly feedback: C2dFeedbackRecord[] = [];
  private lastFeedbackSequenceNumber = 0;
  private closed = false;

  async enqueue(message: C2dEnqueue): Promise<C2dMessage> {
    this.assertOpen();
    checkC2dEnqueue(message);
    if (this.owners.has(message.id)) throw new RangeError(`c2d enqueue: a message with id ${JSON.stringify(message.id)} already exists`);
    let queue = this.queues.get(message.deviceId);
    if (queue === undefined) {
      queue = { lastSequenceNumber: 0, messages: [] };
      this.queues.set(message.deviceId, queue);
    }
    const stored: C2dMessage = copyMessage({
      ...message,
      sequenceNumber: queue.lastSequenceNumber + 1,
      deliveryCount: 0,
      lockToken: null,
      lockedUntil: null,
    });
    queue.lastSequenceNumber++;
    queue.messages.push(stored);
    this.owners.set(stored.id, stored.deviceId);
    return copyMessage(stored);
  }

  async list(deviceId: string): Promise<C2dMessage[]> {
    this.assertOpen();
    return (this.queues.get(deviceId)?.messages ?? []).map(copyMessage);
  }

  async count(deviceId: string): Promise<number> {
    this.assertOpen();
    return this.queues.get(deviceId)?.messages.length ?? 0;
  }

  async setDelivery(id: string, expectedLockToken: string | null, delivery: C2dDelivery): Promise<C2dMessage | undefined> {
    this.assertOpen();
    checkC2dDelivery(id, expectedLockToken, delivery);
    const located = this.locate(id);
    if (located === undefined) return undefined;
    const { queue, index } = located;
    const current = queue.messages[index]!;
    if (current.lockToken !== expectedLockToken) return undefined;
    const updated: C2dMessage = {
      ...current,
      deliveryCount: delivery.deliveryCount,
      lockToken: delivery.lockToken,
      lockedUntil: delivery.lockedUntil,
    };
    queue.messages[index] = updated;
    return copyMessage(updated);
  }

  async remove(removals: readonly C2dRemoval[]): Promise<C2dRemoveResult> {
    this.assertOpen();
    checkC2dRemovals(removals);
    const removed: string[] = [];
    const feedback: C2dFeedbackRecord[] = [];
    for (const removal of removals) {
      const located = this.locate(removal.id);
      if (located === undefined) continue;
      located.queue.messages.splice(located.index, 1);
      this.owners.delete(removal.id);
      removed.push(removal.id);
      if (removal.feedback !== undefined) {
        const record: C2dFeedbackRecord = { ...copyFeedbackAppend(removal.feedback), sequenceNumber: ++this.lastFeedbackSequenceNumber };
        this.feedback.push(record);
        feedback.push(copyFeedback(record));
      }
    }
    return { removed, feedback };
  }

  async devices(): Promise<string[]> {
    this.assertOpen();
    return [...this.queues.keys()].sort(compareCodePoints);
  }

  async deleteDevice(deviceId: string): Promise<number> {
    this.assertOpen();
    const queue = this.queues.get(deviceId);
    for (let i = this.feedback.length - 1; i >= 0; i--) {
      if (this.feedback[i]!.deviceId === deviceId) this.feedback.splice(i, 1);
    }
    if (queue === undefined) return 0;
    for (const message of queue.messages) this.owners.delete(message.id);
    this.queues.delete(deviceId);
    return queue.messages.length;
  }

  async readFeedback(options: C2dFeedbackReadOptions): Promise<C2dFeedbackRecord[]> {
    this.assertOpen();
    checkC2dFeedbackRead(options);
    if (options.limit <= 0) return [];
    return this.feedback
      .filter((record) => record.sequenceNumber >= options.fromSequenceNumber)
      .slice(0, options.limit)
      .map(copyFeedback);
  }

  async deleteFeedback(sequenceNumbers: readonly number[]): Promise<number> {
    this.assertOpen();
    checkC2dSequenceNumbers(sequenceNumbers);
    const wanted = new Set(sequenceNumbers);
    let deleted = 0;
    for (let i = this.feedback.length - 1; i >= 0; i--) {
      if (wanted.has(this.feedback[i]!.sequenceNumber)) {
        this.feedback.splice(i, 1);
        deleted++;
      }
    }
    return deleted;
  }

  async close(): Promise<void> {
    this.closed = true;
  }

  private locate(id: string): { queue: DeviceQueue; index: number } | undefined {
    const deviceId = this.owners.get(id);
    if (deviceId === undefined) return undefined;
    const queue = this.queues.get(deviceId)!;
    const index = queue.messages.findIndex((m) => m.id === id);
    return index < 0 ? undefined : { queue, index };
  }

  private assertOpen(): void {
    if (this.closed) throw new Error("the c2d store is closed");
  }
}

/** A private copy, maps through JSON as the SQLite store stores them (a "__proto__" key stays an ordinary key). */
function copyMessage(message: C2dMessage): C2dMessage {
  return {
    id: message.id,
    deviceId: message.deviceId,
    deviceGenerationId: message.deviceGenerationId,
    sequenceNumber: message.sequenceNumber,
    enqueuedTime: message.enqueuedTime,
    expiryTime: message.expiryTime,
    deliveryCount: message.deliveryCount,
    lockToken: message.lockToken,
    lockedUntil: message.lockedUntil,
    body: Buffer.from(message.body),
    properties: JSON.parse(JSON.stringify(message.properties)) as Record<string, string>,
    systemProperties: JSON.parse(JSON.stringify(message.systemProperties)) as C2dMessage["systemProperties"],
  };
}

function copyFeedback(record: C2dFeedbackRecord): C2dFeedbackRecord {
  return { ...copyFeedbackAppend(record), sequenceNumber: record.sequenceNumber };
}

/** Only the record's own fields, as the SQLite store keeps them. */
function copyFeedbackAppend(record: C2dFeedbackAppend): C2dFeedbackAppend {
  return {
    originalMessageId: record.originalMessageId,
    deviceId: record.deviceId,
    deviceGenerationId: record.deviceGenerationId,
    enqueuedTimeUtc: record.enqueuedTimeUtc,
    statusCode: record.statusCode,
    description: record.description,
  };
}

import { HubError } from "../errors/index.js";
import type { CallContext } from "../call-context.js";
import { requireRight } from "../auth/service-auth.js";
import type { C2dFeedbackRecord, C2dStore } from "../ports/c2d-store.js";
import type { Clock } from "../ports/clock.js";
import type { Ids } from "../ports/ids.js";
import type { HubTimers, TimerHandle } from "../timers/hub-timers.js";
import { KeyedSerial } from "./keyed-serial.js";
import { BackgroundWork } from "../../shared/background-work.js";
import { Listeners } from "../../shared/listeners.js";

/** The content type of a feedback message's body (service-protocol.md §4.5; the service SDKs check it). */
export const FEEDBACK_CONTENT_TYPE = "application/vnd.microsoft.iothub.feedback.json";

/** The hub's feedback queue settings (ARM `cloudToDevice.feedback`), plus the batch size. */
export interface C2dFeedbackSettings {
  /** `feedback.lockDurationAsIso8601`: 5 to 300 s, default 60 s. */
  readonly lockMs: number;
  /** `feedback.ttlAsIso8601`: how long a record waits for the service, 1 min to 48 h, default 1 h. */
  readonly ttlMs: number;
  /** `feedback.maxDeliveryCount`: 1 to 100, default 10. */
  readonly maxDeliveryCount: number;
  /** Records per feedback message: IoT Hub batches up to 64 (Learn, "Message feedback"); 1 to 64. */
  readonly maxBatch: number;
}

export const C2D_FEEDBACK_DEFAULT_SETTINGS: C2dFeedbackSettings = Object.freeze({
  lockMs: 60_000,
  ttlMs: 3600_000,
  maxDeliveryCount: 10,
  maxBatch: 64,
});

export interface C2dFeedbackDeps {
  /** Where C2dQueue appends feedback records; this queue reads and deletes them. */
  readonly store: C2dStore;
  /** The hub clock: record TTL and lock ends. */
  readonly clock: Clock;
  readonly timers: HubTimers;
  readonly ids: Ids;
  /** Errors no caller can receive (a lock-end sweep failed, a listener threw). */
  readonly reportError: (error: unknown) => void;
  readonly settings?: Partial<C2dFeedbackSettings>;
}

/** One feedback message as handed to the service's receiver: its records, locked together under one token. */
export interface C2dFeedbackBatch {
  readonly lockToken: string;
  /** Oldest first; rendered by {@link renderFeedbackBody}. */
  readonly records: readonly C2dFeedbackRecord[];
  /** The highest delivery count among the records (1 on a first delivery): the AMQP message's delivery count. */
  readonly deliveryCount: number;
}

/** One lock: the records of a batch, until the service settles it or the lock ends. */
interface Lock {
  readonly token: string;
  readonly sequenceNumbers: readonly number[];
  readonly until: number;
  readonly handle: TimerHandle;
}

/** What an operation changed, acted on once it has left the serial section. */
interface Effects {
  available: boolean;
}

/** The single serial section of the feedback queue (one queue per hub). */
const FEEDBACK = "$feedback";
/** Records read from the store per page while looking for a batch. */
const PAGE = 256;

/**
 * The service's feedback receiver queue (`/messages/serviceBound/feedback`, service-protocol.md §4.5). C2dQueue
 * appends a record to the C2dStore whenever a message with an `iothub-ack` is completed, rejected, expired,
 * dead-lettered or purged; this class hands those records to the service in batches of up to 64, each batch locked
 * under one token until the service completes, abandons or rejects it, or the lock ends.
 *
 * Locks and delivery counts live in memory only: the records themselves are durable, but after a restart every record
 * is available again with its count back at zero. That keeps the store's schema unchanged and gives the service
 * at-least-once delivery, which is what IoT Hub promises for feedback too (a receiver must tolerate duplicates).
 *
 * Operations run one at a time (KeyedSerial on one key). A record older than the feedback TTL is deleted rather than
 * delivered, and so is one that was already delivered `maxDeliveryCount` times without being completed (IoT Hub
 * dead-letters it; Malachite has no dead-letter queue to read, so it goes).
 */
export class C2dFeedback {
  readonly #deps: C2dFeedbackDeps;
  readonly #settings: C2dFeedbackSettings;
  readonly #serial = new KeyedSerial();
  readonly #listeners: Listeners;
  readonly #background: BackgroundWork;
  readonly #locks = new Map<string, Lock>();
  /** Sequence number → the token of the lock holding it. */
  readonly #lockedBy = new Map<number, string>();
  /** Sequence number → how many times it was delivered (only records delivered at least once). */
  readonly #deliveries = new Map<number, number>();

  constructor(deps: C2dFeedbackDeps) {
    this.#deps = deps;
    this.#background = new BackgroundWork(deps.reportError);
    this.#listeners = new Listeners(deps.reportError);
    this.#settings = checkSettings({ ...C2D_FEEDBACK_DEFAULT_SETTINGS, ...deps.settings });
  }

  get settings(): C2dFeedbackSettings {
    return this.#settings;
  }

  /**
   * The service's feedback receiver takes the oldest available records (at most `maxBatch`), locked together for the
   * lock duration under a fresh lock token, each one's delivery count one higher. Undefined when none is waiting.
   */
  async receive(ctx: CallContext): Promise<C2dFeedbackBatch | undefined> {
    requireRight(ctx, "ServiceConnect");
    return this.#op(async (fx) => {
      const now = this.#deps.clock.now();
      await this.#releaseEnded(now, fx);
      const batch: C2dFeedbackRecord[] = [];
      const drop: number[] = [];
      const seen = new Set<number>();
      let exhausted = false;
      let from = 0;
      while (batch.length < this.#settings.maxBatch) {
        const page = await this.#deps.store.readFeedback({ fromSequenceNumber: from, limit: PAGE });
        for (const record of page) {
          seen.add(record.sequenceNumber);
          if (this.#lockedBy.has(record.sequenceNumber)) continue;
          if (this.#expired(record, now) || (this.#deliveries.get(record.sequenceNumber) ?? 0) >= this.#settings.maxDeliveryCount) {
            drop.push(record.sequenceNumber);
          } else if (batch.length < this.#settings.maxBatch) {
            batch.push(record);
          }
        }
        if (page.length < PAGE) {
          exhausted = true;
          break;
        }
        from = page[page.length - 1]!.sequenceNumber + 1;
      }
      await this.#delete(drop);
      // Counts of records that left the store some other way (their device was deleted) would otherwise stay forever.
      if (exhausted) {
        for (const sequenceNumber of this.#deliveries.keys()) {
          if (!seen.has(sequenceNumber) && !this.#lockedBy.has(sequenceNumber)) this.#deliveries.delete(sequenceNumber);
        }
      }
      if (batch.length === 0) return undefined;
      let deliveryCount = 0;
      for (const record of batch) {
        const count = (this.#deliveries.get(record.sequenceNumber) ?? 0) + 1;
        this.#deliveries.set(record.sequenceNumber, count);
        deliveryCount = Math.max(deliveryCount, count);
      }
      const token = this.#guid();
      const until = now + this.#settings.lockMs;
      const handle = this.#deps.timers.at(until, () => {
        void this.#background.track(this.#op((timerFx) => this.#releaseEnded(this.#deps.clock.now(), timerFx)));
      });
      const sequenceNumbers = batch.map((r) => r.sequenceNumber);
      this.#locks.set(token, { token, sequenceNumbers, until, handle });
      for (const sequenceNumber of sequenceNumbers) this.#lockedBy.set(sequenceNumber, token);
      return Object.freeze({ lockToken: token, records: Object.freeze(batch), deliveryCount });
    });
  }

  /** The receiver accepted the batch: its records leave the queue. */
  complete(ctx: CallContext, lockToken: string): Promise<void> {
    return this.#settle(ctx, lockToken, "complete");
  }

  /** The receiver released the batch: its records are available again, their delivery counts kept. */
  abandon(ctx: CallContext, lockToken: string): Promise<void> {
    return this.#settle(ctx, lockToken, "abandon");
  }

  /** The receiver rejected the batch: dead-lettered, which here means deleted (there is no dead-letter queue to read). */
  reject(ctx: CallContext, lockToken: string): Promise<void> {
    return this.#settle(ctx, lockToken, "reject");
  }

  /** Calls `listener` whenever records become available (new feedback, an abandon, a lock end); returns an unsubscribe. */
  onAvailable(listener: () => void): () => void {
    return this.#listeners.add(listener);
  }

  /** C2dQueue queued feedback records (its onFeedback hook): a waiting receiver may take them. */
  notify(records: readonly C2dFeedbackRecord[]): void {
    if (records.length > 0) this.#listeners.notify();
  }

  /** Records waiting in the queue (locked or not), not past the feedback TTL. */
  async pending(): Promise<number> {
    const now = this.#deps.clock.now();
    let count = 0;
    let from = 0;
    for (;;) {
      const page = await this.#deps.store.readFeedback({ fromSequenceNumber: from, limit: PAGE });
      for (const record of page) if (!this.#expired(record, now)) count++;
      if (page.length < PAGE) return count;
      from = page[page.length - 1]!.sequenceNumber + 1;
    }
  }

  /** Resolves once the work started by lock-end timers has finished (tests; shutdown). */
  async idle(): Promise<void> {
    await this.#background.idle();
  }

  async #settle(ctx: CallContext, lockToken: string, outcome: "complete" | "abandon" | "reject"): Promise<void> {
    requireRight(ctx, "ServiceConnect");
    await this.#op(async (fx) => {
      // Locks that ended are released first, so a late settlement finds its token gone (412002), as on IoT Hub.
      await this.#releaseEnded(this.#deps.clock.now(), fx);
      const lock = typeof lockToken === "string" ? this.#locks.get(lockToken) : undefined;
      if (lock === undefined) {
        throw new HubError("DeviceMessageLockLost", {
          trackingId: ctx.trackingId,
          message: `The lock token '${String(lockToken)}' is not valid: the feedback was completed, abandoned or rejected already, or its lock expired`,
        });
      }
      if (outcome === "abandon") {
        await this.#release(lock, fx);
        return;
      }
      this.#unlock(lock);
      await this.#delete(lock.sequenceNumbers);
    });
  }

  /** Releases every lock that ended by `now`. */
  async #releaseEnded(now: number, fx: Effects): Promise<void> {
    for (const lock of [...this.#locks.values()]) {
      if (lock.until <= now) await this.#release(lock, fx);
    }
  }

  /**
   * Ends a lock without completion: records delivered `maxDeliveryCount` times are dead-lettered (deleted), the rest
   * are available again.
   */
  async #release(lock: Lock, fx: Effects): Promise<void> {
    this.#unlock(lock);
    const exceeded = lock.sequenceNumbers.filter((n) => (this.#deliveries.get(n) ?? 0) >= this.#settings.maxDeliveryCount);
    if (exceeded.length < lock.sequenceNumbers.length) fx.available = true;
    await this.#delete(exceeded);
  }

  #unlock(lock: Lock): void {
    lock.handle.cancel();
    this.#locks.delete(lock.token);
    for (const sequenceNumber of lock.sequenceNumbers) {
      if (this.#lockedBy.get(sequenceNumber) === lock.token) this.#lockedBy.delete(sequenceNumber);
    }
  }

  async #delete(sequenceNumbers: readonly number[]): Promise<void> {
    if (sequenceNumbers.length === 0) return;
    await this.#deps.store.deleteFeedback(sequenceNumbers);
    for (const sequenceNumber of sequenceNumbers) this.#deliveries.delete(sequenceNumber);
  }

  #expired(record: C2dFeedbackRecord, now: number): boolean {
    return record.enqueuedTimeUtc + this.#settings.ttlMs <= now;
  }

  /** Runs `task` alone, then tells the listeners if records became available (outside the serial section). */
  async #op<T>(task: (fx: Effects) => Promise<T>): Promise<T> {
    const fx: Effects = { available: false };
    try {
      return await this.#serial.run(FEEDBACK, () => task(fx));
    } finally {
      if (fx.available) this.#listeners.notify();
    }
  }



  /** A GUID: AMQP carries lock tokens as 16-byte delivery tags, and .NET reads them as a Guid. */
  #guid(): string {
    const hex = this.#deps.ids.trackingId().toLowerCase();
    if (!/^[0-9a-f]{32}$/.test(hex)) return hex;
    return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
  }
}

/**
 * The body of a feedback message: a UTF-8 JSON array, one object per record, fields in the order of Learn's sample
 * ("Message feedback"), e.g. `{"originalMessageId":"0987654321","enqueuedTimeUtc":"2015-07-28T16:24:48.789Z",
 * "statusCode":"Success","description":"Success","deviceId":"123","deviceGenerationId":"abcdefghijklmnopqrstuvwxyz"}`.
 */
export function renderFeedbackBody(records: readonly C2dFeedbackRecord[]): Buffer {
  const items = records.map((record) => ({
    originalMessageId: record.originalMessageId,
    enqueuedTimeUtc: new Date(record.enqueuedTimeUtc).toISOString(),
    statusCode: record.statusCode,
    description: record.description,
    deviceId: record.deviceId,
    deviceGenerationId: record.deviceGenerationId,
  }));
  return Buffer.from(JSON.stringify(items), "utf8");
}

function checkSettings(settings: C2dFeedbackSettings): C2dFeedbackSettings {
  const { lockMs, ttlMs, maxDeliveryCount, maxBatch } = settings;
  if (!Number.isSafeInteger(lockMs) || lockMs < 5_000 || lockMs > 300_000) {
    throw new RangeError("The feedback lock duration must be from 5 to 300 seconds (in ms)");
  }
  if (!Number.isSafeInteger(ttlMs) || ttlMs < 60_000 || ttlMs > 48 * 3600_000) {
    throw new RangeError("The feedback TTL must be from 1 minute to 48 hours (in ms)");
  }
  if (!Number.isSafeInteger(maxDeliveryCount) || maxDeliveryCount < 1 || maxDeliveryCount > 100) {
    throw new RangeError("The feedback max delivery count must be an integer from 1 to 100");
  }
  if (!Number.isSafeInteger(maxBatch) || maxBatch < 1 || maxBatch > 64) {
    throw new RangeError("The feedback batch size must be an integer from 1 to 64");
  }
  return Object.freeze({ lockMs, ttlMs, maxDeliveryCount, maxBatch });
}

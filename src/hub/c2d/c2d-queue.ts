import { HubError, isHubError } from "../errors/index.js";
import type { CallContext, DeviceCaller } from "../call-context.js";
import { requireRight } from "../auth/service-auth.js";
import type { Clock } from "../ports/clock.js";
import type { Ids } from "../ports/ids.js";
import type { Store, StoreWrite } from "../ports/store.js";
import {
  C2D_ACKS,
  type C2dAck,
  type C2dFeedbackAppend,
  type C2dFeedbackRecord,
  type C2dFeedbackStatus,
  type C2dMessage,
  type C2dStore,
  type C2dSystemProperties,
} from "../ports/c2d-store.js";
import type { HubTimers, TimerHandle } from "../timers/hub-timers.js";
import type { HubLimits } from "../limits/hub-limits.js";
import type { FaultRules } from "../faults/fault-rules.js";
import type { SerialQueue } from "../../shared/serial-queue.js";
import { checkId } from "../registry/identity-id.js";
import { identityNotFound } from "../registry/not-found.js";
import type { C2dEvent, C2dEventSink } from "./c2d-events.js";
import { KeyedSerial } from "./keyed-serial.js";
import { BackgroundWork } from "../../shared/background-work.js";

// service-protocol.md §4.8 and §7.4 (Learn, "Understand cloud-to-device messaging" and "IoT Hub quotas"): at most 50
// messages per device queue, lock 1 min (fixed), TTL default 1 h (hub setting, 1 min-48 h), at most 48 h,
// max delivery count default 10 (hub setting, 1-100), messages up to 64 KB.
export const C2D_MAX_QUEUE_DEPTH = 50;
export const C2D_LOCK_DURATION_MS = 60_000;
export const C2D_MAX_TTL_MS = 48 * 3600_000;
export const C2D_MIN_DEFAULT_TTL_MS = 60_000;
export const C2D_MAX_MESSAGE_BYTES = 64 * 1024;

/** The hub's cloud-to-device settings (ARM `cloudToDevice`): the configurable ones only. */
export interface C2dSettings {
  /** `defaultTtlAsIso8601`: 1 min to 48 h, default 1 h. */
  readonly defaultTtlMs: number;
  /** `maxDeliveryCount`: 1 to 100, default 10. */
  readonly maxDeliveryCount: number;
}

export const C2D_DEFAULT_SETTINGS: C2dSettings = { defaultTtlMs: 3600_000, maxDeliveryCount: 10 };

export interface C2dQueueDeps {
  readonly store: C2dStore;
  /** The identity store: the device must exist, and its cloudToDeviceMessageCount follows the queue depth. */
  readonly identities: Store;
  /** The registry's SerialQueue: every identity read-modify-write goes through it. */
  readonly writes: SerialQueue;
  readonly clock: Clock;
  readonly timers: HubTimers;
  readonly events: C2dEventSink;
  readonly ids: Ids;
  /** A message became receivable for the device (sent, abandoned, or its lock expired): a gateway may push it. */
  readonly onMessageAvailable: (deviceId: string) => void;
  /** Feedback records were queued for the service's feedback receiver (issue #4 serves them). */
  readonly onFeedback?: (records: readonly C2dFeedbackRecord[]) => void;
  /** Errors no caller can receive (a timer's sweep failed, a count update failed after the message was stored). */
  readonly reportError: (error: unknown) => void;
  readonly settings?: Partial<C2dSettings>;
  /** Tier limits: basic tiers have no C2D (403010), the send and HTTPS receive throttles, the quota (on delivery). */
  readonly hubLimits?: HubLimits;
  /** Fault injection (decision 0012): a rule that fires fails, delays or drops the call where it enters. */
  readonly faults?: FaultRules;
}

/** What the service's send carries, as the gateway decoded it. */
export interface C2dSendInput {
  readonly deviceId: string;
  readonly body: Buffer;
  /** Application properties (without `iothub-ack`, which goes in systemProperties.ack). */
  readonly properties?: Readonly<Record<string, string>>;
  readonly systemProperties?: C2dSendSystemProperties;
  /** AMQP `absolute-expiry-time`: ms since epoch, on the hub clock. Default: now + the hub's default TTL. */
  readonly expiryTimeUtc?: number;
}

export interface C2dSendSystemProperties {
  readonly messageId?: string;
  readonly correlationId?: string;
  readonly userId?: string;
  readonly contentType?: string;
  readonly contentEncoding?: string;
  /** `iothub-ack` as sent: none | positive | negative | full; absent means none. */
  readonly ack?: string;
}

/** The reply of `DELETE /devices/{id}/commands`. */
export interface C2dPurgeResult {
  readonly totalMessagesPurged: number;
  readonly deviceId: string;
  readonly moduleId: null;
}

type Outcome = "complete" | "reject" | "abandon";

/** What an operation changed, acted on once it has left the device's serial section. */
interface Effects {
  countChanged: boolean;
  available: boolean;
  readonly feedback: C2dFeedbackRecord[];
}

interface Removal {
  readonly message: C2dMessage;
  readonly status: C2dFeedbackStatus;
}

/** Wording of the feedback `description` per status [INF: IoT Hub's own texts for the non-Success codes are not documented]. */
const DESCRIPTIONS: Readonly<Record<C2dFeedbackStatus, string>> = {
  Success: "Success",
  Expired: "Message expired",
  DeliveryCountExceeded: "Message delivery count exceeded",
  Rejected: "Message rejected",
  Purged: "Message purged",
};

/** If a timer's sweep fails (the store is unavailable), it is tried again after this much hub time. */
const RETRY_MS = 5_000;

/**
 * The per-device cloud-to-device queues: send (service), receive and complete/reject/abandon (device), lock and TTL
 * timers on the hub clock, delivery counts, feedback and purge.
 *
 * Every operation of one device runs alone (KeyedSerial), and every change is durable in the C2dStore before the
 * operation resolves. Expiry and lock ends are found by one hub timer per device, armed at the earliest expiry or
 * lock end of its queue, and are also checked whenever the queue is touched, so a late timer never lets an expired
 * message or lock through. The identity's cloudToDeviceMessageCount is set to the queue's depth after every change
 * (through the registry's SerialQueue).
 */
export class C2dQueue {
  readonly #deps: C2dQueueDeps;
  readonly #settings: C2dSettings;
  readonly #serial = new KeyedSerial();
  readonly #timers = new Map<string, { readonly at: number; readonly handle: TimerHandle }>();
  /** Devices whose count awaits the next batched write, and the one batch being gathered (see #syncCount). */
  #countBatch: { readonly devices: Set<string>; readonly done: Promise<void> } | undefined;
  readonly #background: BackgroundWork;
  #closed = false;

  constructor(deps: C2dQueueDeps) {
    this.#deps = deps;
    this.#background = new BackgroundWork(deps.reportError);
    this.#settings = checkSettings({ ...C2D_DEFAULT_SETTINGS, ...deps.settings });
  }

  get settings(): C2dSettings {
    return this.#settings;
  }

  /** A service sends a message to a device (AMQP `/messages/devicebound`). Resolves once it is durably queued. */
  async send(ctx: CallContext, input: C2dSendInput): Promise<C2dMessage> {
    try {
      return await this.#send(ctx, input);
    } catch (error) {
      const messageId = input.systemProperties?.messageId;
      this.#refused(ctx, input.deviceId, typeof messageId === "string" ? messageId : null, "send", error);
      throw error;
    }
  }

  async #send(ctx: CallContext, input: C2dSendInput): Promise<C2dMessage> {
    requireRight(ctx, "ServiceConnect");
    const deviceId = checkId(input.deviceId, "DeviceId", ctx.trackingId);
    const { body, properties, systemProperties, size } = prepareSend(ctx, deviceId, input);
    if (size > C2D_MAX_MESSAGE_BYTES) {
      throw new HubError("MessageTooLarge", { trackingId: ctx.trackingId, message: `The message is ${size} bytes; a cloud-to-device message is at most ${C2D_MAX_MESSAGE_BYTES} bytes` });
    }
    const requestedExpiry = input.expiryTimeUtc;
    if (requestedExpiry !== undefined && (typeof requestedExpiry !== "number" || !Number.isFinite(requestedExpiry))) {
      throw invalid(ctx, "The expiry time must be a time (ms since epoch)");
    }
    await this.#deps.faults?.enter(ctx, "c2d.send", { deviceId });
    await this.#deps.hubLimits?.admit(ctx, "c2dSend");
    return this.#op(deviceId, async (fx) => {
      const now = this.#deps.clock.now();
      const entry = await this.#deps.identities.getIdentity({ deviceId, moduleId: "" });
      if (entry === undefined) throw identityNotFound({ deviceId, moduleId: "" }, ctx.trackingId);
      // service-protocol.md §4.4/§6.3: a C2D send to a disabled device is 404001 as well.
      if (entry.identity.status === "disabled") {
        throw new HubError("DeviceNotFound", { trackingId: ctx.trackingId, message: `Device '${deviceId}' is disabled` });
      }
      const live = await this.#sweep(deviceId, now, fx);
      if (live.length >= C2D_MAX_QUEUE_DEPTH) {
        this.#arm(deviceId, live);
        throw new HubError("DeviceMaximumQueueDepthExceeded", {
          trackingId: ctx.trackingId,
          message: `Device '${deviceId}' already has ${live.length} cloud-to-device messages queued, the most a device queue holds`,
        });
      }
      // An expiry beyond the 48 h maximum is brought down to it; one already past is accepted and expires at once.
      const expiryTime = requestedExpiry === undefined ? now + this.#settings.defaultTtlMs : Math.min(Math.floor(requestedExpiry), now + C2D_MAX_TTL_MS);
      const stored = await this.#deps.store.enqueue({
        id: this.#guid(),
        deviceId,
        deviceGenerationId: entry.identity.generationId,
        enqueuedTime: now,
        expiryTime,
        body,
        properties,
        systemProperties,
      });
      fx.countChanged = true;
      fx.available = true;
      this.#arm(deviceId, [...live, stored]);
      this.#emit({ type: "c2dSent", time: now, deviceId, messageId: stored.systemProperties.messageId ?? null, sizeInBytes: size, ack: stored.systemProperties.ack, expiryTime, protocol: ctx.protocol });
      return stored;
    });
  }

  /**
   * The device takes its next message: the oldest one neither locked nor expired, now locked for 60 s under a fresh
   * lock token, its delivery count one higher. Undefined when there is none.
   */
  async receive(ctx: CallContext, input: { readonly deviceId: string }): Promise<C2dMessage | undefined> {
    const { deviceId } = deviceCaller(ctx, input.deviceId);
    await this.#deps.faults?.enter(ctx, "c2d.receive");
    await this.#deps.hubLimits?.admit(ctx, "c2dReceive");
    return this.#op(deviceId, async (fx) => {
      const now = this.#deps.clock.now();
      const live = await this.#sweep(deviceId, now, fx);
      const exceeded: Removal[] = [];
      let delivered: C2dMessage | undefined;
      for (let i = 0; i < live.length && delivered === undefined; i++) {
        const message = live[i]!;
        if (message.lockToken !== null) continue;
        // Normally dead-lettered when its last lock ends; this catches a lowered maxDeliveryCount.
        if (message.deliveryCount >= this.#settings.maxDeliveryCount) {
          exceeded.push({ message, status: "DeliveryCountExceeded" });
          continue;
        }
        const locked = await this.#deps.store.setDelivery(message.id, null, {
          deliveryCount: message.deliveryCount + 1,
          lockToken: this.#guid(),
          lockedUntil: now + C2D_LOCK_DURATION_MS,
        });
        if (locked === undefined) continue;
        live[i] = locked;
        delivered = locked;
      }
      await this.#remove(exceeded, now, fx);
      this.#arm(deviceId, live.filter((m) => !exceeded.some((e) => e.message.id === m.id)));
      if (delivered !== undefined) {
        // Service-protocol.md §7.1: a C2D message counts against the daily quota when it is delivered.
        this.#deps.hubLimits?.meter(deliveredSize(delivered));
        this.#emit({ type: "c2dDelivered", time: now, deviceId, messageId: delivered.systemProperties.messageId ?? null, deliveryCount: delivered.deliveryCount, protocol: ctx.protocol });
      }
      return delivered;
    });
  }

  /** The device is done with the message: it is removed; feedback Success if its ack is positive or full. */
  complete(ctx: CallContext, lockToken: string): Promise<void> {
    return this.#settle(ctx, lockToken, "complete");
  }

  /** The device refuses the message: it is dead-lettered; feedback Rejected if its ack is negative or full. */
  reject(ctx: CallContext, lockToken: string): Promise<void> {
    return this.#settle(ctx, lockToken, "reject");
  }

  /** The device gives the message back: it is queued again with its delivery count kept. */
  abandon(ctx: CallContext, lockToken: string): Promise<void> {
    return this.#settle(ctx, lockToken, "abandon");
  }

  /** `DELETE /devices/{id}/commands`: removes every message of the device's queue. */
  async purge(ctx: CallContext, deviceId: string): Promise<C2dPurgeResult> {
    requireRight(ctx, "ServiceConnect");
    checkId(deviceId, "DeviceId", ctx.trackingId);
    await this.#deps.hubLimits?.admit(ctx, "c2dPurge");
    return this.#op(deviceId, async (fx) => {
      const entry = await this.#deps.identities.getIdentity({ deviceId, moduleId: "" });
      if (entry === undefined) throw identityNotFound({ deviceId, moduleId: "" }, ctx.trackingId);
      const now = this.#deps.clock.now();
      // Messages already past their expiry get their Expired feedback, not Purged.
      const live = await this.#sweep(deviceId, now, fx);
      const purged = await this.#remove(live.map((message) => ({ message, status: "Purged" as const })), now, fx);
      this.#arm(deviceId, []);
      this.#emit({ type: "c2dPurged", time: now, deviceId, count: purged });
      return { totalMessagesPurged: purged, deviceId, moduleId: null };
    });
  }

  /** Messages in the device's queue, locked or not, not expired. */
  async depth(deviceId: string): Promise<number> {
    const now = this.#deps.clock.now();
    const messages = await this.#deps.store.list(deviceId);
    return messages.filter((m) => m.expiryTime > now).length;
  }

  /**
   * The device was deleted: its queue and its pending feedback go (IoT Hub drops pending feedback for a deleted
   * device). Resolves once done; a failure is reported, not thrown.
   */
  deviceDeleted(deviceId: string): Promise<void> {
    return this.#background.track(
      this.#serial.run(deviceId, async () => {
        this.#disarm(deviceId);
        await this.#deps.store.deleteDevice(deviceId);
      }),
    );
  }

  /**
   * Call once at start, before the gateways accept connections: drops the queues of devices that no longer exist
   * (or messages sent to an earlier device of the same id), expires what expired while the hub was down, releases
   * locks that ended meanwhile, re-arms the timers and sets every cloudToDeviceMessageCount to its queue's depth.
   */
  async recover(): Promise<void> {
    for (const deviceId of await this.#deps.store.devices()) {
      await this.#op(deviceId, async (fx) => {
        const entry = await this.#deps.identities.getIdentity({ deviceId, moduleId: "" });
        if (entry === undefined) {
          await this.#deps.store.deleteDevice(deviceId);
          return;
        }
        const stale = (await this.#deps.store.list(deviceId)).filter((m) => m.deviceGenerationId !== entry.identity.generationId);
        if (stale.length > 0) await this.#deps.store.remove(stale.map((m) => ({ id: m.id })));
        const live = await this.#sweep(deviceId, this.#deps.clock.now(), fx);
        this.#arm(deviceId, live);
        fx.countChanged = true;
      });
    }
  }

  /** Resolves once the work started by timers and deviceDeleted has finished (tests; shutdown). */
  async idle(): Promise<void> {
    await this.#background.idle();
  }

  /** Stops the timers and waits for work in progress; call before closing the stores. */
  async close(): Promise<void> {
    this.#closed = true;
    for (const deviceId of [...this.#timers.keys()]) this.#disarm(deviceId);
    await this.idle();
  }

  async #settle(ctx: CallContext, lockToken: string, outcome: Outcome): Promise<void> {
    try {
      await this.#settleLocked(ctx, lockToken, outcome);
    } catch (error) {
      if (ctx.caller.kind === "device") this.#refused(ctx, ctx.caller.deviceId, null, outcome, error);
      throw error;
    }
  }

  /** C2DCommands logs failed sends and settlements (monitoring.md §2.3: 403004, 412002…), never successes. */
  #refused(ctx: CallContext, deviceId: unknown, messageId: string | null, operation: "send" | Outcome, error: unknown): void {
    if (!isHubError(error) || typeof deviceId !== "string") return;
    const time = this.#deps.clock.now();
    this.#emit({ type: "c2dRefused", time, deviceId, messageId, operation, error: error.errorName, protocol: ctx.protocol, ipAddress: ctx.client?.ipAddress });
  }

  async #settleLocked(ctx: CallContext, lockToken: string, outcome: Outcome): Promise<void> {
    const { deviceId } = deviceCaller(ctx, undefined);
    await this.#deps.faults?.enter(ctx, "c2d.settle");
    await this.#op(deviceId, async (fx) => {
      const now = this.#deps.clock.now();
      // Locks that ended (and messages that expired) are released first, so their tokens are no longer found.
      const live = await this.#sweep(deviceId, now, fx);
      const index = typeof lockToken === "string" && lockToken !== "" ? live.findIndex((m) => m.lockToken === lockToken) : -1;
      if (index < 0) {
        this.#arm(deviceId, live);
        throw new HubError("DeviceMessageLockLost", {
          trackingId: ctx.trackingId,
          message: `The lock token '${String(lockToken)}' of device '${deviceId}' is not valid: the message was completed, rejected or abandoned, or its lock expired`,
        });
      }
      const message = live[index]!;
      this.#emit({ type: "c2dSettled", time: now, deviceId, messageId: message.systemProperties.messageId ?? null, outcome, deliveryCount: message.deliveryCount, protocol: ctx.protocol });
      const rest = live.filter((_, i) => i !== index);
      if (outcome === "complete") {
        await this.#remove([{ message, status: "Success" }], now, fx);
      } else if (outcome === "reject") {
        await this.#remove([{ message, status: "Rejected" }], now, fx);
      } else if (message.deliveryCount >= this.#settings.maxDeliveryCount) {
        // Abandoned after its last allowed delivery: dead-lettered rather than queued again.
        await this.#remove([{ message, status: "DeliveryCountExceeded" }], now, fx);
      } else {
        const released = await this.#deps.store.setDelivery(message.id, lockToken, { deliveryCount: message.deliveryCount, lockToken: null, lockedUntil: null });
        if (released !== undefined) {
          rest.splice(index, 0, released);
          fx.available = true;
        }
      }
      this.#arm(deviceId, rest);
    });
  }

  /**
   * Removes expired messages and releases ended locks of one device (dead-lettering a message whose last allowed
   * delivery ended); returns the messages left, in sequence order.
   */
  async #sweep(deviceId: string, now: number, fx: Effects): Promise<C2dMessage[]> {
    const messages = await this.#deps.store.list(deviceId);
    const removals: Removal[] = [];
    const kept: C2dMessage[] = [];
    for (const message of messages) {
      if (message.expiryTime <= now) {
        removals.push({ message, status: "Expired" });
        continue;
      }
      if (message.lockToken === null || message.lockedUntil === null || message.lockedUntil > now) {
        kept.push(message);
        continue;
      }
      this.#emit({ type: "c2dLockExpired", time: now, deviceId, messageId: message.systemProperties.messageId ?? null, deliveryCount: message.deliveryCount });
      if (message.deliveryCount >= this.#settings.maxDeliveryCount) {
        removals.push({ message, status: "DeliveryCountExceeded" });
        continue;
      }
      // Back to Enqueued; the delivery count stays, and the next delivery adds one.
      const released = await this.#deps.store.setDelivery(message.id, message.lockToken, { deliveryCount: message.deliveryCount, lockToken: null, lockedUntil: null });
      if (released === undefined) continue;
      kept.push(released);
      fx.available = true;
    }
    await this.#remove(removals, now, fx);
    return kept;
  }

  /** Removes messages with the feedback their ack asks for, in one store write; returns how many were removed. */
  async #remove(removals: readonly Removal[], now: number, fx: Effects): Promise<number> {
    if (removals.length === 0) return 0;
    const result = await this.#deps.store.remove(removals.map(({ message, status }) => ({ id: message.id, feedback: feedbackFor(message, status, now) })));
    if (result.removed.length > 0) fx.countChanged = true;
    fx.feedback.push(...result.feedback);
    const removed = new Set(result.removed);
    for (const { message, status } of removals) {
      if (!removed.has(message.id) || (status !== "Expired" && status !== "DeliveryCountExceeded")) continue;
      this.#emit({
        type: "c2dDeadLettered", time: now, deviceId: message.deviceId, messageId: message.systemProperties.messageId ?? null, reason: status, deliveryCount: message.deliveryCount,
        sizeInBytes: message.body.length, ack: message.systemProperties.ack, enqueuedTime: message.enqueuedTime, expiryTime: message.expiryTime,
      });
    }
    for (const record of result.feedback) {
      this.#emit({ type: "c2dFeedbackQueued", time: now, deviceId: record.deviceId, originalMessageId: record.originalMessageId, statusCode: record.statusCode });
    }
    return result.removed.length;
  }

  /** Runs `task` alone for the device, then updates the identity's count and tells the listeners what changed. */
  async #op<T>(deviceId: string, task: (fx: Effects) => Promise<T>): Promise<T> {
    const fx: Effects = { countChanged: false, available: false, feedback: [] };
    try {
      return await this.#serial.run(deviceId, () => task(fx));
    } finally {
      if (fx.countChanged) {
        // The message operation itself is durable by now: a failed count update is reported, not thrown.
        await this.#syncCount(deviceId).catch((error: unknown) => this.#deps.reportError(error));
      }
      if (fx.feedback.length > 0) this.#notify(() => this.#deps.onFeedback?.(fx.feedback));
      if (fx.available) this.#notify(() => this.#deps.onMessageAvailable(deviceId));
    }
  }

  /**
   * Sets the device's cloudToDeviceMessageCount to its queue's depth, read inside the registry's SerialQueue so it
   * never races another identity write. Every device asking while a batch waits for its turn joins that batch, and
   * the batch is one store write: under load, many sends and completions share one fsync instead of queueing one
   * each behind the registry (the AMQP benchmark found that capping C2D at ~1,000 messages/s).
   */
  #syncCount(deviceId: string): Promise<void> {
    if (this.#countBatch !== undefined) {
      this.#countBatch.devices.add(deviceId);
      return this.#countBatch.done;
    }
    const devices = new Set([deviceId]);
    const done = this.#deps.writes.run(async () => {
      // From here on, new requests start the next batch: this one reads the depths now.
      if (this.#countBatch?.devices === devices) this.#countBatch = undefined;
      const writes: StoreWrite[] = [];
      for (const id of devices) {
        const depth = await this.#deps.store.count(id);
        const entry = await this.#deps.identities.getIdentity({ deviceId: id, moduleId: "" });
        if (entry === undefined || entry.identity.cloudToDeviceMessageCount === depth) continue;
        writes.push({ kind: "patch", key: { deviceId: id, moduleId: "" }, fields: { cloudToDeviceMessageCount: depth } });
      }
      if (writes.length > 0) await this.#deps.identities.write(writes);
    });
    this.#countBatch = { devices, done };
    return done;
  }

  /** One hub timer per device, at the earliest expiry or lock end of what is left in its queue. */
  #arm(deviceId: string, messages: readonly C2dMessage[]): void {
    let due = Infinity;
    for (const m of messages) due = Math.min(due, m.expiryTime, m.lockedUntil ?? Infinity);
    const current = this.#timers.get(deviceId);
    if (current !== undefined && current.at === due) return;
    this.#disarm(deviceId);
    if (due === Infinity || this.#closed) return;
    this.#setTimer(deviceId, due);
  }

  #setTimer(deviceId: string, at: number): void {
    const handle = this.#deps.timers.at(at, () => {
      if (this.#timers.get(deviceId)?.handle !== handle) return;
      this.#timers.delete(deviceId);
      void this.#background.track(
        this.#op(deviceId, async (fx) => {
          try {
            const live = await this.#sweep(deviceId, this.#deps.clock.now(), fx);
            this.#arm(deviceId, live);
          } catch (error) {
            if (!this.#closed && !this.#timers.has(deviceId)) this.#setTimer(deviceId, this.#deps.clock.now() + RETRY_MS);
            throw error;
          }
        }),
      );
    });
    this.#timers.set(deviceId, { at, handle });
  }

  #disarm(deviceId: string): void {
    this.#timers.get(deviceId)?.handle.cancel();
    this.#timers.delete(deviceId);
  }


  #notify(fn: () => void): void {
    try {
      fn();
    } catch (error) {
      this.#deps.reportError(error);
    }
  }

  #emit(event: C2dEvent): void {
    this.#deps.events.emit(event);
  }

  /** A GUID (lock tokens and message ids): AMQP carries lock tokens as 16-byte delivery tags, .NET reads them as Guid. */
  #guid(): string {
    const hex = this.#deps.ids.trackingId().toLowerCase();
    if (!/^[0-9a-f]{32}$/.test(hex)) return hex;
    return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
  }
}

function checkSettings(settings: C2dSettings): C2dSettings {
  const { defaultTtlMs, maxDeliveryCount } = settings;
  if (!Number.isSafeInteger(defaultTtlMs) || defaultTtlMs < C2D_MIN_DEFAULT_TTL_MS || defaultTtlMs > C2D_MAX_TTL_MS) {
    throw new RangeError("The C2D default TTL must be from 1 minute to 48 hours (in ms)");
  }
  if (!Number.isSafeInteger(maxDeliveryCount) || maxDeliveryCount < 1 || maxDeliveryCount > 100) {
    throw new RangeError("The C2D max delivery count must be an integer from 1 to 100");
  }
  return Object.freeze({ defaultTtlMs, maxDeliveryCount });
}

function invalid(ctx: CallContext, message: string): HubError {
  return new HubError("ArgumentInvalid", { trackingId: ctx.trackingId, message });
}

/**
 * The device calling about its own queue. Modules have no C2D queue on IoT Hub's device protocols (their "C2D" is
 * Edge routing to inputs), and a device may only reach its own messages.
 */
function deviceCaller(ctx: CallContext, deviceId: string | undefined): DeviceCaller {
  const caller = ctx.caller;
  if (caller.kind !== "device") {
    throw new HubError("IotHubUnauthorizedAccess", { trackingId: ctx.trackingId, message: "Only a device receives and settles its cloud-to-device messages" });
  }
  if (caller.moduleId !== "") {
    throw new HubError("IotHubUnauthorizedAccess", { trackingId: ctx.trackingId, message: `Module '${caller.moduleId}' has no cloud-to-device queue; only devices do` });
  }
  if (deviceId !== undefined && deviceId !== caller.deviceId) {
    throw new HubError("IotHubUnauthorizedAccess", { trackingId: ctx.trackingId, message: `Device '${caller.deviceId}' cannot receive the messages of device '${deviceId}'` });
  }
  return caller;
}

/**
 * Validates and snapshots a send. The size counted against the 64 KB limit is IoT Hub's message size: the body, the
 * values of the system properties and the names and values of the application properties (iothub-ack included).
 */
function prepareSend(ctx: CallContext, deviceId: string, input: C2dSendInput): { body: Buffer; properties: Record<string, string>; systemProperties: C2dSystemProperties; size: number } {
  if (!Buffer.isBuffer(input.body)) throw invalid(ctx, "The message body must be bytes");
  const properties: Record<string, string> = {};
  let size = input.body.length;
  const given = input.properties ?? {};
  if (typeof given !== "object" || given === null || Array.isArray(given)) throw invalid(ctx, "The application properties must be a map of strings");
  for (const [name, value] of Object.entries(given)) {
    if (typeof value !== "string") throw invalid(ctx, `The application property '${name}' must be a string`);
    // defineProperty keeps a "__proto__" name an ordinary property.
    Object.defineProperty(properties, name, { value, enumerable: true, writable: true, configurable: true });
    size += Buffer.byteLength(name) + Buffer.byteLength(value);
  }
  const sent = input.systemProperties ?? {};
  const ack = sent.ack ?? "none";
  if (!(C2D_ACKS as readonly string[]).includes(ack)) {
    throw invalid(ctx, `The iothub-ack value '${String(ack)}' is not valid: it must be none, positive, negative or full`);
  }
  if (sent.ack !== undefined) size += Buffer.byteLength("iothub-ack") + Buffer.byteLength(ack);
  const systemProperties: { -readonly [K in keyof C2dSystemProperties]: C2dSystemProperties[K] } = {
    // IoT Hub sets `to` to the device's endpoint (Learn: "IoT Hub sets the to property to /devices/{deviceId}/messages/devicebound").
    to: `/devices/${encodeURIComponent(deviceId)}/messages/devicebound`,
    ack: ack as C2dAck,
  };
  for (const key of ["messageId", "correlationId", "userId", "contentType", "contentEncoding"] as const) {
    const value = sent[key];
    if (value === undefined) continue;
    if (typeof value !== "string") throw invalid(ctx, `The system property '${key}' must be a string`);
    systemProperties[key] = value;
    size += Buffer.byteLength(value);
  }
  return { body: Buffer.from(input.body), properties, systemProperties, size };
}

/** A delivered message's metered size: body, application property names and values, system property values. */
function deliveredSize(message: C2dMessage): number {
  let size = message.body.length;
  for (const [name, value] of Object.entries(message.properties)) size += Buffer.byteLength(name) + Buffer.byteLength(value);
  for (const value of Object.values(message.systemProperties)) if (typeof value === "string") size += Buffer.byteLength(value);
  return size;
}

/**
 * positive/full ask for Success; negative/full for every dead-letter outcome (service-protocol.md §4.8). The record's
 * time is when the outcome happened: for an expiry noticed late (the hub was down) that is the expiry time.
 */
function feedbackFor(message: C2dMessage, status: C2dFeedbackStatus, now: number): C2dFeedbackAppend | undefined {
  const ack = message.systemProperties.ack;
  const wanted = status === "Success" ? ack === "positive" || ack === "full" : ack === "negative" || ack === "full";
  if (!wanted) return undefined;
  return {
    originalMessageId: message.systemProperties.messageId ?? "",
    deviceId: message.deviceId,
    deviceGenerationId: message.deviceGenerationId,
    enqueuedTimeUtc: status === "Expired" ? Math.min(message.expiryTime, now) : now,
    statusCode: status,
    description: DESCRIPTIONS[status],
  };
}

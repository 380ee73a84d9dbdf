import { HubError } from "../errors/index.js";
import type { CallContext } from "../call-context.js";
import { requireRight } from "../auth/service-auth.js";
import type { BlobStorage } from "../ports/blob-storage.js";
import type { Clock } from "../ports/clock.js";
import type { FileNotificationAppend, FileNotificationRecord, FileUploadRecord, FileUploadStore } from "../ports/file-upload-store.js";
import type { Ids } from "../ports/ids.js";
import type { Store } from "../ports/store.js";
import type { HubTimers, TimerHandle } from "../timers/hub-timers.js";
import type { HubLimits } from "../limits/hub-limits.js";
import type { FaultRules } from "../faults/fault-rules.js";
import { KeyedSerial } from "../c2d/keyed-serial.js";
import { hubTime } from "../time.js";
import type { FileUploadEvent, FileUploadEventSink } from "./file-upload-events.js";
import { BackgroundWork } from "../../shared/background-work.js";
import { Listeners } from "../../shared/listeners.js";

// service-protocol.md §6.3/§7.4 (Learn, "IoT Hub quotas and throttling"): at most 10 concurrent file uploads per
// device; the 11th request is 403006 "Number of active file upload requests cannot exceed 10".
export const FILE_UPLOAD_MAX_ACTIVE = 10;
// Azure Storage: a blob name is 1 to 1024 characters.
export const FILE_UPLOAD_MAX_BLOB_NAME = 1024;
// ARM `storageEndpoints.$default.sasTtlAsIso8601`: default 1 h; the portal offers 1 to 24 h. Malachite also accepts
// down to 1 min [INF: a shorter TTL helps tests that wait for a SAS to expire in real time].
export const FILE_UPLOAD_MIN_SAS_TTL_MS = 60_000;
export const FILE_UPLOAD_MAX_SAS_TTL_MS = 24 * 3600_000;

/** The hub's file upload settings (ARM `storageEndpoints.$default`, `enableFileUploadNotifications`, `messagingEndpoints.fileNotifications`). */
export interface FileUploadSettings {
  /** `sasTtlAsIso8601`: how long a SAS URI, and so its correlation, is valid. 1 min to 24 h, default 1 h. */
  readonly sasTtlMs: number;
  /** `enableFileUploadNotifications`, default true. */
  readonly notifications: boolean;
  /** `fileNotifications.ttlAsIso8601`: 1 min to 48 h, default 1 h. */
  readonly notificationTtlMs: number;
  /** `fileNotifications.lockDurationAsIso8601`: 5 to 300 s, default 60 s. */
  readonly notificationLockMs: number;
  /** `fileNotifications.maxDeliveryCount`: 1 to 100, default 100. */
  readonly notificationMaxDeliveryCount: number;
}

export const FILE_UPLOAD_DEFAULT_SETTINGS: FileUploadSettings = Object.freeze({
  sasTtlMs: 3600_000,
  notifications: true,
  notificationTtlMs: 3600_000,
  notificationLockMs: 60_000,
  notificationMaxDeliveryCount: 100,
});

export interface FileUploadsDeps {
  readonly store: FileUploadStore;
  readonly blobs: BlobStorage;
  /** The identity store: uploads of devices that no longer exist are dropped at start. */
  readonly identities: Store;
  /** The hub clock: correlation and notification lifetimes, locks. */
  readonly clock: Clock;
  /** Wall time: the SAS expiry the storage checks against its own clock. */
  readonly wallClock: Clock;
  readonly timers: HubTimers;
  readonly events: FileUploadEventSink;
  readonly ids: Ids;
  /** Errors no caller can receive (a timer's sweep failed, a listener threw). */
  readonly reportError: (error: unknown) => void;
  readonly settings?: Partial<FileUploadSettings>;
  /** Tier limits: the file upload throttle; initiation and completion count one message each against the quota. */
  readonly hubLimits?: HubLimits;
  /** Fault injection (decision 0012): a rule that fires fails, delays or drops the call where it enters. */
  readonly faults?: FaultRules;
}

/** The reply of `POST /devices/{id}/files`, field for field. */
export interface FileUploadSasUri {
  readonly correlationId: string;
  readonly hostName: string;
  readonly containerName: string;
  readonly blobName: string;
  readonly sasToken: string;
}

/** `POST /devices/{id}/files/notifications[/{correlationId}]` as the gateway decoded it (values unchecked). */
export interface FileUploadNotifyInput {
  readonly deviceId: string;
  readonly correlationId: unknown;
  readonly isSuccess: unknown;
  readonly statusCode?: unknown;
  readonly statusDescription?: unknown;
}

/** The JSON body of a file notification (service-protocol.md §4.6), content type `application/vnd.microsoft.iothub.filenotification.json`. */
export interface FileNotificationBody {
  readonly deviceId: string;
  readonly blobUri: string;
  readonly blobName: string;
  readonly lastUpdatedTime: string;
  readonly blobSizeInBytes: number;
  readonly enqueuedTimeUtc: string;
}

export const FILE_NOTIFICATION_CONTENT_TYPE = "application/vnd.microsoft.iothub.filenotification.json";

/** A key no device id can be (ids have no spaces): the notification queue's serial section. */
const NOTIFICATIONS = "$file notifications";
/** If a timer's sweep fails (the store is unavailable), it is tried again after this much hub time. */
const RETRY_MS = 5_000;
/** Timers are rounded up to this, so uploads expiring close together are swept together. */
const TIMER_GRANULARITY_MS = 1_000;

/**
 * File upload (device-protocol.md §4.4): SAS URIs for `{deviceId}/{blobName}` in the linked storage, at most 10 open
 * uploads per device, completion notifications from the device, and the queue of file notifications the service
 * reads from `/messages/serviceBound/filenotifications` (the AMQP gateway serves it through receiveNotification and
 * complete/abandon/rejectNotification).
 *
 * An upload is open from its SAS URI until the device notifies its outcome or the SAS TTL passes on the hub clock; an
 * expired upload no longer counts against the limit as soon as the hub clock passes its expiry (every count filters
 * by time), and a hub timer removes it from the store and reports it. Each device's operations run one at a time, as
 * do the notification queue's. Every change is durable in the FileUploadStore before the operation resolves.
 */
export class FileUploads {
  readonly #deps: FileUploadsDeps;
  readonly #settings: FileUploadSettings;
  readonly #serial = new KeyedSerial();
  readonly #background: BackgroundWork;
  readonly #listeners: Listeners;
  #timer: { readonly at: number; readonly handle: TimerHandle } | undefined;
  #closed = false;

  constructor(deps: FileUploadsDeps) {
    this.#deps = deps;
    this.#background = new BackgroundWork(deps.reportError);
    this.#listeners = new Listeners(deps.reportError);
    this.#settings = checkSettings({ ...FILE_UPLOAD_DEFAULT_SETTINGS, ...deps.settings });
  }

  get settings(): FileUploadSettings {
    return this.#settings;
  }

  /** `POST /devices/{id}/files`: a SAS URI for `{deviceId}/{blobName}`, and a correlation id for the notification. */
  async createSasUri(ctx: CallContext, input: { readonly deviceId: string; readonly blobName: unknown }): Promise<FileUploadSasUri> {
    const deviceId = deviceCaller(ctx, input.deviceId);
    const blobName = `${deviceId}/${checkBlobName(ctx, input.blobName)}`;
    if (blobName.length > FILE_UPLOAD_MAX_BLOB_NAME) {
      throw invalid(ctx, `The blob name '${deviceId}/…' is ${blobName.length} characters long; with the device id prefix it must be at most ${FILE_UPLOAD_MAX_BLOB_NAME}`);
    }
    try {
      await this.#deps.faults?.enter(ctx, "fileUpload");
      await this.#deps.hubLimits?.admit(ctx, "fileUploadStart");
    } catch (error) {
      // An injected refusal, a throttle's 429001 or a quota's 403002 is logged as a real refusal is (a
      // FileUploadOperations record with its code).
      if (error instanceof HubError) {
        this.#emit({ type: "fileUploadRefused", time: this.#deps.clock.now(), deviceId, blobName, activeUploads: 0, protocol: ctx.protocol, error: error.errorName });
      }
      throw error;
    }
    return this.#serial.run(deviceId, async () => {
      const now = this.#deps.clock.now();
      const open = await this.#openUploads(deviceId, now);
      if (open.length >= FILE_UPLOAD_MAX_ACTIVE) {
        this.#emit({ type: "fileUploadRefused", time: now, deviceId, blobName, activeUploads: open.length, protocol: ctx.protocol });
        throw new HubError("DeviceMaximumActiveFileUploadLimitExceeded", {
          trackingId: ctx.trackingId,
          message: `Number of active file upload requests cannot exceed ${FILE_UPLOAD_MAX_ACTIVE}`,
        });
      }
      // A storage failure (unreachable, embedded storage failed to start) propagates: the gateway answers 500 and logs it.
      const grant = await this.#deps.blobs.grantUpload(blobName, this.#deps.wallClock.now() + this.#settings.sasTtlMs);
      const upload: FileUploadRecord = {
        correlationId: this.#correlationId(now),
        deviceId,
        blobName,
        blobUri: grant.blobUri,
        createdTime: now,
        expiryTime: now + this.#settings.sasTtlMs,
      };
      await this.#deps.store.addUpload(upload);
      this.#schedule(upload.expiryTime);
      this.#emit({ type: "fileUploadStarted", time: now, deviceId, correlationId: upload.correlationId, blobName, blobUri: upload.blobUri, expiryTime: upload.expiryTime, protocol: ctx.protocol });
      return { correlationId: upload.correlationId, hostName: grant.hostName, containerName: grant.containerName, blobName: grant.blobName, sasToken: grant.sasToken };
    });
  }

  /**
   * `POST /devices/{id}/files/notifications`: the device reports how its upload went. The upload is closed (its slot
   * is free); after a successful upload of a blob that exists, and with notifications enabled, a file notification is
   * queued in the same durable write. An unknown, already notified or expired correlation id is 400006.
   */
  async notify(ctx: CallContext, input: FileUploadNotifyInput): Promise<void> {
    const deviceId = deviceCaller(ctx, input.deviceId);
    const outcome = checkOutcome(ctx, input);
    await this.#deps.faults?.enter(ctx, "fileUpload");
    await this.#deps.hubLimits?.admit(ctx, "fileUploadComplete");
    await this.#serial.run(deviceId, async () => {
      const now = this.#deps.clock.now();
      const upload = await this.#deps.store.getUpload(outcome.correlationId);
      if (upload === undefined || upload.deviceId !== deviceId) throw unknownCorrelation(ctx, outcome.correlationId, deviceId);
      if (upload.expiryTime <= now) {
        await this.#expire([upload], now);
        throw unknownCorrelation(ctx, outcome.correlationId, deviceId);
      }
      let notification: FileNotificationAppend | undefined;
      if (outcome.isSuccess && this.#settings.notifications) {
        // A failure to reach the storage propagates (500) and leaves the upload open, so the device may notify again.
        const info = await this.#deps.blobs.blobInfo(upload.blobName);
        // [INF] A success notification for a blob that was never committed closes the upload but notifies nobody:
        // there is no size or time to report.
        if (info !== undefined) {
          notification = {
            deviceId,
            blobName: upload.blobName,
            blobUri: upload.blobUri,
            lastUpdatedTime: Math.floor(info.lastModified),
            blobSizeInBytes: info.sizeInBytes,
            enqueuedTime: now,
            expiryTime: now + this.#settings.notificationTtlMs,
          };
        }
      }
      const result = await this.#deps.store.closeUpload(upload.correlationId, notification);
      if (!result.closed) throw unknownCorrelation(ctx, outcome.correlationId, deviceId);
      this.#emit({
        type: "fileUploadCompleted",
        time: now,
        deviceId,
        correlationId: upload.correlationId,
        blobName: upload.blobName,
        blobUri: upload.blobUri,
        isSuccess: outcome.isSuccess,
        statusCode: outcome.statusCode,
        statusDescription: outcome.statusDescription,
        notified: result.notification !== undefined,
        protocol: ctx.protocol,
      });
      if (result.notification !== undefined) this.#queued(result.notification);
    });
  }

  /** The device's open uploads (not notified, not expired), oldest first. */
  async openUploads(deviceId: string): Promise<FileUploadRecord[]> {
    return this.#openUploads(deviceId, this.#deps.clock.now());
  }

  /**
   * The service's file notification receiver takes the oldest available notification: it is locked for the queue's
   * lock duration under a fresh lock token, its delivery count one higher. Undefined when none is waiting.
   */
  async receiveNotification(ctx: CallContext): Promise<FileNotificationRecord | undefined> {
    requireRight(ctx, "ServiceConnect");
    return this.#serial.run(NOTIFICATIONS, async () => {
      const now = this.#deps.clock.now();
      const exceeded: FileNotificationRecord[] = [];
      let delivered: FileNotificationRecord | undefined;
      for (const notification of await this.#sweepNotifications(now)) {
        if (notification.lockToken !== null) continue;
        // Normally dead-lettered when its last lock ends; this catches a lowered max delivery count.
        if (notification.deliveryCount >= this.#settings.notificationMaxDeliveryCount) {
          exceeded.push(notification);
          continue;
        }
        const locked = await this.#deps.store.setNotificationDelivery(notification.sequenceNumber, null, {
          deliveryCount: notification.deliveryCount + 1,
          lockToken: this.#guid(),
          lockedUntil: now + this.#settings.notificationLockMs,
        });
        if (locked === undefined) continue;
        this.#schedule(locked.lockedUntil!);
        this.#emit({ type: "fileNotificationDelivered", time: now, deviceId: locked.deviceId, blobName: locked.blobName, sequenceNumber: locked.sequenceNumber, deliveryCount: locked.deliveryCount, protocol: ctx.protocol });
        delivered = locked;
        break;
      }
      await this.#deadLetter(exceeded.map((notification) => ({ notification, reason: "DeliveryCountExceeded" as const })), now);
      return delivered;
    });
  }

  /** The receiver accepted the notification: it leaves the queue. */
  completeNotification(ctx: CallContext, lockToken: string): Promise<void> {
    return this.#settle(ctx, lockToken, "complete");
  }

  /** The receiver released it: available again, its delivery count kept (dead-lettered after the last allowed delivery). */
  abandonNotification(ctx: CallContext, lockToken: string): Promise<void> {
    return this.#settle(ctx, lockToken, "abandon");
  }

  /** The receiver rejected it: dead-lettered. */
  rejectNotification(ctx: CallContext, lockToken: string): Promise<void> {
    return this.#settle(ctx, lockToken, "reject");
  }

  /** Notifications waiting in the queue (locked or not, not expired). */
  async pendingNotifications(): Promise<number> {
    const now = this.#deps.clock.now();
    return (await this.#deps.store.notifications()).filter((n) => n.expiryTime > now).length;
  }

  /** Calls `listener` whenever a notification becomes available (queued, abandoned, or its lock ended); returns an unsubscribe. */
  onNotificationAvailable(listener: () => void): () => void {
    return this.#listeners.add(listener);
  }

  /** The device was deleted: its open uploads go (their correlation ids are no longer valid). A failure is reported. */
  deviceDeleted(deviceId: string): Promise<void> {
    return this.#background.track(this.#serial.run(deviceId, () => this.#deps.store.deleteDeviceUploads(deviceId)));
  }

  /**
   * Call once at start, before the gateways accept requests: drops the open uploads of devices that no longer exist,
   * expires what expired while the hub was down, releases notification locks that ended, and arms the timer.
   */
  async recover(): Promise<void> {
    const exists = new Map<string, boolean>();
    const orphans: string[] = [];
    for (const upload of await this.#deps.store.uploads()) {
      let known = exists.get(upload.deviceId);
      if (known === undefined) {
        known = (await this.#deps.identities.getIdentity({ deviceId: upload.deviceId, moduleId: "" })) !== undefined;
        exists.set(upload.deviceId, known);
      }
      if (!known) orphans.push(upload.correlationId);
    }
    if (orphans.length > 0) await this.#deps.store.removeUploads(orphans);
    await this.#sweep();
  }

  /** Resolves once the work started by timers and deviceDeleted has finished (tests; shutdown). */
  async idle(): Promise<void> {
    await this.#background.idle();
  }

  /** Stops the timer and waits for work in progress; call before closing the stores. */
  async close(): Promise<void> {
    this.#closed = true;
    this.#timer?.handle.cancel();
    this.#timer = undefined;
    await this.idle();
  }

  async #openUploads(deviceId: string, now: number): Promise<FileUploadRecord[]> {
    return (await this.#deps.store.uploads(deviceId)).filter((u) => u.expiryTime > now);
  }

  async #settle(ctx: CallContext, lockToken: string, outcome: "complete" | "abandon" | "reject"): Promise<void> {
    requireRight(ctx, "ServiceConnect");
    await this.#serial.run(NOTIFICATIONS, async () => {
      const now = this.#deps.clock.now();
      const live = await this.#sweepNotifications(now);
      const notification = typeof lockToken === "string" && lockToken !== "" ? live.find((n) => n.lockToken === lockToken) : undefined;
      if (notification === undefined) {
        throw new HubError("DeviceMessageLockLost", {
          trackingId: ctx.trackingId,
          message: `The lock token '${String(lockToken)}' is not valid: the file notification was settled already, or its lock expired`,
        });
      }
      this.#emit({ type: "fileNotificationSettled", time: now, deviceId: notification.deviceId, blobName: notification.blobName, sequenceNumber: notification.sequenceNumber, outcome, protocol: ctx.protocol });
      if (outcome === "complete") {
        await this.#deps.store.removeNotifications([notification.sequenceNumber]);
      } else if (outcome === "reject") {
        await this.#deadLetter([{ notification, reason: "Rejected" }], now);
      } else if (notification.deliveryCount >= this.#settings.notificationMaxDeliveryCount) {
        await this.#deadLetter([{ notification, reason: "DeliveryCountExceeded" }], now);
      } else {
        const released = await this.#deps.store.setNotificationDelivery(notification.sequenceNumber, lockToken, { deliveryCount: notification.deliveryCount, lockToken: null, lockedUntil: null });
        if (released !== undefined) this.#listeners.notify();
      }
    });
  }

  /**
   * Removes expired notifications, releases ended locks (dead-lettering a notification whose last allowed delivery
   * ended) and returns what is left, in sequence order. Runs in the notification queue's serial section.
   */
  async #sweepNotifications(now: number): Promise<FileNotificationRecord[]> {
    const gone: Array<{ notification: FileNotificationRecord; reason: "Expired" | "DeliveryCountExceeded" }> = [];
    const kept: FileNotificationRecord[] = [];
    let released = false;
    for (const notification of await this.#deps.store.notifications()) {
      if (notification.expiryTime <= now) {
        gone.push({ notification, reason: "Expired" });
        continue;
      }
      if (notification.lockToken === null || notification.lockedUntil === null || notification.lockedUntil > now) {
        kept.push(notification);
        continue;
      }
      if (notification.deliveryCount >= this.#settings.notificationMaxDeliveryCount) {
        gone.push({ notification, reason: "DeliveryCountExceeded" });
        continue;
      }
      const back = await this.#deps.store.setNotificationDelivery(notification.sequenceNumber, notification.lockToken, {
        deliveryCount: notification.deliveryCount,
        lockToken: null,
        lockedUntil: null,
      });
      if (back === undefined) continue;
      kept.push(back);
      released = true;
    }
    await this.#deadLetter(gone, now);
    if (released) this.#listeners.notify();
    return kept;
  }

  async #deadLetter(items: ReadonlyArray<{ notification: FileNotificationRecord; reason: "Expired" | "DeliveryCountExceeded" | "Rejected" }>, now: number): Promise<void> {
    if (items.length === 0) return;
    const removed = new Set(await this.#deps.store.removeNotifications(items.map((i) => i.notification.sequenceNumber)));
    for (const { notification, reason } of items) {
      if (!removed.has(notification.sequenceNumber)) continue;
      this.#emit({ type: "fileNotificationDeadLettered", time: now, deviceId: notification.deviceId, blobName: notification.blobName, sequenceNumber: notification.sequenceNumber, reason, deliveryCount: notification.deliveryCount });
    }
  }

  /** Removes expired uploads from the store and reports the ones that were still there. */
  async #expire(uploads: readonly FileUploadRecord[], now: number): Promise<void> {
    if (uploads.length === 0) return;
    const removed = new Set(await this.#deps.store.removeUploads(uploads.map((u) => u.correlationId)));
    for (const upload of uploads) {
      if (!removed.has(upload.correlationId)) continue;
      this.#emit({ type: "fileUploadExpired", time: now, deviceId: upload.deviceId, correlationId: upload.correlationId, blobName: upload.blobName });
    }
  }

  /** The timer's work: expire uploads, sweep the notification queue, and arm the timer for what comes next. */
  async #sweep(): Promise<void> {
    const now = this.#deps.clock.now();
    let next = Infinity;
    const expired: FileUploadRecord[] = [];
    for (const upload of await this.#deps.store.uploads()) {
      if (upload.expiryTime <= now) expired.push(upload);
      else next = Math.min(next, upload.expiryTime);
    }
    await this.#expire(expired, now);
    const live = await this.#serial.run(NOTIFICATIONS, () => this.#sweepNotifications(now));
    for (const n of live) next = Math.min(next, n.expiryTime, n.lockedUntil ?? Infinity);
    this.#schedule(next);
  }

  #queued(notification: FileNotificationRecord): void {
    this.#schedule(notification.expiryTime);
    this.#emit({ type: "fileNotificationQueued", time: notification.enqueuedTime, deviceId: notification.deviceId, blobName: notification.blobName, blobSizeInBytes: notification.blobSizeInBytes, sequenceNumber: notification.sequenceNumber });
    this.#listeners.notify();
  }

  /** Arms the hub timer at `at` (rounded up), unless it is already armed no later than that. */
  #schedule(at: number): void {
    if (this.#closed || at === Infinity) return;
    const due = Math.ceil(at / TIMER_GRANULARITY_MS) * TIMER_GRANULARITY_MS;
    if (this.#timer !== undefined && this.#timer.at <= due) return;
    this.#timer?.handle.cancel();
    const handle = this.#deps.timers.at(due, () => {
      if (this.#timer?.handle !== handle) return;
      this.#timer = undefined;
      void this.#background.track(
        this.#sweep().catch((error: unknown) => {
          if (!this.#closed) this.#schedule(this.#deps.clock.now() + RETRY_MS);
          throw error;
        }),
      );
    });
    this.#timer = { at: due, handle };
  }



  #emit(event: FileUploadEvent): void {
    this.#deps.events.emit(event);
  }

  #guid(): string {
    const hex = this.#deps.ids.trackingId().toLowerCase();
    if (!/^[0-9a-f]{32}$/.test(hex)) return hex;
    return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
  }

  /**
   * IoT Hub's correlation ids are base64 of `{yyyyMMddHHmm}_{guid}_{blob name}_ver2.0`; the blob name is left out
   * here so that an id stays short enough for the notification URL's path segment whatever the name's length.
   */
  #correlationId(now: number): string {
    const stamp = new Date(now).toISOString().replace(/[-:T]/g, "").slice(0, 12);
    return Buffer.from(`${stamp}_${this.#guid()}_ver2.0`, "utf8").toString("base64");
  }
}

/** The body of a file notification as the service receives it. */
export function renderFileNotification(notification: FileNotificationRecord): FileNotificationBody {
  return {
    deviceId: notification.deviceId,
    blobUri: notification.blobUri,
    blobName: notification.blobName,
    // Learn's sample writes "2016-06-01T21:22:41+00:00": seconds and an explicit offset.
    lastUpdatedTime: new Date(notification.lastUpdatedTime).toISOString().replace(/\.\d{3}Z$/, "+00:00"),
    blobSizeInBytes: notification.blobSizeInBytes,
    enqueuedTimeUtc: hubTime(notification.enqueuedTime),
  };
}

function checkSettings(settings: FileUploadSettings): FileUploadSettings {
  const { sasTtlMs, notifications, notificationTtlMs, notificationLockMs, notificationMaxDeliveryCount } = settings;
  if (!Number.isSafeInteger(sasTtlMs) || sasTtlMs < FILE_UPLOAD_MIN_SAS_TTL_MS || sasTtlMs > FILE_UPLOAD_MAX_SAS_TTL_MS) {
    throw new RangeError("The file upload SAS TTL must be from 1 minute to 24 hours (in ms)");
  }
  if (typeof notifications !== "boolean") throw new TypeError("The file notifications setting must be true or false");
  if (!Number.isSafeInteger(notificationTtlMs) || notificationTtlMs < 60_000 || notificationTtlMs > 48 * 3600_000) {
    throw new RangeError("The file notification TTL must be from 1 minute to 48 hours (in ms)");
  }
  if (!Number.isSafeInteger(notificationLockMs) || notificationLockMs < 5_000 || notificationLockMs > 300_000) {
    throw new RangeError("The file notification lock duration must be from 5 to 300 seconds (in ms)");
  }
  if (!Number.isSafeInteger(notificationMaxDeliveryCount) || notificationMaxDeliveryCount < 1 || notificationMaxDeliveryCount > 100) {
    throw new RangeError("The file notification max delivery count must be an integer from 1 to 100");
  }
  return Object.freeze({ sasTtlMs, notifications, notificationTtlMs, notificationLockMs, notificationMaxDeliveryCount });
}

/** Only a device uploads files, and only as itself (modules have no file upload on IoT Hub). */
function deviceCaller(ctx: CallContext, deviceId: string): string {
  const caller = ctx.caller;
  if (caller.kind !== "device") {
    throw new HubError("IotHubUnauthorizedAccess", { trackingId: ctx.trackingId, message: "Only a device uploads files" });
  }
  if (caller.moduleId !== "") {
    throw new HubError("IotHubUnauthorizedAccess", { trackingId: ctx.trackingId, message: `Module '${caller.moduleId}' cannot upload files; only devices can` });
  }
  if (deviceId !== caller.deviceId) {
    throw new HubError("IotHubUnauthorizedAccess", { trackingId: ctx.trackingId, message: `Device '${caller.deviceId}' cannot upload files as device '${deviceId}'` });
  }
  return caller.deviceId;
}

/** A missing name is 400005 ArgumentNull; a name that is not a string, or holds control characters, 400004. */
function checkBlobName(ctx: CallContext, name: unknown): string {
  if (name === undefined || name === null || name === "") {
    throw new HubError("ArgumentNull", { trackingId: ctx.trackingId, message: "The request body must name the blob to upload: {\"blobName\":\"<name>\"}" });
  }
  if (typeof name !== "string") throw invalid(ctx, "blobName must be a string");
  if (/[\u0000-\u001f\u007f]/.test(name)) throw invalid(ctx, "blobName must not contain control characters");
  return name;
}

interface Outcome {
  readonly correlationId: string;
  readonly isSuccess: boolean;
  readonly statusCode: number | null;
  readonly statusDescription: string | null;
}

/** The .NET SDK: correlationId and isSuccess are required, statusCode and statusDescription optional. */
function checkOutcome(ctx: CallContext, input: FileUploadNotifyInput): Outcome {
  const { correlationId, isSuccess, statusCode, statusDescription } = input;
  if (typeof correlationId !== "string" || correlationId === "") {
    throw new HubError("ArgumentNull", { trackingId: ctx.trackingId, message: "The notification must carry the correlationId of the upload" });
  }
  if (typeof isSuccess !== "boolean") throw invalid(ctx, "isSuccess must be true or false");
  if (statusCode !== undefined && statusCode !== null && (typeof statusCode !== "number" || !Number.isInteger(statusCode))) {
    throw invalid(ctx, "statusCode must be an integer");
  }
  if (statusDescription !== undefined && statusDescription !== null && typeof statusDescription !== "string") {
    throw invalid(ctx, "statusDescription must be a string");
  }
  return { correlationId, isSuccess, statusCode: typeof statusCode === "number" ? statusCode : null, statusDescription: typeof statusDescription === "string" ? statusDescription : null };
}

/**
 * IoT Hub answers a notification with a correlation id it does not know with 400006 (the .NET SDK's e2e test
 * `FileUpload_SmallFile_GranularSteps_InvalidCorrelationId` expects "400006" from the current gateway); Malachite
 * uses it for ids never issued, issued to another device, already notified, or expired.
 */
function unknownCorrelation(ctx: CallContext, correlationId: string, deviceId: string): HubError {
  const shown = correlationId.length > 200 ? `${correlationId.slice(0, 200)}…` : correlationId;
  return new HubError("IotHubFormatError", {
    trackingId: ctx.trackingId,
    message: `Device '${deviceId}' has no open file upload with correlation id '${shown}': it was never issued to this device, was already notified, or its SAS expired`,
  });
}

function invalid(ctx: CallContext, message: string): HubError {
  return new HubError("ArgumentInvalid", { trackingId: ctx.trackingId, message });
}

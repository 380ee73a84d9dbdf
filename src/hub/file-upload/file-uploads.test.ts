import { afterEach, describe, test } from "node:test";
import assert from "node:assert/strict";
import type { CallContext } from "../call-context.js";
import { HubClock } from "../clock.js";
import { HubError } from "../errors/index.js";
import type { BlobInfo, BlobStorage, BlobUploadGrant } from "../ports/blob-storage.js";
import type { FileUploadStore } from "../ports/file-upload-store.js";
import type { Ids } from "../ports/ids.js";
import type { Store } from "../ports/store.js";
import { Registry } from "../registry/registry.js";
import { HubTimers } from "../timers/hub-timers.js";
import { SerialQueue } from "../../shared/serial-queue.js";
import { MemoryStore } from "../../storage/memory/memory-store.js";
import { MemoryFileUploadStore } from "../../storage/memory/memory-file-upload-store.js";
import type { FileUploadEvent } from "./file-upload-events.js";
import { FileUploads, renderFileNotification, type FileUploadSettings } from "./file-uploads.js";

const T0 = Date.UTC(2024, 0, 1);
const HOUR = 3600;

const service: CallContext = { caller: { kind: "policy", policyName: "service", rights: ["ServiceConnect"] }, protocol: "amqp", trackingId: "svc" };
const registryOnly: CallContext = { caller: { kind: "policy", policyName: "registryReadWrite", rights: ["RegistryRead", "RegistryWrite"] }, protocol: "https", trackingId: "reg" };

function device(deviceId: string, moduleId = ""): CallContext {
  return { caller: { kind: "device", deviceId, moduleId }, protocol: "https", trackingId: `dev-${deviceId}` };
}

let idCounter = 0;
const ids: Ids = {
  trackingId: () => (++idCounter).toString(16).padStart(32, "0"),
  generationId: () => `6380000000000${String(++idCounter).padStart(5, "0")}`,
  symmetricKey: () => Buffer.alloc(32, 7).toString("base64"),
};

/** Blob storage in a map: `write` stands for the device's upload. */
class FakeBlobs implements BlobStorage {
  readonly blobs = new Map<string, BlobInfo>();
  readonly grants: Array<{ blobName: string; expiresOn: number }> = [];
  failing = false;

  async grantUpload(blobName: string, expiresOn: number): Promise<BlobUploadGrant> {
    if (this.failing) throw new Error("storage unreachable");
    this.grants.push({ blobName, expiresOn });
    return { hostName: "acct.blob.example", containerName: "uploads", blobName, sasToken: `?sig=${this.grants.length}`, blobUri: `https://acct.blob.example/uploads/${blobName}` };
  }

  async blobInfo(blobName: string): Promise<BlobInfo | undefined> {
    if (this.failing) throw new Error("storage unreachable");
    return this.blobs.get(blobName);
  }

  write(blobName: string, sizeInBytes: number, lastModified = T0): void {
    this.blobs.set(blobName, { sizeInBytes, lastModified });
  }
}

const cleanups: Array<() => void> = [];
afterEach(() => {
  for (const cleanup of cleanups.splice(0)) cleanup();
});

function setup(options: { settings?: Partial<FileUploadSettings>; store?: FileUploadStore; identities?: Store; wall?: number } = {}) {
  const clock = new HubClock({ now: () => T0 });
  const errors: unknown[] = [];
  const timers = new HubTimers(clock, (error) => errors.push(error));
  const identities = options.identities ?? new MemoryStore();
  const store = options.store ?? new MemoryFileUploadStore();
  const blobs = new FakeBlobs();
  const events: FileUploadEvent[] = [];
  let available = 0;
  const registry = new Registry({ store: identities, clock, ids, writes: new SerialQueue(), limits: { maxDevicesInList: 1000, maxModulesPerDevice: 50 }, connectedCount: () => 0 });
  const uploads = new FileUploads({
    store,
    blobs,
    identities,
    clock,
    wallClock: { now: () => options.wall ?? T0 },
    timers,
    events: { emit: (event) => events.push(event) },
    ids,
    reportError: (error) => errors.push(error),
    ...(options.settings === undefined ? {} : { settings: options.settings }),
  });
  uploads.onNotificationAvailable(() => available++);
  cleanups.push(() => timers.clear());
  return {
    clock,
    store,
    blobs,
    uploads,
    events,
    errors,
    get available() {
      return available;
    },
    async createDevice(deviceId: string) {
      await registry.put(registryOnly, { deviceId, body: { deviceId }, ifMatch: undefined });
    },
    async advance(seconds: number) {
      clock.advance(seconds);
      timers.poke();
      await uploads.idle();
    },
    open(deviceId: string, blobName = "file.txt") {
      return uploads.createSasUri(device(deviceId), { deviceId, blobName });
    },
    notify(deviceId: string, correlationId: unknown, isSuccess: unknown = true, extra: { statusCode?: unknown; statusDescription?: unknown } = {}) {
      return uploads.notify(device(deviceId), { deviceId, correlationId, isSuccess, statusCode: 201, statusDescription: "Created", ...extra });
    },
  };
}

async function rejectsWith(promise: Promise<unknown>, name: string, code?: number): Promise<HubError> {
  let caught: unknown;
  try {
    await promise;
  } catch (error) {
    caught = error;
  }
  assert.ok(caught instanceof HubError, `expected HubError ${name}, got ${String(caught)}`);
  assert.equal(caught.errorName, name);
  if (code !== undefined) assert.equal(caught.code, code);
  return caught;
}

describe("SAS URIs", () => {
  test("name the blob {deviceId}/{blobName}, expire after the SAS TTL (wall time for the SAS, hub time for the correlation)", async () => {
    const hub = setup({ settings: { sasTtlMs: 120_000 }, wall: T0 - 5_000 });
    hub.clock.advance(10);
    const sas = await hub.open("d1", "photos/cat.jpg");
    assert.equal(sas.blobName, "d1/photos/cat.jpg");
    assert.equal(sas.hostName, "acct.blob.example");
    assert.equal(sas.containerName, "uploads");
    assert.equal(sas.sasToken, "?sig=1");
    assert.match(Buffer.from(sas.correlationId, "base64").toString("utf8"), /^\d{12}_[0-9a-f-]{36}_ver2\.0$/);
    assert.deepEqual(hub.blobs.grants, [{ blobName: "d1/photos/cat.jpg", expiresOn: T0 - 5_000 + 120_000 }]);
    const [open] = await hub.uploads.openUploads("d1");
    assert.equal(open!.expiryTime, T0 + 10_000 + 120_000);
    assert.equal(open!.blobUri, "https://acct.blob.example/uploads/d1/photos/cat.jpg");
    assert.deepEqual(
      hub.events.map((e) => e.type),
      ["fileUploadStarted"],
    );
  });

  test("correlation ids are unique", async () => {
    const hub = setup();
    const a = await hub.open("d1");
    const b = await hub.open("d1");
    assert.notEqual(a.correlationId, b.correlationId);
  });

  test("a missing blob name is 400005, a name that is not a string or has control characters 400004, one too long 400004", async () => {
    const hub = setup();
    for (const blobName of [undefined, null, ""]) await rejectsWith(hub.uploads.createSasUri(device("d1"), { deviceId: "d1", blobName }), "ArgumentNull", 400005);
    for (const blobName of [5, {}, "a\nb"]) await rejectsWith(hub.uploads.createSasUri(device("d1"), { deviceId: "d1", blobName }), "ArgumentInvalid", 400004);
    await rejectsWith(hub.open("d1", "x".repeat(1022)), "ArgumentInvalid");
    await hub.open("d1", "x".repeat(1021));
  });

  test("only a device, as itself", async () => {
    const hub = setup();
    await rejectsWith(hub.uploads.createSasUri(device("d1", "m1"), { deviceId: "d1", blobName: "f" }), "IotHubUnauthorizedAccess");
    await rejectsWith(hub.uploads.createSasUri(device("d1"), { deviceId: "d2", blobName: "f" }), "IotHubUnauthorizedAccess");
    await rejectsWith(hub.uploads.createSasUri(service, { deviceId: "d1", blobName: "f" }), "IotHubUnauthorizedAccess");
  });

  test("a storage failure propagates and takes no slot", async () => {
    const hub = setup();
    hub.blobs.failing = true;
    await assert.rejects(hub.open("d1"), /storage unreachable/);
    assert.deepEqual(await hub.uploads.openUploads("d1"), []);
  });
});

describe("the active-upload limit", () => {
  test("the 11th open upload of a device is 403006; other devices are not affected", async () => {
    const hub = setup();
    const opened = [];
    for (let i = 0; i < 10; i++) opened.push(await hub.open("d1", `f${i}`));
    const error = await rejectsWith(hub.open("d1", "f10"), "DeviceMaximumActiveFileUploadLimitExceeded", 403006);
    assert.equal(error.message, "Number of active file upload requests cannot exceed 10");
    assert.ok(hub.events.some((e) => e.type === "fileUploadRefused" && e.activeUploads === 10));
    await hub.open("d2");
    // Requests made at the same time are counted one after the other.
    const burst = await Promise.allSettled([hub.open("d1"), hub.open("d1")]);
    assert.deepEqual(burst.map((r) => r.status), ["rejected", "rejected"]);
  });

  test("a notification frees a slot, successful or not", async () => {
    const hub = setup();
    const opened = [];
    for (let i = 0; i < 10; i++) opened.push(await hub.open("d1", `f${i}`));
    await hub.notify("d1", opened[0]!.correlationId, false, { statusCode: -1, statusDescription: "Failed to upload to blob" });
    await hub.open("d1", "again");
    await rejectsWith(hub.open("d1"), "DeviceMaximumActiveFileUploadLimitExceeded");
  });

  test("the SAS TTL on the hub clock frees a slot: at once for counting, and the timer removes and reports it", async () => {
    const hub = setup();
    for (let i = 0; i < 10; i++) await hub.open("d1", `f${i}`);
    hub.clock.advance(HOUR - 1);
    await rejectsWith(hub.open("d1"), "DeviceMaximumActiveFileUploadLimitExceeded");
    await hub.advance(1);
    assert.equal(hub.events.filter((e) => e.type === "fileUploadExpired").length, 10);
    assert.deepEqual(await hub.store.uploads(), []);
    await hub.open("d1");
  });
});

describe("notifications from the device", () => {
  test("a success queues a file notification with the blob's size and time; the upload is closed", async () => {
    const hub = setup();
    const sas = await hub.open("d1", "a.bin");
    hub.blobs.write("d1/a.bin", 1234, T0 + 1500);
    hub.clock.advance(2);
    await hub.notify("d1", sas.correlationId);
    const [notification] = await hub.store.notifications();
    assert.ok(notification);
    assert.deepEqual(renderFileNotification(notification), {
      deviceId: "d1",
      blobUri: "https://acct.blob.example/uploads/d1/a.bin",
      blobName: "d1/a.bin",
      lastUpdatedTime: "2024-01-01T00:00:01+00:00",
      blobSizeInBytes: 1234,
      enqueuedTimeUtc: "2024-01-01T00:00:02.0000000Z",
    });
    assert.equal(notification.expiryTime, T0 + 2000 + 3600_000);
    assert.equal(hub.available, 1);
    assert.deepEqual(await hub.uploads.openUploads("d1"), []);
    const completed = hub.events.find((e) => e.type === "fileUploadCompleted");
    assert.ok(completed?.type === "fileUploadCompleted" && completed.isSuccess && completed.notified && completed.statusCode === 201);
  });

  test("no notification for a failed upload, a blob that was never written, or with notifications off", async () => {
    const off = setup({ settings: { notifications: false } });
    const a = await off.open("d1", "a");
    off.blobs.write("d1/a", 1);
    await off.notify("d1", a.correlationId);
    assert.deepEqual(await off.store.notifications(), []);

    const hub = setup();
    const b = await hub.open("d1", "b");
    hub.blobs.write("d1/b", 1);
    await hub.notify("d1", b.correlationId, false);
    const c = await hub.open("d1", "c");
    await hub.notify("d1", c.correlationId, true);
    assert.deepEqual(await hub.store.notifications(), []);
    assert.deepEqual(await hub.uploads.openUploads("d1"), []);
    assert.equal(hub.available, 0);
  });

  test("unknown, foreign, already used and expired correlation ids are 400006", async () => {
    const hub = setup();
    await rejectsWith(hub.notify("d1", "invalid-correlation-id"), "IotHubFormatError", 400006);
    const other = await hub.open("d2");
    await rejectsWith(hub.notify("d1", other.correlationId), "IotHubFormatError");
    const used = await hub.open("d1");
    await hub.notify("d1", used.correlationId, false);
    await rejectsWith(hub.notify("d1", used.correlationId, false), "IotHubFormatError");
    const late = await hub.open("d1");
    hub.clock.advance(HOUR);
    await rejectsWith(hub.notify("d1", late.correlationId), "IotHubFormatError");
    assert.ok(hub.events.some((e) => e.type === "fileUploadExpired" && e.correlationId === late.correlationId));
  });

  test("bad notification bodies: no correlation id 400005, isSuccess not a boolean or bad status 400004", async () => {
    const hub = setup();
    const sas = await hub.open("d1");
    await rejectsWith(hub.notify("d1", undefined), "ArgumentNull");
    await rejectsWith(hub.notify("d1", sas.correlationId, "yes"), "ArgumentInvalid");
    await rejectsWith(hub.notify("d1", sas.correlationId, true, { statusCode: "201" }), "ArgumentInvalid");
    await rejectsWith(hub.notify("d1", sas.correlationId, true, { statusDescription: 5 }), "ArgumentInvalid");
    await hub.notify("d1", sas.correlationId, true, { statusCode: undefined, statusDescription: undefined });
  });

  test("a storage failure while reading the blob leaves the upload open, so the device can notify again", async () => {
    const hub = setup();
    const sas = await hub.open("d1", "a");
    hub.blobs.write("d1/a", 3);
    hub.blobs.failing = true;
    await assert.rejects(hub.notify("d1", sas.correlationId), /storage unreachable/);
    hub.blobs.failing = false;
    await hub.notify("d1", sas.correlationId);
    assert.equal((await hub.store.notifications()).length, 1);
  });

  test("a deleted device's open uploads are dropped, also when it was deleted while the hub was down", async () => {
    const identities = new MemoryStore();
    const store = new MemoryFileUploadStore();
    const hub = setup({ identities, store });
    await hub.createDevice("d1");
    await hub.createDevice("d2");
    await hub.open("d1");
    const kept = await hub.open("d2");
    await hub.open("gone");
    await hub.uploads.deviceDeleted("d1");
    assert.deepEqual(await hub.uploads.openUploads("d1"), []);
    const restarted = setup({ identities, store });
    await restarted.uploads.recover();
    assert.deepEqual((await store.uploads()).map((u) => u.correlationId), [kept.correlationId]);
  });
});

describe("the file notification queue", () => {
  async function queued(count: number, settings: Partial<FileUploadSettings> = {}) {
    const hub = setup({ settings });
    for (let i = 0; i < count; i++) {
      const sas = await hub.open("d1", `f${i}`);
      hub.blobs.write(`d1/f${i}`, i);
      await hub.notify("d1", sas.correlationId);
    }
    return hub;
  }

  test("receive locks the oldest, complete removes it; the service needs ServiceConnect", async () => {
    const hub = await queued(2);
    await rejectsWith(hub.uploads.receiveNotification(device("d1")), "IotHubUnauthorizedAccess");
    const first = await hub.uploads.receiveNotification(service);
    assert.equal(first?.blobName, "d1/f0");
    assert.equal(first?.deliveryCount, 1);
    assert.ok(first?.lockToken);
    const second = await hub.uploads.receiveNotification(service);
    assert.equal(second?.blobName, "d1/f1");
    assert.equal(await hub.uploads.receiveNotification(service), undefined);
    await hub.uploads.completeNotification(service, first!.lockToken!);
    await rejectsWith(hub.uploads.completeNotification(service, first!.lockToken!), "DeviceMessageLockLost");
    assert.equal(await hub.uploads.pendingNotifications(), 1);
  });

  test("abandon and an ended lock make it available again; after the last allowed delivery it is dead-lettered", async () => {
    const hub = await queued(1, { notificationMaxDeliveryCount: 2 });
    const a = await hub.uploads.receiveNotification(service);
    await hub.uploads.abandonNotification(service, a!.lockToken!);
    const b = await hub.uploads.receiveNotification(service);
    assert.equal(b?.deliveryCount, 2);
    await hub.advance(60);
    assert.equal(await hub.uploads.receiveNotification(service), undefined);
    assert.ok(hub.events.some((e) => e.type === "fileNotificationDeadLettered" && e.reason === "DeliveryCountExceeded"));
    assert.deepEqual(await hub.store.notifications(), []);
  });

  test("a lock ends after the lock duration and the notification is delivered again", async () => {
    const hub = await queued(1);
    const a = await hub.uploads.receiveNotification(service);
    await hub.advance(59);
    assert.equal(await hub.uploads.receiveNotification(service), undefined);
    await hub.advance(1);
    const again = await hub.uploads.receiveNotification(service);
    assert.equal(again?.sequenceNumber, a?.sequenceNumber);
    assert.equal(again?.deliveryCount, 2);
    await rejectsWith(hub.uploads.completeNotification(service, a!.lockToken!), "DeviceMessageLockLost");
  });

  test("reject dead-letters; the TTL expires what nobody received", async () => {
    const hub = await queued(2);
    const a = await hub.uploads.receiveNotification(service);
    await hub.uploads.rejectNotification(service, a!.lockToken!);
    await hub.advance(HOUR);
    assert.deepEqual(await hub.store.notifications(), []);
    const reasons = hub.events.flatMap((e) => (e.type === "fileNotificationDeadLettered" ? [e.reason] : []));
    assert.deepEqual(reasons, ["Rejected", "Expired"]);
    assert.deepEqual(hub.errors, []);
  });
});

test("settings are checked", () => {
  const base = { store: new MemoryFileUploadStore(), blobs: new FakeBlobs(), identities: new MemoryStore(), clock: { now: () => T0 }, wallClock: { now: () => T0 }, timers: new HubTimers({ now: () => T0 }, () => undefined), events: { emit: () => undefined }, ids, reportError: () => undefined };
  assert.throws(() => new FileUploads({ ...base, settings: { sasTtlMs: 59_000 } }), /SAS TTL/);
  assert.throws(() => new FileUploads({ ...base, settings: { sasTtlMs: 25 * 3600_000 } }), /SAS TTL/);
  assert.throws(() => new FileUploads({ ...base, settings: { notificationMaxDeliveryCount: 0 } }), /delivery count/);
  assert.throws(() => new FileUploads({ ...base, settings: { notificationLockMs: 1000 } }), /lock duration/);
  assert.equal(new FileUploads(base).settings.sasTtlMs, 3600_000);
});

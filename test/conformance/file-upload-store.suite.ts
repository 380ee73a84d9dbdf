import assert from "node:assert/strict";
import { describe, test } from "node:test";
import type { FileNotificationAppend, FileUploadRecord, FileUploadStore } from "../../src/hub/ports/file-upload-store.js";

export type OpenFileUploadStore = () => Promise<FileUploadStore> | FileUploadStore;
/** Opens the same underlying storage as `closed` (already closed), for stores that persist. */
export type ReopenFileUploadStore = (closed: FileUploadStore) => Promise<FileUploadStore> | FileUploadStore;

const T = 1_700_000_000_000;
let nextId = 0;

function upload(deviceId: string, extra: Partial<FileUploadRecord> = {}): FileUploadRecord {
  const correlationId = `c-${++nextId}`;
  return { correlationId, deviceId, blobName: `${deviceId}/f${nextId}`, blobUri: `https://a/c/${deviceId}/f${nextId}`, createdTime: T, expiryTime: T + 3600_000, ...extra };
}

function notification(deviceId: string, extra: Partial<FileNotificationAppend> = {}): FileNotificationAppend {
  return { deviceId, blobName: `${deviceId}/f`, blobUri: `https://a/c/${deviceId}/f`, lastUpdatedTime: T, blobSizeInBytes: 10, enqueuedTime: T, expiryTime: T + 3600_000, ...extra };
}

/** Registers node:test tests that every FileUploadStore adapter must pass. `open` returns a new, empty store on each call. */
export function fileUploadStoreConformance(name: string, open: OpenFileUploadStore, reopen?: ReopenFileUploadStore): void {
  async function withStore(body: (store: FileUploadStore) => Promise<void>): Promise<void> {
    const store = await open();
    try {
      await body(store);
    } finally {
      await store.close();
    }
  }

  describe(`FileUploadStore conformance: ${name}`, () => {
    test("adds, lists per device and in all, oldest first, and gets uploads; a duplicate correlation id is refused", () =>
      withStore(async (store) => {
        const a = upload("d1");
        const b = upload("d2");
        const c = upload("d1");
        for (const u of [a, b, c]) await store.addUpload(u);
        assert.deepEqual(await store.uploads("d1"), [a, c]);
        assert.deepEqual(await store.uploads(), [a, b, c]);
        assert.deepEqual(await store.getUpload(b.correlationId), b);
        assert.equal(await store.getUpload("nope"), undefined);
        await assert.rejects(store.addUpload({ ...upload("d3"), correlationId: a.correlationId }), RangeError);
        assert.deepEqual(await store.uploads("d3"), []);
      }));

    test("records are copied in and out", () =>
      withStore(async (store) => {
        const a = upload("d1");
        await store.addUpload(a);
        (a as { blobName: string }).blobName = "changed";
        const [out] = await store.uploads("d1");
        (out as { blobName: string }).blobName = "changed too";
        assert.notEqual((await store.getUpload(a.correlationId))?.blobName, "changed");
        assert.notEqual((await store.getUpload(a.correlationId))?.blobName, "changed too");
      }));

    test("closing an upload appends its notification once, numbered 1, 2, 3…", () =>
      withStore(async (store) => {
        const a = upload("d1");
        const b = upload("d1");
        const c = upload("d2");
        for (const u of [a, b, c]) await store.addUpload(u);
        const first = await store.closeUpload(a.correlationId, notification("d1"));
        assert.equal(first.closed, true);
        assert.deepEqual(first.notification, { ...notification("d1"), sequenceNumber: 1, deliveryCount: 0, lockToken: null, lockedUntil: null });
        assert.deepEqual(await store.closeUpload(a.correlationId, notification("d1")), { closed: false, notification: undefined });
        assert.deepEqual(await store.closeUpload(b.correlationId), { closed: true, notification: undefined });
        assert.equal((await store.closeUpload(c.correlationId, notification("d2")))?.notification?.sequenceNumber, 2);
        assert.deepEqual((await store.notifications()).map((n) => n.sequenceNumber), [1, 2]);
        assert.deepEqual(await store.uploads(), []);
      }));

    test("removeUploads and deleteDeviceUploads report what was there; notifications of the device stay", () =>
      withStore(async (store) => {
        const a = upload("d1");
        const b = upload("d1");
        const c = upload("d2");
        const d = upload("d1");
        for (const u of [a, b, c, d]) await store.addUpload(u);
        await store.closeUpload(d.correlationId, notification("d1"));
        assert.deepEqual(await store.removeUploads([a.correlationId, "nope", a.correlationId]), [a.correlationId]);
        assert.equal(await store.deleteDeviceUploads("d1"), 1);
        assert.deepEqual(await store.uploads(), [c]);
        assert.equal((await store.notifications()).length, 1);
      }));

    test("notification delivery is compare-and-set on the lock token; removal reports what was there", () =>
      withStore(async (store) => {
        const a = upload("d1");
        await store.addUpload(a);
        await store.closeUpload(a.correlationId, notification("d1"));
        const locked = await store.setNotificationDelivery(1, null, { deliveryCount: 1, lockToken: "t1", lockedUntil: T + 60_000 });
        assert.equal(locked?.lockToken, "t1");
        assert.equal(await store.setNotificationDelivery(1, null, { deliveryCount: 2, lockToken: "t2", lockedUntil: T }), undefined);
        assert.equal(await store.setNotificationDelivery(99, null, { deliveryCount: 1, lockToken: "t", lockedUntil: T }), undefined);
        const released = await store.setNotificationDelivery(1, "t1", { deliveryCount: 1, lockToken: null, lockedUntil: null });
        assert.deepEqual([released?.deliveryCount, released?.lockToken, released?.lockedUntil], [1, null, null]);
        await assert.rejects(store.setNotificationDelivery(1, null, { deliveryCount: 1, lockToken: "x", lockedUntil: null }), TypeError);
        assert.deepEqual(await store.removeNotifications([1, 7, 1]), [1]);
        assert.deepEqual(await store.notifications(), []);
      }));

    test("invalid records are refused and nothing is written", () =>
      withStore(async (store) => {
        await assert.rejects(store.addUpload({ ...upload("d1"), correlationId: "" }), RangeError);
        await assert.rejects(store.addUpload({ ...upload("d1"), expiryTime: 1.5 }), RangeError);
        const a = upload("d1");
        await store.addUpload(a);
        await assert.rejects(store.closeUpload(a.correlationId, { ...notification("d1"), blobSizeInBytes: -1 }), RangeError);
        assert.deepEqual(await store.uploads(), [a]);
        assert.deepEqual(await store.notifications(), []);
      }));

    test("a closed store refuses calls", async () => {
      const store = await open();
      await store.close();
      await assert.rejects(store.uploads(), /closed/);
    });

    if (reopen !== undefined) {
      test("what resolved survives a close and reopen, and sequence numbers are never reused", async () => {
        const store = await open();
        const a = upload("d1");
        const b = upload("d1");
        await store.addUpload(a);
        await store.addUpload(b);
        await store.closeUpload(a.correlationId, notification("d1"));
        await store.removeNotifications([1]);
        await store.close();
        const again = await reopen(store);
        try {
          assert.deepEqual(await again.uploads(), [b]);
          assert.equal((await again.closeUpload(b.correlationId, notification("d1"))).notification?.sequenceNumber, 2);
        } finally {
          await again.close();
        }
      });
    }
  });
}

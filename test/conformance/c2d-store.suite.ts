import assert from "node:assert/strict";
import { describe, test } from "node:test";
import type { C2dEnqueue, C2dFeedbackAppend, C2dFeedbackStatus, C2dStore } from "../../src/hub/ports/c2d-store.js";

export type OpenC2dStore = () => Promise<C2dStore> | C2dStore;
/** Opens the same underlying storage as `closed` (already closed), for stores that persist. */
export type ReopenC2dStore = (closed: C2dStore) => Promise<C2dStore> | C2dStore;

/** A fixed epoch so times are readable in failures. */
const T = 1_700_000_000_000;

let nextId = 0;

/**
 * Registers node:test tests that every C2dStore adapter must pass. `open` returns a new, empty store on each call.
 * Pass `reopen` for persistent stores to also check that resolved writes survive a close and reopen.
 */
export function c2dStoreConformance(name: string, open: OpenC2dStore, reopen?: ReopenC2dStore): void {
  async function withStore(body: (store: C2dStore) => Promise<void>): Promise<void> {
    const store = await open();
    try {
      await body(store);
    } finally {
      await store.close();
    }
  }

  describe(`C2dStore conformance: ${name}`, () => {
    describe("enqueue and list", () => {
      test("assigns sequence numbers 1, 2, 3… per device; a new message is unlocked and never delivered", () =>
        withStore(async (store) => {
          const a = await store.enqueue(msg("d1"));
          const b = await store.enqueue(msg("d2"));
          const c = await store.enqueue(msg("d1"));
          assert.deepEqual([a.sequenceNumber, b.sequenceNumber, c.sequenceNumber], [1, 1, 2]);
          for (const m of [a, b, c]) {
            assert.equal(m.deliveryCount, 0);
            assert.equal(m.lockToken, null);
            assert.equal(m.lockedUntil, null);
          }
          assert.deepEqual(await store.list("d1"), [a, c]);
          assert.deepEqual(await store.list("d2"), [b]);
          assert.deepEqual(await store.list("nobody"), []);
          assert.equal(await store.count("d1"), 2);
          assert.equal(await store.count("nobody"), 0);
        }));

      test("the returned message is what was enqueued plus its store-assigned fields, and reads back equal", () =>
        withStore(async (store) => {
          const input = msg("d1", { body: "hello", properties: { a: "1" }, ack: "full", messageId: "m1" });
          const stored = await store.enqueue(input);
          assert.deepEqual(stored, { ...input, sequenceNumber: 1, deliveryCount: 0, lockToken: null, lockedUntil: null });
          assert.deepEqual(await store.list("d1"), [stored]);
        }));

      test("concurrent enqueues for one device get consecutive numbers in call order", () =>
        withStore(async (store) => {
          const results = await Promise.all(Array.from({ length: 60 }, (_, i) => store.enqueue(msg(i % 2 === 0 ? "even" : "odd", { body: String(i) }))));
          assert.deepEqual(results.filter((_, i) => i % 2 === 0).map((m) => m.sequenceNumber), Array.from({ length: 30 }, (_, i) => i + 1));
          assert.deepEqual((await store.list("odd")).map((m) => m.body.toString()), Array.from({ length: 30 }, (_, i) => String(2 * i + 1)));
        }));

      test("numbering continues after the queue was emptied, and restarts after the device's queue was deleted", () =>
        withStore(async (store) => {
          const a = await store.enqueue(msg("d1"));
          const b = await store.enqueue(msg("d1"));
          await store.remove([{ id: a.id }, { id: b.id }]);
          assert.equal((await store.enqueue(msg("d1"))).sequenceNumber, 3);
          assert.equal(await store.deleteDevice("d1"), 1);
          assert.equal((await store.enqueue(msg("d1"))).sequenceNumber, 1);
        }));

      test("a duplicate message id is refused, and the message first stored stays", () =>
        withStore(async (store) => {
          const first = await store.enqueue(msg("d1", { id: "same" }));
          await assert.rejects(store.enqueue(msg("d1", { id: "same", body: "other" })));
          assert.deepEqual(await store.list("d1"), [first]);
          // The refused call took no sequence number.
          assert.equal((await store.enqueue(msg("d1"))).sequenceNumber, 2);
        }));
    });

    describe("round trip", () => {
      test("binary bodies come back byte for byte: every byte value, empty, 64 KB", () =>
        withStore(async (store) => {
          const bodies = [Buffer.from(Array.from({ length: 256 }, (_, i) => i)), Buffer.alloc(0), Buffer.from([0, 0, 1, 0]), Buffer.alloc(64 * 1024, 0xab)];
          for (const body of bodies) await store.enqueue({ ...msg("d1"), body });
          const read = await store.list("d1");
          read.forEach((m, i) => {
            assert.ok(Buffer.isBuffer(m.body), `body ${i} is a Buffer`);
            assert.ok(m.body.equals(bodies[i]!), `body ${i} round-trips`);
          });
        }));

      test("properties and every system property round-trip exactly", () =>
        withStore(async (store) => {
          const properties = { "temp°C": "21.5", emoji: "😀", empty: "", "": "empty key", quotes: 'a "b" \\ c\n\u0000', ["__proto__"]: "an ordinary key", z: "order", a: "kept" };
          const systemProperties = {
            messageId: "id-ü",
            correlationId: "c",
            to: "/devices/d%201/messages/devicebound",
            userId: "u",
            contentType: "application/json",
            contentEncoding: "utf-8",
            ack: "negative" as const,
          };
          await store.enqueue({ ...msg("d1"), properties, systemProperties });
          const [read] = await store.list("d1");
          assert.deepEqual(read!.properties, properties);
          assert.deepEqual(Object.keys(read!.properties), Object.keys(properties));
          assert.ok(Object.hasOwn(read!.properties, "__proto__"));
          assert.deepEqual(read!.systemProperties, systemProperties);
        }));

      test("times and ids round-trip", () =>
        withStore(async (store) => {
          const input = { ...msg("dév-✓"), deviceGenerationId: "638000000000000001", enqueuedTime: 0, expiryTime: Number.MAX_SAFE_INTEGER };
          await store.enqueue(input);
          const [read] = await store.list("dév-✓");
          assert.equal(read!.enqueuedTime, 0);
          assert.equal(read!.expiryTime, Number.MAX_SAFE_INTEGER);
          assert.equal(read!.deviceGenerationId, "638000000000000001");
          assert.equal(read!.id, input.id);
        }));
    });

    describe("isolation", () => {
      test("changing a body or map after enqueue() does not change what was stored", () =>
        withStore(async (store) => {
          const input = msg("d1", { body: "original", properties: { k: "v" } });
          const pending = store.enqueue(input);
          input.body.write("CHANGED!");
          (input.properties as Record<string, string>)["k"] = "changed";
          await pending;
          const [read] = await store.list("d1");
          assert.equal(read!.body.toString(), "original");
          assert.deepEqual(read!.properties, { k: "v" });
        }));

      test("changing a read message does not change the store", () =>
        withStore(async (store) => {
          const stored = await store.enqueue(msg("d1", { body: "abc", properties: { k: "v" } }));
          stored.body.fill(0);
          const [first] = await store.list("d1");
          first!.body.fill(0);
          (first!.properties as Record<string, string>)["k"] = "changed";
          const [second] = await store.list("d1");
          assert.equal(second!.body.toString(), "abc");
          assert.deepEqual(second!.properties, { k: "v" });
        }));
    });

    describe("setDelivery", () => {
      test("locks, unlocks and counts deliveries, compare-and-set on the current lock token", () =>
        withStore(async (store) => {
          const m = await store.enqueue(msg("d1"));
          const locked = await store.setDelivery(m.id, null, { deliveryCount: 1, lockToken: "lock-1", lockedUntil: T + 60_000 });
          assert.deepEqual(locked, { ...m, deliveryCount: 1, lockToken: "lock-1", lockedUntil: T + 60_000 });
          assert.deepEqual(await store.list("d1"), [locked]);
          // A stale caller (expecting no lock, or another token) changes nothing.
          assert.equal(await store.setDelivery(m.id, null, { deliveryCount: 5, lockToken: "x", lockedUntil: T }), undefined);
          assert.equal(await store.setDelivery(m.id, "lock-0", { deliveryCount: 5, lockToken: null, lockedUntil: null }), undefined);
          const released = await store.setDelivery(m.id, "lock-1", { deliveryCount: 1, lockToken: null, lockedUntil: null });
          assert.deepEqual(released, { ...m, deliveryCount: 1 });
          assert.deepEqual(await store.list("d1"), [released]);
          assert.equal(await store.setDelivery("no-such-id", null, { deliveryCount: 1, lockToken: null, lockedUntil: null }), undefined);
        }));

      test("malformed delivery states are refused", () =>
        withStore(async (store) => {
          const m = await store.enqueue(msg("d1"));
          await assert.rejects(store.setDelivery(m.id, null, { deliveryCount: -1, lockToken: null, lockedUntil: null }));
          await assert.rejects(store.setDelivery(m.id, null, { deliveryCount: 1.5, lockToken: null, lockedUntil: null }));
          await assert.rejects(store.setDelivery(m.id, null, { deliveryCount: 1, lockToken: "t", lockedUntil: null }));
          await assert.rejects(store.setDelivery(m.id, null, { deliveryCount: 1, lockToken: null, lockedUntil: T }));
          await assert.rejects(store.setDelivery(m.id, null, { deliveryCount: 1, lockToken: "", lockedUntil: T }));
          assert.deepEqual(await store.list("d1"), [m]);
        }));
    });

    describe("remove and feedback", () => {
      test("removes messages and appends the feedback of those that were there, numbered 1, 2, 3…", () =>
        withStore(async (store) => {
          const a = await store.enqueue(msg("d1"));
          const b = await store.enqueue(msg("d1"));
          const c = await store.enqueue(msg("d2"));
          const result = await store.remove([
            { id: a.id, feedback: fb("d1", "a", "Success") },
            { id: "not-there", feedback: fb("d1", "ghost", "Rejected") },
            { id: c.id },
            { id: b.id, feedback: fb("d1", "b", "Expired") },
          ]);
          assert.deepEqual(result.removed, [a.id, c.id, b.id]);
          assert.deepEqual(result.feedback, [
            { ...fb("d1", "a", "Success"), sequenceNumber: 1 },
            { ...fb("d1", "b", "Expired"), sequenceNumber: 2 },
          ]);
          assert.deepEqual(await store.list("d1"), []);
          assert.deepEqual(await store.list("d2"), []);
          assert.deepEqual(await store.readFeedback({ fromSequenceNumber: 0, limit: 10 }), result.feedback);
          // Removing again removes nothing and appends nothing.
          assert.deepEqual(await store.remove([{ id: a.id, feedback: fb("d1", "a", "Success") }]), { removed: [], feedback: [] });
          assert.deepEqual(await store.remove([]), { removed: [], feedback: [] });
        }));

      test("readFeedback pages by sequence number; deleteFeedback deletes, and numbers are never reused", () =>
        withStore(async (store) => {
          const statuses: C2dFeedbackStatus[] = ["Success", "Expired", "DeliveryCountExceeded", "Rejected", "Purged"];
          for (const statusCode of statuses) {
            const m = await store.enqueue(msg("d1"));
            await store.remove([{ id: m.id, feedback: fb("d1", statusCode, statusCode) }]);
          }
          const seqs = async (from: number, limit: number) => (await store.readFeedback({ fromSequenceNumber: from, limit })).map((f) => f.sequenceNumber);
          assert.deepEqual(await seqs(0, 100), [1, 2, 3, 4, 5]);
          assert.deepEqual(await seqs(2, 2), [2, 3]);
          assert.deepEqual(await seqs(6, 10), []);
          assert.deepEqual(await seqs(0, 0), []);
          assert.deepEqual(await seqs(0, -1), []);
          assert.deepEqual((await store.readFeedback({ fromSequenceNumber: 0, limit: 100 })).map((f) => f.statusCode), statuses);
          assert.equal(await store.deleteFeedback([1, 5, 5, 99]), 2);
          assert.deepEqual(await seqs(0, 100), [2, 3, 4]);
          const m = await store.enqueue(msg("d1"));
          const { feedback } = await store.remove([{ id: m.id, feedback: fb("d1", "next", "Success") }]);
          assert.equal(feedback[0]!.sequenceNumber, 6);
        }));

      test("a malformed removal refuses the whole call, and nothing of it is removed", () =>
        withStore(async (store) => {
          const a = await store.enqueue(msg("d1"));
          const bad = [
            [{ id: a.id }, null],
            [{ id: a.id }, { id: "" }],
            [{ id: a.id }, { id: "x", feedback: { ...fb("d1", "m", "Success"), statusCode: "Completed" } }],
            [{ id: a.id }, { id: "x", feedback: { ...fb("d1", "m", "Success"), enqueuedTimeUtc: 1.5 } }],
          ];
          for (const removals of bad) await assert.rejects(store.remove(removals as never));
          assert.deepEqual(await store.list("d1"), [a]);
          await assert.rejects(store.readFeedback({ fromSequenceNumber: 0.5, limit: 1 }));
          await assert.rejects(store.deleteFeedback(["1"] as unknown as number[]));
        }));
    });

    describe("devices and deleteDevice", () => {
      test("devices() lists every device with a queue, even an empty one, in id order", () =>
        withStore(async (store) => {
          assert.deepEqual(await store.devices(), []);
          const m = await store.enqueue(msg("b"));
          await store.enqueue(msg("a"));
          await store.enqueue(msg("c"));
          await store.remove([{ id: m.id }]);
          assert.deepEqual(await store.devices(), ["a", "b", "c"]);
        }));

      test("deleteDevice drops the device's messages, numbering and pending feedback, and nothing of others", () =>
        withStore(async (store) => {
          const a = await store.enqueue(msg("d1"));
          await store.enqueue(msg("d1"));
          const other = await store.enqueue(msg("d2"));
          const x = await store.enqueue(msg("d2"));
          await store.remove([
            { id: a.id, feedback: fb("d1", "a", "Success") },
            { id: x.id, feedback: fb("d2", "x", "Success") },
          ]);
          assert.equal(await store.deleteDevice("d1"), 1);
          assert.deepEqual(await store.list("d1"), []);
          assert.deepEqual(await store.devices(), ["d2"]);
          assert.deepEqual(await store.list("d2"), [other]);
          assert.deepEqual((await store.readFeedback({ fromSequenceNumber: 0, limit: 10 })).map((f) => f.deviceId), ["d2"]);
          assert.equal(await store.deleteDevice("d1"), 0);
          assert.equal(await store.deleteDevice("never"), 0);
        }));
    });

    describe("validation", () => {
      const invalid: [string, () => unknown][] = [
        ["a string body", () => ({ ...msg("d1"), body: "text" })],
        ["a missing body", () => ({ ...msg("d1"), body: undefined })],
        ["an empty id", () => ({ ...msg("d1"), id: "" })],
        ["an empty device id", () => ({ ...msg("d1"), deviceId: "" })],
        ["a fractional expiry time", () => ({ ...msg("d1"), expiryTime: T + 0.5 })],
        ["a NaN enqueued time", () => ({ ...msg("d1"), enqueuedTime: NaN })],
        ["a number property value", () => ({ ...msg("d1"), properties: { n: 1 } })],
        ["null properties", () => ({ ...msg("d1"), properties: null })],
        ["an unknown ack", () => ({ ...msg("d1"), systemProperties: { ack: "always" } })],
        ["a number message id", () => ({ ...msg("d1"), systemProperties: { ack: "none", messageId: 5 } })],
        ["an unknown system property", () => ({ ...msg("d1"), systemProperties: { ack: "none", priority: "high" } })],
        ["a null message", () => null],
      ];
      for (const [what, make] of invalid) {
        test(`a message with ${what} is refused and nothing is stored`, () =>
          withStore(async (store) => {
            await assert.rejects(store.enqueue(make() as C2dEnqueue), /c2d/);
            assert.deepEqual(await store.devices(), []);
            assert.equal((await store.enqueue(msg("d1"))).sequenceNumber, 1);
          }));
      }

      test("a refused call fails alone: calls made alongside it succeed", () =>
        withStore(async (store) => {
          const [a, bad, b] = await Promise.allSettled([
            store.enqueue(msg("d1")),
            store.enqueue({ ...msg("d1"), body: "x" } as unknown as C2dEnqueue),
            store.enqueue(msg("d1")),
          ]);
          assert.equal(bad!.status, "rejected");
          assert.deepEqual([a, b].map((r) => r!.status === "fulfilled" && r.value.sequenceNumber), [1, 2]);
        }));
    });

    describe("close", () => {
      test("writes still pending when close() is called are committed and resolve", async () => {
        const store = await open();
        const pending = [store.enqueue(msg("d1")), store.enqueue(msg("d1"))];
        await store.close();
        const results = await Promise.all(pending);
        assert.deepEqual(results.map((m) => m.sequenceNumber), [1, 2]);
      });

      test("close resolves, later calls reject, and closing twice is harmless", async () => {
        const store = await open();
        await store.enqueue(msg("d1"));
        await store.close();
        await assert.rejects(store.enqueue(msg("d1")), /closed/);
        await assert.rejects(store.list("d1"), /closed/);
        await assert.rejects(store.count("d1"));
        await assert.rejects(store.remove([]));
        await assert.rejects(store.devices());
        await assert.rejects(store.readFeedback({ fromSequenceNumber: 0, limit: 1 }));
        await store.close();
      });
    });

    if (reopen !== undefined) {
      describe("durability", () => {
        test("messages, lock state, numbering and feedback survive close and reopen", async () => {
          const first = await open();
          const a = await first.enqueue(msg("d1", { body: "a", ack: "full", messageId: "ma" }));
          const b = await first.enqueue(msg("d1", { body: "b" }));
          const c = await first.enqueue(msg("d2", { body: "c" }));
          const locked = await first.setDelivery(b.id, null, { deliveryCount: 3, lockToken: "lock-b", lockedUntil: T + 60_000 });
          const { feedback } = await first.remove([{ id: a.id, feedback: fb("d1", "ma", "Success") }]);
          const d1Before = await first.list("d1");
          await first.close();

          const second = await reopen(first);
          try {
            assert.deepEqual(await second.list("d1"), d1Before);
            assert.deepEqual(await second.list("d1"), [locked]);
            assert.deepEqual(await second.list("d2"), [c]);
            assert.deepEqual(await second.devices(), ["d1", "d2"]);
            assert.deepEqual(await second.readFeedback({ fromSequenceNumber: 0, limit: 10 }), feedback);
            assert.equal((await second.enqueue(msg("d1"))).sequenceNumber, 3);
            await second.deleteFeedback([1]);
          } finally {
            await second.close();
          }

          const third = await reopen(first);
          try {
            // A deleted feedback number is not handed out again after a reopen either.
            const m = await third.enqueue(msg("d2"));
            const result = await third.remove([{ id: m.id, feedback: fb("d2", "x", "Purged") }]);
            assert.equal(result.feedback[0]!.sequenceNumber, 2);
          } finally {
            await third.close();
          }
        });

        test("writes pending at close() are durable", async () => {
          const first = await open();
          const pending = first.enqueue(msg("d1", { body: "last words" }));
          await first.close();
          await pending;
          const second = await reopen(first);
          try {
            const [read] = await second.list("d1");
            assert.equal(read?.body.toString(), "last words");
          } finally {
            await second.close();
          }
        });
      });
    }
  });
}

interface MessageOptions {
  id?: string;
  body?: string;
  properties?: Record<string, string>;
  ack?: "none" | "positive" | "negative" | "full";
  messageId?: string;
}

/** A message for `deviceId` with a fresh id, body and maps. */
function msg(deviceId: string, options: MessageOptions = {}): C2dEnqueue & { body: Buffer } {
  return {
    id: options.id ?? `msg-${++nextId}`,
    deviceId,
    deviceGenerationId: "638000000000000000",
    enqueuedTime: T,
    expiryTime: T + 3_600_000,
    body: Buffer.from(options.body ?? "{\"on\":true}"),
    properties: { ...(options.properties ?? { kind: "command" }) },
    systemProperties: { ack: options.ack ?? "none", ...(options.messageId === undefined ? {} : { messageId: options.messageId }), to: `/devices/${deviceId}/messages/devicebound` },
  };
}

function fb(deviceId: string, originalMessageId: string, statusCode: C2dFeedbackStatus): C2dFeedbackAppend {
  return { originalMessageId, deviceId, deviceGenerationId: "638000000000000000", enqueuedTimeUtc: T + 5, statusCode, description: statusCode };
}

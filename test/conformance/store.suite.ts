import assert from "node:assert/strict";
import { describe, test } from "node:test";
import type {
  IdentityEntry,
  IdentityKey,
  IdentityRecord,
  Store,
  StoreWrite,
  TwinRecord,
} from "../../src/hub/ports/store.js";

export type OpenStore = () => Promise<Store> | Store;
/** Opens the same underlying storage as `closed` (already closed), for stores that persist. */
export type ReopenStore = (closed: Store) => Promise<Store> | Store;

/**
 * Registers node:test tests that every Store adapter must pass. `open` returns a new, empty store on each call.
 * Pass `reopen` for persistent stores to also check that acknowledged writes survive a close and reopen.
 */
export function storeConformance(name: string, open: OpenStore, reopen?: ReopenStore): void {
  /** Runs `body` against a fresh store and always closes it, even when an assertion fails. */
  async function withStore(body: (store: Store) => Promise<void>): Promise<void> {
    const store = await open();
    try {
      await body(store);
    } finally {
      await store.close();
    }
  }

  describe(`Store conformance: ${name}`, () => {
    describe("get, put, delete", () => {
      test("a missing identity is undefined", () =>
        withStore(async (store) => {
          assert.equal(await store.getIdentity({ deviceId: "nope", moduleId: "" }), undefined);
          assert.equal(await store.getIdentity({ deviceId: "nope", moduleId: "m" }), undefined);
          assert.equal(await store.getIdentityRecord({ deviceId: "nope", moduleId: "" }), undefined);
        }));

      test("getIdentityRecord is the entry's identity, device and module alike, and follows a patch", () =>
        withStore(async (store) => {
          const device = entry("d1");
          const module = entry("d1", "m1");
          await store.write([put(device), put(module)]);
          assert.deepEqual(await store.getIdentityRecord(key("d1")), device.identity);
          assert.deepEqual(await store.getIdentityRecord(key("d1", "m1")), module.identity);
          assert.equal(await store.getIdentityRecord(key("d1", "m2")), undefined);
          await store.write([{ kind: "patch", key: key("d1"), fields: { connectionState: "Connected" } }]);
          assert.deepEqual(await store.getIdentityRecord(key("d1")), (await store.getIdentity(key("d1")))!.identity);
          assert.equal((await store.getIdentityRecord(key("d1")))!.connectionState, "Connected");
        }));

      test("a put entry reads back equal, device and module alike", () =>
        withStore(async (store) => {
          const device = entry("d1");
          const module = entry("d1", "m1");
          await store.write([put(device), put(module)]);
          assert.deepEqual(await store.getIdentity(key("d1")), device);
          assert.deepEqual(await store.getIdentity(key("d1", "m1")), module);
          assert.equal(await store.getIdentity(key("d1", "m2")), undefined);
        }));

      test("rich twin content round-trips: nesting, unicode, quotes, numbers, nulls", () =>
        withStore(async (store) => {
          const rich = entry("dév-ü✓");
          rich.twin.tags = {
            nested: { deeper: { list: [1, 2.5, -3e-7, null, true, "x"] } },
            quote: 'he said "hi" \\ \n\t',
            emoji: "😀",
            empty: {},
            big: "z".repeat(40_000),
          };
          rich.twin.reported["$metadata"] = { temperature: { $lastUpdated: "2024-01-01T00:00:00.0000000Z" } };
          await store.write([put(rich)]);
          assert.deepEqual(await store.getIdentity(key("dév-ü✓")), rich);
        }));

      test("a put replaces the entry with the same key", () =>
        withStore(async (store) => {
          await store.write([put(entry("d1"))]);
          const updated = entry("d1", "", "disabled");
          updated.identity.etagVersion = 7;
          updated.twin.version = 9;
          updated.twin.etagVersion = 4;
          updated.twin.tags = { site: "b" };
          await store.write([put(updated)]);
          assert.deepEqual(await store.getIdentity(key("d1")), updated);
          assert.equal((await store.scan({ collection: "devices", limit: 10 })).length, 1);
        }));

      test("ids are case-sensitive: 'Dev' and 'dev' are different entries", () =>
        withStore(async (store) => {
          await store.write([put(entry("dev")), put(entry("Dev", "", "disabled"))]);
          assert.equal((await store.getIdentity(key("dev")))?.identity.status, "enabled");
          assert.equal((await store.getIdentity(key("Dev")))?.identity.status, "disabled");
          assert.equal(await store.getIdentity(key("DEV")), undefined);
        }));

      test("deleting a module leaves its device and sibling modules", () =>
        withStore(async (store) => {
          await store.write([put(entry("d1")), put(entry("d1", "m1")), put(entry("d1", "m2"))]);
          await store.write([del("d1", "m1")]);
          assert.equal(await store.getIdentity(key("d1", "m1")), undefined);
          assert.ok(await store.getIdentity(key("d1")));
          assert.ok(await store.getIdentity(key("d1", "m2")));
        }));

      test("deleting a missing key is a no-op", () =>
        withStore(async (store) => {
          await store.write([put(entry("d1"))]);
          await store.write([del("ghost"), del("ghost", "m"), del("d1", "ghost")]);
          assert.ok(await store.getIdentity(key("d1")));
        }));

      test("an empty write is a no-op", () =>
        withStore(async (store) => {
          await store.write([]);
          assert.deepEqual(await store.scan({ collection: "devices", limit: 10 }), []);
        }));
    });

    describe("write batches", () => {
      test("all writes of one call are applied", () =>
        withStore(async (store) => {
          await store.write([put(entry("a")), put(entry("b")), put(entry("c"))]);
          await store.write([put(entry("d")), del("a"), put(entry("b", "m"))]);
          assert.deepEqual(await ids(store, "devices"), ["b", "c", "d"]);
          assert.deepEqual(await ids(store, "modules"), ["b/m"]);
        }));

      test("writes apply in order within a call", () =>
        withStore(async (store) => {
          await store.write([put(entry("gone")), del("gone"), del("back"), put(entry("back"))]);
          const twice = entry("twice");
          twice.twin.version = 2;
          await store.write([put(entry("twice")), put(twice)]);
          assert.equal(await store.getIdentity(key("gone")), undefined);
          assert.ok(await store.getIdentity(key("back")));
          assert.equal((await store.getIdentity(key("twice")))?.twin.version, 2);
        }));

      test("a batch that fails part-way leaves nothing of itself behind", () =>
        withStore(async (store) => {
          const before = entry("kept");
          await store.write([put(before), put(entry("kept", "m"))]);
          const unstorable = entry("bad");
          // JSON.stringify throws on a BigInt: the failure comes after earlier writes of the batch were handled.
          unstorable.twin.tags = { n: 1n };
          const changed = entry("kept", "", "disabled");
          await assert.rejects(
            store.write([put(changed), del("kept", "m"), put(entry("new")), put(unstorable)]),
          );
          assert.deepEqual(await store.getIdentity(key("kept")), before);
          assert.ok(await store.getIdentity(key("kept", "m")));
          assert.equal(await store.getIdentity(key("new")), undefined);
          assert.equal(await store.getIdentity(key("bad")), undefined);
          // And the store still works afterwards.
          await store.write([put(entry("new"))]);
          assert.ok(await store.getIdentity(key("new")));
        }));

      test("deleting a device deletes its modules, and only its modules", () =>
        withStore(async (store) => {
          await store.write([
            put(entry("dev")),
            put(entry("dev", "m1")),
            put(entry("dev", "m2")),
            // Ids that share a prefix or differ in case must survive.
            put(entry("dev2")),
            put(entry("dev2", "m1")),
            put(entry("Dev")),
            put(entry("Dev", "m1")),
            put(entry("de")),
          ]);
          await store.write([del("dev")]);
          assert.equal(await store.getIdentity(key("dev")), undefined);
          assert.equal(await store.getIdentity(key("dev", "m1")), undefined);
          assert.deepEqual(await store.listModules("dev"), []);
          assert.deepEqual(await ids(store, "devices"), ["Dev", "de", "dev2"]);
          assert.deepEqual(await ids(store, "modules"), ["Dev/m1", "dev2/m1"]);
        }));

      test("a patch sets bookkeeping fields of one identity and leaves the rest, twin included, as it was", () =>
        withStore(async (store) => {
          const device = entry("p");
          device.twin.tags = { site: "north", "quote\"d": ["ü", 1.5, null] };
          const module = entry("p", "m");
          await store.write([put(device), put(module)]);
          await store.write([
            { kind: "patch", key: key("p"), fields: { connectionState: "Connected", connectionStateUpdatedTime: "2026-11-27T09:00:00.1234567Z", lastActivityTime: "2026-11-27T09:00:00.1234567Z" } },
            { kind: "patch", key: key("p", "m"), fields: { cloudToDeviceMessageCount: 7 } },
          ]);
          const read = await store.getIdentity(key("p"));
          assert.deepEqual(read, {
            identity: { ...device.identity, connectionState: "Connected", connectionStateUpdatedTime: "2026-11-27T09:00:00.1234567Z", lastActivityTime: "2026-11-27T09:00:00.1234567Z" },
            twin: device.twin,
          });
          // The fields keep their places: a patched entry renders like one put whole.
          assert.deepEqual(Object.keys(read!.identity), Object.keys(device.identity));
          assert.deepEqual(await store.getIdentity(key("p", "m")), { identity: { ...module.identity, cloudToDeviceMessageCount: 7 }, twin: module.twin });
          assert.deepEqual((await store.countDevices()).enabled, 1);
        }));

      test("a patch of a missing identity creates nothing; patches apply in order with the batch's other writes", () =>
        withStore(async (store) => {
          await store.write([{ kind: "patch", key: key("ghost"), fields: { connectionState: "Connected" } }]);
          assert.equal(await store.getIdentity(key("ghost")), undefined);
          await store.write([
            put(entry("late")),
            { kind: "patch", key: key("late"), fields: { cloudToDeviceMessageCount: 1 } },
            { kind: "patch", key: key("late"), fields: { cloudToDeviceMessageCount: 2 } },
            { kind: "patch", key: key("gone"), fields: { cloudToDeviceMessageCount: 3 } },
            del("gone"),
          ]);
          assert.equal((await store.getIdentity(key("late")))?.identity.cloudToDeviceMessageCount, 2);
          assert.deepEqual(await ids(store, "devices"), ["late"]);
        }));

      test("deleting a device without a device entry still deletes its modules", () =>
        withStore(async (store) => {
          await store.write([put(entry("orphan", "m1"))]);
          await store.write([del("orphan")]);
          assert.equal(await store.getIdentity(key("orphan", "m1")), undefined);
        }));
    });

    describe("scan", () => {
      test("scans in binary (case-sensitive) order whatever the insertion order", () =>
        withStore(async (store) => {
          const shuffled = ["b", "a", "B", "_", "A", "aa", "0", "a-b", "Z", "a.b", "~"];
          await store.write(shuffled.map((id) => put(entry(id))));
          // ASCII order: digits < upper case < "_" < lower case < "~"; a prefix sorts before its extensions.
          assert.deepEqual(await ids(store, "devices"), ["0", "A", "B", "Z", "_", "a", "a-b", "a.b", "aa", "b", "~"]);
        }));

      test("non-ASCII ids scan in code point order, as UTF-8 bytes compare", () =>
        withStore(async (store) => {
          // U+FFFD < U+1F600 by code point, although "\u{1F600}" < "\uFFFD" by UTF-16 code units.
          await store.write([put(entry("\u{1F600}")), put(entry("\uFFFD")), put(entry("é")), put(entry("z"))]);
          assert.deepEqual(await ids(store, "devices"), ["z", "é", "\uFFFD", "\u{1F600}"]);
        }));

      test("limit caps the page; limit 0 returns nothing", () =>
        withStore(async (store) => {
          await store.write(["a", "b", "c"].map((id) => put(entry(id))));
          assert.deepEqual(idsOf(await store.scan({ collection: "devices", limit: 2 })), ["a", "b"]);
          assert.deepEqual(await store.scan({ collection: "devices", limit: 0 }), []);
          assert.deepEqual(await store.scan({ collection: "modules", limit: 10 }), []);
        }));

      test("after resumes strictly after the key, so pages chain without gaps or repeats", () =>
        withStore(async (store) => {
          const all = Array.from({ length: 23 }, (_, i) => `dev-${String(i).padStart(2, "0")}`);
          await store.write([...all].reverse().map((id) => put(entry(id))));
          await store.write([put(entry("dev-05", "m"))]);
          const seen: string[] = [];
          let after: IdentityKey | undefined;
          for (;;) {
            const page = await store.scan({ collection: "devices", limit: 5, ...(after ? { after } : {}) });
            seen.push(...idsOf(page));
            if (page.length < 5) break;
            after = page.at(-1)!.identity;
          }
          assert.deepEqual(seen, all);
        }));

      test("after may name a key that does not exist", () =>
        withStore(async (store) => {
          await store.write(["a", "c", "e"].map((id) => put(entry(id))));
          assert.deepEqual(idsOf(await store.scan({ collection: "devices", limit: 10, after: key("b") })), ["c", "e"]);
          assert.deepEqual(idsOf(await store.scan({ collection: "devices", limit: 10, after: key("e") })), []);
          assert.deepEqual(idsOf(await store.scan({ collection: "devices", limit: 10, after: key("B") })), ["a", "c", "e"]);
          // A module key between devices: resumes at the next device.
          assert.deepEqual(idsOf(await store.scan({ collection: "devices", limit: 10, after: key("a", "m") })), ["c", "e"]);
        }));

      test("collection separates devices from modules; modules scan in (deviceId, moduleId) order", () =>
        withStore(async (store) => {
          await store.write([
            put(entry("b", "m2")),
            put(entry("b")),
            put(entry("a", "z")),
            put(entry("b", "M1")),
            put(entry("a")),
            put(entry("a", "m")),
            put(entry("c")),
          ]);
          assert.deepEqual(await ids(store, "devices"), ["a", "b", "c"]);
          assert.deepEqual(await ids(store, "modules"), ["a/m", "a/z", "b/M1", "b/m2"]);
          const afterFirst = await store.scan({ collection: "modules", limit: 2, after: key("a", "m") });
          assert.deepEqual(idsOf(afterFirst), ["a/z", "b/M1"]);
          // Resuming module scanning from a device key starts with that device's first module.
          assert.deepEqual(idsOf(await store.scan({ collection: "modules", limit: 1, after: key("b") })), ["b/M1"]);
        }));
    });

    describe("listModules", () => {
      test("lists the device's modules by moduleId, without the device or other devices' modules", () =>
        withStore(async (store) => {
          await store.write([
            put(entry("d")),
            put(entry("d", "b")),
            put(entry("d", "a")),
            put(entry("d", "B")),
            put(entry("d2", "a")),
            put(entry("D", "a")),
          ]);
          const modules = await store.listModules("d");
          assert.deepEqual(idsOf(modules), ["d/B", "d/a", "d/b"]);
          assert.deepEqual(modules[1], entry("d", "a"));
          assert.deepEqual(await store.listModules("none"), []);
        }));
    });

    describe("countDevices", () => {
      test("counts devices by status and ignores modules", () =>
        withStore(async (store) => {
          assert.deepEqual(await store.countDevices(), { total: 0, enabled: 0, disabled: 0 });
          await store.write([
            put(entry("a")),
            put(entry("b", "", "disabled")),
            put(entry("c")),
            put(entry("a", "m", "disabled")),
            put(entry("c", "m")),
          ]);
          assert.deepEqual(await store.countDevices(), { total: 3, enabled: 2, disabled: 1 });
          await store.write([put(entry("a", "", "disabled")), del("c")]);
          assert.deepEqual(await store.countDevices(), { total: 2, enabled: 0, disabled: 2 });
        }));
    });

    describe("settings", () => {
      test("missing settings are undefined; put values read back; puts replace", () =>
        withStore(async (store) => {
          assert.equal(await store.getSetting("policies"), undefined);
          const policies = [{ keyName: "iothubowner", primaryKey: "k1", rights: ["RegistryWrite"] }];
          await store.putSetting("policies", policies);
          await store.putSetting("other", { a: 1 });
          assert.deepEqual(await store.getSetting("policies"), policies);
          await store.putSetting("policies", []);
          assert.deepEqual(await store.getSetting("policies"), []);
          assert.deepEqual(await store.getSetting("other"), { a: 1 });
        }));

      test("any JSON value is kept, null included", () =>
        withStore(async (store) => {
          const values: Record<string, unknown> = { s: "text", n: 42.5, t: true, z: null, a: [1, "2", null], o: {} };
          for (const [name, value] of Object.entries(values)) await store.putSetting(name, value);
          for (const [name, value] of Object.entries(values)) assert.deepEqual(await store.getSetting(name), value);
        }));

      test("putting undefined removes the setting", () =>
        withStore(async (store) => {
          await store.putSetting("s", 1);
          await store.putSetting("s", undefined);
          assert.equal(await store.getSetting("s"), undefined);
        }));

      test("listSettings lists the settings a prefix starts, in name order, with their values", () =>
        withStore(async (store) => {
          // Neighbours on both sides of the prefix in byte order ('9' < ':' < ';'), and one name that is the prefix alone.
          for (const name of ["s:b", "s9", "s:a", "s;", "s:", "t:a", "s:ä"]) await store.putSetting(name, { name });
          assert.deepEqual(await store.listSettings("s:"), ["s:", "s:a", "s:b", "s:ä"].map((name) => ({ name, value: { name } })));
          await store.putSetting("s:a", undefined);
          assert.deepEqual((await store.listSettings("s:")).map((s) => s.name), ["s:", "s:b", "s:ä"]);
          assert.deepEqual(await store.listSettings("none:"), []);
          for (const prefix of ["", "ä:", "s\u0000"]) await assert.rejects(store.listSettings(prefix), RangeError, JSON.stringify(prefix));
        }));

      test("settings and identities do not interfere", () =>
        withStore(async (store) => {
          await store.putSetting("d1", { x: 1 });
          await store.write([put(entry("d1"))]);
          assert.deepEqual(await store.getSetting("d1"), { x: 1 });
          assert.deepEqual(await store.countDevices(), { total: 1, enabled: 1, disabled: 0 });
        }));
    });

    describe("isolation", () => {
      test("changing a written entry afterwards does not change the stored one", () =>
        withStore(async (store) => {
          const written = entry("d");
          await store.write([put(written)]);
          written.identity.status = "disabled";
          written.twin.tags["leak"] = true;
          written.identity.parentScopes.push("scope");
          assert.deepEqual(await store.getIdentity(key("d")), entry("d"));
          assert.deepEqual(await store.countDevices(), { total: 1, enabled: 1, disabled: 0 });
        }));

      test("changing a read entry does not change the stored one", () =>
        withStore(async (store) => {
          await store.write([put(entry("d")), put(entry("d", "m"))]);
          const viaGet = (await store.getIdentity(key("d")))!;
          viaGet.twin.desired["leak"] = 1;
          const [viaScan] = await store.scan({ collection: "devices", limit: 1 });
          viaScan!.identity.authentication.symmetricKey!.primaryKey = "stolen";
          const [viaList] = await store.listModules("d");
          viaList!.twin.tags["leak"] = 1;
          assert.deepEqual(await store.getIdentity(key("d")), entry("d"));
          assert.deepEqual(await store.getIdentity(key("d", "m")), entry("d", "m"));
        }));

      test("two reads return distinct objects", () =>
        withStore(async (store) => {
          await store.write([put(entry("d"))]);
          assert.notEqual(await store.getIdentity(key("d")), await store.getIdentity(key("d")));
        }));

      test("settings are copied in and out", () =>
        withStore(async (store) => {
          const value = { list: [1] };
          await store.putSetting("s", value);
          value.list.push(2);
          const read = (await store.getSetting("s")) as { list: number[] };
          read.list.push(3);
          assert.deepEqual(await store.getSetting("s"), { list: [1] });
        }));
    });

    describe("close", () => {
      test("close resolves, and later calls reject", async () => {
        const store = await open();
        await store.write([put(entry("d"))]);
        await store.close();
        await assert.rejects(store.getIdentity(key("d")));
        await assert.rejects(store.write([put(entry("e"))]));
        await assert.rejects(store.scan({ collection: "devices", limit: 1 }));
        await assert.rejects(store.getSetting("s"));
        // Closing twice is harmless.
        await store.close();
      });
    });

    if (reopen !== undefined) {
      describe("durability", () => {
        test("acknowledged writes and settings survive close and reopen", async () => {
          const first = await open();
          const entries = Array.from({ length: 250 }, (_, i) => entry(`dev-${i}`, "", i % 5 === 0 ? "disabled" : "enabled"));
          for (let i = 0; i < entries.length; i += 100) await first.write(entries.slice(i, i + 100).map(put));
          await first.write([put(entry("dev-1", "m")), put(entry("dev-2", "m")), del("dev-2"), del("dev-3")]);
          await first.putSetting("policies", [{ keyName: "owner" }]);
          await first.close();

          const second = await reopen(first);
          try {
            assert.deepEqual(await second.getIdentity(key("dev-1", "m")), entry("dev-1", "m"));
            assert.equal(await second.getIdentity(key("dev-2", "m")), undefined);
            assert.equal(await second.getIdentity(key("dev-3")), undefined);
            assert.deepEqual(await second.getIdentity(key("dev-7")), entries[7]);
            assert.deepEqual(await second.countDevices(), { total: 248, enabled: 198, disabled: 50 });
            assert.deepEqual(await second.getSetting("policies"), [{ keyName: "owner" }]);
            // The reopened store keeps working.
            await second.write([put(entry("after-reopen"))]);
            assert.ok(await second.getIdentity(key("after-reopen")));
          } finally {
            await second.close();
          }
        });
      });
    }
  });
}

function key(deviceId: string, moduleId = ""): IdentityKey {
  return { deviceId, moduleId };
}

function put(entry: IdentityEntry): StoreWrite {
  return { kind: "put", entry };
}

function del(deviceId: string, moduleId = ""): StoreWrite {
  return { kind: "delete", key: key(deviceId, moduleId) };
}

/** "deviceId" for devices, "deviceId/moduleId" for modules. */
function idsOf(entries: readonly IdentityEntry[]): string[] {
  return entries.map(({ identity }) => (identity.moduleId === "" ? identity.deviceId : `${identity.deviceId}/${identity.moduleId}`));
}

async function ids(store: Store, collection: "devices" | "modules"): Promise<string[]> {
  return idsOf(await store.scan({ collection, limit: 1_000 }));
}

/** A realistic entry; the same arguments always give an equal value. */
function entry(deviceId: string, moduleId = "", status: IdentityRecord["status"] = "enabled"): IdentityEntry {
  const never = "0001-01-01T00:00:00";
  const identity: IdentityRecord = {
    deviceId,
    moduleId,
    generationId: `638000000000${deviceId.length}`,
    etagVersion: 1,
    status,
    statusReason: null,
    statusUpdatedTime: never,
    connectionState: "Disconnected",
    connectionStateUpdatedTime: never,
    lastActivityTime: never,
    cloudToDeviceMessageCount: 0,
    authentication: {
      type: "sas",
      symmetricKey: { primaryKey: `p-${deviceId}-${moduleId}`, secondaryKey: `s-${deviceId}-${moduleId}` },
      x509Thumbprint: { primaryThumbprint: null, secondaryThumbprint: null },
    },
    capabilities: { iotEdge: false },
    deviceScope: null,
    parentScopes: [],
    managedBy: moduleId === "" ? null : "IotEdge",
  };
  const metadata = { $lastUpdated: "2024-01-01T00:00:00.0000000Z" };
  const twin: TwinRecord = {
    version: 1,
    etagVersion: 1,
    tags: {},
    desired: { $metadata: metadata, $version: 1 },
    reported: { $metadata: { ...metadata }, $version: 1 },
  };
  return { identity, twin };
}

import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { SettingSubscriptionStore } from "../../src/storage/setting-subscription-store.js";
import { SqliteStore } from "../../src/storage/sqlite/sqlite-store.js";
import { MemoryStore } from "../../src/storage/memory/memory-store.js";

test("MQTT sessions survive a restart of the store, per identity, and clear on CleanSession", async () => {
  const dir = mkdtempSync(join(tmpdir(), "malachite-sessions-"));
  try {
    const path = join(dir, "malachite.db");
    const first = SqliteStore.open({ path });
    const sessions = new SettingSubscriptionStore(first);
    await sessions.save({ deviceId: "d1", moduleId: "" }, ["twinResponses", "desiredUpdates"]);
    await sessions.save({ deviceId: "d1", moduleId: "m1" }, ["methods"]);
    await first.close();
    const second = SqliteStore.open({ path });
    for (const reopened of [new SettingSubscriptionStore(second), await SettingSubscriptionStore.open(second)]) {
      assert.deepEqual(await reopened.load({ deviceId: "d1", moduleId: "" }), ["twinResponses", "desiredUpdates"]);
      assert.deepEqual(await reopened.load({ deviceId: "d1", moduleId: "m1" }), ["methods"]);
      assert.equal(await reopened.load({ deviceId: "d2", moduleId: "" }), undefined);
    }
    const reopened = await SettingSubscriptionStore.open(second);
    await reopened.clear({ deviceId: "d1", moduleId: "" });
    assert.equal(await reopened.load({ deviceId: "d1", moduleId: "" }), undefined);
    assert.equal(await (await SettingSubscriptionStore.open(second)).load({ deviceId: "d1", moduleId: "" }), undefined, "cleared in the store too");
    await second.close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("MQTT sessions: reads once per identity, skips writes that change nothing, and always answers what was last written", async () => {
  const store = new MemoryStore();
  let reads = 0;
  let writes = 0;
  const getSetting = store.getSetting.bind(store);
  const putSetting = store.putSetting.bind(store);
  store.getSetting = (name) => (reads++, getSetting(name));
  store.putSetting = (name, value) => (writes++, putSetting(name, value));
  const d1 = { deviceId: "d1", moduleId: "" };
  const sessions = new SettingSubscriptionStore(store);

  assert.equal(await sessions.load(d1), undefined);
  assert.equal(await sessions.load(d1), undefined);
  assert.equal(reads, 1);

  await sessions.save(d1, ["methods"]);
  assert.equal(writes, 1);
  await sessions.save(d1, ["methods"]); // the SDK re-subscribing after a reconnect
  assert.equal(writes, 1);
  const loaded = await sessions.load(d1);
  assert.deepEqual(loaded, ["methods"]);
  loaded!.push("c2d"); // a caller's copy: changing it changes nothing stored
  assert.deepEqual(await sessions.load(d1), ["methods"]);

  await sessions.save(d1, ["methods", "desiredUpdates"]);
  assert.equal(writes, 2);
  assert.deepEqual(await sessions.load(d1), ["methods", "desiredUpdates"]);
  assert.deepEqual(await getSetting('mqtt-session:["d1",""]'), ["methods", "desiredUpdates"]);

  await sessions.clear(d1);
  await sessions.clear(d1); // CleanSession on every CONNECT
  assert.equal(writes, 3);
  assert.equal(await sessions.load(d1), undefined);
  assert.equal(await getSetting('mqtt-session:["d1",""]'), undefined);
  assert.equal(reads, 1);

  // A read under way when a write happens is not remembered: the next load reads again and sees the write.
  const d2 = { deviceId: "d2", moduleId: "" };
  let release: () => void = () => undefined;
  const gate = new Promise<void>((resolve) => (release = resolve));
  store.getSetting = async (name) => {
    reads++;
    const value = await getSetting(name);
    await gate;
    return value;
  };
  const stale = sessions.load(d2);
  await sessions.save(d2, ["c2d"]);
  release();
  assert.equal(await stale, undefined);
  assert.deepEqual(await sessions.load(d2), ["c2d"]);
});

test("MQTT sessions opened whole: no connect reads the store, writes still go through, and a load during a write answers what it replaces", async () => {
  const store = new MemoryStore();
  await store.putSetting('mqtt-session:["d1",""]', ["methods"]);
  await store.putSetting("policies", []); // another setting: not a session
  let reads = 0;
  const getSetting = store.getSetting.bind(store);
  const putSetting = store.putSetting.bind(store);
  store.getSetting = (name) => (reads++, getSetting(name));
  const sessions = await SettingSubscriptionStore.open(store);
  const d1 = { deviceId: "d1", moduleId: "" };
  const d2 = { deviceId: "d2", moduleId: "" };

  assert.deepEqual(await sessions.load(d1), ["methods"]);
  assert.equal(await sessions.load(d2), undefined);
  assert.equal(await sessions.load({ deviceId: "d1", moduleId: "m" }), undefined);
  await sessions.clear(d2); // CleanSession on every CONNECT of a device that has none: nothing to write
  assert.equal(await getSetting('mqtt-session:["d2",""]'), undefined);
  assert.equal(reads, 0);

  let release: () => void = () => undefined;
  const gate = new Promise<void>((resolve) => (release = resolve));
  store.putSetting = async (name, value) => {
    await gate;
    return putSetting(name, value);
  };
  const saving = sessions.save(d1, ["methods", "c2d"]);
  assert.deepEqual(await sessions.load(d1), ["methods"], "while the write is under way");
  release();
  await saving;
  assert.deepEqual(await sessions.load(d1), ["methods", "c2d"]);
  assert.deepEqual(await getSetting('mqtt-session:["d1",""]'), ["methods", "c2d"]);
  await sessions.clear(d1);
  assert.equal(await sessions.load(d1), undefined);
  assert.equal(await getSetting('mqtt-session:["d1",""]'), undefined);
  assert.equal(reads, 0);
});

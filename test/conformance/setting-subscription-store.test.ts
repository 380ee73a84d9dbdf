import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { SettingSubscriptionStore } from "../../src/storage/setting-subscription-store.js";
import { SqliteStore } from "../../src/storage/sqlite/sqlite-store.js";

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
    const reopened = new SettingSubscriptionStore(second);
    assert.deepEqual(await reopened.load({ deviceId: "d1", moduleId: "" }), ["twinResponses", "desiredUpdates"]);
    assert.deepEqual(await reopened.load({ deviceId: "d1", moduleId: "m1" }), ["methods"]);
    assert.equal(await reopened.load({ deviceId: "d2", moduleId: "" }), undefined);
    await reopened.clear({ deviceId: "d1", moduleId: "" });
    assert.equal(await reopened.load({ deviceId: "d1", moduleId: "" }), undefined);
    await second.close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

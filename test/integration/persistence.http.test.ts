import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import iothub from "azure-iothub";
import { startTestHub } from "./harness/start-test-hub.js";

const { Registry } = iothub;

test("devices, twins, policies and certificates survive a restart", async () => {
  const dataDir = mkdtempSync(join(tmpdir(), "malachite-persist-"));
  try {
    const first = await startTestHub({ dataDir });
    const hubJson = JSON.parse(readFileSync(join(dataDir, "hub.json"), "utf8"));
    assert.equal(hubJson.hostName, first.hostName);
    assert.equal(hubJson.hubName, "test-hub");
    assert.equal(hubJson.ports.https, 443);
    assert.deepEqual(hubJson.connectionStrings, first.connectionStrings);
    assert.equal(hubJson.caCertificatePath, first.caCertificatePath);
    assert.deepEqual(Object.keys(hubJson.eventHubCompatible).sort(), ["connectionString", "name", "partitionCount"]);
    const registry = Registry.fromConnectionString(first.connectionStrings["iothubowner"]!);
    const { responseBody: device } = await registry.create({ deviceId: "persisted" });
    await registry.addModule({ deviceId: "persisted", moduleId: "m" });
    await registry.updateTwin("persisted", { tags: { kept: true } }, "*");
    await first.close();

    const second = await startTestHub({ dataDir, hostName: first.hostName, bind: first.hostName });
    try {
      assert.deepEqual(second.connectionStrings, first.connectionStrings);
      const again = Registry.fromConnectionString(second.connectionStrings["iothubowner"]!);
      assert.deepEqual((await again.get("persisted")).responseBody, device);
      assert.equal((await again.getModule("persisted", "m")).responseBody.moduleId, "m");
      assert.equal(((await again.getTwin("persisted")).responseBody as unknown as { tags: { kept: boolean } }).tags.kept, true);
    } finally {
      await second.close();
    }
  } finally {
    rmSync(dataDir, { recursive: true, force: true });
  }
});

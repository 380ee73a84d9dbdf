import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { request } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import iothub from "azure-iothub";
import { startTestHub, type TestHub } from "./harness/start-test-hub.js";
import { serviceRequest } from "./harness/service-request.js";
import { deviceRequest, deviceToken } from "./harness/http-device-client.js";

// Decision 0013: the hub clock's offset, admin fault rules and the day's quota count survive a restart on the same
// data dir (SQLite store), each read back through the hub's own APIs.

const { Registry } = iothub;
const API = "api-version=2021-04-12";
const JSON_TYPE = { "content-type": "application/json; charset=utf-8" };

type Rule = { id: string; applied: number; state: string; source: string };

/** POST /devices/{id}/messages/events as an HTTPS device, raw: status and IoT Hub's error code header. */
async function send(hub: TestHub, deviceId: string, key: string): Promise<{ status: number; errorCode: string | undefined }> {
  const response = await deviceRequest(hub, "POST", `/devices/${deviceId}/messages/events?api-version=2020-09-30`, {
    authorization: deviceToken(hub, deviceId, key),
    body: "x",
    headers: { "content-type": "application/octet-stream" },
  });
  return { status: response.status, errorCode: response.headers["iothub-errorcode"] as string | undefined };
}

/** `iothub_daily_message_quota_used` from the hub's /metrics listener. */
function quotaUsed(hub: TestHub): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = request({ host: hub.hostName, port: hub.ports.metrics!, path: "/metrics" }, (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (c: Buffer) => chunks.push(c));
      res.on("end", () => {
        const line = Buffer.concat(chunks).toString("utf8").split("\n").find((l) => l.startsWith("iothub_daily_message_quota_used "));
        if (line === undefined) reject(new Error("no iothub_daily_message_quota_used sample"));
        else resolve(Number(line.split(" ")[1]));
      });
    });
    req.on("error", reject);
    req.end();
  });
}

async function clockOffset(hub: TestHub): Promise<number> {
  const reply = await serviceRequest(hub, "GET", `/admin/clock?${API}`);
  assert.equal(reply.status, 200, reply.text);
  return (reply.json as { offsetSeconds: number }).offsetSeconds;
}

async function rules(hub: TestHub): Promise<Rule[]> {
  const reply = await serviceRequest(hub, "GET", `/admin/faults?${API}`);
  assert.equal(reply.status, 200, reply.text);
  return (reply.json as { rules: Rule[] }).rules;
}

/** A service twin read of the device: the fault rule below refuses it with 503. */
async function twinStatus(hub: TestHub, deviceId: string): Promise<number> {
  return (await serviceRequest(hub, "GET", `/twins/${deviceId}?${API}`)).status;
}

test("the clock offset, admin fault rules and the day's quota count survive a restart on the same data dir", async () => {
  const dataDir = mkdtempSync(join(tmpdir(), "malachite-restart-"));
  const options = { dataDir, metricsPort: 0, limits: { dailyMessages: 5 } };
  let second: TestHub | undefined;
  try {
    const first = await startTestHub(options);
    const registry = Registry.fromConnectionString(first.connectionStrings["iothubowner"]!);
    const key = (await registry.create({ deviceId: "rs-dev" })).responseBody.authentication!.symmetricKey!.primaryKey!;

    // The clock: to noon UTC of the next hub day through POST /admin/clock (answered once stored), so the quota day
    // cannot end during the test; then one more minute through the synchronous advanceClock (stored in the background).
    const now = Date.parse(first.advanceClock(0).now);
    const toNoon = Math.ceil((Math.floor(now / 86_400_000 + 1) * 86_400_000 + 43_200_000 - now) / 1000);
    const advanced = await serviceRequest(first, "POST", `/admin/clock?${API}`, { body: JSON.stringify({ advanceSeconds: toNoon }), headers: JSON_TYPE });
    assert.equal(advanced.status, 200, advanced.text);
    first.advanceClock(60);
    const offset = toNoon + 60;
    assert.equal(await clockOffset(first), offset);

    // A fault rule through the admin API, used once.
    const added = await serviceRequest(first, "POST", `/admin/faults?${API}`, { body: JSON.stringify({ error: 503001, operation: "twin.get", deviceId: "rs-dev", count: 3 }), headers: JSON_TYPE });
    assert.equal(added.status, 201, added.text);
    const ruleId = (added.json as Rule).id;
    assert.equal(await twinStatus(first, "rs-dev"), 503);
    const before = await rules(first);
    assert.deepEqual(before.map((r) => [r.id, r.applied, r.state, r.source]), [[ruleId, 1, "active", "admin"]]);

    // Three of the day's five messages.
    for (let i = 0; i < 3; i++) assert.deepEqual(await send(first, "rs-dev", key), { status: 204, errorCode: undefined });
    assert.equal(await quotaUsed(first), 3);

    await first.close();
    second = await startTestHub({ ...options, hostName: first.hostName, bind: first.hostName });

    // Hub time did not go back: the offset is the one stored (and the clock still reads on from there).
    assert.equal(await clockOffset(second), offset);
    // The day's count: three of five used before the restart.
    assert.equal(await quotaUsed(second), 3);
    // The rule, with its id and use count, still in force: two uses left of three. Faulted reads are not charged; the
    // read that goes through is (a twin read is metered), the day's fourth block.
    assert.deepEqual(await rules(second), before);
    assert.equal(await twinStatus(second, "rs-dev"), 503);
    assert.equal(await twinStatus(second, "rs-dev"), 503);
    assert.equal(await twinStatus(second, "rs-dev"), 200);
    assert.deepEqual((await rules(second)).map((r) => [r.id, r.applied, r.state]), [[ruleId, 3, "spent"]]);
    assert.equal(await quotaUsed(second), 4);
    // So the quota of five is reached one message later, not five.
    assert.deepEqual(await send(second, "rs-dev", key), { status: 204, errorCode: undefined });
    assert.deepEqual(await send(second, "rs-dev", key), { status: 403, errorCode: "IotHubQuotaExceeded" });
  } finally {
    await second?.close();
    rmSync(dataDir, { recursive: true, force: true });
  }
});

import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startTestHub, type TestHub } from "./harness/start-test-hub.js";
import { serviceRequest, serviceToken } from "./harness/service-request.js";

const V = "api-version=2021-04-12";

describe("consumer groups through /admin/consumer-groups", () => {
  const dataDir = mkdtempSync(join(tmpdir(), "malachite-cg-"));
  let hub: TestHub;

  before(async () => {
    hub = await startTestHub({ dataDir });
  });
  after(async () => {
    await hub.dispose();
    rmSync(dataDir, { recursive: true, force: true });
  });

  const list = async (): Promise<string[]> => {
    const reply = await serviceRequest(hub, "GET", `/admin/consumer-groups?${V}`);
    assert.equal(reply.status, 200, reply.text);
    return (reply.json as { consumerGroups: string[] }).consumerGroups;
  };

  test("$Default exists; PUT creates (idempotently, any case), DELETE removes, and groups survive a restart", async () => {
    assert.deepEqual(await list(), ["$Default"]);
    const created = await serviceRequest(hub, "PUT", `/admin/consumer-groups/Analytics?${V}`);
    assert.equal(created.status, 200, created.text);
    assert.deepEqual(created.json, { name: "Analytics" });
    const again = await serviceRequest(hub, "PUT", `/admin/consumer-groups/analytics?${V}`);
    assert.deepEqual(again.json, { name: "Analytics" });
    assert.equal((await serviceRequest(hub, "PUT", `/admin/consumer-groups/temp-1?${V}`)).status, 200);
    assert.deepEqual(await list(), ["$Default", "Analytics", "temp-1"]);

    const removed = await serviceRequest(hub, "DELETE", `/admin/consumer-groups/TEMP-1?${V}`);
    assert.equal(removed.status, 204);
    assert.equal(removed.text, "");
    assert.deepEqual(await list(), ["$Default", "Analytics"]);

    await hub.close();
    hub = await startTestHub({ dataDir });
    assert.deepEqual(await list(), ["$Default", "Analytics"]);
  });

  test("refusals: bad name 400, unknown group 404, $Default 400, too many 400", async () => {
    const bad = await serviceRequest(hub, "PUT", `/admin/consumer-groups/-bad?${V}`);
    assert.equal(bad.status, 400);
    assert.equal(bad.headers["iothub-errorcode"], "ArgumentInvalid");
    const missing = await serviceRequest(hub, "DELETE", `/admin/consumer-groups/nobody?${V}`);
    assert.equal(missing.status, 404);
    assert.match(missing.text, /The consumer group 'nobody' does not exist/);
    const keep = await serviceRequest(hub, "DELETE", `/admin/consumer-groups/$default?${V}`);
    assert.equal(keep.status, 400);
    assert.equal(keep.headers["iothub-errorcode"], "InvalidOperation");

    const existing = (await list()).length;
    for (let i = existing; i < 20; i++) assert.equal((await serviceRequest(hub, "PUT", `/admin/consumer-groups/g${i}?${V}`)).status, 200);
    const tooMany = await serviceRequest(hub, "PUT", `/admin/consumer-groups/g-extra?${V}`);
    assert.equal(tooMany.status, 400);
    assert.match(tooMany.text, /20 consumer groups/);
  });

  test("only a policy with every right may list or change consumer groups", async () => {
    for (const policy of ["service", "registryReadWrite", "device"]) {
      const authorization = serviceToken(hub, policy);
      assert.equal((await serviceRequest(hub, "GET", `/admin/consumer-groups?${V}`, { authorization })).status, 401, policy);
      assert.equal((await serviceRequest(hub, "PUT", `/admin/consumer-groups/x?${V}`, { authorization })).status, 401, policy);
      assert.equal((await serviceRequest(hub, "DELETE", `/admin/consumer-groups/x?${V}`, { authorization })).status, 401, policy);
    }
    assert.equal((await serviceRequest(hub, "GET", `/admin/consumer-groups?${V}`, { authorization: null })).status, 401);
  });
});

import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import iothub from "azure-iothub";
import { startTestHub, type TestHub } from "./harness/start-test-hub.js";
import { serviceRequest, serviceToken } from "./harness/service-request.js";

const JSON_TYPE = { "content-type": "application/json; charset=utf-8" };

describe("the hub clock through /admin/clock", () => {
  let hub: TestHub;

  before(async () => {
    hub = await startTestHub();
  });
  after(() => hub.dispose());

  test("GET shows hub time; POST advances it, and hub timers follow (a C2D message's TTL)", async () => {
    const start = await serviceRequest(hub, "GET", "/admin/clock?api-version=2021-04-12");
    assert.equal(start.status, 200);
    assert.equal((start.json as { offsetSeconds: number }).offsetSeconds, 0);

    const registry: any = iothub.Registry.fromConnectionString(hub.connectionStrings["iothubowner"]!);
    await registry.create({ deviceId: "clock-dev" });
    const sent = await serviceRequest(hub, "POST", "/admin/devices/clock-dev/messages/devicebound?api-version=2021-04-12", { body: JSON.stringify({ body: "soon stale", ttlSeconds: 120 }), headers: JSON_TYPE });
    assert.equal(sent.status, 201);
    assert.equal((await registry.get("clock-dev")).responseBody.cloudToDeviceMessageCount, 1);

    const advanced = await serviceRequest(hub, "POST", "/admin/clock?api-version=2021-04-12", { body: JSON.stringify({ advanceSeconds: 121 }), headers: JSON_TYPE });
    assert.equal(advanced.status, 200);
    const status = advanced.json as { now: string; offsetSeconds: number };
    assert.equal(status.offsetSeconds, 121);
    assert.ok(Date.parse(status.now) - Date.now() > 120_000);
    for (let i = 0; i < 100 && (await registry.get("clock-dev")).responseBody.cloudToDeviceMessageCount !== 0; i++) await new Promise((r) => setTimeout(r, 10));
    assert.equal((await registry.get("clock-dev")).responseBody.cloudToDeviceMessageCount, 0, "the message expired on the advanced clock");
  });

  test("only a policy with every right may read or move the clock", async () => {
    for (const policy of ["service", "registryReadWrite", "device"]) {
      const reply = await serviceRequest(hub, "POST", "/admin/clock?api-version=2021-04-12", { body: JSON.stringify({ advanceSeconds: 1 }), headers: JSON_TYPE, authorization: serviceToken(hub, policy) });
      assert.equal(reply.status, 401, policy);
    }
  });

  test("a negative, missing or absurd advance is 400 ArgumentInvalid", async () => {
    for (const body of [{ advanceSeconds: -5 }, {}, { advanceSeconds: "10" }, { advanceSeconds: 1e12 }]) {
      const reply = await serviceRequest(hub, "POST", "/admin/clock?api-version=2021-04-12", { body: JSON.stringify(body), headers: JSON_TYPE });
      assert.equal(reply.status, 400, JSON.stringify(body));
      assert.equal(reply.headers["iothub-errorcode"], "ArgumentInvalid");
    }
  });
});

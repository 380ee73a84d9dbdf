import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import iothub from "azure-iothub";
import { startTestHub, type TestHub } from "./harness/start-test-hub.js";
import { policyKey, serviceRequest, serviceToken } from "./harness/service-request.js";
import { createSasToken } from "../../src/hub/index.js";

const { Registry } = iothub;

describe("service authentication and each policy's rights", () => {
  let hub: TestHub;
  const registryFor = (policy: string) => Registry.fromConnectionString(hub.connectionStrings[policy]!);

  before(async () => {
    hub = await startTestHub();
    await registryFor("iothubowner").create({ deviceId: "auth-dev" });
  });
  after(() => hub.dispose());

  test("the five built-in policies exist, each with its own key", () => {
    assert.deepEqual(Object.keys(hub.connectionStrings).sort(), ["device", "iothubowner", "registryRead", "registryReadWrite", "service"]);
    const keys = new Set(Object.keys(hub.connectionStrings).map((p) => policyKey(hub, p)));
    assert.equal(keys.size, 5);
  });

  test("registryRead reads the registry but cannot write it or touch twins", async () => {
    const registry = registryFor("registryRead");
    assert.equal((await registry.get("auth-dev")).responseBody.deviceId, "auth-dev");
    await assert.rejects(registry.create({ deviceId: "nope" }), (err: Error & { responseBody?: string }) => {
      assert.equal(err.name, "UnauthorizedError");
      assert.match(err.responseBody ?? "", /Authorization rule 'registryRead' does not allow access for 'RegistryWrite'/);
      return true;
    });
    await assert.rejects(registry.getTwin("auth-dev"), { name: "UnauthorizedError" });
  });

  test("registryReadWrite writes the registry", async () => {
    const registry = registryFor("registryReadWrite");
    await registry.create({ deviceId: "auth-rw" });
    await registry.delete("auth-rw");
    await assert.rejects(registry.createQuery("SELECT * FROM devices").next(), { name: "UnauthorizedError" });
  });

  test("service reads and writes twins and queries, but not the registry", async () => {
    const registry = registryFor("service");
    assert.equal((await registry.getTwin("auth-dev")).responseBody.deviceId, "auth-dev");
    await registry.updateTwin("auth-dev", { tags: { by: "service" } }, "*");
    assert.ok(((await registry.createQuery("SELECT * FROM devices").next()).result as unknown[]).length >= 1);
    await assert.rejects(registry.get("auth-dev"), { name: "UnauthorizedError" });
  });

  test("the device policy has no service rights", async () => {
    const registry = registryFor("device");
    await assert.rejects(registry.get("auth-dev"), { name: "UnauthorizedError" });
    await assert.rejects(registry.getTwin("auth-dev"), { name: "UnauthorizedError" });
  });

  test("a wrong key is UnauthorizedError", async () => {
    const wrong = hub.connectionStrings["iothubowner"]!.replace(/SharedAccessKey=[^;]+/, `SharedAccessKey=${Buffer.alloc(32, 7).toString("base64")}`);
    await assert.rejects(Registry.fromConnectionString(wrong).get("auth-dev"), { name: "UnauthorizedError" });
  });

  test("a token signed with one policy's key but naming another policy is refused", async () => {
    const token = createSasToken(hub.hostName, policyKey(hub, "iothubowner"), Math.ceil(Date.now() / 1000) + 60, "service");
    const reply = await serviceRequest(hub, "GET", "/devices/auth-dev?api-version=2021-04-12", { authorization: token });
    assert.equal(reply.status, 401);
  });

  test("an expired token is UnauthorizedError", async () => {
    const expired = serviceToken(hub, "iothubowner", Math.floor(Date.now() / 1000) - 10);
    await assert.rejects(Registry.fromSharedAccessSignature(expired).get("auth-dev"), (err: Error & { responseBody?: string }) => {
      assert.equal(err.name, "UnauthorizedError");
      assert.match(err.responseBody ?? "", /expired/);
      return true;
    });
  });

  test("a token for another host is refused", async () => {
    const token = createSasToken("other.azure-devices.net", policyKey(hub, "iothubowner"), Math.ceil(Date.now() / 1000) + 60, "iothubowner");
    const reply = await serviceRequest(hub, "GET", "/devices/auth-dev?api-version=2021-04-12", { authorization: token });
    assert.equal(reply.status, 401);
    assert.equal(reply.headers["iothub-errorcode"], "IotHubUnauthorizedAccess");
  });

  test("no Authorization header: 401 'Authorization header missing'", async () => {
    const reply = await serviceRequest(hub, "GET", "/devices/auth-dev?api-version=2021-04-12", { authorization: null });
    assert.equal(reply.status, 401);
    assert.match((reply.json as { Message: string }).Message, /^ErrorCode:IotHubUnauthorizedAccess;Authorization header missing/);
  });

  test("a garbage token is 401, not a crash", async () => {
    for (const authorization of ["Bearer abc", "SharedAccessSignature sr=&sig=%%%&se=x&skn=iothubowner", "SharedAccessSignature garbage"]) {
      const reply = await serviceRequest(hub, "GET", "/devices/auth-dev?api-version=2021-04-12", { authorization });
      assert.equal(reply.status, 401, authorization);
    }
  });
});

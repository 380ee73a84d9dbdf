import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { startTestHub, type TestHub } from "./harness/start-test-hub.js";
import { serviceRequest } from "./harness/service-request.js";

const JSON_TYPE = { "content-type": "application/json; charset=utf-8" };

describe("bad input gets IoT Hub's errors, never a crash", () => {
  let hub: TestHub;

  before(async () => {
    hub = await startTestHub();
  });
  after(() => hub.dispose());

  function errorCode(reply: { headers: Record<string, unknown>; json: unknown }): string {
    const message = (reply.json as { Message?: string } | undefined)?.Message ?? "";
    assert.equal(message.split(";")[0], `ErrorCode:${String(reply.headers["iothub-errorcode"])}`);
    return String(reply.headers["iothub-errorcode"]);
  }

  test("malformed JSON is 400 IotHubFormatError", async () => {
    const reply = await serviceRequest(hub, "PUT", "/devices/d1?api-version=2021-04-12", { body: "{not json", headers: JSON_TYPE });
    assert.equal(reply.status, 400);
    assert.equal(errorCode(reply), "IotHubFormatError");
  });

  test("a body that is not an object is 400 ArgumentInvalid", async () => {
    const reply = await serviceRequest(hub, "PUT", "/devices/d1?api-version=2021-04-12", { body: "[1,2]", headers: JSON_TYPE });
    assert.equal(reply.status, 400);
    assert.equal(errorCode(reply), "ArgumentInvalid");
  });

  test("a wrong content type is 400 InvalidContentEncodingOrType", async () => {
    const reply = await serviceRequest(hub, "PUT", "/devices/d1?api-version=2021-04-12", { body: "<device/>", headers: { "content-type": "application/xml" } });
    assert.equal(reply.status, 400);
    assert.equal(errorCode(reply), "InvalidContentEncodingOrType");
  });

  test("an oversize body is 413 MessageTooLarge", async () => {
    const reply = await serviceRequest(hub, "PUT", "/devices/d1?api-version=2021-04-12", { body: JSON.stringify({ deviceId: "d1", pad: "x".repeat(1_100_000) }), headers: JSON_TYPE });
    assert.equal(reply.status, 413);
    assert.equal(errorCode(reply), "MessageTooLarge");
  });

  test("a device id in the body that differs from the URL is ArgumentInvalid", async () => {
    const reply = await serviceRequest(hub, "PUT", "/devices/d1?api-version=2021-04-12", { body: JSON.stringify({ deviceId: "d2" }), headers: JSON_TYPE });
    assert.equal(reply.status, 400);
    assert.match((reply.json as { Message: string }).Message, /does not match/);
  });

  test("an invalid id in the path is ArgumentInvalid", async () => {
    const reply = await serviceRequest(hub, "GET", `/devices/${encodeURIComponent("a b")}?api-version=2021-04-12`);
    assert.equal(reply.status, 400);
    assert.equal(errorCode(reply), "ArgumentInvalid");
  });

  test("bad status and authentication values are ArgumentInvalid", async () => {
    for (const body of [{ status: "sleeping" }, { authentication: { type: "password" } }, { authentication: { type: "selfSigned" } }, { capabilities: { iotEdge: "yes" } }]) {
      const reply = await serviceRequest(hub, "PUT", "/devices/d3?api-version=2021-04-12", { body: JSON.stringify(body), headers: JSON_TYPE });
      assert.equal(reply.status, 400, JSON.stringify(body));
      assert.equal(errorCode(reply), "ArgumentInvalid");
    }
  });

  test("missing or unsupported api-version is 400 InvalidProtocolVersion", async () => {
    for (const path of ["/devices/d1", "/devices/d1?api-version=2015-01-01", "/devices/d1?api-version=latest"]) {
      const reply = await serviceRequest(hub, "GET", path);
      assert.equal(reply.status, 400, path);
      assert.equal(errorCode(reply), "InvalidProtocolVersion");
    }
  });

  test("an unknown route is 404 with an IoT Hub error body", async () => {
    const reply = await serviceRequest(hub, "GET", "/nothing/here?api-version=2021-04-12");
    assert.equal(reply.status, 404);
    assert.match((reply.json as { Message: string }).Message, /^ErrorCode:NotFound;No IoT Hub operation is served at GET \/nothing\/here/);
  });

  test("a bulk body that is not an array is ArgumentInvalid", async () => {
    const reply = await serviceRequest(hub, "POST", "/devices?api-version=2021-04-12", { body: JSON.stringify({ id: "x" }), headers: JSON_TYPE });
    assert.equal(reply.status, 400);
    assert.equal(errorCode(reply), "ArgumentInvalid");
  });

  test("an unknown bulk importMode is ArgumentInvalid", async () => {
    const reply = await serviceRequest(hub, "POST", "/devices?api-version=2021-04-12", { body: JSON.stringify([{ id: "x", importMode: "explode" }]), headers: JSON_TYPE });
    assert.equal(reply.status, 400);
    assert.equal(errorCode(reply), "ArgumentInvalid");
  });

  test("If-Match with a wrong etag on PUT and DELETE is 412 PreconditionFailed", async () => {
    await serviceRequest(hub, "PUT", "/devices/d4?api-version=2021-04-12", { body: JSON.stringify({ deviceId: "d4" }), headers: JSON_TYPE });
    const put = await serviceRequest(hub, "PUT", "/devices/d4?api-version=2021-04-12", { body: JSON.stringify({ deviceId: "d4" }), headers: { ...JSON_TYPE, "if-match": '"bogus"' } });
    assert.equal(put.status, 412);
    const del = await serviceRequest(hub, "DELETE", "/devices/d4?api-version=2021-04-12", { headers: { "if-match": '"bogus"' } });
    assert.equal(del.status, 412);
    assert.equal(errorCode(del), "PreconditionFailed");
  });
});

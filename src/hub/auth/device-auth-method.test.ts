import { test } from "node:test";
import assert from "node:assert/strict";
import { renderConnectionAuthMethod, sasAuthMethod, x509AuthMethod } from "./device-auth-method.js";

test("each way of authenticating renders IoT Hub's text, the same text every time", () => {
  const cases = [
    [sasAuthMethod("device"), '{"scope":"device","type":"sas","issuer":"iothub","acceptingIpFilterRule":null}'],
    [sasAuthMethod("module"), '{"scope":"module","type":"sas","issuer":"iothub","acceptingIpFilterRule":null}'],
    [sasAuthMethod("hub"), '{"scope":"hub","type":"sas","issuer":"iothub","acceptingIpFilterRule":null}'],
    [x509AuthMethod("device"), '{"scope":"device","type":"x509Certificate","issuer":"external","acceptingIpFilterRule":null}'],
    [x509AuthMethod("module"), '{"scope":"module","type":"x509Certificate","issuer":"external","acceptingIpFilterRule":null}'],
  ] as const;
  for (const [method, text] of cases) {
    assert.equal(renderConnectionAuthMethod(method), text);
    assert.equal(renderConnectionAuthMethod({ ...method }), text, "asked again with an equal object");
  }
});

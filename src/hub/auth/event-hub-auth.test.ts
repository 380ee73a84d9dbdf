import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { createHmac } from "node:crypto";
import { HubError } from "../errors/index.js";
import type { SharedAccessPolicy } from "./rights.js";
import { EventHubAuth } from "./event-hub-auth.js";

const NOW = Date.UTC(2024, 0, 1);
const ENTITY = "test-hub";
const PARTITION = "sb://127.1.2.3:5671/test-hub/ConsumerGroups/$Default/Partitions/0";

const policies: SharedAccessPolicy[] = [
  { keyName: "iothubowner", primaryKey: Buffer.alloc(32, 1).toString("base64"), secondaryKey: Buffer.alloc(32, 2).toString("base64"), rights: ["RegistryRead", "RegistryWrite", "ServiceConnect", "DeviceConnect"] },
  { keyName: "service", primaryKey: Buffer.alloc(32, 3).toString("base64"), secondaryKey: Buffer.alloc(32, 4).toString("base64"), rights: ["ServiceConnect"] },
  { keyName: "registryRead", primaryKey: Buffer.alloc(32, 5).toString("base64"), secondaryKey: Buffer.alloc(32, 6).toString("base64"), rights: ["RegistryRead"] },
];
const owner = policies[0]!;

const auth = new EventHubAuth({ wallClock: { now: () => NOW }, policies: () => policies, entityName: ENTITY });

/** A token as @azure/event-hubs (core-amqp) builds one: the key string's UTF-8 bytes sign the URL-encoded audience. */
function sdkToken(audience: string, keyName: string, key: string, expirySeconds = NOW / 1000 + 3600, hmacKey: Buffer = Buffer.from(key, "utf8")): string {
  const sr = encodeURIComponent(audience);
  const sig = createHmac("sha256", hmacKey).update(`${sr}\n${expirySeconds}`).digest("base64");
  return `SharedAccessSignature sr=${sr}&sig=${encodeURIComponent(sig)}&se=${expirySeconds}&skn=${keyName}`;
}

function refused(fn: () => unknown, pattern?: RegExp): HubError {
  let caught: unknown;
  try {
    fn();
  } catch (error) {
    caught = error;
  }
  assert.ok(caught instanceof HubError, `expected a HubError, got ${String(caught)}`);
  assert.equal(caught.errorName, "IotHubUnauthorizedAccess");
  assert.equal(caught.code, 401002);
  assert.equal(caught.trackingId, "t1");
  if (pattern !== undefined) assert.match(caught.message, pattern);
  return caught;
}

describe("EventHubAuth", () => {
  test("accepts a token signed the Event Hubs way, for the partition it names", () => {
    const result = auth.authenticate(sdkToken(PARTITION, "iothubowner", owner.primaryKey), PARTITION, "t1");
    assert.deepEqual(result.caller, { kind: "policy", policyName: "iothubowner", rights: owner.rights });
    assert.equal(result.expiresAt, NOW + 3600_000);
  });

  test("accepts the secondary key, and a policy with only ServiceConnect", () => {
    assert.equal(auth.authenticate(sdkToken(PARTITION, "iothubowner", owner.secondaryKey), PARTITION, "t1").caller.policyName, "iothubowner");
    const service = policies[1]!;
    assert.equal(auth.authenticate(sdkToken(PARTITION, "service", service.primaryKey), PARTITION, "t1").caller.policyName, "service");
  });

  test("an entity-level token covers $management and every partition; the host and port are not compared", () => {
    const token = sdkToken("sb://localhost/test-hub", "iothubowner", owner.primaryKey);
    auth.authenticate(token, "sb://127.1.2.3:5671/test-hub/$management", "t1");
    auth.authenticate(token, PARTITION, "t1");
    auth.authenticate(token, "sb://localhost/test-hub", "t1");
    // Path segments compare case-insensitively, and a trailing slash does not matter.
    auth.authenticate(sdkToken("sb://h/TEST-HUB/", "iothubowner", owner.primaryKey), "sb://h/test-hub/consumergroups/$default/partitions/0", "t1");
  });

  test("refuses a token signed with the base64-decoded key (IoT Hub SDK signing)", () => {
    const token = sdkToken(PARTITION, "iothubowner", owner.primaryKey, NOW / 1000 + 3600, Buffer.from(owner.primaryKey, "base64"));
    const error = refused(() => auth.authenticate(token, PARTITION, "t1"), /not valid for any key/);
    assert.ok(!error.message.includes(owner.primaryKey));
  });

  test("refuses a wrong key, an unknown policy, a tampered audience and a missing key name", () => {
    refused(() => auth.authenticate(sdkToken(PARTITION, "iothubowner", policies[1]!.primaryKey), PARTITION, "t1"), /not valid for any key/);
    refused(() => auth.authenticate(sdkToken(PARTITION, "nobody", owner.primaryKey), PARTITION, "t1"), /not valid for any key/);
    const tampered = sdkToken(PARTITION, "iothubowner", owner.primaryKey).replace("Partitions%2F0", "Partitions%2F1");
    refused(() => auth.authenticate(tampered, PARTITION.replace(/0$/, "1"), "t1"), /not valid for any key/);
    const noSkn = sdkToken(PARTITION, "iothubowner", owner.primaryKey).replace(/&skn=.*$/, "");
    refused(() => auth.authenticate(noSkn, PARTITION, "t1"), /skn/);
    refused(() => auth.authenticate("Bearer abc", PARTITION, "t1"), /Malformed/);
  });

  test("refuses an expired token, judged on wall time", () => {
    const token = sdkToken(PARTITION, "iothubowner", owner.primaryKey, NOW / 1000);
    refused(() => auth.authenticate(token, PARTITION, "t1"), /expired at 2024-01-01T00:00:00.000Z/);
  });

  test("refuses a token for another entity", () => {
    refused(() => auth.authenticate(sdkToken("sb://h/other-hub", "iothubowner", owner.primaryKey), "sb://h/other-hub/$management", "t1"), /not for the Event Hub 'test-hub'/);
    // A namespace-wide token names no entity.
    refused(() => auth.authenticate(sdkToken("sb://h/", "iothubowner", owner.primaryKey), PARTITION, "t1"), /not for the Event Hub/);
  });

  test("refuses a token that does not cover the audience presented", () => {
    const partition0 = sdkToken(PARTITION, "iothubowner", owner.primaryKey);
    refused(() => auth.authenticate(partition0, PARTITION.replace(/0$/, "1"), "t1"), /does not cover the audience/);
    refused(() => auth.authenticate(partition0, "sb://h/test-hub/$management", "t1"), /does not cover the audience/);
    refused(() => auth.authenticate(partition0, PARTITION.replace(/0$/, "00"), "t1"), /does not cover the audience/);
    refused(() => auth.authenticate(sdkToken("sb://h/test-hub", "iothubowner", owner.primaryKey), "sb://h/other-hub", "t1"), /does not cover the audience/);
  });

  test("refuses a policy without ServiceConnect, in IoT Hub's words", () => {
    const registryRead = policies[2]!;
    const error = refused(() => auth.authenticate(sdkToken(PARTITION, "registryRead", registryRead.primaryKey), PARTITION, "t1"));
    assert.equal(error.message, "Authorization rule 'registryRead' does not allow access for 'ServiceConnect'");
  });
});

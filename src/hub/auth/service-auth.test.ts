import { test } from "node:test";
import assert from "node:assert/strict";
import { HubError } from "../errors/index.js";
import { createSasToken, parseSasToken, sasResourceCovers, sasSignatureMatches } from "./sas-token.js";
import { ServiceAuth, requireRight } from "./service-auth.js";
import type { SharedAccessPolicy } from "./rights.js";

const key = Buffer.alloc(32, 3).toString("base64");
const secondary = Buffer.alloc(32, 4).toString("base64");
const policies: SharedAccessPolicy[] = [
  { keyName: "registryRead", primaryKey: key, secondaryKey: secondary, rights: ["RegistryRead"] },
  { keyName: "iothubowner", primaryKey: Buffer.alloc(32, 5).toString("base64"), secondaryKey: secondary, rights: ["RegistryRead", "RegistryWrite", "ServiceConnect", "DeviceConnect"] },
];
const now = 1_700_000_000_000;
const auth = new ServiceAuth({ hostName: "hub.example.com", wallClock: { now: () => now }, policies: () => policies });
const inAnHour = now / 1000 + 3600;

function refused(fn: () => unknown, pattern: RegExp): void {
  assert.throws(fn, (err: unknown) => err instanceof HubError && err.errorName === "IotHubUnauthorizedAccess" && pattern.test(err.message));
}

test("the SDK's documented test vector verifies, and a changed byte does not", () => {
  // device-protocol.md §1.2: key = base64("0123456789abcdef0123456789abcdef"), se = 1700000000.
  const vectorKey = "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=";
  const token = parseSasToken("SharedAccessSignature sr=myhub.azure-devices.net%2Fdevices%2Fdev1&sig=wosmA3uJK9T0mdB5CIYn%2BsAVA2ODflnucuvNO5S6mbM%3D&se=1700000000")!;
  assert.equal(sasSignatureMatches(token, vectorKey), true);
  assert.equal(sasSignatureMatches({ ...token, se: "1700000001" }, vectorKey), false);
  assert.equal(sasSignatureMatches({ ...token, sig: "%%%" }, vectorKey), false);
});

test("resource scope is a case-insensitive segment prefix", () => {
  const token = parseSasToken(createSasToken("Hub.Example.com/devices", key, inAnHour))!;
  assert.equal(sasResourceCovers(token, "hub.example.com/devices/d1"), true);
  assert.equal(sasResourceCovers(token, "hub.example.com/devicesx"), false);
  assert.equal(sasResourceCovers(token, "hub.example.com"), false);
});

test("a policy token signed with the primary or the secondary key authenticates", () => {
  for (const k of [key, secondary]) {
    const caller = auth.authenticate(createSasToken("hub.example.com", k, inAnHour, "registryRead"), "t");
    assert.deepEqual(caller, { kind: "policy", policyName: "registryRead", rights: ["RegistryRead"] });
  }
});

test("each way a token can be wrong is refused with its own message", () => {
  refused(() => auth.authenticate(undefined, "t"), /^Authorization header missing$/);
  refused(() => auth.authenticate("Bearer x", "t"), /Malformed/);
  refused(() => auth.authenticate(createSasToken("hub.example.com", key, inAnHour), "t"), /no key name/);
  refused(() => auth.authenticate(createSasToken("hub.example.com", key, inAnHour, "nobody"), "t"), /not valid for any key/);
  refused(() => auth.authenticate(createSasToken("hub.example.com", Buffer.alloc(32, 9).toString("base64"), inAnHour, "registryRead"), "t"), /not valid for any key/);
  refused(() => auth.authenticate(createSasToken("hub.example.com", key, now / 1000 - 1, "registryRead"), "t"), /expired/);
  refused(() => auth.authenticate(createSasToken("other.example.com", key, inAnHour, "registryRead"), "t"), /does not cover/);
  refused(() => auth.authenticate(createSasToken("hub.example.com", key, inAnHour, "registryRead").replace(/se=\d+/, "se=soon"), "t"), /'se'/);
});

test("requireRight names the rule and the missing right", () => {
  const ctx = { caller: auth.authenticate(createSasToken("hub.example.com", key, inAnHour, "registryRead"), "t"), protocol: "https" as const, trackingId: "t" };
  requireRight(ctx, "RegistryRead");
  refused(() => requireRight(ctx, "RegistryWrite"), /^Authorization rule 'registryRead' does not allow access for 'RegistryWrite'$/);
  refused(() => requireRight({ caller: { kind: "device", deviceId: "d1", moduleId: "" }, protocol: "mqtt", trackingId: "t" }, "ServiceConnect"), /Device 'd1'/);
});

test("a token checked once is still refused once it expires, or once its policy's keys change or the policy goes", () => {
  let clock = now;
  let current: SharedAccessPolicy[] = policies.map((p) => ({ ...p }));
  const cached = new ServiceAuth({ hostName: "hub.example.com", wallClock: { now: () => clock }, policies: () => current });
  const token = createSasToken("hub.example.com", key, now / 1000 + 60, "registryRead");
  assert.equal(cached.authenticate(token, "t").policyName, "registryRead");
  assert.equal(cached.authenticate(token, "t").policyName, "registryRead");

  clock = now + 60_000; // the second it expires
  refused(() => cached.authenticate(token, "t"), /^SharedAccessSignature expired at /);
  clock = now;
  assert.equal(cached.authenticate(token, "t").policyName, "registryRead");

  // Keys regenerated (the same policy object, or a new one): the old token no longer verifies.
  (current[0] as { primaryKey: string }).primaryKey = Buffer.alloc(32, 8).toString("base64");
  refused(() => cached.authenticate(token, "t"), /not valid for any key/);
  current = policies.map((p) => ({ ...p }));
  assert.equal(cached.authenticate(token, "t").policyName, "registryRead");
  current = policies.map((p) => ({ ...p, primaryKey: p.keyName === "registryRead" ? Buffer.alloc(32, 8).toString("base64") : p.primaryKey }));
  refused(() => cached.authenticate(token, "t"), /not valid for any key/);

  // The policy removed.
  current = policies.map((p) => ({ ...p }));
  assert.equal(cached.authenticate(token, "t").policyName, "registryRead");
  current = current.filter((p) => p.keyName !== "registryRead");
  refused(() => cached.authenticate(token, "t"), /not valid for any key/);
});

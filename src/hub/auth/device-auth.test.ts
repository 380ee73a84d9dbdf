import { test } from "node:test";
import assert from "node:assert/strict";
import { X509Certificate } from "node:crypto";
import { MemoryStore } from "../../storage/memory/memory-store.js";
import { loadX509 } from "../../tls/x509.js";
import { generateEcKeyPair, randomSerialNumber, type CryptoKeyPair } from "../../tls/keys.js";
import { HubError, type HubErrorName } from "../errors/index.js";
import type { Authentication, IdentityEntry } from "../ports/store.js";
import { NEVER } from "../time.js";
import { newTwinRecord } from "../twins/new-twin-record.js";
import { DeviceAuth, type DeviceAuthResult } from "./device-auth.js";
import { renderConnectionAuthMethod } from "./device-auth-method.js";
import type { SharedAccessPolicy } from "./rights.js";
import { createSasToken } from "./sas-token.js";
import type { JsonName, X509Certificate as PeculiarCertificate } from "@peculiar/x509";

const x509 = await loadX509();

// The SDK's own test vectors (device-protocol.md §1.2): key = base64("0123456789abcdef0123456789abcdef"), se = 1700000000.
const HOST = "myhub.azure-devices.net";
const KEY = "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=";
const SE = 1700000000;
const SDK_DEVICE_TOKEN = "SharedAccessSignature sr=myhub.azure-devices.net%2Fdevices%2Fdev1&sig=wosmA3uJK9T0mdB5CIYn%2BsAVA2ODflnucuvNO5S6mbM%3D&se=1700000000";
const SDK_MODULE_TOKEN = "SharedAccessSignature sr=myhub.azure-devices.net%2Fdevices%2Fdev1%2Fmodules%2Fmod1&sig=ZId0CjYzILqd7GGIpC99uIpjPK4fJTkYbrDAh8qYiy8%3D&se=1700000000";
const SDK_POLICY_TOKEN = "SharedAccessSignature sr=myhub.azure-devices.net%2Fdevices%2Fdev1&sig=wosmA3uJK9T0mdB5CIYn%2BsAVA2ODflnucuvNO5S6mbM%3D&skn=device&se=1700000000";

const HOUR = 60 * 60 * 1000;
const DAY = 24 * HOUR;
/** Wall time in the tests: ten minutes before the vectors expire. */
const NOW = SE * 1000 - 10 * 60 * 1000;
const TRACKING = "0123456789abcdef0123456789abcdef";

const OTHER_KEY = Buffer.alloc(32, 7).toString("base64");
const SECONDARY_KEY = Buffer.alloc(32, 9).toString("base64");

function sasAuth(primaryKey: string, secondaryKey: string = SECONDARY_KEY): Authentication {
  return { type: "sas", symmetricKey: { primaryKey, secondaryKey }, x509Thumbprint: { primaryThumbprint: null, secondaryThumbprint: null } };
}

function thumbprintAuth(primaryThumbprint: string | null, secondaryThumbprint: string | null): Authentication {
  return { type: "selfSigned", symmetricKey: { primaryKey: null, secondaryKey: null }, x509Thumbprint: { primaryThumbprint, secondaryThumbprint } };
}

const CA_AUTH: Authentication = {
  type: "certificateAuthority",
  symmetricKey: { primaryKey: null, secondaryKey: null },
  x509Thumbprint: { primaryThumbprint: null, secondaryThumbprint: null },
};

let generation = 637000000000000000;

/** An identity entry shaped like the registry's #newRecord, with a fresh twin. */
function entry(deviceId: string, moduleId: string, authentication: Authentication, status: "enabled" | "disabled" = "enabled"): IdentityEntry {
  return {
    identity: {
      deviceId,
      moduleId,
      generationId: String(++generation),
      etagVersion: 1,
      status,
      statusReason: null,
      statusUpdatedTime: NEVER,
      connectionState: "Disconnected",
      connectionStateUpdatedTime: NEVER,
      lastActivityTime: NEVER,
      cloudToDeviceMessageCount: 0,
      authentication,
      capabilities: { iotEdge: false },
      deviceScope: null,
      parentScopes: [],
      managedBy: null,
    },
    twin: newTwinRecord(NOW),
  };
}

const POLICIES: SharedAccessPolicy[] = [
  { keyName: "device", primaryKey: OTHER_KEY, secondaryKey: KEY, rights: ["DeviceConnect"] },
  { keyName: "service", primaryKey: KEY, secondaryKey: OTHER_KEY, rights: ["ServiceConnect"] },
];

interface Setup {
  readonly auth: DeviceAuth;
  readonly store: MemoryStore;
  readonly trusted: string[];
}

async function setup(entries: readonly IdentityEntry[]): Promise<Setup> {
  const store = new MemoryStore();
  await store.write(entries.map((e) => ({ kind: "put" as const, entry: e })));
  const trusted: string[] = [];
  const auth = new DeviceAuth({
    hostName: HOST,
    wallClock: { now: () => NOW },
    store,
    policies: () => POLICIES,
    trustedCas: () => trusted,
  });
  return { auth, store, trusted };
}

/** A token as the device SDK builds it: the resource URL-encoded as a whole, then signed as sent. */
function sdkToken(resource: string, key: string, se: number = SE, keyName?: string): string {
  return createSasToken(encodeURIComponent(resource), key, se, keyName);
}

/** Asserts a refusal: the error name, a message matching `message`, the tracking id, and CONNACK 5 on MQTT. */
async function refused(promise: Promise<unknown>, name: HubErrorName, message: RegExp): Promise<void> {
  await assert.rejects(promise, (err: unknown) => {
    assert.ok(err instanceof HubError, `expected a HubError, got ${String(err)}`);
    assert.equal(err.errorName, name);
    assert.match(err.message, message);
    assert.equal(err.trackingId, TRACKING);
    assert.equal(err.spec.mqtt.connack, 5, "a refused device must get CONNACK 5 (not authorized)");
    return true;
  });
}

const dev = (deviceId: string, moduleId = "") => ({ deviceId, moduleId });

// ---------------------------------------------------------------------------------------------------------------
// SAS

test("a device token as the SDK builds it authenticates the device", async () => {
  const device = entry("dev1", "", sasAuth(KEY));
  const { auth } = await setup([device]);
  const result = await auth.authenticateSas(dev("dev1"), SDK_DEVICE_TOKEN, TRACKING);
  assert.deepEqual(result, {
    caller: { kind: "device", deviceId: "dev1", moduleId: "" },
    authMethod: { scope: "device", type: "sas", issuer: "iothub", acceptingIpFilterRule: null },
    credential: "identityKey",
    policyName: undefined,
    generationId: device.identity.generationId,
    expiresAt: SE * 1000,
  } satisfies DeviceAuthResult);
  assert.equal(renderConnectionAuthMethod(result.authMethod), '{"scope":"device","type":"sas","issuer":"iothub","acceptingIpFilterRule":null}');
});

test("a module token authenticates the module, with scope 'module' and the module's generationId", async () => {
  const module = entry("dev1", "mod1", sasAuth(KEY));
  const { auth } = await setup([entry("dev1", "", sasAuth(OTHER_KEY)), module]);
  const result = await auth.authenticateSas(dev("dev1", "mod1"), SDK_MODULE_TOKEN, TRACKING);
  assert.deepEqual(result.caller, { kind: "device", deviceId: "dev1", moduleId: "mod1" });
  assert.equal(result.authMethod.scope, "module");
  assert.equal(result.generationId, module.identity.generationId);
  assert.equal(result.expiresAt, SE * 1000);
});

test("a module cannot use its device's key, nor a device its module's key", async () => {
  const { auth } = await setup([entry("dev1", "", sasAuth(KEY)), entry("dev1", "mod1", sasAuth(OTHER_KEY))]);
  await refused(auth.authenticateSas(dev("dev1", "mod1"), sdkToken(`${HOST}/devices/dev1/modules/mod1`, KEY), TRACKING), "IotHubUnauthorizedAccess", /invalid signature.*module 'mod1' of device 'dev1'/);
  await refused(auth.authenticateSas(dev("dev1"), sdkToken(`${HOST}/devices/dev1`, OTHER_KEY), TRACKING), "IotHubUnauthorizedAccess", /invalid signature.*device 'dev1'/);
});

test("the secondary key works as well as the primary", async () => {
  const { auth } = await setup([entry("dev1", "", sasAuth(OTHER_KEY, KEY))]);
  const result = await auth.authenticateSas(dev("dev1"), SDK_DEVICE_TOKEN, TRACKING);
  assert.equal(result.credential, "identityKey");
});

test("a token with an unencoded resource, and one with different case in host and id, are accepted", async () => {
  const { auth } = await setup([entry("Dev1", "", sasAuth(KEY))]);
  await auth.authenticateSas(dev("Dev1"), createSasToken(`${HOST}/devices/Dev1`, KEY, SE), TRACKING);
  await auth.authenticateSas(dev("Dev1"), sdkToken(`MyHub.Azure-Devices.net/devices/dev1`, KEY), TRACKING);
});

test("an id with characters the SDK percent-encodes strictly authenticates", async () => {
  const id = "dév 1!*'()";
  // The SDK's strict encoder (device-protocol.md §1.2): also ! ' ( ) *, with lower-case %2a.
  const strict = encodeURIComponent(`${HOST}/devices/${id}`).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16)}`);
  const { auth } = await setup([entry(id, "", sasAuth(KEY))]);
  const result = await auth.authenticateSas(dev(id), createSasToken(strict, KEY, SE), TRACKING);
  assert.equal(result.caller.deviceId, id);
});

test("a shared access policy token with DeviceConnect authenticates a device, with scope 'hub'", async () => {
  const device = entry("dev1", "", sasAuth(OTHER_KEY));
  const { auth } = await setup([device]);
  const result = await auth.authenticateSas(dev("dev1"), SDK_POLICY_TOKEN, TRACKING);
  assert.equal(result.credential, "policyKey");
  assert.equal(result.policyName, "device");
  assert.deepEqual(result.authMethod, { scope: "hub", type: "sas", issuer: "iothub", acceptingIpFilterRule: null });
  assert.equal(result.generationId, device.identity.generationId);
  // A policy token for the whole hub covers every device and module.
  const hubWide = createSasToken(encodeURIComponent(HOST), KEY, SE, "device");
  await auth.authenticateSas(dev("dev1"), hubWide, TRACKING);
});

test("a policy token authenticates identities of any authentication type", async () => {
  const { auth } = await setup([entry("x509dev", "", thumbprintAuth("A".repeat(40), null))]);
  const result = await auth.authenticateSas(dev("x509dev"), sdkToken(`${HOST}/devices/x509dev`, KEY, SE, "device"), TRACKING);
  assert.equal(result.credential, "policyKey");
});

test("a policy token is refused without DeviceConnect, with a wrong key, or with an unknown policy", async () => {
  const { auth } = await setup([entry("dev1", "", sasAuth(OTHER_KEY))]);
  await refused(auth.authenticateSas(dev("dev1"), sdkToken(`${HOST}/devices/dev1`, KEY, SE, "service"), TRACKING), "IotHubUnauthorizedAccess", /Authorization rule 'service' does not allow access for 'DeviceConnect'/);
  await refused(auth.authenticateSas(dev("dev1"), sdkToken(`${HOST}/devices/dev1`, SECONDARY_KEY, SE, "device"), TRACKING), "IotHubUnauthorizedAccess", /invalid signature.*shared access policy/);
  await refused(auth.authenticateSas(dev("dev1"), sdkToken(`${HOST}/devices/dev1`, KEY, SE, "nosuchpolicy"), TRACKING), "IotHubUnauthorizedAccess", /invalid signature.*shared access policy/);
});

test("a token signed with another key is refused", async () => {
  const { auth } = await setup([entry("dev1", "", sasAuth(OTHER_KEY))]);
  await refused(auth.authenticateSas(dev("dev1"), SDK_DEVICE_TOKEN, TRACKING), "IotHubUnauthorizedAccess", /^The specified SAS token has an invalid signature: it matches neither the primary nor the secondary key of device 'dev1'$/);
});

test("an expired token is refused, at the second it expires", async () => {
  const { auth } = await setup([entry("dev1", "", sasAuth(KEY))]);
  const expired = sdkToken(`${HOST}/devices/dev1`, KEY, NOW / 1000);
  await refused(auth.authenticateSas(dev("dev1"), expired, TRACKING), "IotHubUnauthorizedAccess", /^The SAS token is expired: it expired at 2023-11-14T22:03:20.000Z$/);
  const yesterday = sdkToken(`${HOST}/devices/dev1`, KEY, NOW / 1000 - 86400);
  await refused(auth.authenticateSas(dev("dev1"), yesterday, TRACKING), "IotHubUnauthorizedAccess", /The SAS token is expired/);
});

test("a token whose resource does not cover the identity is refused", async () => {
  const { auth } = await setup([entry("dev1", "", sasAuth(KEY)), entry("dev1", "mod1", sasAuth(KEY))]);
  const cases: Array<[{ deviceId: string; moduleId: string }, string]> = [
    [dev("dev1"), `${HOST}/devices/dev2`],
    [dev("dev1"), `${HOST}/devices/dev1x`],
    [dev("dev1"), `${HOST}/devices/dev`],
    [dev("dev1"), `otherhub.azure-devices.net/devices/dev1`],
    [dev("dev1"), `${HOST}/devices/dev1/modules/mod1`],
    [dev("dev1", "mod1"), `${HOST}/devices/dev1/modules/mod2`],
  ];
  for (const [identity, resource] of cases) {
    await refused(auth.authenticateSas(identity, sdkToken(resource, KEY), TRACKING), "IotHubUnauthorizedAccess", new RegExp(`resource '${resource}' does not cover`));
  }
  // A device-level resource covers the device's modules (segment prefix); the module's own key still has to sign it.
  await auth.authenticateSas(dev("dev1", "mod1"), sdkToken(`${HOST}/devices/dev1`, KEY), TRACKING);
});

test("a malformed token is refused", async () => {
  const { auth } = await setup([entry("dev1", "", sasAuth(KEY))]);
  for (const token of ["", "garbage", "SharedAccessSignature sr=a&sig=b", "Bearer x"]) {
    await refused(auth.authenticateSas(dev("dev1"), token, TRACKING), "IotHubUnauthorizedAccess", /Malformed SharedAccessSignature/);
  }
  await refused(auth.authenticateSas(dev("dev1"), "SharedAccessSignature sr=a&sig=b&se=soon", TRACKING), "IotHubUnauthorizedAccess", /'se' is not a number/);
});

test("an unknown device or module is DeviceNotFound / ModuleNotFound, whatever signed the token", async () => {
  const { auth } = await setup([entry("dev1", "", sasAuth(KEY))]);
  await refused(auth.authenticateSas(dev("nosuch"), sdkToken(`${HOST}/devices/nosuch`, KEY), TRACKING), "DeviceNotFound", /Device 'nosuch' does not exist/);
  await refused(auth.authenticateSas(dev("dev1", "nosuch"), sdkToken(`${HOST}/devices/dev1/modules/nosuch`, KEY), TRACKING), "ModuleNotFound", /Module 'nosuch' does not exist on device 'dev1'/);
});

test("a disabled device, a disabled module and a module of a disabled device are refused", async () => {
  const { auth } = await setup([
    entry("off", "", sasAuth(KEY), "disabled"),
    entry("off", "mod1", sasAuth(KEY)),
    entry("on", "", sasAuth(KEY)),
    entry("on", "offmod", sasAuth(KEY), "disabled"),
  ]);
  await refused(auth.authenticateSas(dev("off"), sdkToken(`${HOST}/devices/off`, KEY), TRACKING), "IotHubUnauthorizedAccess", /^Device 'off' is disabled$/);
  await refused(auth.authenticateSas(dev("on", "offmod"), sdkToken(`${HOST}/devices/on/modules/offmod`, KEY), TRACKING), "IotHubUnauthorizedAccess", /^Module 'offmod' of device 'on' is disabled$/);
  await refused(auth.authenticateSas(dev("off", "mod1"), sdkToken(`${HOST}/devices/off/modules/mod1`, KEY), TRACKING), "IotHubUnauthorizedAccess", /^Device 'off' is disabled, so its module 'mod1' cannot connect$/);
  // Policy tokens do not get past the status either.
  await refused(auth.authenticateSas(dev("off"), sdkToken(`${HOST}/devices/off`, KEY, SE, "device"), TRACKING), "IotHubUnauthorizedAccess", /is disabled/);
  // Only a holder of valid credentials learns that the device is disabled.
  await refused(auth.authenticateSas(dev("off"), sdkToken(`${HOST}/devices/off`, OTHER_KEY), TRACKING), "IotHubUnauthorizedAccess", /invalid signature/);
});

test("an X.509 device cannot authenticate with its (absent) keys, nor a device of type 'none'", async () => {
  const none: Authentication = { type: "none", symmetricKey: { primaryKey: null, secondaryKey: null }, x509Thumbprint: { primaryThumbprint: null, secondaryThumbprint: null } };
  const { auth } = await setup([entry("self", "", thumbprintAuth("A".repeat(40), null)), entry("ca", "", CA_AUTH), entry("none", "", none)]);
  await refused(auth.authenticateSas(dev("self"), sdkToken(`${HOST}/devices/self`, KEY), TRACKING), "IotHubUnauthorizedAccess", /^Device 'self' authenticates with X.509 certificates \(authentication type 'selfSigned'\), not SAS tokens$/);
  await refused(auth.authenticateSas(dev("ca"), sdkToken(`${HOST}/devices/ca`, KEY), TRACKING), "IotHubUnauthorizedAccess", /authentication type 'certificateAuthority'/);
  await refused(auth.authenticateSas(dev("none"), sdkToken(`${HOST}/devices/none`, KEY), TRACKING), "IotHubUnauthorizedAccess", /authentication type 'none'/);
});

test("refusals never echo the signature or a key", async () => {
  const { auth } = await setup([entry("dev1", "", sasAuth(OTHER_KEY))]);
  const err = await auth.authenticateSas(dev("dev1"), SDK_DEVICE_TOKEN, TRACKING).catch((e: unknown) => e);
  assert.ok(err instanceof HubError);
  for (const secret of ["wosmA3uJK9T0mdB5CIYn", KEY, OTHER_KEY]) assert.ok(!err.message.includes(secret));
});

// ---------------------------------------------------------------------------------------------------------------
// X.509

interface TestCert {
  readonly node: X509Certificate;
  readonly peculiar: PeculiarCertificate;
  readonly keys: CryptoKeyPair;
  readonly sha1: string;
  readonly sha256: string;
}

async function makeCert(options: { cn: string; issuer?: TestCert; ca?: boolean; notBefore?: number; notAfter?: number }): Promise<TestCert> {
  const keys = await generateEcKeyPair();
  const common = {
    serialNumber: randomSerialNumber(),
    notBefore: new Date(options.notBefore ?? NOW - HOUR),
    notAfter: new Date(options.notAfter ?? NOW + DAY),
    signingAlgorithm: { name: "ECDSA", hash: "SHA-256" },
    extensions: [new x509.BasicConstraintsExtension(options.ca ?? false, undefined, true)],
  };
  const name: JsonName = [{ CN: [options.cn] }, { O: ["Malachite tests"] }];
  const peculiar =
    options.issuer === undefined
      ? await x509.X509CertificateGenerator.createSelfSigned({ ...common, name, keys })
      : await x509.X509CertificateGenerator.create({
          ...common,
          subject: name,
          issuer: options.issuer.peculiar.subjectName,
          publicKey: keys.publicKey,
          signingKey: options.issuer.keys.privateKey,
        });
  const node = new X509Certificate(peculiar.toString("pem"));
  return { node, peculiar, keys, sha1: node.fingerprint.replace(/:/g, ""), sha256: node.fingerprint256.replace(/:/g, "") };
}

test("self-signed: the SHA-1 or SHA-256 thumbprint, primary or secondary, authenticates the device", async () => {
  const cert = await makeCert({ cn: "anything" });
  const other = await makeCert({ cn: "other" });
  const devices = [
    entry("p1", "", thumbprintAuth(cert.sha1, other.sha256)),
    entry("s1", "", thumbprintAuth(other.sha1, cert.sha1)),
    entry("p256", "", thumbprintAuth(cert.sha256, null)),
    entry("s256", "", thumbprintAuth(other.sha1, cert.sha256)),
    entry("lower", "", thumbprintAuth(cert.sha256.toLowerCase(), null)),
  ];
  const { auth } = await setup(devices);
  for (const device of devices) {
    const result = await auth.authenticateX509(dev(device.identity.deviceId), [cert.node], TRACKING);
    assert.deepEqual(result, {
      caller: { kind: "device", deviceId: device.identity.deviceId, moduleId: "" },
      authMethod: { scope: "device", type: "x509Certificate", issuer: "external", acceptingIpFilterRule: null },
      credential: "selfSigned",
      policyName: undefined,
      generationId: device.identity.generationId,
      expiresAt: undefined,
    } satisfies DeviceAuthResult);
  }
});

test("self-signed: a module authenticates with its own thumbprint, scope 'module'", async () => {
  const cert = await makeCert({ cn: "dev1/mod1" });
  const { auth } = await setup([entry("dev1", "", sasAuth(KEY)), entry("dev1", "mod1", thumbprintAuth(cert.sha256, null))]);
  const result = await auth.authenticateX509(dev("dev1", "mod1"), [cert.node], TRACKING);
  assert.equal(result.authMethod.scope, "module");
  assert.equal(result.credential, "selfSigned");
});

test("self-signed: a certificate with another thumbprint is refused", async () => {
  const cert = await makeCert({ cn: "dev1" });
  const registered = await makeCert({ cn: "dev1" });
  const { auth } = await setup([entry("dev1", "", thumbprintAuth(registered.sha1, registered.sha256))]);
  await refused(auth.authenticateX509(dev("dev1"), [cert.node], TRACKING), "IotHubUnauthorizedAccess", /^The certificate thumbprint does not match device 'dev1'/);
});

test("self-signed: a certificate outside its validity period is refused", async () => {
  const expired = await makeCert({ cn: "dev1", notBefore: NOW - 10 * DAY, notAfter: NOW - DAY });
  const future = await makeCert({ cn: "dev1", notBefore: NOW + HOUR, notAfter: NOW + DAY });
  const { auth } = await setup([entry("dev1", "", thumbprintAuth(expired.sha1, future.sha1))]);
  await refused(auth.authenticateX509(dev("dev1"), [expired.node], TRACKING), "IotHubUnauthorizedAccess", /^The certificate of device 'dev1' expired at /);
  await refused(auth.authenticateX509(dev("dev1"), [future.node], TRACKING), "IotHubUnauthorizedAccess", /^The certificate of device 'dev1' is not valid before /);
});

test("CA: a leaf with CN = device id, signed by a registered CA (directly or via an intermediate), authenticates", async () => {
  const root = await makeCert({ cn: "Root CA", ca: true });
  const intermediate = await makeCert({ cn: "Intermediate CA", ca: true, issuer: root });
  const direct = await makeCert({ cn: "dev1", issuer: root });
  const viaIntermediate = await makeCert({ cn: "dev2", issuer: intermediate });
  const device1 = entry("dev1", "", CA_AUTH);
  const { auth, trusted } = await setup([device1, entry("dev2", "", CA_AUTH)]);
  trusted.push(root.peculiar.toString("pem"));

  const result = await auth.authenticateX509(dev("dev1"), [direct.node], TRACKING);
  assert.deepEqual(result, {
    caller: { kind: "device", deviceId: "dev1", moduleId: "" },
    authMethod: { scope: "device", type: "x509Certificate", issuer: "external", acceptingIpFilterRule: null },
    credential: "certificateAuthority",
    policyName: undefined,
    generationId: device1.identity.generationId,
    expiresAt: undefined,
  } satisfies DeviceAuthResult);
  assert.equal((await auth.authenticateX509(dev("dev2"), [viaIntermediate.node, intermediate.node], TRACKING)).credential, "certificateAuthority");
});

test("CA: a module's leaf must have CN '{deviceId}/{moduleId}'", async () => {
  const root = await makeCert({ cn: "Root CA", ca: true });
  const good = await makeCert({ cn: "dev1/mod1", issuer: root });
  const deviceOnly = await makeCert({ cn: "dev1", issuer: root });
  const { auth, trusted } = await setup([entry("dev1", "", CA_AUTH), entry("dev1", "mod1", CA_AUTH)]);
  trusted.push(root.peculiar.toString("pem"));
  const result = await auth.authenticateX509(dev("dev1", "mod1"), [good.node], TRACKING);
  assert.equal(result.authMethod.scope, "module");
  await refused(auth.authenticateX509(dev("dev1", "mod1"), [deviceOnly.node], TRACKING), "IotHubUnauthorizedAccess", /common name 'dev1'.*the CN must be 'dev1\/mod1'/);
});

test("CA: a chain that does not reach a registered CA is refused", async () => {
  const root = await makeCert({ cn: "Root CA", ca: true });
  const stranger = await makeCert({ cn: "Stranger CA", ca: true });
  const leaf = await makeCert({ cn: "dev1", issuer: stranger });
  const { auth, trusted } = await setup([entry("dev1", "", CA_AUTH)]);
  trusted.push(root.peculiar.toString("pem"), "not a PEM certificate");
  await refused(auth.authenticateX509(dev("dev1"), [leaf.node], TRACKING), "IotHubUnauthorizedAccess", /^The certificate chain of device 'dev1' is not trusted: '.*CN=dev1.*' is not signed by any CA certificate registered with this IoT hub$/);
  // Registering the CA later is seen at once.
  trusted.push(stranger.peculiar.toString("pem"));
  await auth.authenticateX509(dev("dev1"), [leaf.node], TRACKING);
});

test("CA: a leaf whose CN is not the device id is refused", async () => {
  const root = await makeCert({ cn: "Root CA", ca: true });
  const leaf = await makeCert({ cn: "dev2", issuer: root });
  const { auth, trusted } = await setup([entry("dev1", "", CA_AUTH), entry("Dev2", "", CA_AUTH)]);
  trusted.push(root.peculiar.toString("pem"));
  await refused(auth.authenticateX509(dev("dev1"), [leaf.node], TRACKING), "IotHubUnauthorizedAccess", /^The certificate's subject \(common name 'dev2'\) does not match device 'dev1': the CN must be 'dev1'$/);
  // Device ids are case-sensitive.
  await refused(auth.authenticateX509(dev("Dev2"), [leaf.node], TRACKING), "IotHubUnauthorizedAccess", /the CN must be 'Dev2'/);
});

test("CA: an expired leaf, or an expired CA, is refused", async () => {
  const root = await makeCert({ cn: "Root CA", ca: true });
  const oldRoot = await makeCert({ cn: "Old CA", ca: true, notBefore: NOW - 10 * DAY, notAfter: NOW - DAY });
  const expiredLeaf = await makeCert({ cn: "dev1", issuer: root, notBefore: NOW - 10 * DAY, notAfter: NOW - DAY });
  const leafOfOldRoot = await makeCert({ cn: "dev1", issuer: oldRoot, notBefore: NOW - 2 * DAY });
  const { auth, trusted } = await setup([entry("dev1", "", CA_AUTH)]);
  trusted.push(root.peculiar.toString("pem"), oldRoot.peculiar.toString("pem"));
  await refused(auth.authenticateX509(dev("dev1"), [expiredLeaf.node], TRACKING), "IotHubUnauthorizedAccess", /not trusted: the device certificate '.*CN=dev1.*' expired at /);
  await refused(auth.authenticateX509(dev("dev1"), [leafOfOldRoot.node], TRACKING), "IotHubUnauthorizedAccess", /not trusted: the registered CA certificate '.*CN=Old CA.*' expired at /);
});

test("X.509: type mismatches, unknown and disabled identities, and an empty chain are refused", async () => {
  const root = await makeCert({ cn: "Root CA", ca: true });
  const cert = await makeCert({ cn: "dev1", issuer: root });
  const { auth, trusted } = await setup([
    entry("sas", "", sasAuth(KEY)),
    entry("dev1", "", thumbprintAuth(cert.sha1, null), "disabled"),
    entry("cadev", "", CA_AUTH),
    entry("cadev", "mod1", CA_AUTH),
  ]);
  trusted.push(root.peculiar.toString("pem"));
  await refused(auth.authenticateX509(dev("sas"), [cert.node], TRACKING), "IotHubUnauthorizedAccess", /^Device 'sas' authenticates with SAS tokens \(authentication type 'sas'\), not X.509 certificates$/);
  await refused(auth.authenticateX509(dev("nosuch"), [cert.node], TRACKING), "DeviceNotFound", /Device 'nosuch' does not exist/);
  await refused(auth.authenticateX509(dev("cadev", "nosuch"), [cert.node], TRACKING), "ModuleNotFound", /Module 'nosuch' does not exist on device 'cadev'/);
  await refused(auth.authenticateX509(dev("dev1"), [cert.node], TRACKING), "IotHubUnauthorizedAccess", /^Device 'dev1' is disabled$/);
  await refused(auth.authenticateX509(dev("dev1"), [], TRACKING), "IotHubUnauthorizedAccess", /^No client certificate was presented for device 'dev1'$/);
});

// ---------------------------------------------------------------------------------------------------------------
// The identity cache: what was read is reused until the registry reports a change (identityChanged)

/** A store that counts identity reads, to see when DeviceAuth reads the store and when it uses what it read. */
function countReads(store: MemoryStore): { reads: () => number } {
  let reads = 0;
  const getIdentityRecord = store.getIdentityRecord.bind(store);
  store.getIdentityRecord = (key) => {
    reads++;
    return getIdentityRecord(key);
  };
  return { reads: () => reads };
}

test("cache: a second authentication does not read the store again", async () => {
  const { auth, store } = await setup([entry("dev1", "", sasAuth(KEY)), entry("dev1", "mod1", sasAuth(KEY))]);
  const counter = countReads(store);
  await auth.authenticateSas(dev("dev1"), SDK_DEVICE_TOKEN, TRACKING);
  await auth.authenticateSas(dev("dev1"), SDK_DEVICE_TOKEN, TRACKING);
  assert.equal(counter.reads(), 1);
  // A module reads itself and its device (already known) once.
  await auth.authenticateSas(dev("dev1", "mod1"), SDK_MODULE_TOKEN, TRACKING);
  await auth.authenticateSas(dev("dev1", "mod1"), SDK_MODULE_TOKEN, TRACKING);
  assert.equal(counter.reads(), 2);
});

test("cache: a device disabled, deleted or given new keys is judged on the new record at once", async () => {
  const device = entry("dev1", "", sasAuth(KEY));
  const { auth, store } = await setup([device]);
  await auth.authenticateSas(dev("dev1"), SDK_DEVICE_TOKEN, TRACKING);

  // Disabled.
  await store.write([{ kind: "put", entry: { ...device, identity: { ...device.identity, status: "disabled" } } }]);
  auth.identityChanged(dev("dev1"));
  await refused(auth.authenticateSas(dev("dev1"), SDK_DEVICE_TOKEN, TRACKING), "IotHubUnauthorizedAccess", /^Device 'dev1' is disabled$/);

  // Enabled again, with regenerated keys: the old key no longer works, the new one does.
  await store.write([{ kind: "put", entry: { ...device, identity: { ...device.identity, authentication: sasAuth(OTHER_KEY, SECONDARY_KEY) } } }]);
  auth.identityChanged(dev("dev1"));
  await refused(auth.authenticateSas(dev("dev1"), SDK_DEVICE_TOKEN, TRACKING), "IotHubUnauthorizedAccess", /invalid signature/);
  await auth.authenticateSas(dev("dev1"), sdkToken(`${HOST}/devices/dev1`, OTHER_KEY), TRACKING);

  // Deleted.
  await store.write([{ kind: "delete", key: dev("dev1") }]);
  auth.identityChanged(dev("dev1"));
  await refused(auth.authenticateSas(dev("dev1"), sdkToken(`${HOST}/devices/dev1`, OTHER_KEY), TRACKING), "DeviceNotFound", /Device 'dev1' does not exist/);
});

test("cache: deleting or disabling a device counts for its modules at once; a module change leaves its siblings cached", async () => {
  const device = entry("dev1", "", sasAuth(KEY));
  const mod1 = entry("dev1", "mod1", sasAuth(KEY));
  const mod2 = entry("dev1", "mod2", sasAuth(KEY));
  const { auth, store } = await setup([device, mod1, mod2]);
  const mod2Token = sdkToken(`${HOST}/devices/dev1/modules/mod2`, KEY);
  await auth.authenticateSas(dev("dev1", "mod1"), SDK_MODULE_TOKEN, TRACKING);
  await auth.authenticateSas(dev("dev1", "mod2"), mod2Token, TRACKING);

  // A module disabled: refused; its sibling is still served from the cache.
  await store.write([{ kind: "put", entry: { ...mod1, identity: { ...mod1.identity, status: "disabled" } } }]);
  auth.identityChanged(dev("dev1", "mod1"));
  await refused(auth.authenticateSas(dev("dev1", "mod1"), SDK_MODULE_TOKEN, TRACKING), "IotHubUnauthorizedAccess", /^Module 'mod1' of device 'dev1' is disabled$/);
  const counter = countReads(store);
  await auth.authenticateSas(dev("dev1", "mod2"), mod2Token, TRACKING);
  assert.equal(counter.reads(), 0);

  // The device disabled: its modules are refused.
  await store.write([{ kind: "put", entry: { ...device, identity: { ...device.identity, status: "disabled" } } }]);
  auth.identityChanged(dev("dev1"));
  await refused(auth.authenticateSas(dev("dev1", "mod2"), mod2Token, TRACKING), "IotHubUnauthorizedAccess", /^Device 'dev1' is disabled, so its module 'mod2' cannot connect$/);

  // The device deleted (the store deletes its modules with it): the modules are unknown.
  await store.write([{ kind: "delete", key: dev("dev1") }]);
  auth.identityChanged(dev("dev1"));
  await refused(auth.authenticateSas(dev("dev1", "mod2"), mod2Token, TRACKING), "ModuleNotFound", /Module 'mod2' does not exist on device 'dev1'/);
});

test("cache: an X.509 device whose thumbprint changes is judged on the new thumbprint at once", async () => {
  const cert = await makeCert({ cn: "dev1" });
  const other = await makeCert({ cn: "dev1" });
  const device = entry("dev1", "", thumbprintAuth(cert.sha1, null));
  const { auth, store } = await setup([device]);
  await auth.authenticateX509(dev("dev1"), [cert.node], TRACKING);
  await store.write([{ kind: "put", entry: { ...device, identity: { ...device.identity, authentication: thumbprintAuth(other.sha1, null) } } }]);
  auth.identityChanged(dev("dev1"));
  await refused(auth.authenticateX509(dev("dev1"), [cert.node], TRACKING), "IotHubUnauthorizedAccess", /thumbprint does not match/);
  await auth.authenticateX509(dev("dev1"), [other.node], TRACKING);
});

test("cache: a read that was under way when the identity changed is not kept", async () => {
  const device = entry("dev1", "", sasAuth(KEY));
  const { auth, store } = await setup([device]);
  // The read returns the old record, but the change is reported before the read completes.
  const getIdentityRecord = store.getIdentityRecord.bind(store);
  let release: () => void = () => undefined;
  const gate = new Promise<void>((resolve) => (release = resolve));
  store.getIdentityRecord = async (key) => {
    const found = await getIdentityRecord(key);
    await gate;
    return found;
  };
  const first = auth.authenticateSas(dev("dev1"), SDK_DEVICE_TOKEN, TRACKING);
  await store.write([{ kind: "put", entry: { ...device, identity: { ...device.identity, status: "disabled" } } }]);
  auth.identityChanged(dev("dev1"));
  release();
  await first; // judged on what it read, as before the cache
  store.getIdentityRecord = getIdentityRecord;
  await refused(auth.authenticateSas(dev("dev1"), SDK_DEVICE_TOKEN, TRACKING), "IotHubUnauthorizedAccess", /^Device 'dev1' is disabled$/);
});

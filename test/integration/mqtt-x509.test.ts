import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { X509Certificate } from "node:crypto";
import { once } from "node:events";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { connect as tlsConnect } from "node:tls";
import { tmpdir } from "node:os";
import { join } from "node:path";
import mqtt from "mqtt-packet";
import iothub from "azure-iothub";
import deviceSdk from "azure-iot-device";
import mqttSdk from "azure-iot-device-mqtt";
import amqpSdk from "azure-iot-device-amqp";
import { startTestHub, type TestHub } from "./harness/start-test-hub.js";
import { loadX509 } from "../../src/tls/x509.js";
import { exportPrivateKeyPem, generateEcKeyPair, randomSerialNumber, type CryptoKeyPair } from "../../src/tls/keys.js";
import { runCaAdd } from "../../src/cli/ca-command.js";
import { storedTelemetry } from "./harness/stored-telemetry.js";
import { serviceRequest } from "./harness/service-request.js";
import { within } from "./harness/within.js";
import { createLogger } from "../../src/observability/logger.js";
import type { Extension, X509Certificate as PeculiarCertificate } from "@peculiar/x509";

const x509 = await loadX509();

const { Registry } = iothub;
const HOUR_MS = 60 * 60 * 1000;
const DAY_MS = 24 * HOUR_MS;

/** A certificate with its key, as PEM for the SDK and as objects for issuing more. */
interface Credential {
  readonly certPem: string;
  readonly keyPem: string;
  readonly cert: PeculiarCertificate;
  readonly keys: CryptoKeyPair;
  /** SHA-1 and SHA-256 thumbprints as IoT Hub shows them (upper-case hex). */
  readonly sha1: string;
  readonly sha256: string;
}

/**
 * Makes an ECDSA P-256 certificate: self-signed without `issuer`, else signed by it. Device certificates carry
 * extended key usage clientAuth; CA certificates carry basicConstraints CA=true and keyCertSign.
 */
async function makeCertificate(commonName: string, options: { issuer?: Credential; ca?: boolean } = {}): Promise<Credential> {
  const keys = await generateEcKeyPair();
  const now = Date.now();
  const extensions: Extension[] = options.ca
    ? [
        new x509.BasicConstraintsExtension(true, undefined, true),
        new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign | x509.KeyUsageFlags.digitalSignature, true),
      ]
    : [
        new x509.BasicConstraintsExtension(false, undefined, true),
        new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
        new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.clientAuth], false),
      ];
  extensions.push(await x509.SubjectKeyIdentifierExtension.create(keys.publicKey));
  const validity = { notBefore: new Date(now - HOUR_MS), notAfter: new Date(now + 30 * DAY_MS) };
  const signingAlgorithm = { name: "ECDSA", hash: "SHA-256" };
  let cert: PeculiarCertificate;
  if (options.issuer === undefined) {
    cert = await x509.X509CertificateGenerator.createSelfSigned({ serialNumber: randomSerialNumber(), name: `CN=${commonName}`, keys, signingAlgorithm, extensions, ...validity });
  } else {
    const issuer = options.issuer;
    const ski = issuer.cert.getExtension(x509.SubjectKeyIdentifierExtension)!;
    extensions.push(new x509.AuthorityKeyIdentifierExtension(ski.keyId));
    cert = await x509.X509CertificateGenerator.create({
      serialNumber: randomSerialNumber(),
      subject: `CN=${commonName}`,
      issuer: issuer.cert.subjectName,
      publicKey: keys.publicKey,
      signingKey: issuer.keys.privateKey,
      signingAlgorithm,
      extensions,
      ...validity,
    });
  }
  const certPem = `${cert.toString("pem")}\n`;
  const node = new X509Certificate(certPem);
  return {
    certPem,
    keyPem: await exportPrivateKeyPem(keys.privateKey),
    cert,
    keys,
    sha1: node.fingerprint.replace(/:/g, ""),
    sha256: node.fingerprint256.replace(/:/g, ""),
  };
}

type Transport = "Mqtt" | "MqttWs" | "Amqp" | "AmqpWs";

describe("X.509 devices over MQTT with azure-iot-device", () => {
  let hub: TestHub;
  let dataDir: string;
  let registry: any;
  let rootCa: Credential;
  let intermediateCa: Credential;
  let strangerCa: Credential;
  const clients: Array<{ close(): Promise<unknown> }> = [];
  /** Log messages the hub has yet to write that a test waits for, each with its waiter. */
  const awaited = new Map<string, () => void>();
  const heard = (line: string): void => {
    const msg = (JSON.parse(line) as { msg?: string }).msg;
    if (msg !== undefined) awaited.get(msg)?.();
  };
  /** Resolves when the hub next logs `msg`. */
  const logged = (msg: string): Promise<void> => new Promise((resolve) => awaited.set(msg, () => (awaited.delete(msg), resolve())));

  /** A device (or module) client authenticating with a certificate: `x509=true` and setOptions({ cert, key }). */
  async function x509Client(deviceId: string, credential: { certPem: string; keyPem: string }, options: { moduleId?: string; transport?: Transport } = {}) {
    const name = options.transport ?? "Mqtt";
    const transport = name === "Amqp" || name === "AmqpWs" ? amqpSdk[name] : mqttSdk[name];
    const connectionString = `HostName=${hub.hostName};DeviceId=${deviceId};${options.moduleId === undefined ? "" : `ModuleId=${options.moduleId};`}x509=true`;
    const client =
      options.moduleId === undefined
        ? deviceSdk.Client.fromConnectionString(connectionString, transport)
        : deviceSdk.ModuleClient.fromConnectionString(connectionString, transport);
    clients.push(client);
    await client.setOptions({ cert: credential.certPem, key: credential.keyPem });
    return client;
  }

  /**
   * Connects as the SDK does with a certificate (TLS client certificate, CONNECT without a password), publishes one
   * QoS 1 message and returns the CONNACK return code and what answered the PUBLISH ("puback", or "closed").
   */
  async function rawX509Telemetry(clientId: string, credential: Credential, topic: string, body: string): Promise<[number, string]> {
    const socket = tlsConnect({ host: hub.hostName, port: hub.ports.mqtt, cert: credential.certPem, key: credential.keyPem });
    const packets: mqtt.Packet[] = [];
    const parser = mqtt.parser({ protocolVersion: 4 });
    parser.on("packet", (packet: mqtt.Packet) => packets.push(packet));
    socket.on("data", (chunk: Buffer) => parser.parse(chunk));
    socket.on("error", () => undefined);
    let closed = false;
    socket.on("close", () => void (closed = true));
    const next = async (): Promise<mqtt.Packet | undefined> => {
      for (let i = 0; i < 200 && packets.length === 0 && !closed; i++) await new Promise((r) => setTimeout(r, 25));
      return packets.shift();
    };
    try {
      await once(socket, "secureConnect");
      socket.write(mqtt.generate({ cmd: "connect", protocolId: "MQTT", protocolVersion: 4, clean: false, keepalive: 0, clientId, username: `${hub.hostName}/${clientId}/?api-version=2021-04-12` }));
      const connack = (await next()) as mqtt.IConnackPacket | undefined;
      assert.equal(connack?.cmd, "connack");
      if (connack.returnCode !== 0) return [connack.returnCode ?? -1, "closed"];
      socket.write(mqtt.generate({ cmd: "publish", topic, payload: body, qos: 1, messageId: 1, retain: false, dup: false }));
      const reply = await next();
      return [0, reply?.cmd ?? "closed"];
    } finally {
      socket.destroy();
    }
  }

  before(async () => {
    rootCa = await makeCertificate("Malachite Test Devices Root", { ca: true });
    intermediateCa = await makeCertificate("Malachite Test Devices Intermediate", { ca: true, issuer: rootCa });
    strangerCa = await makeCertificate("Someone Else's CA", { ca: true });
    // The hub reads its registered CAs when it starts: register the root with `malachite ca add`'s code first.
    dataDir = mkdtempSync(join(tmpdir(), "malachite-x509-"));
    writeFileSync(join(dataDir, "root.pem"), rootCa.certPem);
    const quiet = { write: () => true };
    assert.equal(await runCaAdd(join(dataDir, "root.pem"), { dataDir }, {}, { stdout: quiet, stderr: quiet }), 0);
    hub = await startTestHub({ dataDir, logger: createLogger({ level: "debug", destination: { write: (line: string) => void heard(line) } }) });
    registry = Registry.fromConnectionString(hub.connectionStrings["iothubowner"]!);
  });

  after(async () => {
    for (const client of clients) await client.close().catch(() => undefined);
    await hub?.dispose();
    rmSync(dataDir, { recursive: true, force: true });
  });

  describe("self-signed certificates (thumbprint)", () => {
    test("a device registered with its certificate's SHA-1 thumbprint connects and sends telemetry", async () => {
      const credential = await makeCertificate("x509-self-sha1");
      await registry.create({ deviceId: "x509-self-sha1", authentication: { x509Thumbprint: { primaryThumbprint: credential.sha1 } } });
      const client = await x509Client("x509-self-sha1", credential);
      await client.open();
      await client.sendEvent(new deviceSdk.Message("hello from a certificate"));
      assert.equal((await registry.get("x509-self-sha1")).responseBody.connectionState, "Connected");
      const [record] = await storedTelemetry(hub, "x509-self-sha1");
      assert.ok(record, "the message is in the telemetry log");
      assert.equal(record.body.toString(), "hello from a certificate");
      assert.equal(record.systemProperties["iothub-connection-auth-method"], '{"scope":"device","type":"x509Certificate","issuer":"external","acceptingIpFilterRule":null}');
    });

    test("the SHA-256 thumbprint and the secondary thumbprint work too, in any case", async () => {
      const credential = await makeCertificate("x509-self-sha256");
      await registry.create({ deviceId: "x509-self-sha256", authentication: { type: "selfSigned", x509Thumbprint: { primaryThumbprint: credential.sha256.toLowerCase() } } });
      const client = await x509Client("x509-self-sha256", credential);
      await client.open();
      await client.sendEvent(new deviceSdk.Message("sha-256"));
      await client.close();

      const rolled = await makeCertificate("x509-self-rolled");
      const other = await makeCertificate("x509-self-rolled");
      await registry.create({ deviceId: "x509-self-rolled", authentication: { x509Thumbprint: { primaryThumbprint: other.sha1, secondaryThumbprint: rolled.sha1 } } });
      const second = await x509Client("x509-self-rolled", rolled);
      await second.open();
      await second.sendEvent(new deviceSdk.Message("secondary"));
    });

    test("a certificate whose thumbprint is not registered is UnauthorizedError", async () => {
      const registered = await makeCertificate("x509-wrong-thumb");
      const presented = await makeCertificate("x509-wrong-thumb");
      await registry.create({ deviceId: "x509-wrong-thumb", authentication: { x509Thumbprint: { primaryThumbprint: registered.sha1 } } });
      const client = await x509Client("x509-wrong-thumb", presented);
      await assert.rejects(client.open(), { name: "UnauthorizedError" });
      assert.deepEqual(await storedTelemetry(hub, "x509-wrong-thumb"), []);
    });

    test("another device's certificate, or a certificate for a SAS device, is UnauthorizedError", async () => {
      const mine = await makeCertificate("x509-mine");
      await registry.create({ deviceId: "x509-mine", authentication: { x509Thumbprint: { primaryThumbprint: mine.sha1 } } });
      const yours = await makeCertificate("x509-yours");
      await registry.create({ deviceId: "x509-yours", authentication: { x509Thumbprint: { primaryThumbprint: yours.sha1 } } });
      await assert.rejects((await x509Client("x509-yours", mine)).open(), { name: "UnauthorizedError" });

      await registry.create({ deviceId: "sas-only" });
      await assert.rejects((await x509Client("sas-only", mine)).open(), { name: "UnauthorizedError" });
    });

    test("a module authenticates with its own thumbprint (raw MQTT: the Node ModuleClient only does SAS)", async () => {
      const credential = await makeCertificate("x509-edge/sensor");
      await registry.create({ deviceId: "x509-edge" });
      await registry.addModule({ deviceId: "x509-edge", moduleId: "sensor", authentication: { x509Thumbprint: { primaryThumbprint: credential.sha1 } } });
      assert.deepEqual(await rawX509Telemetry("x509-edge/sensor", credential, "devices/x509-edge/modules/sensor/messages/events/", "from a module"), [0, "puback"]);
      const [record] = await storedTelemetry(hub, "x509-edge");
      assert.equal(record?.systemProperties["iothub-connection-module-id"], "sensor");
      assert.match(record?.systemProperties["iothub-connection-auth-method"] ?? "", /"scope":"module","type":"x509Certificate"/);
    });
  });

  describe("CA-signed certificates (registered with malachite ca add)", () => {
    test("a device whose certificate (CN = device id) is issued by a registered CA connects and sends telemetry", async () => {
      const credential = await makeCertificate("x509-ca-dev", { issuer: rootCa });
      await registry.create({ deviceId: "x509-ca-dev", authentication: { type: "certificateAuthority" } });
      const client = await x509Client("x509-ca-dev", credential);
      await client.open();
      await client.sendEvent(new deviceSdk.Message("signed by the root"));
      const [record] = await storedTelemetry(hub, "x509-ca-dev");
      assert.equal(record?.body.toString(), "signed by the root");
      assert.match(record?.systemProperties["iothub-connection-auth-method"] ?? "", /"type":"x509Certificate"/);
    });

    test("a device certificate issued by an intermediate connects when the client sends the chain", async () => {
      const credential = await makeCertificate("x509-ca-chain", { issuer: intermediateCa });
      await registry.create({ deviceId: "x509-ca-chain", authentication: { type: "certificateAuthority" } });
      // Node's TLS client sends every certificate of `cert`: the leaf, then the intermediate.
      const client = await x509Client("x509-ca-chain", { certPem: credential.certPem + intermediateCa.certPem, keyPem: credential.keyPem });
      await client.open();
      await client.sendEvent(new deviceSdk.Message("via the intermediate"));
      assert.equal((await storedTelemetry(hub, "x509-ca-chain")).length, 1);
    });

    test("a certificate from a CA that is not registered is UnauthorizedError", async () => {
      const credential = await makeCertificate("x509-ca-stranger", { issuer: strangerCa });
      await registry.create({ deviceId: "x509-ca-stranger", authentication: { type: "certificateAuthority" } });
      await assert.rejects((await x509Client("x509-ca-stranger", credential)).open(), { name: "UnauthorizedError" });
      // Sending the stranger CA along does not help: the chain must end at a registered CA.
      const withChain = { certPem: credential.certPem + strangerCa.certPem, keyPem: credential.keyPem };
      await assert.rejects((await x509Client("x509-ca-stranger", withChain)).open(), { name: "UnauthorizedError" });
      assert.deepEqual(await storedTelemetry(hub, "x509-ca-stranger"), []);
    });

    test("a registered CA's certificate for another device id (CN mismatch) is UnauthorizedError", async () => {
      const credential = await makeCertificate("someone-else", { issuer: rootCa });
      await registry.create({ deviceId: "x509-ca-cn", authentication: { type: "certificateAuthority" } });
      await assert.rejects((await x509Client("x509-ca-cn", credential)).open(), { name: "UnauthorizedError" });
    });

    test("a module's CA-signed certificate names it as {deviceId}/{moduleId}", async () => {
      await registry.create({ deviceId: "x509-ca-edge" });
      await registry.addModule({ deviceId: "x509-ca-edge", moduleId: "reader", authentication: { type: "certificateAuthority" } });
      const good = await makeCertificate("x509-ca-edge/reader", { issuer: rootCa });
      assert.deepEqual(await rawX509Telemetry("x509-ca-edge/reader", good, "devices/x509-ca-edge/modules/reader/messages/events/", "module via CA"), [0, "puback"]);
      // The parent device's name alone is not the module's.
      const parentOnly = await makeCertificate("x509-ca-edge", { issuer: rootCa });
      assert.deepEqual(await rawX509Telemetry("x509-ca-edge/reader", parentOnly, "devices/x509-ca-edge/modules/reader/messages/events/", "nope"), [5, "closed"]);
      assert.deepEqual((await storedTelemetry(hub, "x509-ca-edge")).map((r) => r.body.toString()), ["module via CA"]);
    });

    test("a self-signed certificate for a CA-authenticated device is UnauthorizedError", async () => {
      const credential = await makeCertificate("x509-ca-selfie");
      await registry.create({ deviceId: "x509-ca-selfie", authentication: { type: "certificateAuthority" } });
      await assert.rejects((await x509Client("x509-ca-selfie", credential)).open(), { name: "UnauthorizedError" });
    });
  });

  // Over AMQP the SDK sends no token: the TLS client certificate authenticates the identity each link names.
  for (const transport of ["Amqp", "AmqpWs"] as const) {
    test(`X.509 over ${transport}: self-signed and CA-signed devices send telemetry; an unregistered certificate is UnauthorizedError`, async () => {
      const self = await makeCertificate(`x509-${transport}-self`);
      await registry.create({ deviceId: `x509-${transport}-self`, authentication: { x509Thumbprint: { primaryThumbprint: self.sha1 } } });
      const selfClient = await x509Client(`x509-${transport}-self`, self, { transport });
      await selfClient.open();
      await selfClient.sendEvent(new deviceSdk.Message("self-signed over amqp"));
      const [record] = await storedTelemetry(hub, `x509-${transport}-self`);
      assert.equal(record?.systemProperties["iothub-connection-auth-method"], '{"scope":"device","type":"x509Certificate","issuer":"external","acceptingIpFilterRule":null}');

      const issued = await makeCertificate(`x509-${transport}-ca`, { issuer: rootCa });
      await registry.create({ deviceId: `x509-${transport}-ca`, authentication: { type: "certificateAuthority" } });
      const caClient = await x509Client(`x509-${transport}-ca`, issued, { transport });
      await caClient.open();
      await caClient.sendEvent(new deviceSdk.Message("ca-signed over amqp"));
      assert.equal((await storedTelemetry(hub, `x509-${transport}-ca`)).length, 1);

      const stranger = await makeCertificate(`x509-${transport}-stranger`);
      await registry.create({ deviceId: `x509-${transport}-stranger`, authentication: { x509Thumbprint: { primaryThumbprint: self.sha256 } } });
      const refused = await x509Client(`x509-${transport}-stranger`, stranger, { transport });
      refused.setRetryPolicy({ shouldRetry: () => false, nextRetryTimeout: () => 0 } as never);
      await assert.rejects(async () => {
        await refused.open();
        await refused.sendEvent(new deviceSdk.Message("never stored"));
      }, (error: Error) => error.name === "UnauthorizedError");
      assert.equal((await storedTelemetry(hub, `x509-${transport}-stranger`)).length, 0);
    });
  }

  // Over AMQP an X.509 identity connects when its first link attaches, and rhea grants that link credit at once: a
  // message sent before the connect completes must wait for it, not be refused ("AMQP Transport: Could not send").
  test("X.509 over Amqp: a message sent while the identity is still connecting is stored once it has connected", async () => {
    const API = "api-version=2021-04-12";
    const credential = await makeCertificate("x509-amqp-slow");
    await registry.create({ deviceId: "x509-amqp-slow", authentication: { x509Thumbprint: { primaryThumbprint: credential.sha1 } } });
    // The connect waits 5 s of hub time, so it completes only when the test moves the clock.
    const rule = await serviceRequest(hub, "POST", `/admin/faults?${API}`, {
      body: JSON.stringify({ error: "delay", operation: "connect", deviceId: "x509-amqp-slow", delaySeconds: 5, count: 1 }),
      headers: { "content-type": "application/json; charset=utf-8" },
    });
    assert.equal(rule.status, 201, rule.text);
    const client = await x509Client("x509-amqp-slow", credential, { transport: "Amqp" });
    await client.open();
    const held = logged("AMQP message held until its link's identity has connected");
    const sent = client.sendEvent(new deviceSdk.Message("sent while connecting"));
    await within(Promise.race([held, sent.then(() => assert.fail("the message was accepted before its identity connected"))]), 10_000, "the hub never received the message");
    hub.advanceClock(5);
    await sent;
    assert.deepEqual((await storedTelemetry(hub, "x509-amqp-slow")).map((r) => r.body.toString()), ["sent while connecting"]);
  });

  test("X.509 over MQTT-over-WebSocket (port 443)", async () => {
    const credential = await makeCertificate("x509-ws");
    await registry.create({ deviceId: "x509-ws", authentication: { x509Thumbprint: { primaryThumbprint: credential.sha1 } } });
    const client = await x509Client("x509-ws", credential, { transport: "MqttWs" });
    await client.open();
    await client.sendEvent(new deviceSdk.Message("over websocket"));
  });
});

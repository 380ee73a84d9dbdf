import { after, afterEach, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { connect as tlsConnect } from "node:tls";
import rhea from "rhea";
import iothub from "azure-iothub";
import deviceSdk from "azure-iot-device";
import { startTestHub, type TestHub } from "./harness/start-test-hub.js";
import { deviceClient } from "./harness/device-client.js";
import { RawAmqp } from "./harness/raw-amqp.js";
import { policyKey } from "./harness/service-request.js";
import { deviceKeys } from "./harness/device-keys.js";
import { createSasToken } from "../../src/hub/index.js";

const { Registry } = iothub;

// Refusals and bad input over AMQP, each answered with IoT Hub's condition (edgehub-server-notes.md §2.3–2.4), while
// the hub keeps serving a well-behaved device (checked after every test).

describe("AMQP refusals and bad input", () => {
  let hub: TestHub;
  let registry: any;
  const keys = deviceKeys(() => registry);
  const raws: RawAmqp[] = [];
  let bystander: InstanceType<typeof deviceSdk.Client>;

  async function key(id: string): Promise<string> {
    return keys.of(id);
  }
  function resource(id: string): string {
    return `${hub.hostName}/devices/${id}`;
  }
  async function deviceToken(id: string, lifetimeSeconds = 3600): Promise<string> {
    return createSasToken(resource(id), await key(id), Math.floor(Date.now() / 1000) + lifetimeSeconds);
  }
  async function raw(): Promise<RawAmqp> {
    const client = await RawAmqp.connect(hub);
    raws.push(client);
    return client;
  }

  before(async () => {
    hub = await startTestHub();
    registry = Registry.fromConnectionString(hub.connectionStrings["iothubowner"]!);
    bystander = deviceClient(hub, "bystander", await key("bystander"), "Amqp");
    await bystander.open();
  });
  afterEach(async () => {
    for (const client of raws.splice(0)) client.close();
    await bystander.sendEvent(new deviceSdk.Message("still served"));
  });
  after(async () => {
    await bystander.close();
    await hub.dispose();
  });

  test("a device link attached before any token is detached with amqp:unauthorized-access", async () => {
    const client = await raw();
    const { end } = await client.attach("sender", `/devices/nobody/messages/events`);
    assert.equal(end.condition, "amqp:unauthorized-access");
    assert.match(end.description!, /401002/);
  });

  test("an address IoT Hub does not serve is detached with amqp:not-found", async () => {
    const client = await raw();
    await client.putToken(resource("addr-dev"), await deviceToken("addr-dev"));
    const { end } = await client.attach("sender", "/devices/addr-dev/somewhere/else");
    assert.equal(end.condition, "amqp:not-found");
    assert.match(end.description!, /did not match any of the expected formats/);
  });

  test("a token for one device does not open another device's links", async () => {
    const client = await raw();
    assert.equal((await client.putToken(resource("own-dev"), await deviceToken("own-dev"))).status, 200);
    await key("other-dev");
    const { end } = await client.attach("sender", "/devices/other-dev/messages/events");
    assert.equal(end.condition, "amqp:unauthorized-access");
  });

  test("put-token refusals: wrong key 401, unknown device 404, foreign audience 401, malformed request 400", async () => {
    const client = await raw();
    const wrongKey = createSasToken(resource("pt-dev"), Buffer.alloc(32, 7).toString("base64"), Math.floor(Date.now() / 1000) + 60);
    await key("pt-dev");
    assert.equal((await client.putToken(resource("pt-dev"), wrongKey)).status, 401);
    const ghost = createSasToken(resource("ghost"), Buffer.alloc(32, 7).toString("base64"), Math.floor(Date.now() / 1000) + 60);
    assert.equal((await client.putToken(resource("ghost"), ghost)).status, 404);
    const foreign = createSasToken("elsewhere.azure-devices.net/devices/pt-dev", await keys.of("pt-dev"), Math.floor(Date.now() / 1000) + 60);
    assert.equal((await client.putToken("elsewhere.azure-devices.net/devices/pt-dev", foreign)).status, 401);
    assert.equal((await client.putToken("", "SharedAccessSignature nothing")).status, 400);
    const expired = await deviceToken("pt-dev", -60);
    assert.equal((await client.putToken(resource("pt-dev"), expired)).status, 401);
    assert.equal(client.isClosed, false, "a refused put-token leaves the connection open");
  });

  test("telemetry over 256 KB is rejected with amqp:link:message-size-exceeded; the link keeps working", async () => {
    const client = await raw();
    await client.putToken(resource("big-dev"), await deviceToken("big-dev"));
    const { link, end } = await client.attach("sender", "/devices/big-dev/messages/events");
    assert.equal(end.condition, undefined);
    const big = await client.send(link as rhea.Sender, { body: rhea.message.data_section(Buffer.alloc(300 * 1024, 0x61)) });
    assert.deepEqual(big, { outcome: "rejected", condition: "amqp:link:message-size-exceeded" });
    const small = await client.send(link as rhea.Sender, { body: rhea.message.data_section(Buffer.from("ok")) });
    assert.equal(small.outcome, "accepted");
  });

  test("a second link of the same role for a device displaces the first with amqp:link:stolen (409002)", async () => {
    const client = await raw();
    await client.putToken(resource("twice-dev"), await deviceToken("twice-dev"));
    const first = await client.attach("receiver", "/devices/twice-dev/messages/devicebound");
    assert.equal(first.end.condition, undefined);
    const stolen = new Promise<string | undefined>((resolve) =>
      first.link.once("receiver_close", () => resolve((first.link.error as { condition?: string } | undefined)?.condition)),
    );
    const second = await client.attach("receiver", "/devices/twice-dev/messages/devicebound");
    assert.equal(second.end.condition, undefined);
    assert.equal(await stolen, "amqp:link:stolen");
  });

  test("a new token renews a live connection; once the last one expires the hub closes it (401003, then disconnected)", async () => {
    const client = await raw();
    assert.equal((await client.putToken(resource("renew-dev"), await deviceToken("renew-dev", 120))).status, 200);
    const { link } = await client.attach("sender", "/devices/renew-dev/messages/events");
    assert.equal((await registry.get("renew-dev")).responseBody.connectionState, "Connected");
    hub.advanceClock(60);
    assert.equal((await client.putToken(resource("renew-dev"), await deviceToken("renew-dev", 600))).status, 200);
    hub.advanceClock(120);
    assert.equal(client.isClosed, false, "the renewed token keeps the connection");
    assert.equal((await client.send(link as rhea.Sender, { body: rhea.message.data_section(Buffer.from("renewed")) })).outcome, "accepted");
    hub.advanceClock(600);
    await client.closed;
    for (let i = 0; i < 100 && (await registry.get("renew-dev")).responseBody.connectionState !== "Disconnected"; i++) await new Promise((r) => setTimeout(r, 20));
    assert.equal((await registry.get("renew-dev")).responseBody.connectionState, "Disconnected");
  });

  test("back-end links need a policy token with ServiceConnect: no token refuses the link, a weaker policy each message", async () => {
    const client = await raw();
    const { end } = await client.attach("sender", "/messages/devicebound");
    assert.equal(end.condition, "amqp:unauthorized-access");
    const other = await raw();
    const readOnly = createSasToken(hub.hostName, policyKey(hub, "registryRead"), Math.floor(Date.now() / 1000) + 60, "registryRead");
    assert.equal((await other.putToken(hub.hostName, readOnly)).status, 200);
    // A policy without ServiceConnect may attach, but each message is rejected: detaching the link would make
    // azure-iothub tear the whole connection down and stall the next send for 45 s.
    const weaker = await other.attach("sender", "/messages/devicebound");
    assert.equal(weaker.end.condition, undefined);
    await key("c2d-target");
    const sent = await other.send(weaker.link as rhea.Sender, { to: "/devices/c2d-target/messages/devicebound", body: rhea.message.data_section(Buffer.from("x")) });
    assert.deepEqual(sent, { outcome: "rejected", condition: "amqp:unauthorized-access" });
    const feedback = await other.attach("receiver", "/messages/serviceBound/feedback");
    assert.equal(feedback.end.condition, "amqp:unauthorized-access");
  });

  test("SASL ANONYMOUS and EXTERNAL are accepted as well as the bare header; tokens still come through $cbs", async () => {
    for (const sasl of ["ANONYMOUS", "EXTERNAL"] as const) {
      const client = await RawAmqp.connect(hub, { sasl });
      raws.push(client);
      assert.equal((await client.putToken(resource("sasl-dev"), await deviceToken("sasl-dev"))).status, 200);
      const { link, end } = await client.attach("sender", "/devices/sasl-dev/messages/events");
      assert.equal(end.condition, undefined);
      assert.equal((await client.send(link as rhea.Sender, { body: rhea.message.data_section(Buffer.from(sasl)) })).outcome, "accepted");
      client.close();
    }
  });

  test("garbage instead of an AMQP header closes the socket; nothing else is harmed", async () => {
    const socket = tlsConnect({ host: hub.hostName, port: hub.ports.amqp!, servername: hub.hostName });
    socket.on("error", () => undefined);
    await new Promise((resolve) => socket.once("secureConnect", resolve));
    socket.write(Buffer.from("GET / HTTP/1.1\r\n\r\n"));
    await new Promise((resolve) => socket.once("close", resolve));
  });

  test("a frame that is not valid AMQP after a good header closes the connection", async () => {
    const socket = tlsConnect({ host: hub.hostName, port: hub.ports.amqp!, servername: hub.hostName });
    socket.on("error", () => undefined);
    socket.on("data", () => undefined);
    await new Promise((resolve) => socket.once("secureConnect", resolve));
    socket.write(Buffer.from([0x41, 0x4d, 0x51, 0x50, 0x00, 0x01, 0x00, 0x00]));
    // A frame header announcing 16 bytes, then a performative that is no described type.
    socket.write(Buffer.from([0, 0, 0, 16, 2, 0, 0, 0, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff]));
    await new Promise((resolve) => socket.once("close", resolve));
  });
});

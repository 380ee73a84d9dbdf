import { after, afterEach, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { connect as tlsConnect } from "node:tls";
import type { Duplex } from "node:stream";
import { join } from "node:path";
import mqtt from "mqtt-packet";
import { WebSocket, createWebSocketStream } from "ws";
import iothub from "azure-iothub";
import deviceSdk from "azure-iot-device";
import { startTestHub, type TestHub } from "./harness/start-test-hub.js";
import { deviceClient } from "./harness/device-client.js";
import { createSasToken } from "../../src/hub/index.js";
import { SqliteTelemetryLog } from "../../src/storage/sqlite/sqlite-telemetry-log.js";

const { Registry } = iothub;

// Refusals and bad input over MQTT, each answered as IoT Hub answers it (device-protocol.md §2.10: CONNACK codes;
// MQTT 3.1.1 has no server DISCONNECT, so every other refusal is a closed connection), while the hub keeps serving a
// well-behaved bystander connection (checked after every test).

const TIMEOUT_MS = 5000;

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** A hand-driven MQTT 3.1.1 client over TLS (or WebSocket), for what the SDK never sends. */
class RawClient {
  readonly socket: Duplex;
  readonly closed: Promise<void>;
  isClosed = false;
  /** Resolves once the hub's side of the handshake is done (so its session and connect timer exist). */
  serverReady: Promise<unknown> = Promise.resolve();
  readonly #packets: mqtt.Packet[] = [];
  #wake: (() => void) | undefined;

  private constructor(socket: Duplex) {
    this.socket = socket;
    const parser = mqtt.parser({ protocolVersion: 4 });
    parser.on("packet", (packet: mqtt.Packet) => {
      this.#packets.push(packet);
      this.#wake?.();
    });
    socket.on("data", (chunk: Buffer) => parser.parse(chunk));
    // Writes racing the hub's close may fail with EPIPE/ECONNRESET; the close itself is what the tests look at.
    socket.on("error", () => undefined);
    // 'end' as well as 'close': a WebSocket stream whose peer went away ends its readable side but never closes.
    this.closed = new Promise((resolve) => {
      const onGone = () => {
        this.isClosed = true;
        this.#wake?.();
        resolve();
      };
      socket.once("end", onGone);
      socket.once("close", onGone);
    });
  }

  /** Opens TLS to the hub's MQTT port (the test CA is trusted through NODE_EXTRA_CA_CERTS). */
  static async open(hub: TestHub): Promise<RawClient> {
    const socket = tlsConnect({ host: hub.hostName, port: hub.ports.mqtt });
    // A TLS 1.3 server sends its session tickets once it has finished the handshake, i.e. once the hub has the
    // connection; the client's secureConnect can come before that.
    const ticket = new Promise<void>((resolve) => socket.once("session", () => resolve()));
    await new Promise<void>((resolve, reject) => {
      socket.once("secureConnect", resolve);
      socket.once("error", reject);
    });
    const client = new RawClient(socket);
    client.serverReady = Promise.race([ticket, delay(1000)]);
    return client;
  }

  /** MQTT over WebSocket on the HTTPS port, as the SDK's MqttWs transport connects. */
  static async openWebSocket(hub: TestHub): Promise<RawClient> {
    const ws = new WebSocket(`wss://${hub.hostName}:${hub.ports.https}/$iothub/websocket`, "mqtt");
    await new Promise<void>((resolve, reject) => {
      ws.once("open", resolve);
      ws.once("error", reject);
    });
    return new RawClient(createWebSocketStream(ws));
  }

  send(packet: mqtt.Packet): void {
    this.write(mqtt.generate(packet));
  }

  write(bytes: Buffer): void {
    if (!this.socket.destroyed) this.socket.write(bytes);
  }

  /** The next packet from the hub; rejects when the connection closes first or nothing comes in time. */
  async next(timeoutMs = TIMEOUT_MS): Promise<mqtt.Packet> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const packet = this.#packets.shift();
      if (packet !== undefined) return packet;
      if (this.isClosed) throw new Error("the hub closed the connection instead of answering");
      const left = deadline - Date.now();
      if (left <= 0) throw new Error("no packet from the hub in time");
      await new Promise<void>((resolve) => {
        this.#wake = resolve;
        setTimeout(resolve, left);
      });
      this.#wake = undefined;
    }
  }

  /** Resolves once the hub has closed the connection; fails if it stays open. */
  async expectClosed(what: string, timeoutMs = TIMEOUT_MS): Promise<void> {
    const timedOut = Symbol("timeout");
    const result = await Promise.race([this.closed, delay(timeoutMs).then(() => timedOut)]);
    assert.notEqual(result, timedOut, `the hub should have closed the connection: ${what}`);
  }

  /** Asserts that the connection is still open a little later (the hub did not close it). */
  async expectOpen(what: string, waitMs = 100): Promise<void> {
    await Promise.race([this.closed, delay(waitMs)]);
    assert.equal(this.isClosed, false, `the hub should have kept the connection open: ${what}`);
  }

  /** PINGREQ → PINGRESP: the connection is alive and served. */
  async ping(): Promise<void> {
    this.send({ cmd: "pingreq" });
    assert.equal((await this.next()).cmd, "pingresp");
  }

  /** Packets received and not read yet. */
  get pending(): readonly mqtt.Packet[] {
    return this.#packets;
  }

  destroy(): void {
    this.socket.destroy();
  }
}

interface ConnectOptions {
  readonly username?: string;
  readonly clientId?: string;
  readonly password?: string | null;
  readonly keepalive?: number;
  readonly protocolVersion?: 3 | 4 | 5;
  /** Token lifetime in seconds, for a password minted here (default one day). */
  readonly tokenSeconds?: number;
}

describe("MQTT refusals and bad input", () => {
  let hub: TestHub;
  let registry: any;
  const keys = new Map<string, string>();
  const raws: RawClient[] = [];
  const sdkClients: Array<{ close(): Promise<unknown> }> = [];
  let bystander: RawClient;

  function token(deviceId: string, key = keys.get(deviceId)!, seconds = 24 * 3600): string {
    return createSasToken(`${hub.hostName}/devices/${deviceId}`, key, Math.ceil(Date.now() / 1000) + seconds);
  }

  function connectPacket(deviceId: string, options: ConnectOptions = {}): mqtt.IConnectPacket {
    const version = options.protocolVersion ?? 4;
    const password = options.password === undefined ? token(deviceId, undefined, options.tokenSeconds) : options.password;
    return {
      cmd: "connect",
      protocolId: version === 3 ? "MQIsdp" : "MQTT",
      protocolVersion: version,
      clean: false,
      clientId: options.clientId ?? deviceId,
      keepalive: options.keepalive ?? 0,
      username: options.username ?? `${hub.hostName}/${deviceId}/?api-version=2021-04-12`,
      ...(password === null ? {} : { password: Buffer.from(password) }),
    };
  }

  async function raw(): Promise<RawClient> {
    const client = await RawClient.open(hub);
    raws.push(client);
    return client;
  }

  /** A raw client that sent CONNECT and got CONNACK 0; closed after the test unless `keep`. */
  async function connected(deviceId: string, options: ConnectOptions = {}, keep = false): Promise<RawClient> {
    const client = keep ? await RawClient.open(hub) : await raw();
    client.send(connectPacket(deviceId, options));
    const connack = await client.next();
    assert.equal(connack.cmd, "connack");
    assert.equal((connack as mqtt.IConnackPacket).returnCode, 0, `CONNACK of ${deviceId}`);
    return client;
  }

  /** The CONNACK return code a CONNECT gets, after which the hub must close the connection. */
  async function refusedWith(packet: mqtt.IConnectPacket): Promise<number> {
    const client = await raw();
    client.send(packet);
    const reply = await client.next();
    assert.equal(reply.cmd, "connack");
    await client.expectClosed(`after CONNACK ${(reply as mqtt.IConnackPacket).returnCode}`);
    return (reply as mqtt.IConnackPacket).returnCode!;
  }

  async function device(deviceId: string, status: "enabled" | "disabled" = "enabled"): Promise<string> {
    const created = await registry.create({ deviceId, status });
    const key = created.responseBody.authentication.symmetricKey.primaryKey as string;
    keys.set(deviceId, key);
    return key;
  }

  /** Every record in the telemetry log, read through a second handle (what was acknowledged is on disk). */
  async function telemetry(): Promise<Array<{ deviceId: string | undefined; body: Buffer }>> {
    const log = SqliteTelemetryLog.open({ path: join(hub.dataDir, "telemetry.db") });
    try {
      const records = [];
      for (let partition = 0; partition < 4; partition++) records.push(...(await log.read({ partition, fromSequenceNumber: 0, limit: 1000 })));
      return records.map((r) => ({ deviceId: r.systemProperties["iothub-connection-device-id"], body: r.body }));
    } finally {
      await log.close();
    }
  }

  function publish(topic: string, payload: string | Buffer, qos: 0 | 1 | 2 = 1, messageId = 1): mqtt.IPublishPacket {
    return { cmd: "publish", topic, payload, qos, retain: false, dup: false, ...(qos > 0 ? { messageId } : {}) };
  }

  before(async () => {
    hub = await startTestHub();
    registry = Registry.fromConnectionString(hub.connectionStrings["iothubowner"]!);
    for (const id of ["bystander", "dev", "victim"]) await device(id);
    await device("off-dev", "disabled");
    bystander = await connected("bystander", {}, true);
  });

  afterEach(async () => {
    // The hub keeps serving everyone else: the bystander's connection is alive and its telemetry is acknowledged.
    await bystander.ping();
    bystander.send(publish("devices/bystander/messages/events/", "still here", 1, 7));
    const ack = await bystander.next();
    assert.deepEqual([ack.cmd, ack.messageId], ["puback", 7]);
    for (const client of raws.splice(0)) client.destroy();
  });

  after(async () => {
    for (const client of sdkClients) await client.close().catch(() => undefined);
    bystander?.destroy();
    await hub.dispose();
  });

  describe("the SDK's view", () => {
    test("a wrong key is UnauthorizedError on open()", async () => {
      const client = deviceClient(hub, "dev", Buffer.alloc(32, 1).toString("base64"));
      sdkClients.push(client);
      await assert.rejects(client.open(), { name: "UnauthorizedError" });
    });

    test("an unknown device is UnauthorizedError on open()", async () => {
      const client = deviceClient(hub, "nobody", Buffer.alloc(32, 2).toString("base64"));
      sdkClients.push(client);
      await assert.rejects(client.open(), { name: "UnauthorizedError" });
    });

    test("a disabled device is refused (UnauthorizedError)", async () => {
      const client = deviceClient(hub, "off-dev", keys.get("off-dev")!);
      sdkClients.push(client);
      await assert.rejects(client.open(), { name: "UnauthorizedError" });
    });

    test("a device disabled while connected is disconnected and cannot send", async () => {
      const key = await device("soon-off");
      const client = deviceClient(hub, "soon-off", key);
      sdkClients.push(client);
      // Without retries the SDK reports the drop as a 'disconnect' event and fails the next send at once
      // (with its default policy it would keep reconnecting against CONNACK 5 for minutes: device-protocol.md §2.10).
      client.setRetryPolicy({ shouldRetry: () => false, nextRetryTimeout: () => 0 });
      await client.open();
      await client.sendEvent(new deviceSdk.Message("before"));
      const disconnected = new Promise<unknown>((resolve) => client.on("disconnect", resolve));
      const { responseBody: identity } = await registry.get("soon-off");
      await registry.update({ ...identity, status: "disabled" });
      await Promise.race([disconnected, delay(TIMEOUT_MS).then(() => assert.fail("no 'disconnect' event"))]);
      await assert.rejects(client.sendEvent(new deviceSdk.Message("after")));
      const stored = (await telemetry()).filter((r) => r.deviceId === "soon-off").map((r) => r.body.toString());
      assert.deepEqual(stored, ["before"]);
    });
  });

  describe("CONNECT refusals (CONNACK return codes)", () => {
    test("a username naming another hub gets 5, a malformed username 4", async () => {
      assert.equal(await refusedWith(connectPacket("dev", { username: "other-hub.azure-devices.net/dev/?api-version=2021-04-12" })), 5);
      assert.equal(await refusedWith(connectPacket("dev", { username: "just-a-name" })), 4);
    });

    test("a client id other than the username's identity gets 2", async () => {
      assert.equal(await refusedWith(connectPacket("dev", { clientId: "victim" })), 2);
      assert.equal(await refusedWith(connectPacket("dev", { clientId: "dev/module" })), 2);
    });

    test("MQTT 3.1 (level 3) and MQTT 5 get 1, unacceptable protocol version", async () => {
      assert.equal(await refusedWith(connectPacket("dev", { protocolVersion: 3 })), 1);
      assert.equal(await refusedWith(connectPacket("dev", { protocolVersion: 5 })), 1);
    });

    test("a bad SAS token gets 5: wrong key, garbage, expired, another device's token, none at all for a SAS device", async () => {
      assert.equal(await refusedWith(connectPacket("dev", { password: token("dev", Buffer.alloc(32, 3).toString("base64")) })), 5);
      assert.equal(await refusedWith(connectPacket("dev", { password: "not a token" })), 5);
      assert.equal(await refusedWith(connectPacket("dev", { password: token("dev", undefined, -60) })), 5);
      assert.equal(await refusedWith(connectPacket("dev", { password: token("victim") })), 5);
      assert.equal(await refusedWith(connectPacket("dev", { password: null })), 5);
    });

    test("an unknown or disabled device gets 5", async () => {
      assert.equal(await refusedWith(connectPacket("nobody", { password: token("nobody", Buffer.alloc(32, 4).toString("base64")) })), 5);
      assert.equal(await refusedWith(connectPacket("off-dev")), 5);
    });

    test("over WebSocket the refusal is the same CONNACK 5", async () => {
      const client = await RawClient.openWebSocket(hub);
      raws.push(client);
      client.send(connectPacket("dev", { password: token("dev", Buffer.alloc(32, 5).toString("base64")) }));
      const reply = (await client.next()) as mqtt.IConnackPacket;
      assert.deepEqual([reply.cmd, reply.returnCode], ["connack", 5]);
      await client.expectClosed("after CONNACK 5 over WebSocket");
    });

    test("a second CONNECT on a connection closes it", async () => {
      const client = await connected("dev");
      client.send(connectPacket("dev"));
      await client.expectClosed("second CONNECT");
    });
  });

  describe("protocol violations close the connection", () => {
    test("PUBLISH before CONNECT closes without an answer", async () => {
      const client = await raw();
      const before = (await telemetry()).length;
      client.send(publish("devices/dev/messages/events/", "early"));
      await client.expectClosed("PUBLISH before CONNECT");
      assert.deepEqual(client.pending, []);
      assert.equal((await telemetry()).length, before);
    });

    test("telemetry on another device's topic closes the connection and stores nothing", async () => {
      const client = await connected("dev");
      const before = await telemetry();
      client.send(publish("devices/victim/messages/events/", "spoofed"));
      await client.expectClosed("foreign telemetry topic");
      assert.deepEqual(client.pending, [], "no PUBACK");
      const afterwards = await telemetry();
      assert.equal(afterwards.length, before.length);
      assert.equal(afterwards.some((r) => r.body.toString() === "spoofed"), false);
    });

    test("a PUBLISH on a topic the hub publishes to ($iothub/twin/res, desired, methods, C2D) closes the connection", async () => {
      for (const topic of [
        "$iothub/twin/res/200/?$rid=1",
        "$iothub/twin/PATCH/properties/desired/?$version=2",
        "$iothub/methods/POST/reboot/?$rid=1",
        "devices/dev/messages/devicebound/",
        "some/other/topic",
      ]) {
        const client = await connected("dev");
        client.send(publish(topic, "{}", 0));
        await client.expectClosed(topic);
      }
    });

    test("SUBSCRIBE to a foreign filter closes the connection (never SUBACK 0x80)", async () => {
      for (const filter of ["devices/victim/messages/devicebound/#", "#", "$iothub/twin/res/200/#", "devices/dev/modules/m/inputs/#"]) {
        const client = await connected("dev");
        client.send({ cmd: "subscribe", messageId: 3, subscriptions: [{ topic: filter, qos: 1 }] });
        await client.expectClosed(filter);
        assert.deepEqual(client.pending, [], `no SUBACK for ${filter}`);
      }
      // A filter the hub serves is granted (QoS 1 at most).
      const client = await connected("dev");
      client.send({ cmd: "subscribe", messageId: 4, subscriptions: [{ topic: "devices/dev/messages/devicebound/#", qos: 2 }] });
      const suback = (await client.next()) as mqtt.ISubackPacket;
      assert.deepEqual([suback.cmd, suback.messageId, suback.granted], ["suback", 4, [1]]);
    });

    test("a QoS 2 PUBLISH closes the connection and stores nothing", async () => {
      const client = await connected("dev");
      const before = (await telemetry()).length;
      client.send(publish("devices/dev/messages/events/", "qos2", 2, 9));
      await client.expectClosed("QoS 2");
      assert.deepEqual(client.pending, [], "no PUBREC");
      assert.equal((await telemetry()).length, before);
    });

    test("garbage bytes close the connection, before and after CONNECT", async () => {
      const early = await raw();
      early.write(Buffer.from("GET / HTTP/1.1\r\nHost: x\r\n\r\n"));
      await early.expectClosed("HTTP request on the MQTT port");

      const reserved = await connected("dev");
      reserved.write(Buffer.from([0x00, 0x00])); // packet type 0 is reserved
      await reserved.expectClosed("reserved packet type");

      const badFlags = await connected("dev");
      badFlags.write(Buffer.from([0x83, 0x00])); // SUBSCRIBE must have flags 0b0010
      await badFlags.expectClosed("SUBSCRIBE with wrong header flags");
    });

    test("a packet larger than any IoT Hub message (400 KB) closes the connection and stores nothing", async () => {
      const client = await connected("dev");
      const before = (await telemetry()).length;
      client.send(publish("devices/dev/messages/events/", Buffer.alloc(400 * 1024, 0x61)));
      await client.expectClosed("400 KB packet");
      assert.deepEqual(client.pending, [], "no PUBACK");
      assert.equal((await telemetry()).length, before);
    });

    test("over WebSocket, a 400 KB packet arriving in one frame closes the connection too", async () => {
      const client = await RawClient.openWebSocket(hub);
      raws.push(client);
      client.send(connectPacket("dev"));
      assert.equal(((await client.next()) as mqtt.IConnackPacket).returnCode, 0);
      const patch = JSON.stringify({ blob: "x".repeat(400 * 1024) });
      client.send(publish("$iothub/twin/PATCH/properties/reported/?$rid=big", patch, 0));
      await client.expectClosed("400 KB in one WebSocket frame");
      assert.deepEqual(client.pending, [], "no twin reply");
    });

    test("a packet that only announces a huge length is refused before its bytes arrive", async () => {
      const client = await connected("dev");
      // PUBLISH QoS 0 with a remaining length of 100 MB (0x80 0x80 0x80 0x32 as a variable byte integer), then nothing.
      client.write(Buffer.from([0x30, 0x80, 0x80, 0x80, 0x32, 0x00, 0x05, 0x61]));
      await client.expectClosed("100 MB announced");
    });

    test("telemetry over 256 KB closes the connection and stores nothing; 256 KB exactly is accepted", async () => {
      const client = await connected("dev");
      const before = (await telemetry()).length;
      client.send(publish("devices/dev/messages/events/", Buffer.alloc(256 * 1024 + 1, 0x62), 1, 11));
      await client.expectClosed("telemetry over 256 KB");
      assert.deepEqual(client.pending, [], "no PUBACK");
      assert.equal((await telemetry()).length, before);

      const fits = await connected("dev");
      fits.send(publish("devices/dev/messages/events/", Buffer.alloc(256 * 1024, 0x63), 1, 12));
      const ack = await fits.next();
      assert.deepEqual([ack.cmd, ack.messageId], ["puback", 12]);
      assert.equal((await telemetry()).length, before + 1);
    });

    test("a property bag that is not valid percent-encoding closes the connection and stores nothing", async () => {
      for (const bag of ["k=%E0%A4%A", "%zz=1", "k=%FF"]) {
        const client = await connected("dev");
        const before = (await telemetry()).length;
        client.send(publish(`devices/dev/messages/events/${bag}`, "bad bag", 1, 13));
        await client.expectClosed(bag);
        assert.deepEqual(client.pending, [], `no PUBACK for ${bag}`);
        assert.equal((await telemetry()).length, before);
      }
    });
  });

  describe("twin requests with bad input are answered, not dropped", () => {
    test("a reported patch that is not JSON gets 400 with a JSON error body and the connection stays open", async () => {
      const client = await connected("dev");
      client.send({ cmd: "subscribe", messageId: 1, subscriptions: [{ topic: "$iothub/twin/res/#", qos: 0 }] });
      assert.equal((await client.next()).cmd, "suback");
      client.send(publish("$iothub/twin/PATCH/properties/reported/?$rid=patch-1", "{not json", 0));
      const reply = (await client.next()) as mqtt.IPublishPacket;
      assert.equal(reply.topic, "$iothub/twin/res/400/?$rid=patch-1");
      const body = JSON.parse(reply.payload.toString()) as Record<string, unknown>;
      assert.equal(body["errorCode"], 400004);
      assert.match(String(body["message"]), /not valid JSON/);
      assert.equal(typeof body["trackingId"], "string");
      assert.ok(!Number.isNaN(Date.parse(String(body["timestampUtc"]))));
      await client.expectOpen("after a 400 twin reply");
      await client.ping();

      // The same connection goes on working: a good patch is applied and acknowledged with its version.
      client.send(publish("$iothub/twin/PATCH/properties/reported/?$rid=patch-2", JSON.stringify({ ok: true }), 0));
      const ok = (await client.next()) as mqtt.IPublishPacket;
      assert.match(ok.topic, /^\$iothub\/twin\/res\/204\/\?\$rid=patch-2&\$version=\d+$/);
      assert.equal((await registry.getTwin("dev")).responseBody.properties.reported.ok, true);
    });
  });

  describe("timers on the hub clock", () => {
    test("a client that never sends CONNECT is dropped after the 30 s connect timeout", async () => {
      const client = await raw();
      // The connect timer starts when the hub's side of the handshake completes.
      await client.serverReady;
      await delay(20);
      hub.advanceClock(29);
      await client.expectOpen("29 s without CONNECT");
      hub.advanceClock(2);
      await client.expectClosed("31 s without CONNECT");
      assert.deepEqual(client.pending, []);
    });

    test("keep-alive: a client silent for 1.5 × its keep-alive is dropped; any packet resets the wait", async () => {
      const silent = await connected("dev", { keepalive: 10 });
      const chatty = await connected("victim", { keepalive: 10 });
      hub.advanceClock(10);
      await chatty.ping();
      hub.advanceClock(4); // silent: 14 s idle, chatty: 4 s idle
      await silent.expectOpen("14 s of 15 s");
      hub.advanceClock(2); // silent: 16 s > 15 s
      await silent.expectClosed("16 s idle with keep-alive 10");
      await chatty.expectOpen("6 s idle with keep-alive 10");
      await chatty.ping();
      hub.advanceClock(16);
      await chatty.expectClosed("16 s idle with keep-alive 10");
    });

    test("a SAS token that expires while connected closes the connection", async () => {
      const client = await connected("dev", { tokenSeconds: 30 });
      hub.advanceClock(20);
      await client.expectOpen("token still valid");
      await client.ping();
      hub.advanceClock(20);
      await client.expectClosed("token expired");
    });
  });
});

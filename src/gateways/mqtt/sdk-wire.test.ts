// Round trips through the unmodified device SDK (azure-iot-device-mqtt 1.16.4): its Mqtt transport runs on a fake
// MqttBase that records every CONNECT, SUBSCRIBE and PUBLISH and lets the test deliver PUBLISHes, so what is checked
// here is the SDK's own topic writer and parser, not a copy of them. No sockets.
import { test } from "node:test";
import assert from "node:assert/strict";
import { EventEmitter } from "node:events";
import { createRequire } from "node:module";
import { formatPropertyBag } from "./property-bag.js";
import {
  c2dTopic,
  desiredPatchTopic,
  methodRequestId,
  methodRequestTopic,
  parsePublishTopic,
  parseSubscribeFilter,
  twinResponseTopic,
  type MqttIdentity,
  type PublishTarget,
} from "./topics.js";
import { parseUsername } from "./username.js";

const require = createRequire(import.meta.url);

interface SdkProperties {
  add(key: string, value: string): void;
  readonly propertyList: ReadonlyArray<{ readonly key: string; readonly value: string }>;
}
interface SdkMessage {
  messageId?: string;
  correlationId?: string;
  userId?: string;
  to?: string;
  contentType?: string;
  contentEncoding?: string;
  expiryTimeUtc?: unknown;
  interfaceId?: string;
  readonly data: unknown;
  readonly properties: SdkProperties;
}
interface SdkMethodMessage {
  readonly requestId: string;
  readonly methods: { readonly methodName: string };
  readonly body: Buffer;
}
type Callback<T = unknown> = (error?: Error | null, result?: T) => void;
interface SdkMqttTransport extends EventEmitter {
  setOptions(options: Record<string, unknown>, done: Callback): void;
  connect(done: Callback): void;
  sendEvent(message: SdkMessage, done: Callback): void;
  sendOutputEvent(outputName: string, message: SdkMessage, done: Callback): void;
  enableC2D(done: Callback): void;
  enableMethods(done: Callback): void;
  enableInputMessages(done: Callback): void;
  enableTwinDesiredPropertiesUpdates(done: Callback): void;
  getTwin(done: Callback<unknown>): void;
  updateTwinReportedProperties(patch: unknown, done: Callback): void;
  onDeviceMethod(name: string, handler: (request: SdkMethodMessage) => void): void;
  sendMethodResponse(response: { requestId: string; status: number; payload: unknown }, done: Callback): void;
}

const { Mqtt } = require("azure-iot-device-mqtt") as { Mqtt: new (auth: unknown, base: unknown) => SdkMqttTransport };
const { Message } = require("azure-iot-common") as { Message: new (data: unknown) => SdkMessage };

interface Publish {
  readonly topic: string;
  readonly payload: string;
  readonly qos: number;
}

/** Stands in for azure-iot-mqtt-base's MqttBase: the SDK transport's only way to the network. */
class FakeMqttBase extends EventEmitter {
  config: { readonly username: string; readonly clientId: string } | undefined;
  readonly published: Publish[] = [];
  readonly subscriptions: Array<{ readonly filter: string; readonly qos: number }> = [];

  connect(config: { username: string; clientId: string }, done: Callback): void {
    this.config = config;
    done(null, { sessionPresent: false });
  }
  publish(topic: string, payload: unknown, options: { qos: number }, done: Callback): void {
    this.published.push({ topic, payload: String(payload), qos: options.qos });
    done(null, {});
  }
  subscribe(filter: string, options: { qos: number }, done: Callback): void {
    this.subscriptions.push({ filter, qos: options.qos });
    done(null, [{ topic: filter, qos: options.qos }]);
  }
  unsubscribe(_filter: string, done: Callback): void {
    done(null);
  }
  disconnect(done: Callback): void {
    done(null);
  }
  setOptions(): void {}
  /** The hub's PUBLISH, as MQTT.js would hand it to the SDK. */
  deliver(topic: string, payload: string): void {
    this.emit("message", topic, Buffer.from(payload));
  }
  last(): Publish {
    const publish = this.published.at(-1);
    assert.ok(publish, "the SDK published nothing");
    return publish;
  }
}

function call<T = unknown>(run: (done: Callback<T>) => void): Promise<T | undefined> {
  return new Promise((resolve, reject) => run((error, result) => (error ? reject(error) : resolve(result))));
}

async function openTransport(identity: MqttIdentity, options: Record<string, unknown> = {}): Promise<{ transport: SdkMqttTransport; base: FakeMqttBase }> {
  const base = new FakeMqttBase();
  // AuthenticationType.X509 (0): no token timers; credentials are what getDeviceCredentials returns.
  const auth = {
    type: 0,
    getDeviceCredentials: (done: Callback) => done(null, { host: "localhost", ...identity, x509: { cert: "c", key: "k" } }),
    on: () => {},
    stop: () => {},
  };
  const transport = new Mqtt(auth, base);
  await call((done) => transport.setOptions(options, done));
  await call((done) => transport.connect(done));
  return { transport, base };
}

function only<K extends PublishTarget["kind"]>(target: PublishTarget, kind: K): Extract<PublishTarget, { kind: K }> {
  assert.equal(target.kind, kind, JSON.stringify(target));
  return target as Extract<PublishTarget, { kind: K }>;
}

const device: MqttIdentity = { deviceId: "dev1" };
const module: MqttIdentity = { deviceId: "dev1", moduleId: "mod1" };

test("SDK wire: parseUsername() reads the CONNECT username and client id the SDK builds", async () => {
  const { base } = await openTransport(device, { modelId: "dtmi:com:example:Thermostat;1" });
  assert.ok(base.config);
  const username = parseUsername(base.config.username, "localhost");
  assert.equal(username.clientId, base.config.clientId);
  assert.equal(username.deviceId, "dev1");
  assert.equal(username.apiVersion, "2021-04-12");
  assert.equal(username.modelId, "dtmi:com:example:Thermostat;1");
  assert.match(username.deviceClientType ?? "", /^azure-iot-device\/\d+\.\d+\.\d+ \(node v\d+/);

  const moduleConnection = await openTransport(module);
  assert.ok(moduleConnection.base.config);
  const moduleUsername = parseUsername(moduleConnection.base.config.username, "localhost");
  assert.equal(moduleUsername.clientId, "dev1/mod1");
  assert.equal(moduleConnection.base.config.clientId, "dev1/mod1");
  assert.equal(moduleUsername.moduleId, "mod1");
});

test("SDK wire: every filter the SDK subscribes to is recognised, at the QoS the SDK asks for", async () => {
  const { transport, base } = await openTransport(device);
  await call((done) => transport.enableC2D(done));
  await call((done) => transport.enableMethods(done));
  await call((done) => transport.enableTwinDesiredPropertiesUpdates(done));
  transport.getTwin(() => {}); // subscribes to $iothub/twin/res/# before publishing the GET
  const kinds = base.subscriptions.map(({ filter, qos }) => [parseSubscribeFilter(filter, device).kind, qos]);
  assert.deepEqual(kinds, [["c2d", 1], ["methods", 0], ["desiredUpdates", 0], ["twinResponses", 0]]);

  const moduleConnection = await openTransport(module);
  await call((done) => moduleConnection.transport.enableInputMessages(done));
  const [input] = moduleConnection.base.subscriptions;
  assert.ok(input);
  assert.equal(input.filter, "devices/dev1/modules/mod1/inputs/#");
  assert.equal(parseSubscribeFilter(input.filter, module).kind, "moduleInputs");
});

test("SDK wire: parsePublishTopic() recovers every telemetry field the SDK writes", async () => {
  const { transport, base } = await openTransport(device);
  const message = new Message('{"t":1}');
  message.messageId = "msg 1";
  message.correlationId = "corr/1";
  message.userId = "user1";
  message.to = "/devices/dev1/messages/events";
  message.contentType = "application/json";
  message.contentEncoding = "utf-8";
  message.interfaceId = "urn:azureiot:Security:SecurityAgent:1";
  message.expiryTimeUtc = new Date(Date.UTC(2030, 0, 1));
  message.properties.add("temp alert", "yes/no&x=1");
  message.properties.add("dt-subject", "comp1");
  message.properties.add("ümlaut", "€ +");
  await call((done) => transport.sendEvent(message, done));
  const publish = base.last();
  assert.equal(publish.qos, 1);
  const target = only(parsePublishTopic(publish.topic, device), "telemetry");
  assert.deepEqual(target.properties.system, {
    messageId: "msg 1",
    correlationId: "corr/1",
    userId: "user1",
    to: "/devices/dev1/messages/events",
    contentType: "application/json",
    contentEncoding: "utf-8",
    interfaceId: "urn:azureiot:Security:SecurityAgent:1",
    expiryTimeUtc: "2030-01-01T00:00:00.000Z",
    "dt-subject": "comp1",
  });
  assert.deepEqual(target.properties.application, { "temp alert": "yes/no&x=1", "ümlaut": "€ +" });

  await call((done) => transport.sendEvent(new Message("plain"), done));
  assert.equal(base.last().topic, "devices/dev1/messages/events/");
  assert.deepEqual(only(parsePublishTopic(base.last().topic, device), "telemetry").properties, { application: {}, system: {} });
});

test("SDK wire: parsePublishTopic() reads module telemetry and output events (trailing '/' after the bag)", async () => {
  const { transport, base } = await openTransport(module);
  await call((done) => transport.sendEvent(new Message("m"), done));
  assert.equal(only(parsePublishTopic(base.last().topic, module), "telemetry").properties.system.outputName, undefined);

  const message = new Message("o");
  message.properties.add("k", "v");
  await call((done) => transport.sendOutputEvent("output1", message, done));
  assert.ok(base.last().topic.endsWith("/"), base.last().topic);
  const target = only(parsePublishTopic(base.last().topic, module), "telemetry");
  assert.deepEqual(target.properties, { application: { k: "v" }, system: { outputName: "output1" } });

  await call((done) => transport.sendOutputEvent("bare", new Message("o"), done));
  assert.deepEqual(only(parsePublishTopic(base.last().topic, module), "telemetry").properties.system, { outputName: "bare" });
  assert.equal(parsePublishTopic(base.last().topic, device).kind, "forbidden");
});

test("SDK wire: the SDK's C2D parser recovers what formatPropertyBag() and c2dTopic() write", async () => {
  const { transport, base } = await openTransport(device);
  await call((done) => transport.enableC2D(done));
  const received: SdkMessage[] = [];
  transport.on("message", (message: SdkMessage) => received.push(message));

  const bag = formatPropertyBag({
    messageId: "c2d-1",
    to: "/devices/dev1/messages/devicebound",
    correlationId: "corr 9",
    userId: "svc",
    contentType: "application/json",
    contentEncoding: "utf-8",
    expiryTimeUtc: Date.UTC(2024, 4, 1, 12),
    ack: "full",
    properties: { myProp: "hello world", odd: "a/b&c=d#e+f%", empty: "" },
  });
  base.deliver(c2dTopic(device, bag), "payload");
  base.deliver(c2dTopic(device, ""), "no properties");
  base.deliver("devices/dev1/messages/devicebound", "edgeHub's form without the slash");

  assert.equal(received.length, 2, "the topic without the '/' after devicebound never reaches the application");
  const [first, second] = received;
  assert.ok(first && second);
  assert.equal(first.messageId, "c2d-1");
  assert.equal(first.to, "/devices/dev1/messages/devicebound");
  assert.equal(first.correlationId, "corr 9");
  assert.equal(first.userId, "svc");
  assert.equal(first.contentType, "application/json");
  assert.equal(first.contentEncoding, "utf-8");
  assert.equal(first.expiryTimeUtc, "2024-05-01T12:00:00.0000000Z");
  assert.deepEqual(first.properties.propertyList.map(({ key, value }) => [key, value]), [
    ["iothub-ack", "full"],
    ["myProp", "hello world"],
    ["odd", "a/b&c=d#e+f%"],
    ["empty", ""],
  ]);
  assert.equal(String(first.data), "payload");
  assert.equal(second.properties.propertyList.length, 0);
});

test("SDK wire: a method request from methodRequestTopic() is dispatched, and its response parsed", async () => {
  const { transport, base } = await openTransport(device);
  await call((done) => transport.enableMethods(done));
  const requests: SdkMethodMessage[] = [];
  transport.onDeviceMethod("reboot", (request) => requests.push(request));
  const rid = methodRequestId(31);
  base.deliver(methodRequestTopic("reboot", rid), '{"delay":5}');
  const [request] = requests;
  assert.ok(request);
  assert.equal(request.requestId, "1f");
  assert.equal(request.methods.methodName, "reboot");
  assert.equal(String(request.body), '{"delay":5}');

  await call((done) => transport.sendMethodResponse({ requestId: request.requestId, status: 200, payload: { ok: true } }, done));
  const publish = base.last();
  assert.equal(publish.qos, 0);
  assert.deepEqual(parsePublishTopic(publish.topic, device), { kind: "methodResponse", status: 200, rid: "1f" });
  assert.equal(publish.payload, '{"ok":true}');
});

test("SDK wire: twin GET and reported PATCH are parsed, and twinResponseTopic() answers them", async () => {
  const { transport, base } = await openTransport(module);
  const twin = call((done) => transport.getTwin(done));
  const get = only(parsePublishTopic(base.last().topic, module), "twinGet");
  assert.match(get.rid, /^[0-9a-f-]{36}$/);
  assert.equal(base.last().qos, 0);
  const properties = { desired: { a: 1, $version: 2 }, reported: { $version: 1 } };
  base.deliver(twinResponseTopic(200, get.rid), JSON.stringify(properties));
  assert.deepEqual(await twin, properties);

  const patch = call((done) => transport.updateTwinReportedProperties({ fw: "1.0", gone: null }, done));
  const reported = only(parsePublishTopic(base.last().topic, module), "twinReportedPatch");
  assert.equal(reported.version, undefined);
  assert.ok(reported.rid);
  assert.equal(base.last().payload, '{"fw":"1.0","gone":null}');
  base.deliver(twinResponseTopic(204, reported.rid, 2), "");
  assert.equal(await patch, undefined);
});

test("SDK wire: a desired patch on desiredPatchTopic() reaches the SDK's listener", async () => {
  const { transport, base } = await openTransport(device);
  await call((done) => transport.enableTwinDesiredPropertiesUpdates(done));
  const patches: unknown[] = [];
  transport.on("twinDesiredPropertiesUpdate", (patch: unknown) => patches.push(patch));
  base.deliver(desiredPatchTopic(8), '{"telemetrySendFrequency":"5m","route":null,"$version":8}');
  assert.deepEqual(patches, [{ telemetrySendFrequency: "5m", route: null, $version: 8 }]);
});

/**
 * AMQP benchmark (issue #4): Malachite's AMQP gateway against a bare rhea peer measured in the same run with the same
 * load generator. Not a test: `npm test` never runs it.
 *
 *   npm run bench:amqp [-- --scenarios telemetry,c2d,eventhub] [--seconds 10] [--no-pin] [--no-peer]
 *                      [--profile DIR] [--keep] [--timeout 300] (more: --help)
 *
 * Scenarios:
 *   1. telemetry: N devices, one AMQP/TLS connection each (bare AMQP header, put-token on `$cbs`), a sender on
 *      `/devices/{id}/messages/events` keeping W unsettled messages in flight; counts `accepted` dispositions (the hub
 *      accepts once the SQLite group commit is fsynced). Peer: the bare rhea server (autoaccept, in memory).
 *   2. c2d: a back end's rhea sender on `/messages/devicebound` (policy `service` token on `$cbs`) sends to D devices
 *      connected over raw MQTT/TLS, subscribed to `devices/{id}/messages/devicebound/#` at QoS 1, which PUBACK every
 *      delivery at once (the hub completes the message on PUBACK); at most K messages outstanding per device (the
 *      hub's queue holds 50). Closed loop (max completed msgs/s), then paced at `--c2d-rate` (latency send → device).
 *      Peer: a trivial rhea relay (accepts on receipt, forwards in memory) to D rhea device receivers.
 *   3. eventhub: the Event Hub-compatible endpoint read with @azure/event-hubs EventHubConsumerClient (a child process:
 *      NODE_EXTRA_CA_CERTS) while raw MQTT devices ingest at half the measured maximum; then catch-up reads of the
 *      stored backlog from the earliest event, with the SDK and with bare rhea receivers. Peer: the same bare rhea
 *      receivers draining the bare rhea server, which sends events as fast as credit allows.
 *
 * The hub (bench/amqp-hub.ts, via startHub, SQLite with synchronous=FULL) and the peer (bench/amqp-peer.ts) run in
 * child processes pinned to core 0 with taskset; this process (all load generators and the rhea readers) and the SDK
 * reader child are pinned to core 1. See bench/README.md.
 */
import { mkdirSync } from "node:fs";
import { Agent, request } from "node:https";
import { loadavg } from "node:os";
import { join } from "node:path";
import { performance } from "node:perf_hooks";
import { connect as tlsConnect, createSecureContext, type SecureContext, type TLSSocket } from "node:tls";
import { parseArgs } from "node:util";
import mqtt from "mqtt-packet";
import rhea, { type Connection, type Container, type Delivery, type EventContext, type Message, type Receiver, type Sender } from "rhea";
import { createSasToken } from "../src/hub/index.js";
import { partitionOf } from "../src/hub/telemetry/partition-of.js";
import { writeProfileSummaries } from "./cpuprofile-top.js";
import { createSasDevices, type Device, makeDevices, newDeviceKey } from "./devices.js";
import { API, benchCommand, cpuSeconds, cpuTimes, involuntarySwitches, type JsonChild, log, type Noise, noiseBetween, peakRssMiB, pkgVersion, quantile, runMain, sharedAccessKey, sleep, startJsonChild, startRun, tsxArgv, waitIdle } from "./harness.js";
import { connectFrame, DISCONNECT, MqttPacketReader, MqttSubscriber } from "./mqtt-wire.js";
import { commonOptions, commonValues, helpOrContinue, listOption, positiveInt } from "./options.js";
import { formatTable, int, ms, noiseText, pct, ratio as ratioOf, verdict } from "./report.js";
import { writeTlsFiles } from "./tls-files.js";

const HOST = "127.0.0.1";

const TARGET_TELEMETRY = 15_000;
const TARGET_C2D = 2_000;
const TARGET_C2D_P99_MS = 50;
const TARGET_EH = 20_000;

// ---------------------------------------------------------------------------------------------------------------
// Options

const { values: opts } = parseArgs({
  options: {
    scenarios: { type: "string", default: "telemetry,c2d,eventhub" },
    seconds: { type: "string", default: "10" },
    warmup: { type: "string", default: "2" },
    "telemetry-devices": { type: "string", default: "10" },
    "telemetry-window": { type: "string", default: "100" },
    "c2d-devices": { type: "string", default: "100" },
    "c2d-inflight": { type: "string", default: "5" },
    "c2d-rate": { type: "string", default: String(TARGET_C2D) },
    "mqtt-devices": { type: "string", default: "12" },
    "mqtt-window": { type: "string", default: "50" },
    "max-seconds": { type: "string", default: "4" },
    "eh-rate": { type: "string" },
    payload: { type: "string", default: "256" },
    "hub-log-level": { type: "string", default: "silent" },
    "no-peer": { type: "boolean", default: false },
    ...commonOptions(300),
  },
});
helpOrContinue(
  opts.help,
  "npm run bench:amqp -- [--scenarios telemetry,c2d,eventhub] [--seconds 10] [--warmup 2]\n" +
    "  [--telemetry-devices 10] [--telemetry-window 100] [--c2d-devices 100] [--c2d-inflight 5] [--c2d-rate 2000]\n" +
    "  [--mqtt-devices 12] [--mqtt-window 50] [--max-seconds 4] [--eh-rate N (default: half the measured maximum)]\n" +
    "  [--payload 256] [--no-pin] [--no-peer] [--profile DIR] [--keep] [--timeout 300] [--hub-log-level silent|info|debug (stderr)]\n",
);

const SCENARIOS = ["telemetry", "c2d", "eventhub"] as const;
type Scenario = (typeof SCENARIOS)[number];
const RUN = new Set<Scenario>(listOption("scenarios", opts.scenarios, SCENARIOS));
const SECONDS = positiveInt("seconds", opts.seconds, 600);
const WARMUP_S = positiveInt("warmup", opts.warmup, 60, 0);
const TEL_DEVICES = positiveInt("telemetry-devices", opts["telemetry-devices"], 2000);
const TEL_WINDOW = positiveInt("telemetry-window", opts["telemetry-window"], 1000);
const C2D_DEVICES = positiveInt("c2d-devices", opts["c2d-devices"], 5000);
// The hub's queue holds 50 per device; stay well under it so no send is refused for depth.
const C2D_INFLIGHT = positiveInt("c2d-inflight", opts["c2d-inflight"], 40);
const C2D_RATE = positiveInt("c2d-rate", opts["c2d-rate"], 100_000);
const MQTT_DEVICES = positiveInt("mqtt-devices", opts["mqtt-devices"], 1000);
const MQTT_WINDOW = positiveInt("mqtt-window", opts["mqtt-window"], 1000);
const MAX_SECONDS = positiveInt("max-seconds", opts["max-seconds"], 600);
const EH_RATE = opts["eh-rate"] === undefined ? undefined : positiveInt("eh-rate", opts["eh-rate"], 1_000_000);
const PAYLOAD = positiveInt("payload", opts.payload, 64 * 1024, 64);
const { timeoutS: TIMEOUT_S, profileDir: PROFILE_DIR } = commonValues(opts);
const PEER = !opts["no-peer"];
const HUB_LOG_LEVEL = opts["hub-log-level"];

// ---------------------------------------------------------------------------------------------------------------
// Machine facts, pinning, children, clean-up

const bench = startRun("amqp", { noPin: opts["no-pin"], keep: opts.keep, timeoutS: TIMEOUT_S });
const { pinned, workDir, machineTimes } = bench;

/** A child process running `script` (bench/…) on `core` when pinned, once it is ready. */
function startChild(name: string, script: string, args: string[], core: number, env?: NodeJS.ProcessEnv): Promise<JsonChild> {
  return startJsonChild(bench.spawn(tsxArgv(script, args), { core, env }), name);
}

async function until(check: () => boolean, ms: number): Promise<boolean> {
  const end = performance.now() + ms;
  while (!check()) {
    if (performance.now() > end) return false;
    await sleep(10);
  }
  return true;
}

// ---------------------------------------------------------------------------------------------------------------
// Statistics and formatting

const sortNumbers = (xs: number[]): Float64Array => Float64Array.from(xs).sort();
/** Blank, not "–", where the peer has no figure. */
const ratio = (a: number | undefined, b: number | undefined): string => ratioOf(a, b, "");

/** One measured stretch: what a counter did, and what the server, the generator and the rest of the box used. */
interface Window {
  seconds: number;
  n: number;
  perS: number;
  perSecond: number[];
  serverCpuS: number;
  serverSysS: number;
  /** This process (generators, rhea readers) plus the SDK reader child when it runs. */
  genCpuS: number;
  noise: Noise;
  preempted: number;
}

/**
 * Measures `seconds` seconds: `count()` is read each second (and `tick` awaited), CPU from /proc. `extraPids` are
 * other load processes (the SDK reader) counted with the generator.
 */
async function measure(serverPid: number, seconds: number, count: () => number, tick?: (second: number) => Promise<void> | void, extraPids: readonly number[] = []): Promise<Window> {
  const c0 = cpuTimes(serverPid);
  const s0 = involuntarySwitches(serverPid);
  const g0 = process.cpuUsage();
  const x0 = extraPids.map((p) => cpuSeconds(p));
  const m0 = machineTimes();
  const n0 = count();
  const t0 = performance.now();
  const perSecond: number[] = [];
  let last = n0;
  for (let s = 0; s < seconds; s++) {
    await sleep(t0 + (s + 1) * 1000 - performance.now());
    const now = count();
    perSecond.push(now - last);
    last = now;
    await tick?.(s);
  }
  const elapsed = (performance.now() - t0) / 1000;
  const c1 = cpuTimes(serverPid);
  const g = process.cpuUsage(g0);
  const genCpuS = (g.user + g.system) / 1e6 + extraPids.reduce((sum, p, i) => sum + cpuSeconds(p) - x0[i]!, 0);
  const serverCpuS = c1.user + c1.sys - c0.user - c0.sys;
  const m1 = machineTimes();
  const n = count() - n0;
  return {
    seconds: elapsed,
    n,
    perS: n / elapsed,
    perSecond,
    serverCpuS,
    serverSysS: c1.sys - c0.sys,
    genCpuS,
    noise: noiseBetween(m0, m1, serverCpuS, genCpuS),
    preempted: involuntarySwitches(serverPid) - s0,
  };
}
const windowNoiseText = (w: Window): string => noiseText(w.noise, w.seconds);
const cpuText = (w: Window): string => `${pct(w.serverCpuS, w.seconds)} (${pct(w.serverSysS, w.seconds)}) / ${pct(w.genCpuS, w.seconds)}`;
const cpuPer1k = (w: Window): number => (w.n === 0 ? NaN : (w.serverCpuS / w.n) * 1e6);

async function profiled<T>(hub: Hub, name: string, run: () => Promise<T>): Promise<T> {
  if (PROFILE_DIR === undefined) return run();
  await hub.child.command({ cmd: "profile-start" });
  try {
    return await run();
  } finally {
    const path = join(PROFILE_DIR, `${name}.cpuprofile`);
    await hub.child.command({ cmd: "profile-stop", path });
    profiles.push({ name, path });
    log(`    profile written: ${path}`);
  }
}
const profiles: Array<{ name: string; path: string }> = [];

// ---------------------------------------------------------------------------------------------------------------
// The hub, the peer, devices

interface Hub {
  readonly child: JsonChild;
  readonly pid: number;
  readonly hostName: string;
  readonly hubName: string;
  readonly amqpPort: number;
  readonly mqttPort: number;
  readonly httpsPort: number;
  readonly ownerKey: string;
  readonly serviceKey: string;
  readonly eventHubConnectionString: string;
}

const keyOf = (connectionString: unknown): string => {
  const key = sharedAccessKey(connectionString);
  if (key === undefined) throw new Error(`no SharedAccessKey in ${String(connectionString)}`);
  return key;
};

async function startMalachite(dataDir: string, tlsDir: string): Promise<Hub> {
  const args = ["--data-dir", dataDir, "--host", HOST, "--cert", join(tlsDir, "server.pem"), "--key", join(tlsDir, "server-key.pem"), "--log-level", HUB_LOG_LEVEL];
  const child = await startChild("hub", "bench/amqp-hub.ts", args, 0);
  const r = child.ready;
  const strings = r["connectionStrings"] as Record<string, string>;
  if (typeof r["amqpPort"] !== "number") throw new Error(`the hub has no AMQP listener: ${JSON.stringify(r)}`);
  return {
    child,
    pid: child.pid,
    hostName: String(r["hostName"]),
    hubName: String(r["hubName"]),
    amqpPort: r["amqpPort"],
    mqttPort: Number(r["mqttPort"]),
    httpsPort: Number(r["httpsPort"]),
    ownerKey: keyOf(strings["iothubowner"]),
    serviceKey: keyOf(strings["service"]),
    eventHubConnectionString: String(r["eventHubConnectionString"]),
  };
}

interface Peer {
  readonly child: JsonChild;
  readonly pid: number;
  readonly port: number;
  readonly label: string;
}

async function startPeer(tlsDir: string): Promise<Peer> {
  const child = await startChild("peer", "bench/amqp-peer.ts", ["--host", HOST, "--cert", join(tlsDir, "server.pem"), "--key", join(tlsDir, "server-key.pem"), "--event-bytes", String(PAYLOAD)], 0);
  return { child, pid: child.pid, port: Number(child.ready["port"]), label: `bare rhea ${String(child.ready["version"])}` };
}

/** `n` devices spread evenly over the hub's 4 partitions (ids chosen by the hub's own hash). */
function makeBalancedDevices(prefix: string, n: number): Device[] {
  const per = Math.ceil(n / 4);
  const buckets: string[][] = [[], [], [], []];
  for (let i = 0; buckets.some((b) => b.length < per); i++) {
    const id = `${prefix}-${String(i + 1).padStart(6, "0")}`;
    const bucket = buckets[partitionOf(id, 4)]!;
    if (bucket.length < per) bucket.push(id);
  }
  const ids: string[] = [];
  for (let i = 0; ids.length < n; i++) ids.push(buckets[i % 4]![Math.floor(i / 4)]!);
  return ids.map((id) => ({ id, key: newDeviceKey() }));
}

async function createDevices(hub: Hub, ca: string, devices: readonly Device[]): Promise<void> {
  const agent = new Agent({ keepAlive: true, ca, maxSockets: 4 });
  const token = createSasToken(hub.hostName, hub.ownerKey, Math.ceil(Date.now() / 1000) + 3600, "iothubowner");
  for (let from = 0; from < devices.length; from += 100) await createSasDevices(agent, HOST, hub.httpsPort, token, devices.slice(from, from + 100));
  agent.destroy();
}

/** GET /devices/{id}: the identity's cloudToDeviceMessageCount (the depth of its C2D queue). */
function c2dCount(hub: Hub, agent: Agent, token: string, id: string): Promise<number> {
  return new Promise((resolveCount, reject) => {
    const req = request({ host: HOST, port: hub.httpsPort, method: "GET", path: `/devices/${encodeURIComponent(id)}?${API}`, agent, headers: { authorization: token } }, (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (c: Buffer) => chunks.push(c));
      res.on("end", () => {
        const text = Buffer.concat(chunks).toString("utf8");
        if (res.statusCode !== 200) return reject(new Error(`GET /devices/${id}: HTTP ${res.statusCode} ${text.slice(0, 200)}`));
        resolveCount(Number((JSON.parse(text) as { cloudToDeviceMessageCount?: unknown }).cloudToDeviceMessageCount));
      });
      res.on("error", reject);
    });
    req.setTimeout(30_000, () => req.destroy(new Error("no answer within 30 s")));
    req.on("error", reject);
    req.end();
  });
}

// ---------------------------------------------------------------------------------------------------------------
// AMQP clients (rhea): a connection with `$cbs` put-token

class Errors {
  count = 0;
  last = "";
  add(what: string): void {
    this.count++;
    this.last = what;
  }
}

const container: Container = rhea.create_container({ id: "bench-generator" });
for (const event of ["error", "connection_error", "session_error", "sender_error", "receiver_error", "protocol_error", "disconnected"]) {
  container.on(event, () => undefined);
}

interface AmqpTarget {
  readonly port: number;
  readonly ca: string;
}

/** One AMQP connection over TLS with the bare AMQP header (no username: no SASL), as the IoT SDKs connect. */
async function amqpConnect(target: AmqpTarget, errors: Errors): Promise<Connection> {
  // servername "": rhea would set it to the host, an IP address, which Node warns about (RFC 6066); the certificate is
  // still checked against the host.
  const connection = container.connect({ host: HOST, port: target.port, transport: "tls", ca: target.ca, servername: "", reconnect: false } as never);
  connection.on("connection_error", (c: EventContext) => errors.add(`connection error: ${String((c.connection.error as { description?: unknown } | undefined)?.description ?? c.connection.error)}`));
  connection.on("error", (c: EventContext) => errors.add(`error: ${String(c.error)}`));
  await new Promise<void>((resolveOpen, reject) => {
    const timer = setTimeout(() => reject(new Error("the AMQP connection did not open within 30 s")), 30_000);
    connection.once("connection_open", () => (clearTimeout(timer), resolveOpen()));
    connection.once("disconnected", (c: EventContext) => (clearTimeout(timer), reject(new Error(`disconnected before open: ${String(c.error ?? "")}`))));
  });
  return connection;
}

let cbsRequest = 0;
/** `$cbs` put-token: links opened on first use; throws unless the reply's status-code is 200. */
async function putToken(connection: Connection, audience: string, token: string): Promise<void> {
  const receiver = connection.open_receiver({ source: { address: "$cbs" } });
  const sender = connection.open_sender({ target: { address: "$cbs" } });
  const id = `cbs-${++cbsRequest}`;
  const reply = new Promise<Message>((resolveReply, reject) => {
    const timer = setTimeout(() => reject(new Error(`no CBS reply for ${audience} within 30 s`)), 30_000);
    receiver.on("message", (c: EventContext) => {
      if (String(c.message!.correlation_id) === id) (clearTimeout(timer), resolveReply(c.message!));
    });
  });
  await new Promise<void>((r) => (sender.sendable() ? r() : sender.once("sendable", () => r())));
  sender.send({
    message_id: id,
    to: "$cbs",
    reply_to: "cbs",
    application_properties: { operation: "put-token", type: "servicebus.windows.net:sastoken", name: audience },
    body: token,
  });
  const answer = await reply;
  const props = (answer.application_properties ?? {}) as Record<string, unknown>;
  if (Number(props["status-code"]) !== 200) throw new Error(`put-token for ${audience}: ${String(props["status-code"])} ${String(props["status-description"])}`);
}

function openSender(connection: Connection, address: string): Promise<Sender> {
  const sender = connection.open_sender({ target: { address } });
  return new Promise((resolveOpen, reject) => {
    const timer = setTimeout(() => reject(new Error(`no credit on ${address} within 30 s`)), 30_000);
    sender.once("sendable", () => (clearTimeout(timer), resolveOpen(sender)));
    sender.once("sender_close", () => (clearTimeout(timer), reject(new Error(`${address} was detached: ${JSON.stringify(sender.error)}`))));
  });
}

function closeConnections(connections: readonly Connection[]): Promise<void> {
  return Promise.all(
    connections.map(
      (c) =>
        new Promise<void>((r) => {
          if (!c.is_open()) return r();
          const timer = setTimeout(() => (c.close(), r()), 3000);
          c.once("connection_close", () => (clearTimeout(timer), r()));
          c.once("disconnected", () => (clearTimeout(timer), r()));
          c.close();
        }),
    ),
  ).then(() => undefined);
}

const deviceAudience = (hostName: string, id: string): string => `${hostName}/devices/${id}`;
const deviceToken = (hostName: string, d: Device): string => createSasToken(encodeURIComponent(deviceAudience(hostName, d.id)), d.key, Math.ceil(Date.now() / 1000) + 3600);

// ---------------------------------------------------------------------------------------------------------------
// Scenario 1: AMQP device telemetry

class TelemetryLoad {
  running = false;
  recording = false;
  accepted = 0;
  refused = 0;
  lastRefusal = "";
  readonly latencies: number[] = [];
  readonly errors = new Errors();
}

/** One device: a sender on its events address keeping `window` unsettled messages in flight. */
class TelemetryDevice {
  inflight = 0;
  readonly #load: TelemetryLoad;
  readonly #sender: Sender;
  readonly #window: number;
  readonly #payload: Buffer;
  readonly #sentAt = new Map<Delivery, number>();

  constructor(sender: Sender, load: TelemetryLoad, window: number, payload: Buffer) {
    this.#sender = sender;
    this.#load = load;
    this.#window = window;
    this.#payload = payload;
    sender.on("sendable", () => this.fill());
    sender.on("accepted", (c: EventContext) => this.#settled(c.delivery!, true));
    for (const outcome of ["rejected", "released", "modified"]) {
      sender.on(outcome, (c: EventContext) => {
        load.refused++;
        load.lastRefusal = `${outcome}: ${JSON.stringify((c.delivery!.remote_state as { error?: unknown } | undefined)?.error ?? "")}`;
        this.#settled(c.delivery!, false);
      });
    }
  }

  #settled(delivery: Delivery, accepted: boolean): void {
    this.inflight--;
    const sentAt = this.#sentAt.get(delivery);
    this.#sentAt.delete(delivery);
    if (accepted) {
      this.#load.accepted++;
      if (this.#load.recording && sentAt !== undefined) this.#load.latencies.push(performance.now() - sentAt);
    }
    this.fill();
  }

  /** Tops the window up: one encoded message (a `data` section body) per send, unsettled. */
  fill(): void {
    if (!this.#load.running) return;
    const now = performance.now();
    while (this.inflight < this.#window && this.#sender.sendable()) {
      const delivery = this.#sender.send({ body: rhea.message.data_section(this.#payload) } as Message);
      this.#sentAt.set(delivery, now);
      this.inflight++;
    }
  }
}

interface TelemetryResult {
  window: Window;
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
  refused: number;
  lastRefusal: string;
  errors: number;
  lastError: string;
  unackedAtStop: number;
  connectS: number;
  /** Every message accepted, warm-up and drain included: what the hub's telemetry log gained. */
  acceptedTotal: number;
  commits?: Record<string, number>;
}

async function telemetryScenario(target: AmqpTarget, serverPid: number, hostName: string, devices: readonly Device[], hub: Hub | undefined): Promise<TelemetryResult> {
  const load = new TelemetryLoad();
  const payload = Buffer.from(`{"deviceId":"x","pad":"${"x".repeat(Math.max(0, PAYLOAD - 24))}"}`.slice(0, PAYLOAD));
  const t0 = performance.now();
  const connections: Connection[] = [];
  const senders: TelemetryDevice[] = [];
  await Promise.all(
    devices.map(async (d) => {
      const connection = await amqpConnect(target, load.errors);
      connections.push(connection);
      await putToken(connection, deviceAudience(hostName, d.id), deviceToken(hostName, d));
      const sender = await openSender(connection, `/devices/${d.id}/messages/events`);
      senders.push(new TelemetryDevice(sender, load, TEL_WINDOW, payload));
    }),
  );
  const connectS = (performance.now() - t0) / 1000;
  load.running = true;
  for (const s of senders) s.fill();
  await sleep(WARMUP_S * 1000);
  if (hub !== undefined) await hub.child.command({ cmd: "commit-stats" });
  load.recording = true;
  const run = (): Promise<Window> => measure(serverPid, SECONDS, () => load.accepted);
  const window = hub === undefined ? await run() : await profiled(hub, "telemetry", run);
  load.recording = false;
  const commits = hub === undefined ? undefined : ((await hub.child.command({ cmd: "commit-stats" }))["stats"] as Record<string, number>);
  load.running = false;
  await until(() => senders.every((s) => s.inflight <= 0), 10_000);
  const unackedAtStop = senders.reduce((s, d) => s + Math.max(0, d.inflight), 0);
  await closeConnections(connections);
  const sorted = sortNumbers(load.latencies);
  return {
    window,
    p50Ms: quantile(sorted, 0.5),
    p99Ms: quantile(sorted, 0.99),
    maxMs: sorted.length === 0 ? NaN : sorted[sorted.length - 1]!,
    refused: load.refused,
    lastRefusal: load.lastRefusal,
    errors: load.errors.count,
    lastError: load.errors.last,
    unackedAtStop,
    connectS,
    acceptedTotal: load.accepted,
    ...(commits === undefined ? {} : { commits }),
  };
}

// ---------------------------------------------------------------------------------------------------------------
// MQTT devices (raw TLS, pre-encoded frames): C2D receivers and the telemetry ingest of scenario 3

/**
 * A device that subscribes to its C2D topic at QoS 1 and PUBACKs every delivery as soon as it is parsed (the hub
 * completes the message on the PUBACK). `onMessage` gets each body.
 */
class MqttC2dDevice extends MqttSubscriber {
  readonly #onMessage: (body: Buffer) => void;

  constructor(port: number, context: SecureContext, connect: Buffer, id: string, onMessage: (body: Buffer) => void, errors: Errors) {
    const subscription = { topic: `devices/${id}/messages/devicebound/#`, qos: 1, refused: "SUBACK refused the C2D topic" } as const;
    super(HOST, port, context, connect, subscription, (where, e) => errors.add(`MQTT ${where}: ${e.message}`));
    this.#onMessage = onMessage;
  }

  protected override publish(p: mqtt.IPublishPacket): void {
    if (p.qos === 1 && p.messageId !== undefined) this.socket.write(Buffer.from([0x40, 0x02, p.messageId >> 8, p.messageId & 255]));
    this.#onMessage(p.payload as Buffer);
  }
}

/** A QoS 1 telemetry PUBLISH with its packet id at `idOffset`, patched in place per copy. */
interface PublishTemplate {
  readonly frame: Buffer;
  readonly idOffset: number;
}
function publishTemplate(id: string): PublishTemplate {
  const head = `{"deviceId":"${id}","pad":"`;
  const body = Buffer.from(`${head}${"x".repeat(Math.max(0, PAYLOAD - head.length - 2))}"}`);
  const frame = mqtt.generate({ cmd: "publish", topic: `devices/${id}/messages/events/`, payload: body, qos: 1, messageId: 0x1234, retain: false, dup: false });
  const idOffset = frame.length - body.length - 2;
  if (frame.readUInt16BE(idOffset) !== 0x1234) throw new Error("unexpected PUBLISH layout");
  return { frame, idOffset };
}

class IngestLoad {
  running = false;
  acked = 0;
  readonly errors = new Errors();
}

/** A telemetry device on raw MQTT/TLS: writes pre-encoded QoS 1 PUBLISHes, counts PUBACKs (parsed by hand). */
class MqttIngestDevice {
  readonly socket: TLSSocket;
  readonly ready: Promise<void>;
  inflight = 0;
  closed = false;
  readonly #load: IngestLoad;
  readonly #t: PublishTemplate;
  #nextId = 0;
  readonly #packets = new MqttPacketReader();
  #onConnack: ((rc: number) => void) | undefined;

  constructor(port: number, context: SecureContext, connect: Buffer, template: PublishTemplate, load: IngestLoad) {
    this.#load = load;
    this.#t = template;
    this.socket = tlsConnect({ host: HOST, port, secureContext: context });
    this.socket.setNoDelay(true);
    this.ready = new Promise<void>((resolveReady, reject) => {
      const timer = setTimeout(() => (reject(new Error("no CONNACK within 30 s")), this.socket.destroy()), 30_000);
      this.#onConnack = (rc) => {
        clearTimeout(timer);
        this.#onConnack = undefined;
        if (rc === 0) resolveReady();
        else (reject(new Error(`CONNACK return code ${rc}`)), this.socket.destroy());
      };
      this.socket.once("close", () => (clearTimeout(timer), this.#onConnack === undefined ? undefined : reject(new Error("closed before CONNACK"))));
    });
    this.ready.catch(() => undefined);
    this.socket.once("secureConnect", () => this.socket.write(connect));
    this.socket.on("data", (chunk: Buffer) => this.#data(chunk));
    this.socket.on("error", (e) => load.errors.add(`MQTT socket: ${e.message}`));
    this.socket.on("close", () => (this.closed = true));
  }

  #data(chunk: Buffer): void {
    const packets = this.#packets;
    packets.feed(chunk);
    while (packets.next()) {
      if (packets.type === 4) {
        this.inflight--;
        this.#load.acked++;
      } else if (packets.type === 2) {
        this.#onConnack?.(packets.buf[packets.body + 1]!);
      }
    }
  }

  /** Writes `k` PUBLISHes in one write. */
  publish(k: number): void {
    if (k <= 0 || this.closed) return;
    const t = this.#t;
    const size = t.frame.length;
    const out = Buffer.allocUnsafe(k * size);
    for (let m = 0; m < k; m++) {
      const base = m * size;
      t.frame.copy(out, base);
      this.#nextId = (this.#nextId % 65535) + 1;
      out[base + t.idOffset] = this.#nextId >> 8;
      out[base + t.idOffset + 1] = this.#nextId & 255;
    }
    this.inflight += k;
    this.socket.write(out);
  }

  end(): void {
    if (!this.closed) this.socket.end(DISCONNECT);
  }
}

/**
 * Drives MQTT ingest: every 5 ms each device's window (`MQTT_WINDOW` in flight) is topped up — all of it when `rate`
 * is undefined (closed loop, the maximum), else only as much as keeps the total sent on a `rate` msgs/s schedule.
 * Messages the schedule wanted but no window had room for are counted as `shortfall`, not sent later.
 */
class IngestDriver {
  sent = 0;
  shortfall = 0;
  #timer: NodeJS.Timeout | undefined;
  #next = 0;

  constructor(readonly devices: readonly MqttIngestDevice[]) {}

  start(rate: number | undefined): void {
    this.stop();
    const t0 = performance.now();
    const base = this.sent;
    let skipped = 0;
    const window = MQTT_WINDOW;
    const n = this.devices.length;
    const tick = (): void => {
      if (rate === undefined) {
        for (const d of this.devices) {
          const k = window - d.inflight;
          if (k >= Math.max(1, window / 8)) {
            d.publish(k);
            this.sent += k;
          }
        }
        return;
      }
      let due = Math.floor(((performance.now() - t0) / 1000) * rate) - (this.sent - base) - skipped;
      const per = new Array<number>(n).fill(0);
      let spins = 0;
      while (due > 0 && spins < n) {
        const i = this.#next;
        this.#next = (i + 1) % n;
        if (this.devices[i]!.inflight + per[i]! < window) {
          per[i]!++;
          due--;
          spins = 0;
        } else spins++;
      }
      if (due > 0) {
        skipped += due;
        this.shortfall += due;
      }
      for (let i = 0; i < n; i++) {
        if (per[i]! > 0) {
          this.devices[i]!.publish(per[i]!);
          this.sent += per[i]!;
        }
      }
    };
    this.#timer = setInterval(tick, 5);
    tick();
  }

  stop(): void {
    if (this.#timer !== undefined) clearInterval(this.#timer);
    this.#timer = undefined;
  }
}

async function openIngestDevices(hub: Hub, context: SecureContext, devices: readonly Device[], load: IngestLoad): Promise<MqttIngestDevice[]> {
  const conns = devices.map((d) => new MqttIngestDevice(hub.mqttPort, context, connectFrame(hub.hostName, d), publishTemplate(d.id), load));
  await Promise.all(conns.map((c) => c.ready));
  return conns;
}

// ---------------------------------------------------------------------------------------------------------------
// Scenario 2: C2D over AMQP to MQTT devices (hub) / rhea relay to rhea receivers (peer)

/** Body: `{device index},{sequence},{performance.now() at send}`, padded with spaces to the payload size. */
function c2dBody(index: number, seq: number, sentAt: number): Buffer {
  const head = `${index},${seq},${sentAt.toFixed(3)},`;
  return Buffer.from(head.padEnd(PAYLOAD, " "));
}
function parseC2dBody(body: Buffer): { index: number; sentAt: number } | undefined {
  const text = body.subarray(0, 64).toString("latin1").split(",");
  const index = Number(text[0]);
  const sentAt = Number(text[2]);
  return Number.isInteger(index) && Number.isFinite(sentAt) ? { index, sentAt } : undefined;
}

class C2dLoad {
  readonly outstanding: Int32Array;
  sent = 0;
  received = 0;
  accepted = 0;
  refused = 0;
  lastRefusal = "";
  recording = false;
  latencies: number[] = [];
  seq = 0;
  /** Closed loop: each receipt sends the next message to the same device. */
  closedLoop = false;
  running = false;
  shortfall = 0;
  unknown = 0;
  readonly errors = new Errors();
  send: (index: number) => void = () => undefined;

  constructor(devices: number) {
    this.outstanding = new Int32Array(devices);
  }

  receivedBody(body: Buffer): void {
    const parsed = parseC2dBody(body);
    if (parsed === undefined || parsed.index >= this.outstanding.length) {
      this.unknown++;
      return;
    }
    this.received++;
    this.outstanding[parsed.index]!--;
    if (this.recording) this.latencies.push(performance.now() - parsed.sentAt);
    if (this.closedLoop && this.running) this.send(parsed.index);
  }
}

/** The back end: one AMQP connection, a `service` policy token on `$cbs`, a sender on `/messages/devicebound`. */
async function openC2dService(target: AmqpTarget, hostName: string, serviceKey: string, devices: readonly Device[], load: C2dLoad): Promise<Connection> {
  const connection = await amqpConnect(target, load.errors);
  await putToken(connection, hostName, createSasToken(hostName, serviceKey, Math.ceil(Date.now() / 1000) + 3600, "service"));
  const sender = await openSender(connection, "/messages/devicebound");
  const deviceOf = new Map<Delivery, number>();
  sender.on("accepted", (c: EventContext) => {
    load.accepted++;
    deviceOf.delete(c.delivery!);
  });
  for (const outcome of ["rejected", "released", "modified"]) {
    sender.on(outcome, (c: EventContext) => {
      load.refused++;
      load.lastRefusal = `${outcome}: ${JSON.stringify((c.delivery!.remote_state as { error?: unknown } | undefined)?.error ?? "")}`;
      const index = deviceOf.get(c.delivery!);
      deviceOf.delete(c.delivery!);
      if (index !== undefined) load.outstanding[index]!--;
    });
  }
  const to = devices.map((d) => `/devices/${encodeURIComponent(d.id)}/messages/devicebound`);
  load.send = (index) => {
    const seq = load.seq++;
    const delivery = sender.send({ to: to[index], message_id: `m-${seq}`, body: rhea.message.data_section(c2dBody(index, seq, performance.now())) } as Message);
    deviceOf.set(delivery, index);
    load.outstanding[index]!++;
    load.sent++;
  };
  return connection;
}

/** Paced sends: every 2 ms, as many as keep `rate` msgs/s, round-robin over devices with fewer than K outstanding. */
function paceC2d(load: C2dLoad, rate: number): () => void {
  const t0 = performance.now();
  const base = load.sent;
  let skipped = 0;
  let next = 0;
  const n = load.outstanding.length;
  const timer = setInterval(() => {
    let due = Math.floor(((performance.now() - t0) / 1000) * rate) - (load.sent - base) - skipped;
    let spins = 0;
    while (due > 0 && spins < n) {
      const i = next;
      next = (next + 1) % n;
      if (load.outstanding[i]! < C2D_INFLIGHT) {
        load.send(i);
        due--;
        spins = 0;
      } else spins++;
    }
    if (due > 0) {
      skipped += due;
      load.shortfall += due;
    }
  }, 2);
  return () => clearInterval(timer);
}

interface C2dPhase {
  window: Window;
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
}

interface C2dResult {
  closed: C2dPhase;
  paced: C2dPhase;
  sent: number;
  received: number;
  refused: number;
  lastRefusal: string;
  shortfall: number;
  errors: number;
  lastError: string;
  outstandingAtStop: number;
  /** Hub only: the sum of cloudToDeviceMessageCount over the devices at the end (0: every message completed). */
  queuedAtEnd?: number;
}

async function c2dPhases(serverPid: number, load: C2dLoad, hub: Hub | undefined): Promise<{ closed: C2dPhase; paced: C2dPhase }> {
  const phase = async (name: string, warmupS: number, start: () => () => void): Promise<C2dPhase> => {
    load.running = true;
    const stop = start();
    await sleep(warmupS * 1000);
    load.latencies = [];
    load.recording = true;
    const run = (): Promise<Window> => measure(serverPid, SECONDS, () => load.received);
    const window = hub === undefined ? await run() : await profiled(hub, name, run);
    load.recording = false;
    load.running = false;
    stop();
    await until(() => load.outstanding.every((o) => o <= 0), 10_000);
    const sorted = sortNumbers(load.latencies);
    return { window, p50Ms: quantile(sorted, 0.5), p99Ms: quantile(sorted, 0.99), maxMs: sorted.length === 0 ? NaN : sorted[sorted.length - 1]! };
  };
  const closed = await phase("c2d-closed", WARMUP_S, () => {
    load.closedLoop = true;
    for (let i = 0; i < load.outstanding.length; i++) for (let k = 0; k < C2D_INFLIGHT; k++) load.send(i);
    return () => void (load.closedLoop = false);
  });
  await waitIdle(serverPid);
  const paced = await phase("c2d-paced", 1, () => paceC2d(load, C2D_RATE));
  return { closed, paced };
}

function c2dSummary(load: C2dLoad, phases: { closed: C2dPhase; paced: C2dPhase }): C2dResult {
  return {
    ...phases,
    sent: load.sent,
    received: load.received,
    refused: load.refused,
    lastRefusal: load.lastRefusal,
    shortfall: load.shortfall,
    errors: load.errors.count + load.unknown,
    lastError: load.unknown > 0 ? `${load.unknown} unparsable bodies; ${load.errors.last}` : load.errors.last,
    outstandingAtStop: load.outstanding.reduce((s, o) => s + Math.max(0, o), 0),
  };
}

async function c2dHub(hub: Hub, ca: string, context: SecureContext, devices: readonly Device[]): Promise<C2dResult> {
  const load = new C2dLoad(devices.length);
  const mqttDevices = devices.map((d) => new MqttC2dDevice(hub.mqttPort, context, connectFrame(hub.hostName, d), d.id, (body) => load.receivedBody(body), load.errors));
  await Promise.all(mqttDevices.map((d) => d.ready));
  const service = await openC2dService({ port: hub.amqpPort, ca }, hub.hostName, hub.serviceKey, devices, load);
  const phases = await c2dPhases(hub.pid, load, hub);
  const result = c2dSummary(load, phases);
  // Every message completed? The hub sets cloudToDeviceMessageCount to the queue's depth after each change.
  const agent = new Agent({ keepAlive: true, ca, maxSockets: 8 });
  const token = createSasToken(hub.hostName, hub.ownerKey, Math.ceil(Date.now() / 1000) + 3600, "iothubowner");
  let queued = NaN;
  for (let attempt = 0; attempt < 20; attempt++) {
    const counts = await Promise.all(devices.map((d) => c2dCount(hub, agent, token, d.id)));
    queued = counts.reduce((s, n) => s + n, 0);
    if (queued === 0) break;
    await sleep(250);
  }
  agent.destroy();
  result.queuedAtEnd = queued;
  await closeConnections([service]);
  for (const d of mqttDevices) d.end();
  return result;
}

async function c2dPeer(peer: Peer, ca: string, devices: readonly Device[]): Promise<C2dResult> {
  const load = new C2dLoad(devices.length);
  const target = { port: peer.port, ca };
  const receivers: Connection[] = [];
  await Promise.all(
    devices.map(async (d) => {
      const connection = await amqpConnect(target, load.errors);
      receivers.push(connection);
      const receiver: Receiver = connection.open_receiver({ source: { address: `/devices/${d.id}/messages/devicebound` } });
      receiver.on("message", (c: EventContext) => {
        const body = c.message!.body as { content?: Buffer } | Buffer;
        load.receivedBody(Buffer.isBuffer(body) ? body : (body.content ?? Buffer.alloc(0)));
      });
      await new Promise<void>((r) => receiver.once("receiver_open", () => r()));
    }),
  );
  const service = await openC2dService(target, HOST, "AAAA", devices, load);
  const phases = await c2dPhases(peer.pid, load, undefined);
  await closeConnections([service, ...receivers]);
  return c2dSummary(load, phases);
}

// ---------------------------------------------------------------------------------------------------------------
// Scenario 3: the Event Hub-compatible endpoint

/** Bare rhea receivers on the 4 partitions (one connection, a session each, credit window 1000, autoaccept), counting events. */
class RheaEventReader {
  count = 0;
  lags: number[] = [];
  readonly errors = new Errors();
  connection: Connection | undefined;
  firstAt = NaN;
  lastAt = NaN;

  async open(target: AmqpTarget, entity: string, audience: string, token: string, partitions: number): Promise<void> {
    this.connection = await amqpConnect(target, this.errors);
    await putToken(this.connection, audience, token);
    await Promise.all(
      Array.from({ length: partitions }, (_, p) => {
        // A session per partition, as the SDK does: rhea bounds a session's unsettled outgoing deliveries (2048), which
        // four receivers with 1000 credit each would otherwise share on the server's side.
        const session = this.connection!.create_session();
        session.begin();
        const receiver = session.open_receiver({ source: { address: `${entity}/ConsumerGroups/$Default/Partitions/${p}` } });
        receiver.on("message", (c: EventContext) => {
          const t = performance.now();
          if (Number.isNaN(this.firstAt)) this.firstAt = t;
          this.lastAt = t;
          this.count++;
          const enqueued = (c.message!.message_annotations as Record<string, unknown> | undefined)?.["x-opt-enqueued-time"];
          if (enqueued instanceof Date) this.lags.push(Date.now() - enqueued.getTime());
        });
        receiver.on("receiver_close", () => this.errors.add(`partition ${p} detached: ${JSON.stringify(receiver.error)}`));
        return new Promise<void>((r) => receiver.once("receiver_open", () => r()));
      }),
    );
  }

  async close(): Promise<void> {
    if (this.connection !== undefined) await closeConnections([this.connection]);
  }
}

/** A token as an Event Hubs client signs it: HMAC key = the key string's UTF-8 bytes, `sr` = the URL-encoded audience. */
function eventHubToken(audience: string, key: string): string {
  return createSasToken(encodeURIComponent(audience), Buffer.from(key, "utf8").toString("base64"), Math.ceil(Date.now() / 1000) + 3600, "service");
}

interface LagSecond {
  read: number;
  p50: number;
  p99: number;
}

interface CatchUp {
  events: number;
  /** From the first event to the last one read (or to the end of the window), seconds. */
  seconds: number;
  perS: number;
  drained: boolean;
  serverCpuS: number;
  readerCpuS: number;
  startMs: number;
  errors: number;
  lastError: string;
  /** CPU other processes used meanwhile, % of one core (above ~10 % the figure is disturbed). */
  othersPct: number;
  /** SDK only: how long closing the subscriptions and the client took, and whether it gave up after 10 s. */
  closeMs?: number;
  closeHung?: boolean;
}

interface EventHubResult {
  maxIngest: { perS: number; window: Window };
  ingestRate: number;
  live: {
    window: Window;
    ingestPerS: number;
    shortfall: number;
    seconds: LagSecond[];
    p50: number;
    p99: number;
    max: number;
    subscribeMs: number;
    errors: number;
    lastError: string;
    readerCpuS: number;
    closeMs: number;
    closeHung: boolean;
  };
  backlog: number;
  sdkCatchUp?: CatchUp;
  rheaCatchUp?: CatchUp;
  peerRhea?: CatchUp;
  sdkVersion: string;
}

/** Reads with bare rhea receivers for at most SECONDS or until `expected` events came, whichever is first. */
async function rheaCatchUp(target: AmqpTarget, serverPid: number, entity: string, audience: string, token: string, expected: number): Promise<CatchUp> {
  const reader = new RheaEventReader();
  const t0 = performance.now();
  await reader.open(target, entity, audience, token, 4);
  const startMs = performance.now() - t0;
  const c0 = cpuSeconds(serverPid);
  const g0 = process.cpuUsage();
  const m0 = machineTimes();
  const tStart = performance.now();
  const drained = await until(() => reader.count >= expected, SECONDS * 1000);
  const end = drained ? reader.lastAt : performance.now();
  const serverCpuS = cpuSeconds(serverPid) - c0;
  const g = process.cpuUsage(g0);
  const m1 = machineTimes();
  const othersPct = (Math.max(0, m1.tasks - m0.tasks - serverCpuS - (g.user + g.system) / 1e6) / ((performance.now() - tStart) / 1000)) * 100;
  const events = reader.count;
  await reader.close();
  const from = Number.isNaN(reader.firstAt) ? tStart : reader.firstAt;
  const seconds = (end - from) / 1000;
  return { events, seconds, perS: events / seconds, drained, serverCpuS, readerCpuS: (g.user + g.system) / 1e6, startMs, errors: reader.errors.count, lastError: reader.errors.last, othersPct };
}

async function eventHubScenario(hub: Hub, peer: Peer | undefined, ca: string, context: SecureContext, devices: readonly Device[], startReader: () => Promise<JsonChild>, priorEvents: number): Promise<EventHubResult> {
  const load = new IngestLoad();
  const conns = await openIngestDevices(hub, context, devices, load);
  const driver = new IngestDriver(conns);
  load.running = true;

  // a. The maximum MQTT ingest, closed loop.
  await waitIdle(hub.pid);
  log(`  3a. maximum MQTT ingest: ${devices.length} devices × ${MQTT_WINDOW} in flight, 1 s warm-up + ${MAX_SECONDS} s`);
  driver.start(undefined);
  await sleep(1000);
  const maxWindow = await measure(hub.pid, MAX_SECONDS, () => load.acked);
  driver.stop();
  await until(() => conns.every((c) => c.inflight <= 0), 10_000);
  log(`    ${int(maxWindow.perS)} msgs/s, hub ${pct(maxWindow.serverCpuS, maxWindow.seconds)} of a core`);
  const ingestRate = EH_RATE ?? Math.max(1, Math.round(maxWindow.perS / 2));

  // b. The SDK reads all 4 partitions from the latest event while the devices ingest at `ingestRate`.
  await waitIdle(hub.pid);
  log(`  3b. EventHubConsumerClient (one subscription per partition, from latest) while MQTT ingests at ${int(ingestRate)} msgs/s, ${WARMUP_S} s warm-up + ${SECONDS} s`);
  let reader = await startReader();
  const sdkVersion = String(reader.ready["version"]);
  const subscribed = await reader.command({ cmd: "subscribe", connectionString: hub.eventHubConnectionString, position: "latest", maxBatchSize: 300, prefetchCount: 1000 });
  driver.start(ingestRate);
  await sleep(WARMUP_S * 1000);
  await reader.command({ cmd: "mark" });
  const a0 = load.acked;
  const seconds: LagSecond[] = [];
  const lagWeights: Array<{ n: number; p50: number; p99: number; max: number }> = [];
  let readerErrors = 0;
  let readerLastError = "";
  let read = 0;
  const rc0 = cpuSeconds(reader.pid);
  const live = await profiled(hub, "eventhub-live", () =>
    measure(
      hub.pid,
      SECONDS,
      () => read,
      async () => {
        const m = await reader.command({ cmd: "mark" });
        const n = Number(m["count"]);
        read += n;
        readerErrors = Number(m["errors"]);
        readerLastError = String(m["lastError"]);
        seconds.push({ read: n, p50: Number(m["lagP50"]), p99: Number(m["lagP99"]) });
        lagWeights.push({ n, p50: Number(m["lagP50"]), p99: Number(m["lagP99"]), max: Number(m["lagMax"]) });
      },
      [reader.pid],
    ),
  );
  const readerCpuS = cpuSeconds(reader.pid) - rc0;
  const ingested = load.acked - a0;
  driver.stop();
  await until(() => conns.every((c) => c.inflight <= 0), 10_000);
  const liveClose = await reader.command({ cmd: "unsubscribe" });
  await reader.close();
  for (const c of conns) c.end();
  // Over the whole window: the per-second quantiles weighted by the events of each second (an approximation that
  // needs no event-level transfer); the max is exact.
  const weighted = (key: "p50" | "p99"): number => {
    const xs = lagWeights.filter((w) => w.n > 0).sort((a, b) => a[key] - b[key]);
    const total = xs.reduce((s, w) => s + w.n, 0);
    let seen = 0;
    for (const w of xs) if ((seen += w.n) >= (key === "p50" ? 0.5 : 0.99) * total) return w[key];
    return NaN;
  };
  log(`    read ${int(live.perS)} events/s while ${int(ingested / live.seconds)} msgs/s were ingested; lag p50 ${ms(weighted("p50"))} ms, p99 ${ms(weighted("p99"))} ms`);

  // c. Catch-up: the whole stored backlog from the earliest event, with the SDK, then with bare rhea receivers.
  const backlog = priorEvents + load.acked;
  await waitIdle(hub.pid);
  log(`  3c. catch-up read of the backlog (${int(backlog)} events) from the earliest event, at most ${SECONDS} s each: SDK, then bare rhea`);
  reader = await startReader();
  const sdkCatchUp = await profiled(hub, "eventhub-catchup-sdk", async () => {
    const t0 = performance.now();
    await reader.command({ cmd: "mark" });
    const c0 = cpuSeconds(hub.pid);
    const r0 = cpuSeconds(reader.pid);
    const g0 = process.cpuUsage();
    const m0 = machineTimes();
    const sub = await reader.command({ cmd: "subscribe", connectionString: hub.eventHubConnectionString, position: "earliest", maxBatchSize: 300, prefetchCount: 1000 });
    let m: Record<string, unknown> = {};
    let drained = false;
    while (performance.now() - t0 < (SECONDS + 2) * 1000) {
      await sleep(250);
      m = await reader.command({ cmd: "mark" });
      if (Number(m["total"]) >= backlog) {
        drained = true;
        break;
      }
      if (!Number.isNaN(Number(m["firstEventAt"])) && Number(m["now"]) - Number(m["firstEventAt"]) >= SECONDS * 1000) break;
    }
    const events = Number(m["total"]);
    const first = Number(m["firstEventAt"]);
    const end = drained ? Number(m["lastEventAt"]) : Number(m["now"]);
    const serverCpuS = cpuSeconds(hub.pid) - c0;
    const readerCpuS = cpuSeconds(reader.pid) - r0;
    const g = process.cpuUsage(g0);
    const m1 = machineTimes();
    const wall = (performance.now() - t0) / 1000;
    const result: CatchUp = {
      events,
      seconds: (end - first) / 1000,
      perS: events / ((end - first) / 1000),
      drained,
      serverCpuS,
      readerCpuS,
      othersPct: (Math.max(0, m1.tasks - m0.tasks - serverCpuS - readerCpuS - (g.user + g.system) / 1e6) / wall) * 100,
      startMs: Number(sub["startMs"]),
      errors: Number(m["errors"]),
      lastError: String(m["lastError"]),
    };
    return result;
  });
  // Outside the profiled stretch: closing may hang for 10 s (see the README).
  const closed = await reader.command({ cmd: "unsubscribe" });
  sdkCatchUp.closeMs = Number(closed["closeMs"]);
  sdkCatchUp.closeHung = closed["hung"] === true;
  await reader.close();
  log(`    SDK: ${int(sdkCatchUp.events)} events in ${sdkCatchUp.seconds.toFixed(2)} s = ${int(sdkCatchUp.perS)}/s${sdkCatchUp.drained ? " (drained)" : ""}`);
  await waitIdle(hub.pid);
  const audience = `sb://${HOST}:${hub.amqpPort}/${hub.hubName}`;
  const rhea1 = await profiled(hub, "eventhub-catchup-rhea", () =>
    rheaCatchUp({ port: hub.amqpPort, ca }, hub.pid, hub.hubName, audience, eventHubToken(audience, hub.serviceKey), backlog),
  );
  log(`    bare rhea: ${int(rhea1.events)} events in ${rhea1.seconds.toFixed(2)} s = ${int(rhea1.perS)}/s${rhea1.drained ? " (drained)" : ""}`);

  let peerRhea: CatchUp | undefined;
  if (peer !== undefined) {
    await waitIdle(peer.pid);
    log(`  3d. peer: bare rhea receivers draining the bare rhea server's 4 partition links, ${SECONDS} s`);
    peerRhea = await rheaCatchUp({ port: peer.port, ca }, peer.pid, hub.hubName, `sb://${HOST}:${peer.port}/${hub.hubName}`, "SharedAccessSignature sr=x&sig=x&se=1&skn=x", Infinity);
    log(`    ${int(peerRhea.perS)} events/s`);
  }
  return {
    maxIngest: { perS: maxWindow.perS, window: maxWindow },
    ingestRate,
    live: {
      window: live,
      ingestPerS: ingested / live.seconds,
      shortfall: driver.shortfall,
      seconds,
      p50: weighted("p50"),
      p99: weighted("p99"),
      max: Math.max(...lagWeights.map((w) => (Number.isFinite(w.max) ? w.max : 0))),
      subscribeMs: Number(subscribed["startMs"]),
      errors: readerErrors,
      lastError: readerLastError,
      readerCpuS,
      closeMs: Number(liveClose["closeMs"]),
      closeHung: liveClose["hung"] === true,
    },
    backlog,
    sdkCatchUp,
    rheaCatchUp: rhea1,
    ...(peerRhea === undefined ? {} : { peerRhea }),
    sdkVersion,
  };
}

// ---------------------------------------------------------------------------------------------------------------
// Main

async function main(): Promise<void> {
  const command = benchCommand("amqp");
  const machine = bench.describeMachine(["rhea", "@azure/event-hubs", "better-sqlite3"].map((name) => `${name} ${pkgVersion(name)}`));
  const pinning = pinned ? "hub and peer pinned to core 0; load generators, rhea readers and the SDK reader child to core 1 (taskset)" : "not pinned";
  log(`amqp benchmark: scenarios ${[...RUN].join(", ")}; ${SECONDS} s windows`);
  log(`  ${machine}; ${pinning}`);
  log(`  work dir ${workDir}${opts.keep ? " (kept)" : ""}`);
  if (PROFILE_DIR !== undefined) {
    mkdirSync(PROFILE_DIR, { recursive: true });
    log("  PROFILING: the hub runs under the V8 CPU profiler in the measured windows; its numbers are slower");
  }

  const { tlsDir, ca } = await writeTlsFiles(workDir, HOST);
  const context = createSecureContext({ ca: ca.certPem });

  const hub = await startMalachite(join(workDir, "data"), tlsDir);
  log(`Malachite hub: pid ${hub.pid}, AMQP ${hub.amqpPort}, MQTT ${hub.mqttPort}, HTTPS ${hub.httpsPort}`);
  const peer = PEER ? await startPeer(tlsDir) : undefined;
  if (peer !== undefined) log(`Peer (${peer.label}): pid ${peer.pid}, port ${peer.port}`);

  const telDevices = RUN.has("telemetry") ? makeDevices("amqp", TEL_DEVICES) : [];
  const c2dDevices = RUN.has("c2d") ? makeDevices("c2d", C2D_DEVICES) : [];
  const ingestDevices = RUN.has("eventhub") ? makeBalancedDevices("mqtt", MQTT_DEVICES) : [];
  await createDevices(hub, ca.certPem, [...telDevices, ...c2dDevices, ...ingestDevices]);
  log(`  ${telDevices.length + c2dDevices.length + ingestDevices.length} devices created`);

  let telemetry: { hub: TelemetryResult; peer?: TelemetryResult } | undefined;
  if (RUN.has("telemetry")) {
    await waitIdle(hub.pid);
    log(`1. AMQP telemetry: ${TEL_DEVICES} devices × ${TEL_WINDOW} unsettled in flight, ${PAYLOAD}-byte data body; ${WARMUP_S} s warm-up + ${SECONDS} s`);
    const h = await telemetryScenario({ port: hub.amqpPort, ca: ca.certPem }, hub.pid, hub.hostName, telDevices, hub);
    log(`    Malachite: ${int(h.window.perS)} accepted/s, hub ${pct(h.window.serverCpuS, h.window.seconds)} of a core, generator ${pct(h.window.genCpuS, h.window.seconds)}; p50 ${ms(h.p50Ms)} ms, p99 ${ms(h.p99Ms)} ms`);
    telemetry = { hub: h };
    if (peer !== undefined) {
      await waitIdle(peer.pid);
      const p = await telemetryScenario({ port: peer.port, ca: ca.certPem }, peer.pid, HOST, telDevices, undefined);
      log(`    peer: ${int(p.window.perS)} accepted/s, peer ${pct(p.window.serverCpuS, p.window.seconds)} of a core, generator ${pct(p.window.genCpuS, p.window.seconds)}`);
      telemetry.peer = p;
    }
  }

  let c2d: { hub: C2dResult; peer?: C2dResult } | undefined;
  if (RUN.has("c2d")) {
    await waitIdle(hub.pid);
    log(
      `2. C2D: AMQP service sender → ${C2D_DEVICES} MQTT devices (QoS 1, PUBACK at once), ≤ ${C2D_INFLIGHT} outstanding per device; ` +
        `closed loop ${WARMUP_S} s + ${SECONDS} s, then paced at ${int(C2D_RATE)}/s 1 s + ${SECONDS} s`,
    );
    const h = await c2dHub(hub, ca.certPem, context, c2dDevices);
    log(`    Malachite: closed loop ${int(h.closed.window.perS)}/s (p99 ${ms(h.closed.p99Ms)} ms); paced ${int(h.paced.window.perS)}/s, p50 ${ms(h.paced.p50Ms)} ms, p99 ${ms(h.paced.p99Ms)} ms; refused ${h.refused}; left queued ${h.queuedAtEnd}`);
    c2d = { hub: h };
    if (peer !== undefined) {
      await waitIdle(peer.pid);
      const p = await c2dPeer(peer, ca.certPem, c2dDevices);
      log(`    peer relay: closed loop ${int(p.closed.window.perS)}/s; paced ${int(p.paced.window.perS)}/s, p50 ${ms(p.paced.p50Ms)} ms, p99 ${ms(p.paced.p99Ms)} ms`);
      c2d.peer = p;
    }
  }

  let eventHub: EventHubResult | undefined;
  if (RUN.has("eventhub")) {
    log(`3. Event Hub-compatible endpoint: ${MQTT_DEVICES} MQTT devices (3 per partition) ingesting; reads of all 4 partitions`);
    // A fresh SDK reader process per phase; NODE_EXTRA_CA_CERTS makes it trust the run's CA (the SDK has no `ca`).
    const startReader = (): Promise<JsonChild> => startChild("reader", "bench/amqp-reader.ts", [], 1, { ...process.env, NODE_EXTRA_CA_CERTS: join(tlsDir, "ca.pem") });
    eventHub = await eventHubScenario(hub, peer, ca.certPem, context, ingestDevices, startReader, telemetry?.hub.acceptedTotal ?? 0);
  }

  const hubPeakRss = peakRssMiB(hub.pid);
  const peerPeakRss = peer === undefined ? NaN : peakRssMiB(peer.pid);
  await peer?.child.close();
  await hub.child.close();

  // -------------------------------------------------------------------------------------------------------------
  // Report
  const header = ["", "Malachite", peer?.label ?? "peer", "Mal÷peer", "Target (Malachite)"];
  const rows: string[][] = [];
  const row = (label: string, m: string, p = "", r = "", target = ""): void => void rows.push([label, m, p, r, target]);
  const notes: string[] = [];
  if (telemetry !== undefined) {
    const h = telemetry.hub;
    const p = telemetry.peer;
    row(`1. AMQP telemetry ${TEL_DEVICES}×${TEL_WINDOW}: accepted msgs/s (${SECONDS} s)`, int(h.window.perS), int(p?.window.perS), ratio(h.window.perS, p?.window.perS), `≥ ${int(TARGET_TELEMETRY)}/s: ${verdict(h.window.perS >= TARGET_TELEMETRY)}`);
    row("   slowest / fastest second", `${int(Math.min(...h.window.perSecond))} / ${int(Math.max(...h.window.perSecond))}`, p ? `${int(Math.min(...p.window.perSecond))} / ${int(Math.max(...p.window.perSecond))}` : "");
    row("   send → accepted p50 / p99 / max, ms", `${ms(h.p50Ms)} / ${ms(h.p99Ms)} / ${ms(h.maxMs)}`, p ? `${ms(p.p50Ms)} / ${ms(p.p99Ms)} / ${ms(p.maxMs)}` : "");
    row("   server CPU-ms per 1,000 msgs", cpuPer1k(h.window).toFixed(1), p ? cpuPer1k(p.window).toFixed(1) : "", ratio(cpuPer1k(h.window), p ? cpuPer1k(p.window) : undefined));
    row("   server CPU (kernel part) / generator CPU", cpuText(h.window), p ? cpuText(p.window) : "");
    const c = h.commits;
    if (c !== undefined && c["commits"]! > 0) {
      row("   group commits/s × records (mean); commit p50/p99 ms", `${int(c["commits"]! / h.window.seconds)} × ${c["meanRecords"]!.toFixed(1)}; ${ms(c["commitMsP50"])} / ${ms(c["commitMsP99"])}`);
    }
    row("   refused / connection errors / unsettled at stop", `${h.refused} / ${h.errors} / ${h.unackedAtStop}`, p ? `${p.refused} / ${p.errors} / ${p.unackedAtStop}` : "");
    row("   TLS connect + put-token + attach, all devices, s", h.connectS.toFixed(2), p ? p.connectS.toFixed(2) : "");
    row("   others / server-core softirq / steal, %", windowNoiseText(h.window), p ? windowNoiseText(p.window) : "");
    if (p !== undefined && p.window.genCpuS / p.window.seconds > 0.85) {
      notes.push(`  NOTE telemetry: the generator used ${pct(p.window.genCpuS, p.window.seconds)} of its core against the peer: the peer's figure is a lower bound, Mal÷peer an upper bound.`);
    }
    if (h.refused > 0) notes.push(`  telemetry refusals (last): ${h.lastRefusal}`);
    if (h.errors > 0) notes.push(`  telemetry errors (last): ${h.lastError}`);
  }
  if (c2d !== undefined) {
    const h = c2d.hub;
    const p = c2d.peer;
    row(
      `2. C2D closed loop, ${C2D_DEVICES} devices × ${C2D_INFLIGHT}: completed msgs/s`,
      int(h.closed.window.perS),
      int(p?.closed.window.perS),
      ratio(h.closed.window.perS, p?.closed.window.perS),
      `≥ ${int(TARGET_C2D)}/s: ${verdict(h.closed.window.perS >= TARGET_C2D)}`,
    );
    row("   send → device p50 / p99, ms (closed loop)", `${ms(h.closed.p50Ms)} / ${ms(h.closed.p99Ms)}`, p ? `${ms(p.closed.p50Ms)} / ${ms(p.closed.p99Ms)}` : "");
    row("   server CPU-ms per 1,000 msgs (closed loop)", cpuPer1k(h.closed.window).toFixed(1), p ? cpuPer1k(p.closed.window).toFixed(1) : "", ratio(cpuPer1k(h.closed.window), p ? cpuPer1k(p.closed.window) : undefined));
    row("   server CPU (kernel part) / generator CPU", cpuText(h.closed.window), p ? cpuText(p.closed.window) : "");
    row(`   paced at ${int(C2D_RATE)}/s: completed msgs/s`, int(h.paced.window.perS), int(p?.paced.window.perS));
    row(
      "   paced: send → device p50 / p99 / max, ms",
      `${ms(h.paced.p50Ms)} / ${ms(h.paced.p99Ms)} / ${ms(h.paced.maxMs)}`,
      p ? `${ms(p.paced.p50Ms)} / ${ms(p.paced.p99Ms)} / ${ms(p.paced.maxMs)}` : "",
      ratio(h.paced.p99Ms, p?.paced.p99Ms),
      `p99 ≤ ${TARGET_C2D_P99_MS} ms: ${verdict(h.paced.p99Ms <= TARGET_C2D_P99_MS)}`,
    );
    row("   paced: server CPU (kernel part) / generator CPU", cpuText(h.paced.window), p ? cpuText(p.paced.window) : "");
    row("   sent / received / refused / schedule shortfall", `${int(h.sent)} / ${int(h.received)} / ${h.refused} / ${int(h.shortfall)}`, p ? `${int(p.sent)} / ${int(p.received)} / ${p.refused} / ${int(p.shortfall)}` : "");
    row("   left in the device queues at the end (Σ cloudToDeviceMessageCount)", String(h.queuedAtEnd), "", "", "0");
    row("   others / server-core softirq / steal, % (closed loop)", windowNoiseText(h.closed.window), p ? windowNoiseText(p.closed.window) : "");
    if (p !== undefined && p.closed.window.genCpuS / p.closed.window.seconds > 0.85) {
      notes.push(`  NOTE C2D: the generator used ${pct(p.closed.window.genCpuS, p.closed.window.seconds)} of its core in the peer's closed loop: the peer's figure is a lower bound.`);
    }
    if (h.refused > 0) notes.push(`  C2D refusals (last): ${h.lastRefusal}`);
    if (h.errors > 0) notes.push(`  C2D errors (last): ${h.lastError}`);
  }
  if (eventHub !== undefined) {
    const e = eventHub;
    row(`3. MQTT ingest maximum, ${MQTT_DEVICES}×${MQTT_WINDOW} (${MAX_SECONDS} s): acked msgs/s`, int(e.maxIngest.perS));
    // The live read can only show the target when the ingest itself reached it; otherwise the catch-up read is judged.
    const liveJudged = e.live.ingestPerS >= TARGET_EH;
    row(
      `   SDK read while ingesting at ${int(e.ingestRate)}/s (scheduled): events/s (${SECONDS} s)`,
      int(e.live.window.perS),
      "",
      "",
      `≥ ${int(TARGET_EH)}/s: ${liveJudged ? verdict(e.live.window.perS >= TARGET_EH) : "ingest below it, see catch-up"}`,
    );
    row("   ingest achieved / schedule shortfall", `${int(e.live.ingestPerS)}/s / ${int(e.live.shortfall)}`);
    row("   lag enqueued → processEvents p50 / p99 / max, ms", `${ms(e.live.p50)} / ${ms(e.live.p99)} / ${ms(e.live.max)}`);
    row("   lag p99 per second, ms", e.live.seconds.map((s) => ms(s.p99)).join(" "));
    row("   events read per second", e.live.seconds.map((s) => int(s.read)).join(" "));
    row("   hub CPU (kernel part) / generator + SDK reader CPU", cpuText(e.live.window));
    row("   others / server-core softirq / steal, %", windowNoiseText(e.live.window));
    row("   SDK subscribe (getPartitionIds + 4 links up), ms; reader errors", `${int(e.live.subscribeMs)}; ${e.live.errors}`);
    const s = e.sdkCatchUp;
    if (s !== undefined) {
      row(
        `   catch-up, SDK (maxBatchSize 300, prefetch 1000): events/s`,
        `${int(s.perS)}${s.drained ? "" : " (window)"}`,
        "",
        "",
        liveJudged ? "" : `≥ ${int(TARGET_EH)}/s: ${verdict(s.perS >= TARGET_EH)}`,
      );
      row("      events / seconds; hub CPU-s; SDK reader CPU-s; others %", `${int(s.events)} / ${s.seconds.toFixed(2)}; ${s.serverCpuS.toFixed(2)}; ${s.readerCpuS.toFixed(2)}; ${s.othersPct.toFixed(0)}`);
    }
    const closeText = (c: { closeMs?: number; closeHung?: boolean } | undefined): string =>
      c === undefined ? "–" : c.closeHung === true ? `HUNG (gave up after ${int(c.closeMs)} ms)` : `${int(c.closeMs)} ms`;
    row("   SDK close (subscriptions + client): after live / after catch-up", `${closeText(e.live)} / ${closeText(e.sdkCatchUp)}`);
    if (e.live.closeHung || e.sdkCatchUp?.closeHung === true) {
      notes.push(
        "  SDK close HUNG: closing while the hub still streams events, the SDK's rhea settles transfers that arrive after it sent `end`;",
        "  the hub's rhea answers that disposition with a protocol error (\"disposition received on invalid channel\") and drops the connection,",
        "  and EventHubConsumerClient.close() then never resolves (it reconnects instead). Rerun with --hub-log-level debug to see it.",
      );
    }
    const r = e.rheaCatchUp;
    const p = e.peerRhea;
    if (r !== undefined) {
      row(`   catch-up, bare rhea receivers (credit 1000): events/s`, `${int(r.perS)}${r.drained ? "" : " (window)"}`, int(p?.perS), ratio(r.perS, p?.perS));
      row(
        "      events / seconds; server CPU-s; reader CPU-s; others %",
        `${int(r.events)} / ${r.seconds.toFixed(2)}; ${r.serverCpuS.toFixed(2)}; ${r.readerCpuS.toFixed(2)}; ${r.othersPct.toFixed(0)}`,
        p ? `${int(p.events)} / ${p.seconds.toFixed(2)}; ${p.serverCpuS.toFixed(2)}; ${p.readerCpuS.toFixed(2)}; ${p.othersPct.toFixed(0)}` : "",
      );
      row(
        "      server CPU-ms per 1,000 events",
        ((r.serverCpuS / Math.max(1, r.events)) * 1e6).toFixed(1),
        p ? ((p.serverCpuS / Math.max(1, p.events)) * 1e6).toFixed(1) : "",
        ratio(r.serverCpuS / Math.max(1, r.events), p ? p.serverCpuS / Math.max(1, p.events) : undefined),
      );
      if (r.errors > 0) notes.push(`  rhea reader errors (last): ${r.lastError}`);
    }
    if (e.live.errors > 0) notes.push(`  SDK reader errors (last): ${e.live.lastError}`);
  }
  row("Server peak RSS, MiB", hubPeakRss.toFixed(0), Number.isFinite(peerPeakRss) ? peerPeakRss.toFixed(0) : "");

  const out = [
    "",
    `AMQP benchmark (issue #4) — AMQP 1.0 over TLS, ${PAYLOAD}-byte bodies`,
    `Machine: ${machine}`,
    `Code: ${bench.codeText}`,
    `Setup: ${pinning}; ${WARMUP_S} s warm-up per measured window`,
    `  Malachite: SQLite, synchronous=FULL: a telemetry message is accepted, and a C2D send accepted, after the fsync'd group commit`,
    ...(peer === undefined
      ? []
      : [
          `  Peer: ${peer.label} server in one process, in memory: telemetry autoaccepted on receipt; C2D relayed (accepted on receipt, forwarded to the`,
          `        device's rhea receiver link, nothing stored); events generated and sent as fast as credit allows. The peer's C2D devices are rhea`,
          `        AMQP receivers, the hub's are raw MQTT/TLS devices (QoS 1): the C2D ratio compares a durable queue to an in-memory relay.`,
        ]),
    "",
    ...formatTable(header, rows),
    ...notes,
    "",
    `Load average at the end: ${loadavg()[0]!.toFixed(2)}. "others / server-core softirq / steal" (% of one core, /proc/stat): CPU other processes used (above ~10 % the run was disturbed), interrupt time on the server's core, hypervisor steal.`,
    `Command: ${command}`,
    "",
  ];
  process.stdout.write(out.join("\n"));
  writeProfileSummaries(profiles);
}

runMain("amqp", main);

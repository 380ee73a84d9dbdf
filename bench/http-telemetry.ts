/**
 * HTTPS telemetry benchmark (issue #5): device-to-cloud messages as `POST /devices/{id}/messages/events` over HTTPS
 * keep-alive, 50 concurrent clients (one device each, one connection each, one request in flight each), 256-byte
 * bodies, on Malachite (204 after the fsync'd SQLite group commit) and, in the same run with the same requests and
 * the same load generator, on a bare `node:https` server that reads the body and answers 204. Target: ≥ 4,000 durable
 * requests/s (and ≥ 0.35× the bare server, the reference's ratio). Not a test: `npm test` never runs it.
 *
 *   npm run bench:http [-- --clients 50] [--seconds 10] [--warmup 2] [--runs 3] [--payload 256] [--app-properties 0]
 *                      [--servers malachite,bare] [--no-pin] [--profile DIR] [--keep] [--timeout 180]
 *
 * Both servers run in child processes (bench/http-hub.ts, bench/http-bare.ts) pinned to core 0 with taskset, serving
 * one ECDSA P-256 certificate issued for 127.0.0.1 by a CA made for the run; this process, the load generator, is
 * pinned to core 1. Each client is a `node:https` request loop on its own `https.Agent({ keepAlive: true,
 * maxSockets: 1, ca })`, sending what azure-iot-device-http sends: a device SAS token over the URL-encoded
 * `{host}/devices/{id}`, `iothub-to`, a User-Agent. With --profile DIR the servers are run once more each under
 * `node --cpu-prof`, and the profiles, cut to the measured window, are summarised. See bench/README.md.
 */
import { mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { Agent, request, type RequestOptions } from "node:https";
import { loadavg } from "node:os";
import { join } from "node:path";
import { performance } from "node:perf_hooks";
import type { TLSSocket } from "node:tls";
import { parseArgs } from "node:util";
import { createSasToken } from "../src/hub/index.js";
import { SqliteTelemetryLog } from "../src/storage/sqlite/sqlite-telemetry-log.js";
import { formatSummary, type CpuProfile } from "./cpuprofile-top.js";
import { createSasDevices, newDeviceKey, type Device } from "./devices.js";
import { API, benchCommand, type CommitStats, cpuTimes, involuntarySwitches, log, type MeasuredServer, medianBy, type Noise, noiseBetween, peakRssMiB, pkgVersion, quantile, requestText, runMain, sharedAccessKey, sleep, startJsonChild, startRun, tsxArgv, waitIdle } from "./harness.js";
import { commonOptions, commonValues, helpOrContinue, listOption, positiveInt } from "./options.js";
import { formatTable, int, ms, noiseText, pct, ratio, verdict } from "./report.js";
import { writeTlsFiles } from "./tls-files.js";

const HOST = "127.0.0.1";
const TARGET_PER_S = 4_000;
const TARGET_RATIO = 0.35; // benchmarking.md §6.2 P9: HTTPS D2C ÷ bare Node https
const USER_AGENT = "azure-iot-device/1.18.4 (malachite-bench http-telemetry)";

// ---------------------------------------------------------------------------------------------------------------
// Options

const SERVER_KINDS = ["malachite", "bare"] as const;
type ServerKind = (typeof SERVER_KINDS)[number];

const { values: opts } = parseArgs({
  options: {
    clients: { type: "string", default: "50" },
    seconds: { type: "string", default: "10" },
    warmup: { type: "string", default: "2" },
    runs: { type: "string", default: "3" },
    payload: { type: "string", default: "256" },
    "app-properties": { type: "string", default: "0" },
    servers: { type: "string", default: "malachite,bare" },
    ...commonOptions(180),
  },
});
helpOrContinue(
  opts.help,
  "npm run bench:http -- [--clients 50] [--seconds 10] [--warmup 2] [--runs 3] [--payload 256] [--app-properties 0]\n" +
    "  [--servers malachite,bare] [--no-pin] [--profile DIR] [--keep] [--timeout 180]\n",
);

const CLIENTS = positiveInt("clients", opts.clients, 1_000);
const SECONDS = positiveInt("seconds", opts.seconds, 600);
const WARMUP_S = positiveInt("warmup", opts.warmup, 60, 0);
const RUNS = positiveInt("runs", opts.runs, 20);
const PAYLOAD = positiveInt("payload", opts.payload, 256 * 1024 - 1024, 64);
const APP_PROPERTIES = positiveInt("app-properties", opts["app-properties"], 50, 0);
const { timeoutS: TIMEOUT_S, profileDir: PROFILE_DIR } = commonValues(opts);
const SERVERS = listOption("servers", opts.servers, SERVER_KINDS, (s) => `--servers takes a list of ${SERVER_KINDS.join(", ")}; got ${s}`);
const KINDS = SERVER_KINDS.filter((k) => SERVERS.includes(k));

// ---------------------------------------------------------------------------------------------------------------
// Machine facts, pinning, clean-up

const bench = startRun("http", { noPin: opts["no-pin"], keep: opts.keep, timeoutS: TIMEOUT_S });
const { pinned, workDir, machineTimes } = bench;

const monotonicUs = (): number => Number(process.hrtime.bigint() / 1000n);

// ---------------------------------------------------------------------------------------------------------------
// Servers

/** `durability`: when a 204 is sent. */
interface Server extends MeasuredServer<ServerKind> {
  /** The host name SAS tokens are scoped to. */
  readonly hostName: string;
  readonly ownerKey: string | undefined;
  command(cmd: Record<string, unknown>): Promise<Record<string, unknown>>;
}

/**
 * `node --cpu-prof` arguments writing into DIR, or none. Node's default file names are kept
 * (CPU.{date}.{time}.{pid}.{threadId}.{seq}.cpuprofile): tsx runs its loader hooks in a worker thread, which writes
 * a profile of its own, and a fixed --cpu-prof-name would let one overwrite the other.
 */
const cpuProfArgs = (profileDir: string | undefined): string[] => (profileDir === undefined ? [] : ["--cpu-prof", "--cpu-prof-dir", profileDir]);

/** The main thread's profile (thread id 0) among those `node --cpu-prof` wrote into `dir`. */
function mainThreadProfile(dir: string): string {
  const names = readdirSync(dir).filter((n) => n.endsWith(".cpuprofile"));
  const main = names.find((n) => /^CPU\.\d+\.\d+\.\d+\.0\.\d+\.cpuprofile$/.test(n));
  if (main === undefined) throw new Error(`no main-thread profile in ${dir} (found ${names.join(", ") || "nothing"})`);
  return join(dir, main);
}

async function startServer(kind: ServerKind, tlsDir: string, dataDir: string, profileDir?: string): Promise<Server> {
  const tlsArgs = ["--host", HOST, "--cert", join(tlsDir, "server.pem"), "--key", join(tlsDir, "server-key.pem")];
  const argv =
    kind === "malachite"
      ? tsxArgv("bench/http-hub.ts", ["--data-dir", dataDir, ...tlsArgs], cpuProfArgs(profileDir))
      : tsxArgv("bench/http-bare.ts", tlsArgs, cpuProfArgs(profileDir));
  const portOf = (ready: Record<string, unknown>): unknown => (kind === "malachite" ? ready["httpsPort"] : ready["port"]);
  const child = await startJsonChild(bench.spawn(argv), `${kind} server`, (r) => typeof portOf(r) === "number" && typeof r["pid"] === "number");
  const ready = child.ready;
  const port = portOf(ready) as number;
  const ownerKey = kind === "malachite" ? sharedAccessKey(ready["connectionString"]) : undefined;
  if (kind === "malachite" && ownerKey === undefined) throw new Error("the hub's connection string has no SharedAccessKey");
  return {
    kind,
    label: kind === "malachite" ? "Malachite" : "bare Node https",
    durability:
      kind === "malachite"
        ? "FULL: 204 after the fsync'd SQLite WAL group commit (telemetry log), SAS checked per request"
        : "none: 204 once the body is read; no routing, authentication or storage",
    pid: child.pid,
    port,
    hostName: typeof ready["hostName"] === "string" ? ready["hostName"] : HOST,
    ownerKey,
    command: (cmd) => child.command(cmd),
    close: () => child.close(),
  };
}

// ---------------------------------------------------------------------------------------------------------------
// Devices and requests

const deviceId = (i: number): string => `http-dev-${String(i + 1).padStart(Math.max(2, String(CLIENTS).length), "0")}`;

/** Creates the devices with the bulk registry API, with keys the benchmark chose. */
async function createDevices(hub: Server, ca: string, devices: readonly Device[]): Promise<number> {
  const agent = new Agent({ keepAlive: true, ca, maxSockets: 1 });
  const token = createSasToken(hub.hostName, hub.ownerKey!, Math.ceil(Date.now() / 1000) + 3600, "iothubowner");
  const t0 = performance.now();
  for (let from = 0; from < devices.length; from += 100) await createSasDevices(agent, HOST, hub.port, token, devices.slice(from, from + 100));
  agent.destroy();
  return (performance.now() - t0) / 1000;
}

interface RequestSpec {
  readonly options: RequestOptions;
  readonly body: Buffer;
}

/**
 * What azure-iot-device-http 1.14 sends for `sendEvent` (http.js): `POST /devices/{id}/messages/events?api-version=…`
 * with `iothub-to`, `User-Agent`, `Authorization` (a SAS token over `encodeURIComponent("{host}/devices/{id}")`, as
 * azure-iot-device's SharedAccessKeyAuthenticationProvider signs it) and `iothub-app-*` per application property.
 * One difference: the SDK writes the body with `write()` + `end()`, so Node sends it chunked; here it carries a
 * Content-Length (the same on both servers).
 */
function requestSpec(device: Device, hostName: string, port: number): RequestSpec {
  const se = Math.ceil(Date.now() / 1000) + 3600;
  const token = createSasToken(encodeURIComponent(`${hostName}/devices/${device.id}`), device.key, se);
  const path = `/devices/${encodeURIComponent(device.id)}/messages/events`;
  const prefix = `{"deviceId":"${device.id}","pad":"`;
  const body = Buffer.from(`${prefix}${"x".repeat(Math.max(0, PAYLOAD - prefix.length - 2))}"}`);
  const headers: Record<string, string> = {
    "iothub-to": path,
    "user-agent": USER_AGENT,
    authorization: token,
    "content-length": String(body.length),
  };
  for (let p = 0; p < APP_PROPERTIES; p++) headers[`iothub-app-p${p}`] = `value-${p}`;
  return { options: { host: HOST, port, method: "POST", path: `${path}?${API}`, headers }, body };
}

// ---------------------------------------------------------------------------------------------------------------
// The load

interface RunResult {
  perS: number;
  completed: number;
  seconds: number;
  perSecond: number[];
  serverCpuS: number;
  serverSysS: number;
  genCpuS: number;
  preempted: number;
  noise: Noise;
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
  failures: Map<string, number>;
  failed: number;
  /** Every 204 of the run, warm-up and drain included. */
  answered204: number;
  commits: CommitStats | undefined;
  cipher: string | undefined;
  /** The measured window on the monotonic clock (µs), to cut a --cpu-prof profile to it. */
  fromUs: number;
  toUs: number;
}

/**
 * CLIENTS request loops, each on its own keep-alive agent with one socket: a request is sent as soon as the previous
 * one's response has ended. WARMUP_S seconds unmeasured (connections, TLS, JIT), then `seconds` measured: requests
 * whose response ends inside the window are counted, with their latency (request created → response ended). Then
 * no new requests are sent and the ones in flight are waited for.
 */
async function runLoad(server: Server, specs: readonly RequestSpec[], ca: string, seconds: number): Promise<RunResult> {
  const agents = specs.map(() => new Agent({ keepAlive: true, maxSockets: 1, ca }));
  const latencies: number[] = [];
  const perSecond: number[] = [];
  const failures = new Map<string, number>();
  let failed = 0;
  let answered204 = 0;
  let inWindow = 0;
  let w0 = Infinity;
  let w1 = Infinity;
  let stopping = false;
  let inFlight = 0;
  let cipher: string | undefined;
  let drained: (() => void) | undefined;

  const fail = (what: string): void => {
    failed++;
    failures.set(what, (failures.get(what) ?? 0) + 1);
  };
  const fire = (i: number): void => {
    if (stopping) {
      if (inFlight === 0) drained?.();
      return;
    }
    const spec = specs[i]!;
    inFlight++;
    let settled = false;
    const t0 = performance.now();
    const settle = (ok: boolean, what?: string): void => {
      if (settled) return;
      settled = true;
      inFlight--;
      const t1 = performance.now();
      if (ok) {
        answered204++;
        if (t1 >= w0 && t1 < w1) {
          inWindow++;
          latencies.push(t1 - t0);
          const s = Math.floor((t1 - w0) / 1000);
          perSecond[s] = (perSecond[s] ?? 0) + 1;
        }
        fire(i);
      } else {
        fail(what ?? "?");
        // Back off a little so a refusing server is not hammered in a tight loop.
        setTimeout(() => fire(i), 20);
      }
    };
    const req = request({ ...spec.options, agent: agents[i]! }, (res) => {
      const status = res.statusCode ?? 0;
      if (cipher === undefined) {
        const socket = res.socket as TLSSocket;
        cipher = `${socket.getProtocol?.() ?? "?"} ${socket.getCipher?.().name ?? "?"}`;
      }
      if (status === 204) {
        res.resume();
        res.on("end", () => settle(true));
      } else {
        const chunks: Buffer[] = [];
        res.on("data", (c: Buffer) => chunks.push(c));
        res.on("end", () => settle(false, `HTTP ${status} ${Buffer.concat(chunks).toString("utf8").slice(0, 200)}`));
      }
      res.on("error", (e) => settle(false, e.message));
    });
    req.on("error", (e) => settle(false, e.message));
    req.end(spec.body);
  };

  for (let i = 0; i < specs.length; i++) fire(i);
  await sleep(WARMUP_S * 1000);

  const m0 = machineTimes();
  const c0 = cpuTimes(server.pid);
  const g0 = process.cpuUsage();
  const p0 = involuntarySwitches(server.pid);
  if (server.kind === "malachite") await server.command({ cmd: "commit-stats" }); // resets the counters
  const fromUs = monotonicUs();
  w0 = performance.now();
  await sleep(seconds * 1000);
  w1 = performance.now();
  const toUs = monotonicUs();
  const g1 = process.cpuUsage(g0);
  const c1 = cpuTimes(server.pid);
  const m1 = machineTimes();
  const p1 = involuntarySwitches(server.pid);
  stopping = true;
  const commits = server.kind === "malachite" ? ((await server.command({ cmd: "commit-stats" }))["stats"] as CommitStats) : undefined;

  if (inFlight > 0) {
    await Promise.race([new Promise<void>((r) => (drained = r)), sleep(10_000)]);
  }
  for (const agent of agents) agent.destroy();

  const windowS = (w1 - w0) / 1000;
  const serverCpuS = c1.user + c1.sys - c0.user - c0.sys;
  const genCpuS = (g1.user + g1.system) / 1e6;
  const sorted = Float64Array.from(latencies).sort();
  return {
    perS: inWindow / windowS,
    completed: inWindow,
    seconds: windowS,
    perSecond: Array.from({ length: Math.floor(windowS) }, (_, s) => perSecond[s] ?? 0),
    serverCpuS,
    serverSysS: c1.sys - c0.sys,
    genCpuS,
    preempted: p1 - p0,
    noise: noiseBetween(m0, m1, serverCpuS, genCpuS),
    p50Ms: quantile(sorted, 0.5),
    p99Ms: quantile(sorted, 0.99),
    maxMs: quantile(sorted, 1),
    failures,
    failed,
    answered204,
    commits,
    cipher,
    fromUs,
    toUs,
  };
}

/** One request, checked: fails fast (with the server's answer) when the server refuses what the load will send. */
async function probe(spec: RequestSpec, ca: string): Promise<void> {
  const agent = new Agent({ keepAlive: false, ca });
  try {
    const reply = await requestText({ ...spec.options, agent }, spec.body, 30_000, "no answer within 30 s");
    if (reply.status !== 204) throw new Error(`POST ${String(spec.options.path)} answered ${reply.status}: ${reply.text.slice(0, 500)}`);
  } finally {
    agent.destroy();
  }
}

/** Telemetry records in the hub's log (all partitions), read after the hub closed. */
async function storedRecords(dataDir: string): Promise<number> {
  const telemetry = SqliteTelemetryLog.open({ path: join(dataDir, "telemetry.db") });
  try {
    let n = 0;
    for (let p = 0; p < 4; p++) {
      const info = await telemetry.partitionInfo(p);
      n += info.lastSequenceNumber + 1 - info.firstSequenceNumber;
    }
    return n;
  } finally {
    await telemetry.close();
  }
}

/** The part of a profile between two monotonic timestamps (µs); V8's profile clock is CLOCK_MONOTONIC, as hrtime. */
function cropProfile(profile: CpuProfile, fromUs: number, toUs: number): CpuProfile | undefined {
  const samples: number[] = [];
  const timeDeltas: number[] = [];
  const allSamples = profile.samples ?? [];
  const allDeltas = profile.timeDeltas ?? [];
  let t = profile.startTime;
  let last = fromUs;
  for (let i = 0; i < allSamples.length; i++) {
    t += allDeltas[i] ?? 0;
    if (t < fromUs) continue;
    if (t > toUs) break;
    samples.push(allSamples[i]!);
    timeDeltas.push(t - last);
    last = t;
  }
  if (samples.length === 0) return undefined;
  return { nodes: profile.nodes, startTime: fromUs, endTime: toUs, samples, timeDeltas };
}

// ---------------------------------------------------------------------------------------------------------------
// Main

interface ServerResults {
  server: Server;
  runs: RunResult[];
  median: RunResult;
  peakRssMiB: number;
  answered204: number;
  stored?: number;
  createS?: number;
}

async function main(): Promise<void> {
  const command = benchCommand("http");
  const machine = bench.describeMachine([`fastify ${pkgVersion("fastify")}`, `better-sqlite3 ${pkgVersion("better-sqlite3")}`], ` (OpenSSL ${process.versions.openssl})`);
  const pinning = pinned ? "servers pinned to core 0, load generator to core 1 (taskset)" : "not pinned";
  log(`http benchmark: servers ${KINDS.join(", ")}; ${CLIENTS} clients, ${PAYLOAD}-byte bodies, ${RUNS} × (${WARMUP_S} s warm-up + ${SECONDS} s)`);
  log(`  ${machine}; ${pinning}`);
  log(`  work dir ${workDir}${opts.keep ? " (kept)" : ""}`);
  if (!bench.hasSetpriv) log("  (setpriv --pdeathsig is missing: a server left by a killed run must be stopped by hand)");

  // One CA and one ECDSA P-256 server certificate for 127.0.0.1, served by both servers.
  const { tlsDir, ca } = await writeTlsFiles(workDir, HOST);

  const devices: Device[] = Array.from({ length: CLIENTS }, (_, i) => ({ id: deviceId(i), key: newDeviceKey() }));

  const start = async (kind: ServerKind, dataDir: string, profileDir?: string): Promise<{ server: Server; specs: RequestSpec[]; createS?: number }> => {
    const server = await startServer(kind, tlsDir, dataDir, profileDir);
    const createS = kind === "malachite" ? await createDevices(server, ca.certPem, devices) : undefined;
    // The bare server gets the same requests, SAS token and all, scoped to the same host name.
    const specs = devices.map((d) => requestSpec(d, server.hostName, server.port));
    await probe(specs[0]!, ca.certPem);
    return { server, specs, ...(createS === undefined ? {} : { createS }) };
  };

  const started = new Map<ServerKind, { server: Server; specs: RequestSpec[]; createS?: number }>();
  for (const kind of KINDS) {
    const s = await start(kind, join(workDir, `data-${kind}`));
    started.set(kind, s);
    log(`  ${s.server.label}: pid ${s.server.pid}, port ${s.server.port}${s.createS === undefined ? "" : `; ${CLIENTS} devices created in ${s.createS.toFixed(2)} s`}`);
  }

  // The runs alternate between the servers, so slow drifts in the machine's load hit both alike.
  const runs = new Map<ServerKind, RunResult[]>(KINDS.map((k) => [k, []]));
  for (let run = 1; run <= RUNS; run++) {
    for (const kind of KINDS) {
      const { server, specs } = started.get(kind)!;
      await waitIdle(server.pid);
      const r = await runLoad(server, specs, ca.certPem, SECONDS);
      runs.get(kind)!.push(r);
      log(
        `  run ${run}/${RUNS} ${server.label}: ${int(r.perS)} req/s, p50 ${ms(r.p50Ms)} ms, p99 ${ms(r.p99Ms)} ms, ` +
          `server ${pct(r.serverCpuS, r.seconds)} of a core, generator ${pct(r.genCpuS, r.seconds)}, other processes ${pct(r.noise.othersS, r.seconds)}, failures ${r.failed}`,
      );
    }
  }

  const results: ServerResults[] = [];
  for (const kind of KINDS) {
    const { server, createS } = started.get(kind)!;
    const rs = runs.get(kind)!;
    const median = medianBy(rs, (r) => r.perS);
    const peak = peakRssMiB(server.pid);
    await waitIdle(server.pid);
    await server.close();
    const r: ServerResults = { server, runs: rs, median, peakRssMiB: peak, answered204: rs.reduce((s, x) => s + x.answered204, 0) + 1 };
    if (createS !== undefined) r.createS = createS;
    if (kind === "malachite") r.stored = await storedRecords(join(workDir, `data-${kind}`));
    results.push(r);
  }

  // Profiles: one more run per server, each in a fresh process under node --cpu-prof; the profile is cut to the
  // measured window. Profiled numbers are slower and are not part of the results above.
  const profiles: Array<{ label: string; path: string; run: RunResult; profile: CpuProfile; cropped: boolean }> = [];
  if (PROFILE_DIR !== undefined) {
    mkdirSync(PROFILE_DIR, { recursive: true });
    for (const kind of KINDS) {
      const rawDir = join(PROFILE_DIR, kind);
      rmSync(rawDir, { recursive: true, force: true });
      const { server, specs } = await start(kind, join(workDir, `data-${kind}-profile`), rawDir);
      await waitIdle(server.pid);
      log(`  profiling ${server.label} (node --cpu-prof, pid ${server.pid}): ${WARMUP_S} s warm-up + ${SECONDS} s`);
      const run = await runLoad(server, specs, ca.certPem, SECONDS);
      log(`    ${int(run.perS)} req/s under the profiler`);
      await server.close();
      const path = mainThreadProfile(rawDir);
      const whole = JSON.parse(readFileSync(path, "utf8")) as CpuProfile;
      const cropped = cropProfile(whole, run.fromUs, run.toUs);
      if (cropped !== undefined) writeFileSync(join(PROFILE_DIR, `${kind}-window.cpuprofile`), JSON.stringify(cropped));
      profiles.push({ label: server.label, path: cropped === undefined ? path : join(PROFILE_DIR, `${kind}-window.cpuprofile`), run, profile: cropped ?? whole, cropped: cropped !== undefined });
    }
  }

  // -------------------------------------------------------------------------------------------------------------
  // Report
  const mal = results.find((r) => r.server.kind === "malachite");
  const bare = results.find((r) => r.server.kind === "bare");
  const both = mal !== undefined && bare !== undefined;
  const header = ["", ...results.map((r) => r.server.label), ...(both ? ["Mal÷bare"] : []), "Target (Malachite)"];
  const rows: string[][] = [];
  const row = (label: string, get: (r: ServerResults) => number | undefined, fmt: (n: number) => string, target = "", showRatio = true): void => {
    const cells = [label, ...results.map((r) => {
      const v = get(r);
      return v === undefined ? "" : fmt(v);
    })];
    if (both) cells.push(showRatio ? ratio(get(mal) ?? NaN, get(bare) ?? NaN) : "");
    cells.push(target);
    rows.push(cells);
  };
  const text = (label: string, get: (r: ServerResults) => string | undefined, target = ""): void => {
    const cells = [label, ...results.map((r) => get(r) ?? "")];
    if (both) cells.push("");
    cells.push(target);
    rows.push(cells);
  };
  const malRate = mal?.median.perS ?? NaN;
  const bareRate = bare?.median.perS;
  text("When the 204 is sent", (r) => (r.server.kind === "malachite" ? "FULL (fsync)" : "no storage"));
  row(
    `Requests/s (median of ${RUNS} × ${SECONDS} s)`,
    (r) => r.median.perS,
    int,
    mal === undefined
      ? ""
      : `≥ ${int(TARGET_PER_S)}/s: ${verdict(malRate >= TARGET_PER_S)}${bareRate === undefined ? "" : `; ≥ ${TARGET_RATIO}× bare: ${verdict(malRate >= TARGET_RATIO * bareRate)}`}`,
  );
  // A run during which other processes used ≥ 10 % of a core is marked with that share: it was disturbed.
  text("   every run, req/s (* = others ≥ 10 % of a core)", (r) =>
    r.runs.map((x) => `${int(x.perS)}${x.noise.othersS / x.seconds >= 0.1 ? `*${((x.noise.othersS / x.seconds) * 100).toFixed(0)}%` : ""}`).join(" / "),
  );
  text("   slowest / fastest second (median run)", (r) => `${int(Math.min(...r.median.perSecond))} / ${int(Math.max(...r.median.perSecond))}`);
  text("   latency p50 / p99 / max, ms (median run)", (r) => `${ms(r.median.p50Ms)} / ${ms(r.median.p99Ms)} / ${ms(r.median.maxMs)}`);
  row("   server CPU-s per 1,000 requests", (r) => (r.median.serverCpuS / r.median.completed) * 1000, (n) => n.toFixed(3));
  row("   requests per server CPU-second", (r) => r.median.completed / r.median.serverCpuS, int);
  text("   server CPU, % of its core (kernel part)", (r) => `${pct(r.median.serverCpuS, r.median.seconds)} (${pct(r.median.serverSysS, r.median.seconds)})`);
  text("   generator CPU, % of its core", (r) => pct(r.median.genCpuS, r.median.seconds));
  text("   failed requests (all runs)", (r) => {
    const n = r.runs.reduce((s, x) => s + x.failed, 0);
    if (n === 0) return "0";
    const kinds = new Map<string, number>();
    for (const x of r.runs) for (const [k, v] of x.failures) kinds.set(k, (kinds.get(k) ?? 0) + v);
    return `${n} (${[...kinds].slice(0, 3).map(([k, v]) => `${v}× ${k}`).join("; ")})`;
  }, mal === undefined ? "" : "0");
  text("   group commits/s × records per commit (mean, p50, max)", (r) => {
    const c = r.median.commits;
    return c === undefined || c.commits === 0 ? undefined : `${int(c.commits / r.median.seconds)} × ${c.meanRecords.toFixed(1)}, ${c.p50Records}, ${c.maxRecords}`;
  });
  text("   commit time p50 / p99, ms; share of wall", (r) => {
    const c = r.median.commits;
    return c === undefined || c.commits === 0 ? undefined : `${ms(c.commitMsP50)} / ${ms(c.commitMsP99)}; ${((c.commitMsTotal / 1000 / r.median.seconds) * 100).toFixed(0)} %`;
  });
  text("   server preempted (involuntary switches, median run)", (r) => int(r.median.preempted));
  text("   others / server-core softirq / steal, % of a core", (r) => noiseText(r.median.noise, r.median.seconds));
  text("Server peak RSS, MiB", (r) => r.peakRssMiB.toFixed(0));
  text("TLS", (r) => r.median.cipher);
  if (mal?.stored !== undefined) {
    text("204s answered (all runs, warm-up included) / records in the log", (r) => (r.stored === undefined ? undefined : `${int(r.answered204)} / ${int(r.stored)}`), `every 204 stored: ${verdict(mal.stored >= mal.answered204)}`);
  }

  const notes: string[] = [];
  for (const r of results) {
    const busiest = Math.max(...r.runs.map((x) => x.genCpuS / x.seconds));
    if (busiest >= 0.9) {
      notes.push(
        `NOTE: the load generator used up to ${(busiest * 100).toFixed(0)} % of its core against ${r.server.label}: that figure is a lower bound` +
          (r.server.kind === "bare" && mal !== undefined ? ", so Mal÷bare in requests/s is an upper bound; the CPU rows compare like for like." : "."),
      );
    }
    const others = Math.max(...r.runs.map((x) => x.noise.othersS / x.seconds));
    if (others >= 0.1) notes.push(`NOTE: other processes used up to ${(others * 100).toFixed(0)} % of a core during the ${r.server.label} runs: the machine was shared; repeat on a quiet machine.`);
  }

  const out = [
    "",
    `HTTPS telemetry benchmark (issue #5) — POST /devices/{id}/messages/events, ${PAYLOAD}-byte body${APP_PROPERTIES === 0 ? "" : `, ${APP_PROPERTIES} iothub-app-* headers`}, device SAS token per request`,
    `Machine: ${machine}`,
    `Code: ${bench.codeText}`,
    `Setup: ${pinning}; ${CLIENTS} clients, each one device on its own https.Agent({ keepAlive: true, maxSockets: 1 }), one request in flight; ${WARMUP_S} s warm-up per run; runs alternate between servers`,
    ...results.map((r) => `  ${r.server.label}: ${r.server.durability}`),
    "",
    ...formatTable(header, rows),
    ...(notes.length === 0 ? [] : ["", ...notes]),
    "",
    `"Preempted" counts involuntary context switches of the server's main thread (other processes or its own helper threads on its core).`,
    `"others / server-core softirq / steal" (from /proc/stat): CPU other processes used (above ~10 % of a core the run was disturbed: repeat it); interrupt and softirq time on the server's core (loopback TCP, charged to no process); time the hypervisor stole.`,
    `The generator is not the limit while its CPU is well under 100 %; when it is near 100 %, the server's figure is a lower bound.`,
    `Load average at the end: ${loadavg()[0]!.toFixed(2)}.`,
    `Command: ${command}`,
    "",
  ];
  process.stdout.write(out.join("\n"));

  for (const p of profiles) {
    process.stdout.write(
      `\n${p.label} CPU profile (node --cpu-prof; ${p.cropped ? `cut to the ${p.run.seconds.toFixed(1)} s measured window` : "WHOLE process: the window could not be cut out"}; ` +
        `${int(p.run.perS)} req/s under the profiler, server ${pct(p.run.serverCpuS, p.run.seconds)} of a core) — ${p.path}:\n${formatSummary(p.profile, 25)}\n`,
    );
  }
}

runMain("http", main);

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
import { spawn, type ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import { chmodSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { Agent, request, type RequestOptions } from "node:https";
import { cpus, loadavg, release, tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { performance } from "node:perf_hooks";
import type { TLSSocket } from "node:tls";
import { parseArgs } from "node:util";
import { createSasToken } from "../src/hub/index.js";
import { SqliteTelemetryLog } from "../src/storage/sqlite/sqlite-telemetry-log.js";
import { createCertificateAuthority } from "../src/tls/create-certificate-authority.js";
import { issueServerCertificate } from "../src/tls/issue-server-certificate.js";
import { formatSummary, type CpuProfile } from "./cpuprofile-top.js";
import { codeFacts, cpuSeconds, cpuTimes, exitOf, exitOnSignalsAndAfter, fsTypeOf, jsonLines, log, machineTimes as readMachineTimes, pinGenerator, postBulkCreate, procStatus, sh, sleep } from "./harness.js";

const ROOT = resolve(new URL("..", import.meta.url).pathname);
const HOST = "127.0.0.1";
const API = "api-version=2021-04-12";
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
    "no-pin": { type: "boolean", default: false },
    profile: { type: "string" },
    keep: { type: "boolean", default: false },
    timeout: { type: "string", default: "180" },
    help: { type: "boolean", default: false },
  },
});
if (opts.help) {
  process.stdout.write(
    "npm run bench:http -- [--clients 50] [--seconds 10] [--warmup 2] [--runs 3] [--payload 256] [--app-properties 0]\n" +
      "  [--servers malachite,bare] [--no-pin] [--profile DIR] [--keep] [--timeout 180]\n",
  );
  process.exit(0);
}

function positiveInt(name: string, text: string, max: number, min = 1): number {
  const n = Number(text);
  if (!Number.isInteger(n) || n < min || n > max) {
    process.stderr.write(`--${name} must be an integer from ${min} to ${max}; got ${text}\n`);
    process.exit(2);
  }
  return n;
}

const CLIENTS = positiveInt("clients", opts.clients, 1_000);
const SECONDS = positiveInt("seconds", opts.seconds, 600);
const WARMUP_S = positiveInt("warmup", opts.warmup, 60, 0);
const RUNS = positiveInt("runs", opts.runs, 20);
const PAYLOAD = positiveInt("payload", opts.payload, 256 * 1024 - 1024, 64);
const APP_PROPERTIES = positiveInt("app-properties", opts["app-properties"], 50, 0);
const TIMEOUT_S = positiveInt("timeout", opts.timeout, 24 * 3600);
const PROFILE_DIR = opts.profile === undefined ? undefined : resolve(opts.profile);
const SERVERS = opts.servers.split(",").map((s) => s.trim()).filter((s) => s !== "");
for (const s of SERVERS) {
  if (!(SERVER_KINDS as readonly string[]).includes(s)) {
    process.stderr.write(`--servers takes a list of ${SERVER_KINDS.join(", ")}; got ${s}\n`);
    process.exit(2);
  }
}
const KINDS = SERVER_KINDS.filter((k) => SERVERS.includes(k));


// ---------------------------------------------------------------------------------------------------------------
// Machine facts, pinning, clean-up

const nproc = Number(sh("nproc", []) ?? "1");
const hasTaskset = sh("taskset", ["--version"]) !== undefined;
const pinned = !opts["no-pin"] && hasTaskset && nproc >= 2;
const hasSetpriv = (sh("setpriv", ["--help"]) ?? "").includes("pdeathsig");
const pkgVersion = (name: string): string => {
  try {
    return (JSON.parse(readFileSync(join(ROOT, "node_modules", name, "package.json"), "utf8")) as { version: string }).version;
  } catch {
    return "?";
  }
};
const workDir = mkdtempSync(join(tmpdir(), "malachite-bench-http-"));
const { gitHead, srcDirty } = codeFacts(ROOT);
const fsType = fsTypeOf(workDir);

const children = new Set<ChildProcess>();
process.on("exit", () => {
  for (const child of children) {
    if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
  }
  if (!opts.keep) rmSync(workDir, { recursive: true, force: true });
});
exitOnSignalsAndAfter(TIMEOUT_S, "http");

if (pinned) pinGenerator();

/** Spawns a server process on core 0; with setpriv it also dies with this process (PR_SET_PDEATHSIG). */
function spawnServer(nodeArgs: string[]): ChildProcess {
  let argv = [process.execPath, ...nodeArgs];
  if (hasSetpriv) argv = ["setpriv", "--pdeathsig", "KILL", ...argv];
  if (pinned) argv = ["taskset", "-c", "0", ...argv];
  const child = spawn(argv[0]!, argv.slice(1), { cwd: ROOT, stdio: ["pipe", "pipe", "inherit"] });
  children.add(child);
  child.on("exit", () => children.delete(child));
  return child;
}

/** From /proc/stat: see harness.ts; the server's core is cpu0 when pinned. */
const machineTimes = (): ReturnType<typeof readMachineTimes> => readMachineTimes(pinned);

interface Noise {
  /** CPU-seconds other processes used (task time minus server and generator). */
  othersS: number;
  serverCoreIrqS: number;
  stealS: number;
}

/** Times the kernel took the CPU from a process that still wanted it: something else ran on its core. */
const involuntarySwitches = (pid: number): number => procStatus(pid, "nonvoluntary_ctxt_switches");
const peakRssMiB = (pid: number): number => procStatus(pid, "VmHWM") / 1024;

const monotonicUs = (): number => Number(process.hrtime.bigint() / 1000n);

/** Waits until the server has used < 2 % of a core over 300 ms (what the previous step left behind is done), max 10 s. */
async function waitIdle(pid: number): Promise<void> {
  const until = performance.now() + 10_000;
  while (performance.now() < until) {
    const c0 = cpuSeconds(pid);
    await sleep(300);
    if (cpuSeconds(pid) - c0 <= 0.006) return;
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Servers

interface Server {
  readonly kind: ServerKind;
  readonly label: string;
  /** When a 204 is sent, stated on every result. */
  readonly durability: string;
  readonly pid: number;
  readonly port: number;
  /** The host name SAS tokens are scoped to. */
  readonly hostName: string;
  readonly ownerKey: string | undefined;
  command(cmd: Record<string, unknown>): Promise<Record<string, unknown>>;
  close(): Promise<void>;
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
  const child =
    kind === "malachite"
      ? spawnServer([...cpuProfArgs(profileDir), "--import", "tsx", join(ROOT, "bench/http-hub.ts"), "--data-dir", dataDir, ...tlsArgs])
      : spawnServer([...cpuProfArgs(profileDir), "--import", "tsx", join(ROOT, "bench/http-bare.ts"), ...tlsArgs]);
  const next = jsonLines(child);
  const exited = exitOf(child);
  const ready = await next(60_000);
  const port = kind === "malachite" ? ready["httpsPort"] : ready["port"];
  if (ready["event"] !== "ready" || typeof port !== "number" || typeof ready["pid"] !== "number") {
    throw new Error(`unexpected first message from the ${kind} server: ${JSON.stringify(ready)}`);
  }
  const ownerKey = kind === "malachite" ? /SharedAccessKey=([^;]+)/.exec(String(ready["connectionString"]))?.[1] : undefined;
  if (kind === "malachite" && ownerKey === undefined) throw new Error("the hub's connection string has no SharedAccessKey");
  return {
    kind,
    label: kind === "malachite" ? "Malachite" : "bare Node https",
    durability:
      kind === "malachite"
        ? "FULL: 204 after the fsync'd SQLite WAL group commit (telemetry log), SAS checked per request"
        : "none: 204 once the body is read; no routing, authentication or storage",
    pid: ready["pid"],
    port,
    hostName: typeof ready["hostName"] === "string" ? ready["hostName"] : HOST,
    ownerKey,
    async command(cmd) {
      child.stdin!.write(`${JSON.stringify(cmd)}\n`);
      const answer = await next(60_000);
      if (answer["event"] !== "done") throw new Error(`command ${JSON.stringify(cmd)} failed: ${String(answer["message"] ?? JSON.stringify(answer))}`);
      return answer;
    },
    async close() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.stdin!.end();
      const timer = setTimeout(() => child.kill("SIGKILL"), 30_000);
      await exited;
      clearTimeout(timer);
    },
  };
}

// ---------------------------------------------------------------------------------------------------------------
// Devices and requests

interface Device {
  readonly id: string;
  readonly key: string;
}

const deviceId = (i: number): string => `http-dev-${String(i + 1).padStart(Math.max(2, String(CLIENTS).length), "0")}`;

/** Creates the devices with the bulk registry API, with keys the benchmark chose. */
async function createDevices(hub: Server, ca: string, devices: readonly Device[]): Promise<number> {
  const agent = new Agent({ keepAlive: true, ca, maxSockets: 1 });
  const token = createSasToken(hub.hostName, hub.ownerKey!, Math.ceil(Date.now() / 1000) + 3600, "iothubowner");
  const t0 = performance.now();
  for (let from = 0; from < devices.length; from += 100) {
    const body = JSON.stringify(
      devices.slice(from, from + 100).map((d) => ({
        id: d.id,
        importMode: "create",
        authentication: { type: "sas", symmetricKey: { primaryKey: d.key, secondaryKey: d.key } },
      })),
    );
    const reply = await postBulkCreate(agent, HOST, hub.port, `/devices?${API}`, token, body);
    if (reply.status !== 200 || (JSON.parse(reply.text) as { isSuccessful?: boolean }).isSuccessful !== true) {
      throw new Error(`bulk create answered ${reply.status}: ${reply.text.slice(0, 500)}`);
    }
  }
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

interface CommitStats {
  commits: number;
  records: number;
  meanRecords: number;
  p50Records: number;
  maxRecords: number;
  commitMsTotal: number;
  commitMsP50: number;
  commitMsP99: number;
}

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

function quantile(sorted: ArrayLike<number>, q: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))]!;
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
    noise: {
      othersS: Math.max(0, m1.tasks - m0.tasks - serverCpuS - genCpuS),
      serverCoreIrqS: m1.serverCoreIrq - m0.serverCoreIrq,
      stealS: m1.steal - m0.steal,
    },
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
    const reply = await new Promise<{ status: number; text: string }>((resolveReply, reject) => {
      const req = request({ ...spec.options, agent }, (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (c: Buffer) => chunks.push(c));
        res.on("end", () => resolveReply({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString("utf8") }));
        res.on("error", reject);
      });
      req.setTimeout(30_000, () => req.destroy(new Error("no answer within 30 s")));
      req.on("error", reject);
      req.end(spec.body);
    });
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
// Formatting

const int = (n: number): string => (Number.isFinite(n) ? Math.round(n).toLocaleString("en-US") : "–");
const ms = (n: number): string => (!Number.isFinite(n) ? "–" : n >= 100 ? n.toFixed(0) : n >= 10 ? n.toFixed(1) : n.toFixed(2));
const ratio = (a: number, b: number): string => (Number.isFinite(a) && Number.isFinite(b) && b !== 0 ? `${(a / b).toFixed(2)}×` : "–");
const verdict = (ok: boolean): string => (ok ? "PASS" : "MISS");
const pct = (cpuS: number, s: number): string => `${((cpuS / s) * 100).toFixed(0)} %`;

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
  const command = `npm run bench:http${process.argv.length > 2 ? ` -- ${process.argv.slice(2).join(" ")}` : ""}`;
  const machine =
    `nproc ${nproc}, ${cpus()[0]?.model ?? "?"}, Linux ${release()}, node ${process.version} (OpenSSL ${process.versions.openssl}), ` +
    `fastify ${pkgVersion("fastify")}, better-sqlite3 ${pkgVersion("better-sqlite3")}, ${fsType} temp dir, load average ${loadavg()[0]!.toFixed(2)} at start`;
  const pinning = pinned ? "servers pinned to core 0, load generator to core 1 (taskset)" : "not pinned";
  log(`http benchmark: servers ${KINDS.join(", ")}; ${CLIENTS} clients, ${PAYLOAD}-byte bodies, ${RUNS} × (${WARMUP_S} s warm-up + ${SECONDS} s)`);
  log(`  ${machine}; ${pinning}`);
  log(`  work dir ${workDir}${opts.keep ? " (kept)" : ""}`);
  if (!hasSetpriv) log("  (setpriv --pdeathsig is missing: a server left by a killed run must be stopped by hand)");

  // One CA and one ECDSA P-256 server certificate for 127.0.0.1, served by both servers.
  const tlsDir = join(workDir, "tls");
  mkdirSync(tlsDir);
  const ca = await createCertificateAuthority("Malachite bench CA");
  const serverCert = await issueServerCertificate({ issuer: ca, names: [HOST, "localhost"] });
  writeFileSync(join(tlsDir, "ca.pem"), ca.certPem);
  writeFileSync(join(tlsDir, "server.pem"), serverCert.certPem);
  writeFileSync(join(tlsDir, "server-key.pem"), serverCert.keyPem, { mode: 0o600 });
  chmodSync(tlsDir, 0o700);

  const devices: Device[] = Array.from({ length: CLIENTS }, (_, i) => ({ id: deviceId(i), key: randomBytes(32).toString("base64") }));

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
    const median = [...rs].sort((a, b) => a.perS - b.perS)[Math.floor((rs.length - 1) / 2)]!;
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
  text("   others / server-core softirq / steal, % of a core", (r) => {
    const n = r.median.noise;
    const s = r.median.seconds;
    return `${((n.othersS / s) * 100).toFixed(0)} / ${((n.serverCoreIrqS / s) * 100).toFixed(0)} / ${((n.stealS / s) * 100).toFixed(0)}`;
  });
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

  const widths = header.map((_, c) => Math.max(header[c]!.length, ...rows.map((r) => (r[c] ?? "").length)));
  const fmtRow = (cells: readonly string[]): string => cells.map((cell, c) => (c === 0 ? cell.padEnd(widths[c]!) : cell.padStart(widths[c]!))).join("  ").trimEnd();
  const out = [
    "",
    `HTTPS telemetry benchmark (issue #5) — POST /devices/{id}/messages/events, ${PAYLOAD}-byte body${APP_PROPERTIES === 0 ? "" : `, ${APP_PROPERTIES} iothub-app-* headers`}, device SAS token per request`,
    `Machine: ${machine}`,
    `Code: commit ${gitHead}${srcDirty ? " with uncommitted changes under src/" : ""}`,
    `Setup: ${pinning}; ${CLIENTS} clients, each one device on its own https.Agent({ keepAlive: true, maxSockets: 1 }), one request in flight; ${WARMUP_S} s warm-up per run; runs alternate between servers`,
    ...results.map((r) => `  ${r.server.label}: ${r.server.durability}`),
    "",
    fmtRow(header),
    ...rows.map(fmtRow),
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

main().then(
  () => process.exit(0),
  (error: unknown) => {
    log(`http benchmark failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`);
    process.exit(1);
  },
);

/**
 * Pieces shared by the benchmarks under bench/ and their child processes: shell look-ups, /proc readings, quantiles,
 * the JSON-line protocol between a benchmark and its server child (both ends), the hub children's group-commit
 * statistics, and a benchmark's set-up: machine facts, pinning, child processes and clean-up (`startRun`).
 */
import { type ChildProcess, spawn, spawnSync, type StdioOptions } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import type { IncomingHttpHeaders } from "node:http";
import { request, type RequestOptions } from "node:https";
import { Session } from "node:inspector/promises";
import { cpus, loadavg, release, tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { performance } from "node:perf_hooks";
import type { Server as NetServer } from "node:net";
import type { TlsOptions } from "node:tls";
import { createInterface } from "node:readline";
import { HUB_CODE_VARIABLE, hubCode } from "./hub-code.js";
import { serverTlsOptions } from "../src/tls/server-tls-options.js";

/** The repository's root (the benchmarks run their children from it). */
export const ROOT = resolve(new URL("..", import.meta.url).pathname);

/** The service and device APIs' version, as the SDKs send it. */
export const API = "api-version=2021-04-12";

/** The q-quantile of ascending numbers (the smallest value with at least q of them at or below it); NaN if none. */
export function quantile(sorted: ArrayLike<number>, q: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))]!;
}

/** The item with the median `key` (the lower middle one of an even count), as the repeated runs report it. */
export function medianBy<T>(items: readonly T[], key: (item: T) => number): T {
  if (items.length === 0) throw new RangeError("medianBy: no items");
  return [...items].sort((a, b) => key(a) - key(b))[Math.floor((items.length - 1) / 2)]!;
}

// ---------------------------------------------------------------------------------------------------------------
// The parent side

export const log = (text: string): void => void process.stderr.write(`${text}\n`);

export function sh(command: string, args: string[]): string | undefined {
  const result = spawnSync(command, args, { encoding: "utf8" });
  return result.status === 0 ? result.stdout.trim() : undefined;
}

export const clockTicks = Number(sh("getconf", ["CLK_TCK"]) ?? "100");

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** utime and stime (fields 14 and 15) of a /proc `stat` file, in CPU-seconds. */
function statTimes(path: string): { user: number; sys: number } {
  const stat = readFileSync(path, "utf8");
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return { user: Number(fields[11]) / clockTicks, sys: Number(fields[12]) / clockTicks };
}

/** utime and stime of a process (all its threads, ended ones included), in CPU-seconds, from /proc/PID/stat. */
export const cpuTimes = (pid: number): { user: number; sys: number } => statTimes(`/proc/${pid}/stat`);

/** utime + stime of a process (all its threads), in CPU-seconds, from /proc/PID/stat. */
export function cpuSeconds(pid: number): number {
  const t = cpuTimes(pid);
  return t.user + t.sys;
}

/**
 * CPU-seconds (user + sys) of a process's main thread (tid = pid) and of all its other threads (GC helpers, libuv
 * pool): the rest of the process's total, so threads that ended count too.
 */
export function threadCpuSeconds(pid: number): { main: number; others: number } {
  const t = statTimes(`/proc/${pid}/task/${pid}/stat`);
  const main = t.user + t.sys;
  return { main, others: cpuSeconds(pid) - main };
}

export interface MachineTimes {
  tasks: number;
  serverCoreIrq: number;
  steal: number;
}

/**
 * From /proc/stat, in CPU-seconds since boot: time every core spent running tasks (user, nice, system), interrupt
 * and softirq time on the server's core (cpu0 when pinned, else all; loopback TCP work charged to no process), and
 * time the hypervisor stole from the VM.
 */
export function machineTimes(pinned: boolean): MachineTimes {
  const lines = readFileSync("/proc/stat", "utf8").split("\n");
  const parse = (line: string | undefined): number[] => (line ?? "").trim().split(/\s+/).slice(1).map(Number);
  const [user = 0, nice = 0, system = 0, , , , , steal = 0] = parse(lines[0]);
  const core = parse(lines.find((l) => l.startsWith(pinned ? "cpu0 " : "cpu ")));
  return { tasks: (user + nice + system) / clockTicks, serverCoreIrq: ((core[5] ?? 0) + (core[6] ?? 0)) / clockTicks, steal: steal / clockTicks };
}

/** What else used the machine during a measurement, in CPU-seconds. */
export interface Noise {
  /** CPU-seconds other processes used (task time minus server and generator). */
  othersS: number;
  serverCoreIrqS: number;
  stealS: number;
}

/** The noise between two machineTimes() readings, given what the server and the generator used meanwhile. */
export function noiseBetween(m0: MachineTimes, m1: MachineTimes, serverCpuS: number, generatorCpuS: number): Noise {
  return {
    othersS: Math.max(0, m1.tasks - m0.tasks - serverCpuS - generatorCpuS),
    serverCoreIrqS: m1.serverCoreIrq - m0.serverCoreIrq,
    stealS: m1.steal - m0.steal,
  };
}

/** A number from /proc/PID/status (`key:  N`), or NaN. */
export function procStatus(pid: number, key: string): number {
  const match = new RegExp(`${key}:\\s+(\\d+)`).exec(readFileSync(`/proc/${pid}/status`, "utf8"));
  return match === null ? NaN : Number(match[1]);
}

/** Times the kernel took the CPU from a process that still wanted it: something else ran on its core. */
export const involuntarySwitches = (pid: number): number => procStatus(pid, "nonvoluntary_ctxt_switches");
/** Resident set size of a process, in MiB. */
export const rssMiB = (pid: number): number => procStatus(pid, "VmRSS") / 1024;
/** Peak resident set size of a process, in MiB. */
export const peakRssMiB = (pid: number): number => procStatus(pid, "VmHWM") / 1024;

/** Waits until the process has used < 2 % of a core over 300 ms (what the previous step left behind is done), max 10 s. */
export async function waitIdle(pid: number): Promise<void> {
  const until = performance.now() + 10_000;
  while (performance.now() < until) {
    const c0 = cpuSeconds(pid);
    await sleep(300);
    if (cpuSeconds(pid) - c0 <= 0.006) return;
  }
}

/** The SharedAccessKey of a connection string, if it has one. */
export const sharedAccessKey = (connectionString: unknown): string | undefined => /SharedAccessKey=([^;]+)/.exec(String(connectionString))?.[1];

/**
 * The JSON lines a child prints on stdout, one at a time (other lines are logged); rejects once it exited. `name` is
 * what the log lines and errors call it.
 */
export function jsonLines<E = Record<string, unknown>>(child: ChildProcess, name = "server"): (timeoutMs: number) => Promise<E> {
  const queue: E[] = [];
  const waiters: Array<{ resolve: (e: E) => void; reject: (e: Error) => void }> = [];
  let ended: Error | undefined;
  createInterface({ input: child.stdout! }).on("line", (line) => {
    let event: E;
    try {
      event = JSON.parse(line) as E;
    } catch {
      log(`${name}: ${line}`);
      return;
    }
    const waiter = waiters.shift();
    if (waiter === undefined) queue.push(event);
    else waiter.resolve(event);
  });
  child.on("exit", (code, signal) => {
    ended = new Error(`the ${name} process exited (code ${code}, signal ${signal})`);
    for (const waiter of waiters.splice(0)) waiter.reject(ended);
  });
  return (timeoutMs) => {
    const queued = queue.shift();
    if (queued !== undefined) return Promise.resolve(queued);
    if (ended !== undefined) return Promise.reject(ended);
    return new Promise((resolveEvent, reject) => {
      const timer = setTimeout(() => reject(new Error(`the ${name} process did not answer within ${timeoutMs} ms`)), timeoutMs);
      waiters.push({
        resolve: (e) => (clearTimeout(timer), resolveEvent(e)),
        reject: (e) => (clearTimeout(timer), reject(e)),
      });
    });
  };
}

/** Resolves once the child has exited (at once if it already has). */
export function exitOf(child: ChildProcess): Promise<void> {
  return new Promise((r) => {
    if (child.exitCode !== null || child.signalCode !== null) r();
    else child.once("exit", () => r());
  });
}

/** A server a benchmark measures (Malachite or a peer), running in a child process. */
export interface MeasuredServer<K extends string> {
  readonly kind: K;
  /** Its column's heading. */
  readonly label: string;
  /** When it answers and how durable what it acknowledged is, stated on every result. */
  readonly durability: string;
  readonly pid: number;
  readonly port: number;
  close(): Promise<void>;
}

/** A child process that speaks the JSON-line protocol (bench/hub-child.ts, amqp-peer.ts, …), once it is ready. */
export interface JsonChild {
  /** The pid its ready line gives (the node process, under any taskset/setpriv wrappers). */
  readonly pid: number;
  /** Its first line, `{"event":"ready",...}`. */
  readonly ready: Record<string, unknown>;
  /** Sends one command and answers the reply; throws unless it is `{"event":"done",...}`. */
  command(cmd: Record<string, unknown>, timeoutMs?: number): Promise<Record<string, unknown>>;
  /** Ends its stdin, so it closes and exits; SIGKILL if it has not after the grace time. */
  close(): Promise<void>;
  /** SIGKILL, and wait for the exit. */
  kill(): Promise<void>;
}

/**
 * Waits for a spawned child's ready line (60 s at most) and checks it (`event` "ready" and `isReady`); `name` is what
 * its log lines and the errors call it. `closeGraceMs` bounds close().
 */
export async function startJsonChild(
  child: ChildProcess,
  name: string,
  isReady: (ready: Record<string, unknown>) => boolean = () => true,
  closeGraceMs = 30_000,
): Promise<JsonChild> {
  const next = jsonLines(child, name);
  const ready = await next(60_000);
  if (ready["event"] !== "ready" || !isReady(ready)) throw new Error(`unexpected first message from the ${name}: ${JSON.stringify(ready)}`);
  const exited = exitOf(child);
  return {
    pid: Number(ready["pid"]),
    ready,
    async command(cmd, timeoutMs = 60_000) {
      child.stdin!.write(`${JSON.stringify(cmd)}\n`);
      const answer = await next(timeoutMs);
      if (answer["event"] !== "done") throw new Error(`${name} command ${JSON.stringify(cmd).slice(0, 200)} failed: ${String(answer["message"] ?? JSON.stringify(answer))}`);
      return answer;
    },
    async close() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.stdin!.end();
      const timer = setTimeout(() => child.kill("SIGKILL"), closeGraceMs);
      await exited;
      clearTimeout(timer);
    },
    async kill() {
      child.kill("SIGKILL");
      await exited;
    },
  };
}

// ---------------------------------------------------------------------------------------------------------------
// The child side

/** parseArgs options of a child that serves a certificate file: --cert FILE --key FILE [--host 127.0.0.1]. */
export const TLS_SERVER_OPTIONS = {
  cert: { type: "string" },
  key: { type: "string" },
  host: { type: "string", default: "127.0.0.1" },
} as const;

/**
 * The hub's TLS options (TLS 1.2 with IoT Hub's suites, a client certificate requested, no resumption) for a peer
 * serving these PEM files, so its handshakes cost what the hub's do.
 */
export function peerTlsOptions(certFile: string, keyFile: string): TlsOptions {
  return serverTlsOptions({ certPem: readFileSync(certFile, "utf8"), keyPem: readFileSync(keyFile, "utf8") });
}

/** Prints `usage: TEXT` on stderr and exits 2. */
export function usage(text: string): never {
  process.stderr.write(`usage: ${text}\n`);
  process.exit(2);
}

/** One JSON line on stdout, to the parent. */
export function send(message: Record<string, unknown>): void {
  process.stdout.write(`${JSON.stringify(message)}\n`);
}

/**
 * Reads JSON commands, one a line, on stdin and answers each with `{"event":"done","cmd":...,...extra}` (or
 * `{"event":"error",...}`); calls `close` when stdin ends (the parent died) and on SIGTERM/SIGINT.
 */
export function serveCommands<C extends { cmd?: unknown }>(
  handle: (command: C) => Promise<Record<string, unknown> | undefined | void>,
  close: () => Promise<unknown>,
): void {
  const lines = createInterface({ input: process.stdin });
  lines.on("line", (line) => {
    if (line.trim() === "") return;
    let command: C;
    try {
      command = JSON.parse(line) as C;
    } catch {
      send({ event: "error", message: `not JSON: ${line}` });
      return;
    }
    handle(command).then(
      (extra) => send({ event: "done", cmd: command.cmd, ...(extra ?? undefined) }),
      (error: unknown) => send({ event: "error", cmd: command.cmd, message: String(error) }),
    );
  });
  lines.on("close", () => void close());
  process.on("SIGTERM", () => void close());
  process.on("SIGINT", () => void close());
}

interface QueuedAppend {
  readonly records: { length: number };
}

/** The telemetry log's group commits over a stretch (the hub children's `commit-stats` answer). */
export interface CommitStats {
  commits: number;
  records: number;
  meanRecords: number;
  p50Records: number;
  maxRecords: number;
  commitMsTotal: number;
  commitMsP50: number;
  commitMsP99: number;
}

/**
 * Wraps SqliteTelemetryLog's (TypeScript-private) flush method (the class is passed in, so the parents need not load it) to record each group commit: the number of records it
 * takes off the queue and how long the synchronous commit blocks the event loop. Returns a function that answers the
 * commits since its previous call. `owner` names the file to update if the method is gone.
 */
export function recordCommitStats(telemetryLog: { prototype: unknown }, owner: string): () => CommitStats {
  const batchSizes: number[] = [];
  const commitMs: number[] = [];
  const proto = telemetryLog.prototype as { flush(this: { queue: QueuedAppend[] }): void };
  const flush = proto.flush;
  if (typeof flush !== "function") throw new Error(`SqliteTelemetryLog has no flush method to wrap; update ${owner}`);
  const queued = (queue: readonly QueuedAppend[]): number => {
    let n = 0;
    for (let i = 0; i < queue.length; i++) n += queue[i]!.records.length;
    return n;
  };
  proto.flush = function wrappedFlush(this: { queue: QueuedAppend[] }): void {
    const before = queued(this.queue);
    const t0 = performance.now();
    flush.call(this);
    commitMs.push(performance.now() - t0);
    batchSizes.push(before - queued(this.queue));
  };
  return () => {
    const sizes = batchSizes.splice(0).sort((a, b) => a - b);
    const times = commitMs.splice(0).sort((a, b) => a - b);
    const records = sizes.reduce((s, n) => s + n, 0);
    return {
      commits: sizes.length,
      records,
      meanRecords: sizes.length === 0 ? NaN : records / sizes.length,
      p50Records: quantile(sizes, 0.5),
      maxRecords: quantile(sizes, 1),
      commitMsTotal: times.reduce((s, n) => s + n, 0),
      commitMsP50: quantile(times, 0.5),
      commitMsP99: quantile(times, 0.99),
    };
  };
}

/** One HTTPS request with `body`: answers the status, the headers and the body's text; gives up after `timeoutMs`. */
export function requestText(
  options: RequestOptions,
  body: string | Buffer | undefined,
  timeoutMs: number,
  timeoutMessage: string,
): Promise<{ status: number; headers: IncomingHttpHeaders; text: string }> {
  return new Promise((resolveReply, reject) => {
    const req = request(options, (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (c: Buffer) => chunks.push(c));
      res.on("end", () => resolveReply({ status: res.statusCode ?? 0, headers: res.headers, text: Buffer.concat(chunks).toString("utf8") }));
      res.on("error", reject);
    });
    req.setTimeout(timeoutMs, () => req.destroy(new Error(timeoutMessage)));
    req.on("error", reject);
    req.end(body);
  });
}

/**
 * The V8 CPU profiler of this process (node:inspector), for the hub children's `profile-start` / `profile-stop`
 * commands; `disconnect` on close.
 */
export function cpuProfiler(): { start(): Promise<void>; stop(path: string): Promise<void>; disconnect(): void } {
  let session: Session | undefined;
  return {
    async start() {
      session ??= new Session();
      session.connect();
      await session.post("Profiler.enable");
      await session.post("Profiler.start");
    },
    async stop(path) {
      if (session === undefined) throw new Error("the profiler is not running");
      const { profile } = await session.post("Profiler.stop");
      session.disconnect();
      session = undefined;
      writeFileSync(path, JSON.stringify(profile));
    },
    disconnect() {
      if (session !== undefined) session.disconnect();
    },
  };
}

// ---------------------------------------------------------------------------------------------------------------
// Machine and code facts, pinning, clean-up (the parent side)

/** The short commit of `root`, and whether src/ differs from it (a read-only look: --no-optional-locks never
 *  refreshes the index, as other people work in this checkout). */
export function codeFacts(root: string): { gitHead: string; srcDirty: boolean } {
  return {
    gitHead: sh("git", ["-C", root, "rev-parse", "--short", "HEAD"]) ?? "?",
    srcDirty: spawnSync("git", ["-C", root, "--no-optional-locks", "diff", "--quiet", "HEAD", "--", "src"]).status === 1,
  };
}

/** The file system type (df -T) of `dir`, or "?". */
export const fsTypeOf = (dir: string): string => sh("df", ["-T", dir])?.split("\n")[1]?.split(/\s+/)[1] ?? "?";

/** SIGINT and SIGTERM exit (130, 143) so the `exit` handlers clean up; after `seconds` the process exits 1. */
export function exitOnSignalsAndAfter(seconds: number, name: string): void {
  process.on("SIGINT", () => process.exit(130));
  process.on("SIGTERM", () => process.exit(143));
  const deadline = setTimeout(() => {
    log(`${name} benchmark: still running after --timeout ${seconds} s; stopping`);
    process.exit(1);
  }, seconds * 1000);
  deadline.unref();
}

/** Pins this process to core 1 (the servers get core 0). */
export function pinGenerator(): void {
  // -a: every thread of this process, so libuv and V8 helper threads stay off the server's core too.
  if (sh("taskset", ["-a", "-cp", "1", String(process.pid)]) === undefined) throw new Error("taskset could not pin the generator");
}

/** The version of an installed package (node_modules/NAME/package.json), or "?". */
export function pkgVersion(name: string): string {
  try {
    return (JSON.parse(readFileSync(join(ROOT, "node_modules", name, "package.json"), "utf8")) as { version: string }).version;
  } catch {
    return "?";
  }
}

/** `node [nodeFlags] --import tsx ROOT/script args`: how the benchmarks start their TypeScript children. */
export const tsxArgv = (script: string, args: readonly string[], nodeFlags: readonly string[] = []): string[] => [
  process.execPath,
  ...nodeFlags,
  "--import",
  "tsx",
  join(ROOT, script),
  ...args,
];

/** stdin and stdout piped (the JSON-line protocol), stderr passed through. */
const PROTOCOL_STDIO: StdioOptions = ["pipe", "pipe", "inherit"];

export interface SpawnOptions {
  /** The core to pin it to (when the run is pinned); 0, the servers' core, unless said. */
  readonly core?: number;
  /** Default: stdin and stdout piped (the JSON-line protocol), stderr passed through. */
  readonly stdio?: StdioOptions;
  readonly env?: NodeJS.ProcessEnv;
  /** With setpriv --pdeathsig KILL (where there is one), so it dies with this process; default true. */
  readonly dieWithParent?: boolean;
}

/** A benchmark's process-wide set-up, from startRun. */
export interface BenchRun {
  readonly nproc: number;
  /** Servers on core 0, this process (the load generator) on core 1, with taskset. */
  readonly pinned: boolean;
  /** setpriv can make children die with this process (PR_SET_PDEATHSIG). */
  readonly hasSetpriv: boolean;
  /** A fresh temporary directory, removed at exit unless --keep. */
  readonly workDir: string;
  readonly gitHead: string;
  readonly srcDirty: boolean;
  /** The file system of workDir. */
  readonly fsType: string;
  /** `commit X[ with uncommitted changes under src/]`, for the report's `Code:` line. */
  readonly codeText: string;
  /** From /proc/stat, with the server's core this run uses (see machineTimes). */
  machineTimes(): MachineTimes;
  /**
   * The report's machine line: nproc, CPU, kernel, node (then `nodeNote`), the `software` named, the temporary
   * directory's file system and the load average now.
   */
  describeMachine(software: readonly string[], nodeNote?: string): string;
  /** Spawns `argv` from ROOT, pinned (when the run is) to its core; killed at exit if still running. */
  spawn(argv: readonly string[], options?: SpawnOptions): ChildProcess;
}

/**
 * Sets a benchmark up: reads the machine and code facts, makes its work directory (`malachite-bench-NAME-…`), kills
 * its children and removes the directory (unless `keep`) at exit, exits on SIGINT/SIGTERM and after `timeoutS`, and
 * pins this process to core 1 when it pins (taskset, ≥ 2 cores, not `noPin`).
 */
export function startRun(name: string, options: { readonly noPin: boolean; readonly keep: boolean; readonly timeoutS: number }): BenchRun {
  const nproc = Number(sh("nproc", []) ?? "1");
  const hasTaskset = sh("taskset", ["--version"]) !== undefined;
  const pinned = !options.noPin && hasTaskset && nproc >= 2;
  const hasSetpriv = (sh("setpriv", ["--help"]) ?? "").includes("pdeathsig");
  const workDir = mkdtempSync(join(tmpdir(), `malachite-bench-${name}-`));
  const { gitHead, srcDirty } = codeFacts(ROOT);
  const fsType = fsTypeOf(workDir);
  // The hub children run the compiled build unless asked for the sources (bench/hub-code.ts): build it now, once.
  const code = hubCode();
  process.env[HUB_CODE_VARIABLE] = code;
  if (code === "dist") log(`  hub code: dist/ (npx tsc -p tsconfig.json, ${buildDist().toFixed(1)} s)`);

  const children = new Set<ChildProcess>();
  process.on("exit", () => {
    for (const child of children) {
      if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
    }
    if (!options.keep) rmSync(workDir, { recursive: true, force: true });
  });
  exitOnSignalsAndAfter(options.timeoutS, name);
  if (pinned) pinGenerator();

  return {
    nproc,
    pinned,
    hasSetpriv,
    workDir,
    gitHead,
    srcDirty,
    fsType,
    codeText: `commit ${gitHead}${srcDirty ? " with uncommitted changes under src/" : ""}; the hub runs ${code === "dist" ? "compiled (dist/, built at the start of the run), as npm start runs it" : "from the TypeScript sources through tsx (MALACHITE_BENCH_CODE=src)"}`,
    machineTimes: () => machineTimes(pinned),
    describeMachine: (software, nodeNote = "") =>
      `nproc ${nproc}, ${cpus()[0]?.model ?? "?"}, Linux ${release()}, node ${process.version}${nodeNote}, ` +
      `${software.join(", ")}, ${fsType} temp dir, load average ${loadavg()[0]!.toFixed(2)} at start`,
    spawn(argv, { core = 0, stdio = PROTOCOL_STDIO, env, dieWithParent = true } = {}) {
      let full = [...argv];
      if (dieWithParent && hasSetpriv) full = ["setpriv", "--pdeathsig", "KILL", ...full];
      if (pinned) full = ["taskset", "-c", String(core), ...full];
      const child = spawn(full[0]!, full.slice(1), { cwd: ROOT, stdio, env: env ?? process.env });
      children.add(child);
      child.on("exit", () => children.delete(child));
      return child;
    },
  };
}

/** Listens on a free port of `host` (port 0); resolves to the port the system chose, rejects on a listen error. */
export function listenOnFreePort(server: NetServer, host: string): Promise<number> {
  return new Promise<number>((resolvePort, reject) => {
    server.once("error", reject);
    server.listen(0, host, () => {
      server.off("error", reject);
      const address = server.address();
      resolvePort(typeof address === "object" && address !== null ? address.port : 0);
    });
  });
}

/** The production entry (package.json `bin` and `npm start`). */
export const DIST_MAIN = join(ROOT, "dist", "main.js");

let distBuiltS: number | undefined;

/**
 * Compiles src/ to dist/ with the build's own config (`npx tsc -p tsconfig.json`, what `npm install` runs as
 * `prepare`), once per benchmark process, so a stale dist/ is never measured. Throws (with tsc's output) if tsc fails.
 * Answers the seconds the build took.
 */
export function buildDist(): number {
  if (distBuiltS !== undefined) return distBuiltS;
  const t0 = performance.now();
  const result = spawnSync("npx", ["tsc", "-p", "tsconfig.json"], { cwd: ROOT, encoding: "utf8" });
  if (result.error !== undefined) throw new Error(`npx tsc -p tsconfig.json could not run: ${result.error.message}`);
  if (result.status !== 0) {
    throw new Error(`npx tsc -p tsconfig.json failed (exit ${result.status ?? result.signal}), so dist/ may be stale:\n${result.stdout}${result.stderr}`);
  }
  if (!existsSync(DIST_MAIN)) throw new Error(`npx tsc -p tsconfig.json left no ${DIST_MAIN}`);
  distBuiltS = (performance.now() - t0) / 1000;
  return distBuiltS;
}

/** `npm run bench:NAME[ -- ARGS]`: the command line the report prints. */
export const benchCommand = (name: string): string => `npm run bench:${name}${process.argv.length > 2 ? ` -- ${process.argv.slice(2).join(" ")}` : ""}`;

/** Runs a benchmark's main and exits: 0, or 1 after logging why it failed. */
export function runMain(name: string, main: () => Promise<void>): void {
  main().then(
    () => process.exit(0),
    (error: unknown) => {
      log(`${name} benchmark failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`);
      process.exit(1);
    },
  );
}

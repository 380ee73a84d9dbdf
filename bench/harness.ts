/**
 * Pieces shared by the benchmarks under bench/ and their child processes: shell look-ups, /proc readings, the JSON-line
 * protocol between a benchmark and its server child (both ends), and the hub children's group-commit statistics.
 */
import { type ChildProcess, spawnSync } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import { type Agent, request } from "node:https";
import { Session } from "node:inspector/promises";
import { performance } from "node:perf_hooks";
import { createInterface } from "node:readline";

// ---------------------------------------------------------------------------------------------------------------
// The parent side

export const log = (text: string): void => void process.stderr.write(`${text}\n`);

export function sh(command: string, args: string[]): string | undefined {
  const result = spawnSync(command, args, { encoding: "utf8" });
  return result.status === 0 ? result.stdout.trim() : undefined;
}

export const clockTicks = Number(sh("getconf", ["CLK_TCK"]) ?? "100");

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** utime and stime (fields 14 and 15 of /proc/PID/stat, all threads), in CPU-seconds. */
export function cpuTimes(pid: number): { user: number; sys: number } {
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return { user: Number(fields[11]) / clockTicks, sys: Number(fields[12]) / clockTicks };
}

/** utime + stime of a process (all its threads), in CPU-seconds, from /proc/PID/stat. */
export function cpuSeconds(pid: number): number {
  const t = cpuTimes(pid);
  return t.user + t.sys;
}

/**
 * From /proc/stat, in CPU-seconds since boot: time every core spent running tasks (user, nice, system), interrupt
 * and softirq time on the server's core (cpu0 when pinned, else all; loopback TCP work charged to no process), and
 * time the hypervisor stole from the VM.
 */
export function machineTimes(pinned: boolean): { tasks: number; serverCoreIrq: number; steal: number } {
  const lines = readFileSync("/proc/stat", "utf8").split("\n");
  const parse = (line: string | undefined): number[] => (line ?? "").trim().split(/\s+/).slice(1).map(Number);
  const [user = 0, nice = 0, system = 0, , , , , steal = 0] = parse(lines[0]);
  const core = parse(lines.find((l) => l.startsWith(pinned ? "cpu0 " : "cpu ")));
  return { tasks: (user + nice + system) / clockTicks, serverCoreIrq: ((core[5] ?? 0) + (core[6] ?? 0)) / clockTicks, steal: steal / clockTicks };
}

/** A number from /proc/PID/status (`key:  N`), or NaN. */
export function procStatus(pid: number, key: string): number {
  const match = new RegExp(`${key}:\\s+(\\d+)`).exec(readFileSync(`/proc/${pid}/status`, "utf8"));
  return match === null ? NaN : Number(match[1]);
}

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

// ---------------------------------------------------------------------------------------------------------------
// The child side

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

/**
 * Wraps SqliteTelemetryLog's (TypeScript-private) flush method (the class is passed in, so the parents need not load it) to record each group commit: the number of records it
 * takes off the queue and how long the synchronous commit blocks the event loop. Returns a function that answers the
 * commits since its previous call. `owner` names the file to update if the method is gone.
 */
export function recordCommitStats(telemetryLog: { prototype: unknown }, owner: string): () => Record<string, number> {
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
    const q = (xs: number[], p: number): number => (xs.length === 0 ? NaN : xs[Math.min(xs.length - 1, Math.max(0, Math.ceil(p * xs.length) - 1))]!);
    const records = sizes.reduce((s, n) => s + n, 0);
    return {
      commits: sizes.length,
      records,
      meanRecords: sizes.length === 0 ? NaN : records / sizes.length,
      p50Records: q(sizes, 0.5),
      maxRecords: q(sizes, 1),
      commitMsTotal: times.reduce((s, n) => s + n, 0),
      commitMsP50: q(times, 0.5),
      commitMsP99: q(times, 0.99),
    };
  };
}

/**
 * POSTs a bulk-create body (`/devices?API`) to the hub over `agent`, as the service would; gives up after 60 s.
 * Answers the status and the body text.
 */
export function postBulkCreate(
  agent: Agent,
  host: string,
  port: number,
  path: string,
  token: string,
  body: string,
): Promise<{ status: number; text: string }> {
  return new Promise((resolveReply, reject) => {
    const req = request(
      {
        host,
        port,
        method: "POST",
        path,
        agent,
        headers: { authorization: token, "content-type": "application/json; charset=utf-8", "content-length": String(Buffer.byteLength(body)) },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (c: Buffer) => chunks.push(c));
        res.on("end", () => resolveReply({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString("utf8") }));
        res.on("error", reject);
      },
    );
    req.setTimeout(60_000, () => req.destroy(new Error("bulk create got no answer within 60 s")));
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

/**
 * Registry benchmark (issue #2): bulk creation of 100,000 tagged devices through `POST /devices`, then
 * `SELECT * FROM devices WHERE tags.site = 's-42'` (1,000 matches) through `POST /devices/query`, with peers measured
 * in the same run (better-sqlite3 directly, the store without HTTP). Targets: creation ≥ 5,000 devices/s, the query's
 * first page ≤ 100 ms. Not a test: `npm test` never runs it.
 *
 *   npm run bench:registry [-- --devices 10000] [--concurrency 4] [--create-runs 3] [--query-runs 5] [--no-pin] [--no-peer]
 *                          [--profile DIR] [--keep] [--timeout 600]
 *
 * The hub runs in a child process (bench/registry-hub.ts) pinned to core 0 with taskset; this process (the load
 * generator and the peers) is pinned to core 1. Requests are raw HTTPS on one keep-alive agent with the run's own CA.
 * See bench/README.md.
 */
import { mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { Agent } from "node:https";
import { loadavg } from "node:os";
import { join } from "node:path";
import { performance } from "node:perf_hooks";
import { parseArgs } from "node:util";
import Database from "better-sqlite3";
import { createSasToken } from "../src/hub/index.js";
import type { IdentityEntry, StoreWrite } from "../src/hub/index.js";
import { migrations } from "../src/storage/sqlite/migrations.js";
import { SqliteStore } from "../src/storage/sqlite/sqlite-store.js";
import { createCertificateAuthority } from "../src/tls/create-certificate-authority.js";
import { formatSummary, type CpuProfile } from "./cpuprofile-top.js";
import { API, benchCommand, cpuSeconds, involuntarySwitches, log, medianBy, peakRssMiB, pkgVersion, quantile, requestText, runMain, sharedAccessKey, startJsonChild, startRun, tsxArgv } from "./harness.js";
import { commonOptions, commonValues, helpOrContinue, positiveInt } from "./options.js";
import { int, ms } from "./report.js";

const TARGET_CREATE_PER_S = 5_000;
const TARGET_FIRST_PAGE_MS = 100;
const PAGE_SIZE = 100; // the hub's default (and maximum) page size when x-ms-max-item-count is not sent

// ---------------------------------------------------------------------------------------------------------------
// Options

const { values: opts } = parseArgs({
  options: {
    devices: { type: "string", default: "100000" },
    batch: { type: "string", default: "100" },
    concurrency: { type: "string", default: "4" },
    sites: { type: "string", default: "100" },
    site: { type: "string", default: "42" },
    "create-runs": { type: "string", default: "3" },
    "query-runs": { type: "string", default: "5" },
    "no-peer": { type: "boolean", default: false },
    ...commonOptions(600),
  },
});
helpOrContinue(
  opts.help,
  "npm run bench:registry -- [--devices 100000] [--batch 100] [--concurrency 4] [--sites 100] [--site 42]\n" +
    "  [--create-runs 3] [--query-runs 5] [--no-pin] [--no-peer] [--profile DIR] [--keep] [--timeout 600]\n",
);

const DEVICES = positiveInt("devices", opts.devices, 1_000_000);
const BATCH = positiveInt("batch", opts.batch, 100);
const CONCURRENCY = positiveInt("concurrency", opts.concurrency, 256);
const SITES = positiveInt("sites", opts.sites, 1_000_000);
const SITE_INDEX = Number(opts.site);
if (!Number.isInteger(SITE_INDEX) || SITE_INDEX < 0 || SITE_INDEX >= SITES) {
  process.stderr.write(`--site must be an integer from 0 to ${SITES - 1}\n`);
  process.exit(2);
}
const CREATE_RUNS = positiveInt("create-runs", opts["create-runs"], 100);
const QUERY_RUNS = positiveInt("query-runs", opts["query-runs"], 1000);
const { timeoutS: TIMEOUT_S, profileDir: PROFILE_DIR } = commonValues(opts);

const SITE = `s-${SITE_INDEX}`;
const ID_WIDTH = Math.max(6, String(DEVICES).length);
const deviceId = (i: number): string => `dev-${String(i + 1).padStart(ID_WIDTH, "0")}`;
// Device i gets site i mod SITES, so the matches of one site are spread evenly through the id order (the order a
// scan visits them in): neither the luckiest nor the unluckiest layout for a first page.
const siteOf = (i: number): string => `s-${i % SITES}`;
const expectedMatches = Math.floor((DEVICES - 1 - SITE_INDEX) / SITES) + (DEVICES > SITE_INDEX ? 1 : 0);


// ---------------------------------------------------------------------------------------------------------------
// Machine facts, pinning, clean-up

const bench = startRun("registry", { noPin: opts["no-pin"], keep: opts.keep, timeoutS: TIMEOUT_S });
const { pinned, workDir } = bench;
const sqliteVersion = (() => {
  const db = new Database(":memory:");
  try {
    return db.prepare<[], string>("SELECT sqlite_version()").pluck().get() ?? "?";
  } finally {
    db.close();
  }
})();

// ---------------------------------------------------------------------------------------------------------------
// The hub child

interface HubProcess {
  readonly pid: number;
  readonly hostName: string;
  readonly port: number;
  readonly key: string;
  command(cmd: Record<string, unknown>): Promise<unknown>;
  close(): Promise<void>;
}

async function startHubProcess(dataDir: string, caDir: string): Promise<HubProcess> {
  const argv = tsxArgv("bench/registry-hub.ts", ["--data-dir", dataDir, "--ca-dir", caDir, "--host", "127.0.0.1"]);
  // Without setpriv: the hub exits when its stdin ends, that is when this process does.
  const child = await startJsonChild(bench.spawn(argv, { dieWithParent: false }), "hub", (r) => r["port"] !== undefined && r["pid"] !== undefined && r["connectionString"] !== undefined);
  const key = sharedAccessKey(child.ready["connectionString"]);
  if (key === undefined) throw new Error("the hub's connection string has no SharedAccessKey");
  return {
    pid: child.pid,
    hostName: (child.ready["hostName"] as string | undefined) ?? "127.0.0.1",
    port: child.ready["port"] as number,
    key,
    command: (cmd) => child.command(cmd),
    close: () => child.close(),
  };
}

// ---------------------------------------------------------------------------------------------------------------
// HTTPS

interface Reply {
  readonly status: number;
  readonly headers: Record<string, string | string[] | undefined>;
  readonly text: string;
}

function client(hub: HubProcess, ca: string) {
  const agent = new Agent({ keepAlive: true, ca, maxSockets: CONCURRENCY });
  const token = createSasToken(hub.hostName, hub.key, Math.ceil(Date.now() / 1000) + 2 * TIMEOUT_S + 3600, "iothubowner");
  const call = (method: string, path: string, body?: string, extra: Record<string, string> = {}): Promise<Reply> => {
    const headers: Record<string, string> = { authorization: token, ...extra };
    if (body !== undefined) {
      headers["content-type"] = "application/json; charset=utf-8";
      headers["content-length"] = String(Buffer.byteLength(body));
    }
    return requestText({ host: hub.hostName, port: hub.port, method, path, headers, agent }, body, 120_000, `${method} ${path} got no answer within 120 s`);
  };
  return { call, close: () => agent.destroy() };
}
type Client = ReturnType<typeof client>;

// ---------------------------------------------------------------------------------------------------------------
// Statistics and formatting

const sortNum = (xs: readonly number[]): number[] => [...xs].sort((a, b) => a - b);
const mmm = (xs: readonly number[]): { min: number; median: number; max: number } => {
  const s = sortNum(xs);
  return { min: s[0]!, median: quantile(s, 0.5), max: s[s.length - 1]! };
};
const mmmText = (xs: readonly number[]): string => {
  const m = mmm(xs);
  return `${ms(m.min)} / ${ms(m.median)} / ${ms(m.max)} ms`;
};

// ---------------------------------------------------------------------------------------------------------------
// Scenario 1: bulk creation

interface CreateResult {
  wallS: number;
  perS: number;
  hubCpuS: number;
  generatorCpuS: number;
  hubPreempted: number;
  latencies: number[];
  deciles: number[];
}

async function bulkCreate(hub: HubProcess, http: Client): Promise<CreateResult> {
  const batches = Math.ceil(DEVICES / BATCH);
  let nextBatch = 0;
  let created = 0;
  const latencies: number[] = [];
  const progress: Array<[number, number]> = []; // [ms since start, devices created]
  const body = (b: number): string => {
    const records = [];
    for (let i = b * BATCH; i < Math.min(DEVICES, (b + 1) * BATCH); i++) {
      records.push({ id: deviceId(i), importMode: "create", tags: { site: siteOf(i) } });
    }
    return JSON.stringify(records);
  };
  let lastReport = 0;
  const worker = async (): Promise<void> => {
    for (;;) {
      const b = nextBatch++;
      if (b >= batches) return;
      const payload = body(b);
      const t0 = performance.now();
      const reply = await http.call("POST", `/devices?${API}`, payload);
      const t1 = performance.now();
      if (reply.status !== 200) throw new Error(`bulk create of batch ${b} answered ${reply.status}: ${reply.text.slice(0, 500)}`);
      const result = JSON.parse(reply.text) as { isSuccessful?: boolean };
      if (result.isSuccessful !== true) throw new Error(`bulk create of batch ${b} was not successful: ${reply.text.slice(0, 500)}`);
      latencies.push(t1 - t0);
      created += Math.min(DEVICES, (b + 1) * BATCH) - b * BATCH;
      progress.push([t1 - start, created]);
      if (t1 - lastReport > 2000) {
        lastReport = t1;
        log(`  created ${int(created)} / ${int(DEVICES)} (${int((created / (t1 - start)) * 1000)}/s)`);
      }
    }
  };
  const cpu0 = cpuSeconds(hub.pid);
  const switches0 = involuntarySwitches(hub.pid);
  const gen0 = process.cpuUsage();
  const start = performance.now();
  await Promise.all(Array.from({ length: Math.min(CONCURRENCY, batches) }, worker));
  const wallMs = performance.now() - start;
  const gen = process.cpuUsage(gen0);
  const hubCpuS = cpuSeconds(hub.pid) - cpu0;
  const hubPreempted = involuntarySwitches(hub.pid) - switches0;
  // Devices/s within each tenth of the run (by devices created), to show whether the rate falls as the table grows.
  const deciles: number[] = [];
  let prev: [number, number] = [0, 0];
  for (let d = 1; d <= 10; d++) {
    const point = progress.find(([, n]) => n >= (d * DEVICES) / 10) ?? progress[progress.length - 1]!;
    if (point[0] > prev[0]) deciles.push(((point[1] - prev[1]) / (point[0] - prev[0])) * 1000);
    prev = point;
  }
  return {
    wallS: wallMs / 1000,
    perS: (DEVICES / wallMs) * 1000,
    hubCpuS,
    generatorCpuS: (gen.user + gen.system) / 1e6,
    hubPreempted,
    latencies: sortNum(latencies),
    deciles,
  };
}

// ---------------------------------------------------------------------------------------------------------------
// Scenario 2: query

interface QueryRun {
  firstMs: number;
  /** Hub CPU-seconds spent on the first page (10 ms resolution): unlike wall time, unaffected by other processes. */
  firstCpuS: number;
  allMs: number;
  pages: number;
  items: unknown[];
}

async function runQuery(http: Client, text: string, hubPid: number): Promise<QueryRun> {
  const body = JSON.stringify({ query: text });
  const items: unknown[] = [];
  let continuation: string | undefined;
  let pages = 0;
  let firstMs = NaN;
  let firstCpuS = NaN;
  const cpu0 = cpuSeconds(hubPid);
  const start = performance.now();
  do {
    const reply = await http.call("POST", `/devices/query?${API}`, body, continuation === undefined ? {} : { "x-ms-continuation": continuation });
    if (reply.status !== 200) throw new Error(`query page ${pages + 1} answered ${reply.status}: ${reply.text.slice(0, 500)}`);
    const page = JSON.parse(reply.text) as unknown[];
    if (!Array.isArray(page)) throw new Error(`query page ${pages + 1} is not a JSON array`);
    items.push(...page);
    pages++;
    if (pages === 1) {
      firstMs = performance.now() - start;
      firstCpuS = cpuSeconds(hubPid) - cpu0;
    }
    const header = reply.headers["x-ms-continuation"];
    continuation = Array.isArray(header) ? header[0] : header;
    if (pages > DEVICES + 1) throw new Error("the query never stopped paging");
  } while (continuation !== undefined && continuation !== "");
  return { firstMs, firstCpuS, allMs: performance.now() - start, pages, items };
}

interface QueryResult {
  first: number[];
  firstCpuMs: number[];
  all: number[];
  pages: number;
  firstPageItems: number;
  count: number[];
  hubCpuPerQueryS: number;
  hubPreempted: number;
}

async function queries(hub: HubProcess, http: Client): Promise<QueryResult> {
  const select = `SELECT * FROM devices WHERE tags.site = '${SITE}'`;
  const count = `SELECT COUNT() AS n FROM devices WHERE tags.site = '${SITE}'`;
  const first: number[] = [];
  const firstCpuMs: number[] = [];
  const all: number[] = [];
  let pages = 0;
  let firstPageItems = 0;
  const cpu0 = cpuSeconds(hub.pid);
  const switches0 = involuntarySwitches(hub.pid);
  for (let run = 0; run < QUERY_RUNS; run++) {
    const result = await runQuery(http, select, hub.pid);
    const ids = new Set<string>();
    for (const item of result.items) {
      const twin = item as { deviceId?: string; tags?: { site?: string } };
      if (twin.tags?.site !== SITE) throw new Error(`the query returned a twin outside site ${SITE}: ${JSON.stringify(item).slice(0, 300)}`);
      ids.add(String(twin.deviceId));
    }
    if (ids.size !== expectedMatches || result.items.length !== expectedMatches) {
      throw new Error(`the query returned ${result.items.length} twins (${ids.size} distinct); expected ${expectedMatches}`);
    }
    first.push(result.firstMs);
    firstCpuMs.push(result.firstCpuS * 1000);
    all.push(result.allMs);
    pages = result.pages;
    firstPageItems = Math.min(PAGE_SIZE, expectedMatches);
    log(`  run ${run + 1}: first page ${ms(result.firstMs)} ms (hub CPU ${ms(result.firstCpuS * 1000)} ms), all ${result.items.length} in ${result.pages} pages ${ms(result.allMs)} ms`);
  }
  const hubCpuPerQueryS = (cpuSeconds(hub.pid) - cpu0) / QUERY_RUNS;
  const hubPreempted = involuntarySwitches(hub.pid) - switches0;
  const countTimes: number[] = [];
  for (let run = 0; run < QUERY_RUNS; run++) {
    const result = await runQuery(http, count, hub.pid);
    const n = (result.items[0] as { n?: unknown } | undefined)?.n;
    if (n !== expectedMatches) throw new Error(`COUNT() answered ${JSON.stringify(result.items)}; expected n = ${expectedMatches}`);
    countTimes.push(result.allMs);
  }
  log(`  COUNT(): ${countTimes.map(ms).join(", ")} ms`);
  return { first, firstCpuMs, all, pages, firstPageItems, count: countTimes, hubCpuPerQueryS, hubPreempted };
}

// ---------------------------------------------------------------------------------------------------------------
// Scenario 3: peers on the same rows

type Row = [deviceId: string, moduleId: string, status: string, identity: string, twin: string];

interface PeerResult {
  rowBytes: number;
  rawInsertPerS: number;
  storeWritePerS: number;
  jsonExtractCountMs: number[];
  storeScanAllMs: number[];
  storeScanFirstPageMs: number[];
  firstPageRows: number;
}

function freshDatabase(path: string): Database.Database {
  const db = new Database(path);
  db.pragma("journal_mode = WAL");
  db.pragma("synchronous = FULL");
  for (const migration of migrations) {
    db.transaction(() => {
      db.exec(migration.sql);
      db.pragma(`user_version = ${migration.version}`);
    }).immediate();
  }
  return db;
}

async function peers(hubDb: string, peerDir: string): Promise<PeerResult> {
  mkdirSync(peerDir, { recursive: true });
  const source = new Database(hubDb, { readonly: true });
  const rows = source
    .prepare<[], Row>("SELECT device_id, module_id, status, identity, twin FROM identities WHERE module_id = '' ORDER BY rowid")
    .raw()
    .all() as Row[];
  source.close();
  if (rows.length !== DEVICES) throw new Error(`the hub's database holds ${rows.length} devices; expected ${DEVICES}`);
  const rowBytes = rows.reduce((sum, r) => sum + r[3].length + r[4].length, 0) / rows.length;

  // (a) better-sqlite3 directly: the store's schema and upsert, batches of BATCH rows, one IMMEDIATE transaction each;
  // CREATE_RUNS times into a fresh file, like the hub runs.
  const rawRates: number[] = [];
  let raw: Database.Database | undefined;
  for (let run = 1; run <= CREATE_RUNS; run++) {
    raw?.close();
    raw = freshDatabase(join(peerDir, `raw-${run}.db`));
    const upsert = raw.prepare(
      `INSERT INTO identities (device_id, module_id, status, identity, twin) VALUES (?, ?, ?, ?, ?)
       ON CONFLICT (device_id, module_id)
       DO UPDATE SET status = excluded.status, identity = excluded.identity, twin = excluded.twin`,
    );
    const insertBatch = raw.transaction((batch: readonly Row[]) => {
      for (const r of batch) upsert.run(r[0], r[1], r[2], r[3], r[4]);
    });
    const t0 = performance.now();
    for (let i = 0; i < rows.length; i += BATCH) insertBatch.immediate(rows.slice(i, i + BATCH));
    rawRates.push((rows.length / (performance.now() - t0)) * 1000);
  }
  log(`  better-sqlite3 insert: ${rawRates.map((r) => `${int(r)}/s`).join(", ")}`);

  // The query's predicate in SQL, over the same rows: what a query pushed down into SQLite would cost at best.
  const countSql = raw!.prepare<[string], number>(
    "SELECT count(*) FROM identities WHERE module_id = '' AND json_extract(twin, '$.tags.site') = ?",
  ).pluck();
  const jsonExtractCountMs: number[] = [];
  for (let run = 0; run < QUERY_RUNS; run++) {
    const t0 = performance.now();
    const n = countSql.get(SITE);
    jsonExtractCountMs.push(performance.now() - t0);
    if (n !== expectedMatches) throw new Error(`json_extract count gave ${n}; expected ${expectedMatches}`);
  }
  raw!.close();

  // (b) The hub's SqliteStore without HTTP, validation or twin logic: write() of the same entries, batches of BATCH.
  const entries: IdentityEntry[] = rows.map((r) => ({ identity: JSON.parse(r[3]), twin: JSON.parse(r[4]) }) as IdentityEntry);
  const storeRates: number[] = [];
  let store: SqliteStore | undefined;
  for (let run = 1; run <= CREATE_RUNS; run++) {
    await store?.close();
    store = SqliteStore.open({ path: join(peerDir, `store-${run}.db`) });
    const t0 = performance.now();
    for (let i = 0; i < entries.length; i += BATCH) {
      const writes: StoreWrite[] = entries.slice(i, i + BATCH).map((entry) => ({ kind: "put", entry }));
      await store.write(writes);
    }
    storeRates.push((entries.length / (performance.now() - t0)) * 1000);
  }
  log(`  SqliteStore.write: ${storeRates.map((r) => `${int(r)}/s`).join(", ")}`);

  // (c) The store scan the query service runs (chunks of 1,000, one JSON.parse per row), without rendering or
  // matching: all rows, and the rows the first page reads (the page ends at the match after its last item, and the
  // service reads whole chunks of 1,000 rows).
  const firstPageRows = Math.min(DEVICES, Math.ceil((expectedMatches > PAGE_SIZE ? PAGE_SIZE * SITES + SITE_INDEX + 1 : DEVICES) / 1000) * 1000);
  const scanFirst: number[] = [];
  const scanAll: number[] = [];
  for (let run = 0; run < QUERY_RUNS; run++) {
    let scanned = 0;
    let after: { deviceId: string; moduleId: string } | undefined;
    const t0 = performance.now();
    for (;;) {
      const chunk = await store!.scan({ collection: "devices", limit: 1000, ...(after === undefined ? {} : { after }) });
      scanned += chunk.length;
      if (scanFirst.length === run && scanned >= firstPageRows) scanFirst.push(performance.now() - t0);
      if (chunk.length < 1000) break;
      const last = chunk[chunk.length - 1]!;
      after = { deviceId: last.identity.deviceId, moduleId: last.identity.moduleId };
    }
    scanAll.push(performance.now() - t0);
    if (scanned !== DEVICES) throw new Error(`the store scan saw ${scanned} devices; expected ${DEVICES}`);
  }
  await store!.close();
  const rawInsertPerS = mmm(rawRates).median;
  const storeWritePerS = mmm(storeRates).median;
  const storeScanFirstPageMs = scanFirst;
  const storeScanAllMs = scanAll;
  return { rowBytes, rawInsertPerS, storeWritePerS, jsonExtractCountMs, storeScanAllMs, storeScanFirstPageMs, firstPageRows };
}

// ---------------------------------------------------------------------------------------------------------------
// Main

function dirBytes(dir: string): number {
  return readdirSync(dir).reduce((sum, name) => sum + statSync(join(dir, name)).size, 0);
}

async function profiled<T>(hub: HubProcess, name: string, work: () => Promise<T>): Promise<T> {
  if (PROFILE_DIR === undefined) return work();
  await hub.command({ cmd: "profile-start" });
  const result = await work();
  const path = join(PROFILE_DIR, `${name}.cpuprofile`);
  await hub.command({ cmd: "profile-stop", path });
  log(`  profile written: ${path}`);
  return result;
}

async function main(): Promise<void> {
  const command = benchCommand("registry");
  const machine = bench.describeMachine([`better-sqlite3 ${pkgVersion("better-sqlite3")} (SQLite ${sqliteVersion})`]);
  const pinning = pinned ? "hub pinned to core 0, generator and peers to core 1 (taskset)" : "not pinned";
  log(`registry benchmark: ${int(DEVICES)} devices, batches of ${BATCH}, ${CONCURRENCY} in flight, ${SITES} sites`);
  log(`  ${machine}; ${pinning}`);
  log(`  work dir ${workDir}${opts.keep ? " (kept)" : ""}`);
  if (PROFILE_DIR !== undefined) {
    mkdirSync(PROFILE_DIR, { recursive: true });
    log("  PROFILING: the hub runs under the V8 CPU profiler; its numbers are slower than an unprofiled run");
  }

  const caDir = join(workDir, "ca");
  mkdirSync(caDir);
  const ca = await createCertificateAuthority("Malachite bench CA");
  writeFileSync(join(caDir, "ca.pem"), ca.certPem);
  writeFileSync(join(caDir, "ca-key.pem"), ca.keyPem, { mode: 0o600 });

  // Scenario 1, CREATE_RUNS times, each into a fresh hub and data dir; the last hub stays up for the queries.
  const creates: CreateResult[] = [];
  let hub: HubProcess | undefined;
  let http: Client | undefined;
  let dataDir = "";
  for (let run = 1; run <= CREATE_RUNS; run++) {
    if (hub !== undefined) {
      http!.close();
      await hub.close();
      rmSync(dataDir, { recursive: true, force: true });
    }
    dataDir = join(workDir, `data-${run}`);
    hub = await startHubProcess(dataDir, caDir);
    http = client(hub, ca.certPem);
    // A request to warm the connection, TLS session and routes; not timed.
    const warm = await http.call("GET", `/statistics/devices?${API}`);
    if (warm.status !== 200) throw new Error(`GET /statistics/devices answered ${warm.status}: ${warm.text}`);
    log(`1. bulk creation, run ${run} of ${CREATE_RUNS} (hub pid ${hub.pid} at https://${hub.hostName}:${hub.port})`);
    const h = hub;
    const c = http;
    const create = await (run === CREATE_RUNS ? profiled(h, "create", () => bulkCreate(h, c)) : bulkCreate(h, c));
    const stats = JSON.parse((await http.call("GET", `/statistics/devices?${API}`)).text) as { totalDeviceCount?: number };
    if (stats.totalDeviceCount !== DEVICES) throw new Error(`the hub counts ${stats.totalDeviceCount} devices; expected ${DEVICES}`);
    log(`  ${int(DEVICES)} devices in ${create.wallS.toFixed(2)} s: ${int(create.perS)}/s; hub CPU ${create.hubCpuS.toFixed(2)} s`);
    creates.push(create);
  }
  if (hub === undefined || http === undefined) throw new Error("no creation run");
  // The run with the median rate stands for the scenario; all rates are listed.
  const create = medianBy(creates, (c) => c.perS);

  log(`2. query (${QUERY_RUNS} runs)`);
  const h = hub;
  const c = http;
  const query = await profiled(h, "query", () => queries(h, c));
  const hubRss = peakRssMiB(hub.pid);

  http.close();
  await hub.close();
  const dbBytes = dirBytes(dataDir);

  let peer: PeerResult | undefined;
  if (!opts["no-peer"]) {
    log("3. peers (in this process, on the same rows)");
    peer = await peers(join(dataDir, "malachite.db"), join(workDir, "peer"));
  }

  // -------------------------------------------------------------------------------------------------------------
  // Report
  const verdict = (ok: boolean): string => (ok ? "PASS" : "MISS");
  const firstStats = mmm(query.first);
  const rows: Array<[string, string, string]> = [
    [`Bulk create ${int(DEVICES)} tagged devices (wall), median run`, `${int(create.perS)} devices/s (${create.wallS.toFixed(2)} s)`, `≥ ${int(TARGET_CREATE_PER_S)}/s: ${verdict(create.perS >= TARGET_CREATE_PER_S)}`],
    [`  all ${CREATE_RUNS} run${CREATE_RUNS === 1 ? "" : "s"}, fresh hub each`, creates.map((r) => `${int(r.perS)}/s`).join(", "), ""],
    ["  hub CPU", `${create.hubCpuS.toFixed(2)} CPU-s = ${((create.hubCpuS / DEVICES) * 1000 * 1000).toFixed(0)} CPU-ms per 1,000 devices (${((create.hubCpuS / create.wallS) * 100).toFixed(0)} % of a core); preempted ${int(create.hubPreempted)}×`, ""],
    ["  generator CPU", `${create.generatorCpuS.toFixed(2)} CPU-s (${((create.generatorCpuS / create.wallS) * 100).toFixed(0)} % of a core)`, ""],
    [`  bulk request latency (${BATCH} records)`, `p50 ${ms(quantile(create.latencies, 0.5))} ms, p99 ${ms(quantile(create.latencies, 0.99))} ms, max ${ms(quantile(create.latencies, 1))} ms`, ""],
    ["  devices/s by tenth of the run", create.deciles.map((d) => `${(d / 1000).toFixed(1)}k`).join(" "), ""],
    [`Query first page (${query.firstPageItems} twins) min/med/max`, mmmText(query.first), `≤ ${TARGET_FIRST_PAGE_MS} ms (median): ${verdict(firstStats.median <= TARGET_FIRST_PAGE_MS)}`],
    ["  hub CPU for the first page (10 ms ticks)", mmmText(query.firstCpuMs), ""],
    [`Query all ${int(expectedMatches)} twins (${query.pages} pages)`, mmmText(query.all), ""],
    ["  hub CPU per full query", `${(query.hubCpuPerQueryS * 1000).toFixed(0)} CPU-ms; preempted ${int(query.hubPreempted)}× in ${QUERY_RUNS} runs`, ""],
    ["COUNT() query min/med/max", mmmText(query.count), ""],
    ["Hub peak RSS / database size", `${hubRss.toFixed(0)} MiB / ${(dbBytes / 1024 / 1024).toFixed(0)} MiB`, ""],
  ];
  if (peer !== undefined) {
    rows.push(
      [`Peer: better-sqlite3 insert, same rows, batches of ${BATCH}, FULL (median)`, `${int(peer.rawInsertPerS)} rows/s (${int(peer.rowBytes)} B of JSON a row)`, `hub ÷ peer = ${(create.perS / peer.rawInsertPerS).toFixed(3)}`],
      [`Peer: SqliteStore.write, same entries, batches of ${BATCH} (median)`, `${int(peer.storeWritePerS)} rows/s`, `hub ÷ store = ${(create.perS / peer.storeWritePerS).toFixed(3)}`],
      ["Peer: SQL json_extract COUNT over the same rows", mmmText(peer.jsonExtractCountMs), `hub COUNT ÷ SQL = ${(mmm(query.count).median / mmm(peer.jsonExtractCountMs).median).toFixed(1)}×`],
      [`Peer: SqliteStore.scan of the ${int(peer.firstPageRows)} rows the first page reads`, mmmText(peer.storeScanFirstPageMs), `hub first page ÷ scan = ${(firstStats.median / mmm(peer.storeScanFirstPageMs).median).toFixed(1)}×`],
      [`Peer: SqliteStore.scan of all ${int(DEVICES)} rows`, mmmText(peer.storeScanAllMs), `hub all pages ÷ scan = ${(mmm(query.all).median / mmm(peer.storeScanAllMs).median).toFixed(1)}×`],
    );
  }
  const widths = [0, 1, 2].map((c) => Math.max(...rows.map((r) => r[c]!.length)));
  const out = [
    "",
    `Registry benchmark (issue #2) — ${int(DEVICES)} devices, ${SITES} sites, query site '${SITE}' (${int(expectedMatches)} matches)`,
    `Machine: ${machine}`,
    `Code: ${bench.codeText}`,
    `Setup: ${pinning}; HTTPS keep-alive, ${CONCURRENCY} requests in flight; SQLite store, WAL, synchronous=FULL, one commit per bulk request of ${BATCH} rows`,
    `Query timings are client-side (request sent to last byte read), ${QUERY_RUNS} runs; page size ${PAGE_SIZE}.`,
    "",
    ...rows.map((r) => `${r[0].padEnd(widths[0]!)}  ${r[1].padEnd(widths[1]!)}  ${r[2]}`.trimEnd()),
    "",
    `Load average at the end: ${loadavg()[0]!.toFixed(2)}. "Preempted" counts the hub's involuntary context switches: other processes on its core.`,
    `Command: ${command}`,
    "",
  ];
  process.stdout.write(out.join("\n"));

  if (PROFILE_DIR !== undefined) {
    for (const name of ["create", "query"]) {
      const profile = JSON.parse(readFileSync(join(PROFILE_DIR, `${name}.cpuprofile`), "utf8")) as CpuProfile;
      process.stdout.write(`\nHub CPU profile, ${name} phase (${join(PROFILE_DIR, `${name}.cpuprofile`)}):\n${formatSummary(profile, 15)}\n`);
    }
  }
}

runMain("registry", main);

import { test } from "node:test";
import assert from "node:assert/strict";
import { EventEmitter } from "node:events";
import { mkdtempSync, rmSync, writeFileSync, readFileSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { X509Certificate } from "node:crypto";
import { pino } from "pino";
import type { RunningHub, StartHubOptions } from "../app.js";
import { runCli, type CliDeps } from "./cli.js";

const OWNER = "HostName=localhost;SharedAccessKeyName=iothubowner;SharedAccessKey=c2VjcmV0";

/** A fake hub and every CLI dependency, recording what the CLI did with them. */
function harness(options: { failStart?: Error; closeNever?: boolean } = {}) {
  const out: string[] = [];
  const err: string[] = [];
  const started: StartHubOptions[] = [];
  const exits: number[] = [];
  const signals = new EventEmitter();
  let closed = 0;
  let bannerShown!: () => void;
  const banner = new Promise<void>((resolve) => (bannerShown = resolve));
  const deps: Partial<CliDeps> = {
    stdout: {
      write: (text: string) => {
        out.push(text);
        if (text.includes("Press Ctrl+C")) bannerShown();
      },
    },
    stderr: { write: (text: string) => void err.push(text) },
    signals,
    exit: (code) => void exits.push(code),
    createLogger: () => pino({ level: "silent" }),
    startHub: async (opts) => {
      started.push(opts);
      if (options.failStart) throw options.failStart;
      const hub: RunningHub = {
        hostName: opts.hostName ?? "localhost",
        hubName: opts.hubName ?? "localhost",
        ports: { https: 443, mqtt: 8883, amqp: 5671, ...(opts.metricsPort === undefined ? {} : { metrics: opts.metricsPort }) },
        caCertificatePath: "/data/tls/ca.pem",
        connectionStrings: { iothubowner: OWNER },
        eventHubConnectionString: "Endpoint=sb://localhost/;SharedAccessKeyName=service;SharedAccessKey=x;EntityPath=localhost",
        hubJsonPath: "/data/hub.json",
        advanceClock: () => ({ now: new Date(0).toISOString(), offsetSeconds: 0 }),
        close: () => {
          closed++;
          return options.closeNever ? new Promise<void>(() => undefined) : Promise.resolve();
        },
      };
      return hub;
    },
  };
  return {
    deps,
    signals,
    started,
    exits,
    banner,
    get closed() {
      return closed;
    },
    stdout: () => out.join(""),
    stderr: () => err.join(""),
  };
}

const argv = (...args: string[]) => ["node", "malachite", ...args];

test("bad flags exit 2 and list every problem", async () => {
  const h = harness();
  const code = await runCli(
    argv("start", "--https-port", "abc", "--mqtt-port", "99999", "--hub-name", "-bad", "--log-level", "chatty"),
    {},
    h.deps,
  );
  assert.equal(code, 2);
  const stderr = h.stderr();
  assert.match(stderr, /^Invalid configuration:\n/);
  assert.match(stderr, /flag --https-port: "abc" is not a port number/);
  assert.match(stderr, /flag --mqtt-port: "99999" is not a port number/);
  assert.match(stderr, /flag --hub-name: "-bad" is not a valid IoT Hub name/);
  assert.match(stderr, /flag --log-level: "chatty" is not a log level/);
  assert.equal(stderr.split("\n").filter((l) => l.startsWith("  - ")).length, 4);
  assert.equal(h.started.length, 0);
});

test("unknown flags and commands exit 2 with commander's message", async () => {
  const unknownFlag = harness();
  assert.equal(await runCli(argv("start", "--http-port", "1"), {}, unknownFlag.deps), 2);
  assert.match(unknownFlag.stderr(), /unknown option '--http-port'/);

  const unknownCommand = harness();
  assert.equal(await runCli(argv("strat"), {}, unknownCommand.deps), 2);
  assert.match(unknownCommand.stderr(), /unknown command 'strat'/);

  const missingValue = harness();
  assert.equal(await runCli(argv("start", "--https-port"), {}, missingValue.deps), 2);
  assert.match(missingValue.stderr(), /argument missing/);

  const noCommand = harness();
  assert.equal(await runCli(argv(), {}, noCommand.deps), 2);
  assert.match(noCommand.stderr(), /Usage: malachite/);
});

test("--help and --version exit 0", async () => {
  const help = harness();
  assert.equal(await runCli(argv("start", "--help"), {}, help.deps), 0);
  assert.match(help.stdout(), /--https-port <port>.*\n?.*MALACHITE_HTTPS_PORT/);
  const version = harness();
  assert.equal(await runCli(argv("--version"), {}, version.deps), 0);
  assert.match(version.stdout(), /^\d+\.\d+\.\d+/);
});

test("environment variables configure the hub and flags override them", async () => {
  const h = harness();
  const run = runCli(argv("start", "--amqp-port", "6000"), {
    MALACHITE_HOST_NAME: "edge.example.com",
    MALACHITE_HTTPS_PORT: "8443",
    MALACHITE_AMQP_PORT: "5000",
    MALACHITE_LOG_LEVEL: "debug",
  }, h.deps);
  await h.banner;
  const options = h.started[0]!;
  assert.equal(options.hostName, "edge.example.com");
  assert.equal(options.hubName, "edge");
  assert.equal(options.httpsPort, 8443);
  assert.equal(options.amqpPort, 6000);
  assert.equal(options.mqttPort, 8883);
  assert.equal(options.logLevel, "debug");
  assert.ok(options.logger, "the CLI hands its logger to the hub");
  h.signals.emit("SIGTERM", "SIGTERM");
  assert.equal(await run, 0);
});

test("a config file configures the hub, with problems named by file", async (t) => {
  const dir = mkdtempSync(join(tmpdir(), "malachite-cli-"));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const file = join(dir, "malachite.json");
  writeFileSync(file, JSON.stringify({ hubName: "from-file", bind: "0.0.0.0", mqttPort: 1883 }));

  const h = harness();
  const run = runCli(argv("start", "--config", file), { MALACHITE_MQTT_PORT: "2883" }, h.deps);
  await h.banner;
  assert.equal(h.started[0]!.hubName, "from-file");
  assert.equal(h.started[0]!.bind, "0.0.0.0");
  assert.equal(h.started[0]!.mqttPort, 2883);
  h.signals.emit("SIGINT", "SIGINT");
  assert.equal(await run, 0);

  writeFileSync(file, JSON.stringify({ hubName: "x", extra: true }));
  const bad = harness();
  assert.equal(await runCli(argv("start"), { MALACHITE_CONFIG: file }, bad.deps), 2);
  assert.match(bad.stderr(), new RegExp(`config file ${file.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}: unknown key "extra"`));
  assert.match(bad.stderr(), /\(key "hubName"\): "x" is not a valid IoT Hub name/);
});

test("the banner shows the owner connection string, NODE_EXTRA_CA_CERTS and hub.json; SIGINT closes the hub", async () => {
  const h = harness();
  const run = runCli(argv("start"), {}, h.deps);
  await h.banner;
  const banner = h.stdout();
  assert.ok(banner.includes(OWNER), banner);
  assert.match(banner, /^ {2}NODE_EXTRA_CA_CERTS=\/data\/tls\/ca\.pem$/m);
  assert.match(banner, /\/data\/hub\.json/);
  assert.match(banner, /"localhost"/);
  assert.match(banner, /127\.0\.0\.1:443/);
  assert.match(banner, /127\.0\.0\.1:8883/);
  assert.match(banner, /127\.0\.0\.1:5671/);
  // S1 unless told otherwise, and the banner says how to lift it.
  assert.match(banner, /^ {2}Tier +S1, 1 unit: IoT Hub's daily quota and throttles \(--tier none to lift them\)$/m);
  assert.equal(h.closed, 0);
  h.signals.emit("SIGINT", "SIGINT");
  assert.equal(await run, 0);
  assert.equal(h.closed, 1);
  assert.equal(h.signals.listenerCount("SIGINT"), 0, "signal handlers are removed after closing");
  assert.deepEqual(h.exits, []);
});

test("--metrics-port turns the metrics listener on and the banner shows its URL; off, the banner does not mention it", async () => {
  const h = harness();
  const run = runCli(argv("start", "--metrics-port", "9464"), {}, h.deps);
  await h.banner;
  assert.equal(h.started[0]!.metricsPort, 9464);
  assert.match(h.stdout(), /^ {2}Metrics +http:\/\/127\.0\.0\.1:9464\/metrics$/m);
  h.signals.emit("SIGTERM", "SIGTERM");
  assert.equal(await run, 0);

  const off = harness();
  const offRun = runCli(argv("start"), {}, off.deps);
  await off.banner;
  assert.equal(off.started[0]!.metricsPort, undefined);
  assert.doesNotMatch(off.stdout(), /Metrics/);
  off.signals.emit("SIGTERM", "SIGTERM");
  assert.equal(await offRun, 0);
});

test("--tier reaches startHub and the banner: another tier with its units, or none", async () => {
  for (const [flags, tier, line] of [
    [["--tier", "s2", "--units", "3"], "S2", /^ {2}Tier +S2, 3 units: IoT Hub's daily quota and throttles/m],
    [["--tier", "none"], "none", /^ {2}Tier +none: no quota or throttles beyond --limit \(--tier S1 for IoT Hub's\)$/m],
  ] as const) {
    const h = harness();
    const run = runCli(argv("start", ...flags), {}, h.deps);
    await h.banner;
    assert.equal(h.started[0]!.tier, tier);
    assert.match(h.stdout(), line);
    h.signals.emit("SIGTERM", "SIGTERM");
    assert.equal(await run, 0);
  }
});

test("a second signal while closing forces exit 1", async () => {
  const h = harness({ closeNever: true });
  const run = runCli(argv("start"), {}, h.deps);
  await h.banner;
  h.signals.emit("SIGTERM", "SIGTERM");
  h.signals.emit("SIGINT", "SIGINT");
  assert.equal(await run, 1);
  assert.deepEqual(h.exits, [1]);
});

test("a hub that fails to start exits 1 with a hint", async () => {
  const failure = Object.assign(new Error("listen EACCES: permission denied 127.0.0.1:443"), { code: "EACCES" });
  const h = harness({ failStart: failure });
  assert.equal(await runCli(argv("start"), {}, h.deps), 1);
  assert.match(h.stderr(), /Could not start the hub: listen EACCES/);
  assert.match(h.stderr(), /Ports below 1024/);
});

test("ca create writes a CA and refuses to overwrite it without --force", async (t) => {
  const dir = mkdtempSync(join(tmpdir(), "malachite-ca-"));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const h = harness();
  assert.equal(await runCli(argv("ca", "create", "--out", dir, "--common-name", "Test Run CA"), {}, h.deps), 0);
  const cert = new X509Certificate(readFileSync(join(dir, "ca.pem")));
  assert.equal(cert.ca, true);
  assert.match(cert.subject, /CN=Test Run CA/);
  if (process.platform !== "win32") assert.equal(statSync(join(dir, "ca-key.pem")).mode & 0o777, 0o600);
  assert.match(h.stdout(), /NODE_EXTRA_CA_CERTS=.*ca\.pem/);

  const again = harness();
  assert.equal(await runCli(argv("ca", "create", "--out", dir), {}, again.deps), 1);
  assert.match(again.stderr(), /already exists; use --force/);
  assert.equal(await runCli(argv("ca", "create", "--out", dir, "--force"), {}, harness().deps), 0);
});

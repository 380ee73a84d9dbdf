import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, writeFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { DEFAULT_CONFIG } from "./config.js";
import { loadConfig, type LoadConfigResult } from "./load-config.js";

function ok(result: LoadConfigResult) {
  if (!result.ok) assert.fail(`expected a config, got problems:\n${result.problems.join("\n")}`);
  return result.config;
}

function problems(result: LoadConfigResult): string[] {
  if (result.ok) assert.fail("expected problems, got a config");
  return result.problems;
}

function tempDir(t: { after(fn: () => void): void }): string {
  const dir = mkdtempSync(join(tmpdir(), "malachite-config-"));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

test("no input gives the defaults", () => {
  const config = ok(loadConfig({ flags: {}, env: {} }));
  assert.deepEqual(config, DEFAULT_CONFIG);
  assert.equal(config.hubName, "localhost");
  assert.equal(config.httpsPort, 443);
  assert.equal(config.mqttPort, 8883);
  assert.equal(config.amqpPort, 5671);
  assert.equal(config.bind, "127.0.0.1");
});

test("the result is frozen", () => {
  const config = ok(loadConfig({ flags: {}, env: {} }));
  assert.equal(Object.isFrozen(config), true);
  assert.throws(() => {
    (config as { httpsPort: number }).httpsPort = 1;
  }, TypeError);
});

test("precedence: defaults <- file <- env <- flags", (t) => {
  const dir = tempDir(t);
  const file = join(dir, "malachite.json");
  writeFileSync(file, JSON.stringify({ httpsPort: 1001, mqttPort: 1002, amqpPort: 1003, logLevel: "debug" }));
  const config = ok(
    loadConfig({
      flags: { config: file, amqpPort: "3003" },
      env: { MALACHITE_MQTT_PORT: "2002", MALACHITE_AMQP_PORT: "2003" },
    }),
  );
  assert.equal(config.httpsPort, 1001); // file
  assert.equal(config.mqttPort, 2002); // env beats file
  assert.equal(config.amqpPort, 3003); // flag beats env
  assert.equal(config.logLevel, "debug");
  assert.equal(config.bind, "127.0.0.1"); // default
});

test("the config file can come from MALACHITE_CONFIG, and the flag wins over it", (t) => {
  const dir = tempDir(t);
  const a = join(dir, "a.json");
  const b = join(dir, "b.json");
  writeFileSync(a, JSON.stringify({ hubName: "from-env-file" }));
  writeFileSync(b, JSON.stringify({ hubName: "from-flag-file" }));
  assert.equal(ok(loadConfig({ flags: {}, env: { MALACHITE_CONFIG: a } })).hubName, "from-env-file");
  assert.equal(ok(loadConfig({ flags: { config: b }, env: { MALACHITE_CONFIG: a } })).hubName, "from-flag-file");
});

test("every environment variable is read", () => {
  const config = ok(
    loadConfig({
      flags: {},
      env: {
        MALACHITE_DATA_DIR: "/var/lib/malachite",
        MALACHITE_HOST_NAME: "myhub.example.com",
        MALACHITE_BIND: "0.0.0.0",
        MALACHITE_HTTPS_PORT: "0",
        MALACHITE_MQTT_PORT: "18883",
        MALACHITE_AMQP_PORT: "15671",
        MALACHITE_LOG_LEVEL: "warn",
      },
    }),
  );
  assert.equal(config.dataDir, "/var/lib/malachite");
  assert.equal(config.hostName, "myhub.example.com");
  assert.equal(config.hubName, "myhub");
  assert.equal(config.bind, "0.0.0.0");
  assert.equal(config.httpsPort, 0);
  assert.equal(config.mqttPort, 18883);
  assert.equal(config.amqpPort, 15671);
  assert.equal(config.logLevel, "warn");
});

test("an empty environment variable counts as unset", () => {
  const config = ok(loadConfig({ flags: {}, env: { MALACHITE_HTTPS_PORT: "", MALACHITE_TLS_CERT: "" } }));
  assert.equal(config.httpsPort, 443);
  assert.equal(config.tlsCert, undefined);
});

test("the hub name is derived from the host name unless set", () => {
  assert.equal(ok(loadConfig({ flags: { hostName: "edge.example.com" }, env: {} })).hubName, "edge");
  assert.equal(ok(loadConfig({ flags: { hostName: "127.0.0.5" }, env: {} })).hubName, "malachite");
  assert.equal(
    ok(loadConfig({ flags: { hostName: "edge.example.com" }, env: { MALACHITE_HUB_NAME: "other" } })).hubName,
    "other",
  );
});

test("every problem is reported at once, each naming its source", () => {
  const found = problems(
    loadConfig({
      flags: { httpsPort: "abc", hubName: "x", logLevel: "loud" },
      env: { MALACHITE_MQTT_PORT: "70000", MALACHITE_BIND: "localhost", MALACHITE_HOST_NAME: "not a host" },
    }),
  );
  const expected = [
    /^flag --https-port: "abc" is not a port number/,
    /^flag --hub-name: "x" is not a valid IoT Hub name/,
    /^flag --log-level: "loud" is not a log level/,
    /^env MALACHITE_MQTT_PORT: "70000" is not a port number/,
    /^env MALACHITE_BIND: "localhost" is not an IP address/,
    /^env MALACHITE_HOST_NAME: "not a host" is not a valid host name/,
  ];
  assert.equal(found.length, expected.length, found.join("\n"));
  for (const pattern of expected) assert.ok(found.some((p) => pattern.test(p)), `${pattern} in\n${found.join("\n")}`);
});

test("ports must be integers from 0 to 65535", () => {
  for (const bad of ["-1", "65536", "1.5", "0x10", " 80", "1e3"]) {
    const found = problems(loadConfig({ flags: {}, env: { MALACHITE_AMQP_PORT: bad } }));
    assert.match(found[0]!, /^env MALACHITE_AMQP_PORT: /);
  }
  assert.equal(ok(loadConfig({ flags: { amqpPort: "65535" }, env: {} })).amqpPort, 65535);
});

test("config file problems: unknown keys, wrong types, each named with the file", (t) => {
  const dir = tempDir(t);
  const file = join(dir, "malachite.json");
  writeFileSync(file, JSON.stringify({ httpPort: 80, httpsPort: "443", mqttPort: 1.5, hostName: 7, $schema: "x" }));
  const found = problems(loadConfig({ flags: { config: file }, env: {} }));
  assert.equal(found.length, 4, found.join("\n"));
  assert.ok(found.some((p) => p.startsWith(`config file ${file}: unknown key "httpPort"`)));
  assert.ok(found.some((p) => p.startsWith(`config file ${file} (key "httpsPort"): "443" is not a port number`)));
  assert.ok(found.some((p) => p.startsWith(`config file ${file} (key "mqttPort"): 1.5 is not a port number`)));
  assert.ok(found.some((p) => p.startsWith(`config file ${file} (key "hostName"): 7 is not a string`)));
});

test("a bad file value overridden by a flag is not a problem", (t) => {
  const dir = tempDir(t);
  const file = join(dir, "malachite.json");
  writeFileSync(file, JSON.stringify({ httpsPort: -5 }));
  assert.equal(ok(loadConfig({ flags: { config: file, httpsPort: "8443" }, env: {} })).httpsPort, 8443);
});

test("an unreadable or malformed config file is a problem", (t) => {
  const dir = tempDir(t);
  const missing = join(dir, "missing.json");
  assert.match(problems(loadConfig({ flags: {}, env: { MALACHITE_CONFIG: missing } }))[0]!, /cannot be read \(ENOENT\)/);

  const broken = join(dir, "broken.json");
  writeFileSync(broken, "{ httpsPort: 1 ");
  assert.match(problems(loadConfig({ flags: { config: broken }, env: {} }))[0]!, /is not valid JSON/);

  const array = join(dir, "array.json");
  writeFileSync(array, "[]");
  assert.match(problems(loadConfig({ flags: { config: array }, env: {} }))[0]!, /must hold a JSON object/);
});

test("paths in the config file are relative to the file", (t) => {
  const dir = tempDir(t);
  const file = join(dir, "malachite.json");
  writeFileSync(join(dir, "cert.pem"), "x");
  writeFileSync(join(dir, "key.pem"), "x");
  writeFileSync(file, JSON.stringify({ dataDir: "state", tlsCert: "cert.pem", tlsKey: "./key.pem" }));
  const config = ok(loadConfig({ flags: { config: file }, env: {} }));
  assert.equal(config.dataDir, join(dir, "state"));
  assert.equal(config.tlsCert, join(dir, "cert.pem"));
  assert.equal(config.tlsKey, join(dir, "key.pem"));
});

test("a TLS certificate and key come together and must be readable", (t) => {
  const dir = tempDir(t);
  const cert = join(dir, "cert.pem");
  writeFileSync(cert, "x");
  const onlyCert = problems(loadConfig({ flags: { tlsCert: cert }, env: {} }));
  assert.equal(onlyCert.length, 1);
  assert.match(onlyCert[0]!, /^flag --tls-cert: a TLS certificate needs its private key too/);

  const onlyKey = problems(loadConfig({ flags: {}, env: { MALACHITE_TLS_KEY: cert } }));
  assert.match(onlyKey[0]!, /^env MALACHITE_TLS_KEY: a TLS private key needs its certificate too/);

  const missingKey = problems(loadConfig({ flags: { tlsCert: cert, tlsKey: join(dir, "nope.pem") }, env: {} }));
  assert.equal(missingKey.length, 1);
  assert.match(missingKey[0]!, /^flag --tls-key: ".*nope.pem" cannot be read \(ENOENT\)/);
});

test("unknown flags are reported", () => {
  assert.match(problems(loadConfig({ flags: { httpPort: "1" }, env: {} }))[0]!, /^flag --http-port: unknown option/);
});

test("the metrics listener is off by default and takes a port from a flag, env or the config file", (t) => {
  assert.equal(ok(loadConfig({ flags: {}, env: {} })).metricsPort, undefined);
  assert.equal(ok(loadConfig({ flags: { metricsPort: "9464" }, env: {} })).metricsPort, 9464);
  assert.equal(ok(loadConfig({ flags: {}, env: { MALACHITE_METRICS_PORT: "0" } })).metricsPort, 0);
  const dir = tempDir(t);
  const file = join(dir, "malachite.json");
  writeFileSync(file, JSON.stringify({ metricsPort: 9100 }));
  assert.equal(ok(loadConfig({ flags: { config: file }, env: {} })).metricsPort, 9100);
  assert.equal(ok(loadConfig({ flags: { config: file, metricsPort: "9200" }, env: {} })).metricsPort, 9200);
});

test("a metrics port that is not a port number is a problem naming its source", (t) => {
  assert.match(problems(loadConfig({ flags: { metricsPort: "metrics" }, env: {} }))[0]!, /^flag --metrics-port: "metrics" is not a port number/);
  assert.match(problems(loadConfig({ flags: {}, env: { MALACHITE_METRICS_PORT: "65536" } }))[0]!, /^env MALACHITE_METRICS_PORT: "65536" is not a port number/);
  const dir = tempDir(t);
  const file = join(dir, "malachite.json");
  writeFileSync(file, JSON.stringify({ metricsPort: "9100" }));
  assert.match(problems(loadConfig({ flags: { config: file }, env: {} }))[0]!, /\(key "metricsPort"\): "9100" is not a port number/);
});

test("tier, units and limits: S1 by default, none on request, read from flags, env and the config file", (t) => {
  const defaults = ok(loadConfig({ flags: {}, env: {} }));
  assert.equal(defaults.tier, "S1");
  assert.equal(defaults.units, undefined);
  assert.deepEqual(defaults.limits, {});
  assert.equal(ok(loadConfig({ flags: { tier: "None" }, env: {} })).tier, "none");
  assert.equal(ok(loadConfig({ flags: {}, env: { MALACHITE_TIER: "none", MALACHITE_LIMITS: "dailyMessages=30" } })).limits["dailyMessages"], 30);
  const fromFlags = ok(loadConfig({ flags: { tier: "s2", units: "3", limit: ["dailyMessages=30", "d2cSendsPerSecond=0.5"] }, env: {} }));
  assert.equal(fromFlags.tier, "S2");
  assert.equal(fromFlags.units, 3);
  assert.deepEqual(fromFlags.limits, { dailyMessages: 30, d2cSendsPerSecond: 0.5 });
  const fromEnv = ok(loadConfig({ flags: {}, env: { MALACHITE_TIER: "F1", MALACHITE_UNITS: "1", MALACHITE_LIMITS: "devices=3, twinReadsPerSecond=unlimited" } }));
  assert.equal(fromEnv.tier, "F1");
  assert.deepEqual(fromEnv.limits, { devices: 3, twinReadsPerSecond: Infinity });
  const dir = tempDir(t);
  const file = join(dir, "malachite.json");
  writeFileSync(file, JSON.stringify({ tier: "B1", units: 2, limits: { dailyMessages: 10, devices: 5, queriesPerSecond: "unlimited" } }));
  const merged = ok(loadConfig({ flags: { config: file, limit: ["dailyMessages=20"] }, env: { MALACHITE_LIMITS: "devices=6" } }));
  assert.equal(merged.tier, "B1");
  assert.equal(merged.units, 2);
  // Merged per name: flag > env > file.
  assert.deepEqual(merged.limits, { dailyMessages: 20, devices: 6, queriesPerSecond: Infinity });
});

test("bad tiers, units and limits are problems naming their source and the valid choices", (t) => {
  const found = problems(loadConfig({ flags: { tier: "S4", limit: ["dailyMesages=3", "devices=2.5", "nonsense"] }, env: { MALACHITE_UNITS: "0" } }));
  assert.equal(found.length, 5);
  assert.match(found[0]!, /^flag --tier: "S4" is not an IoT Hub tier \(one of F1, B1, B2, B3, S1, S2, S3, or none\)/);
  assert.match(found[1]!, /^env MALACHITE_UNITS: "0" is not a number of units/);
  assert.match(found[2]!, /^flag --limit: "dailyMesages" is not a limit name \(one of dailyMessages, meterBytes, devices, /);
  assert.match(found[3]!, /^flag --limit: devices=2.5 must be a whole number/);
  assert.match(found[4]!, /^flag --limit: "nonsense" is not name=value/);
  assert.match(problems(loadConfig({ flags: { tier: "F1", units: "2" }, env: {} }))[0]!, /^flag --units: a F1 hub has at most 1 unit, not 2/);
  assert.equal(ok(loadConfig({ flags: { units: "2" }, env: {} })).units, 2);
  assert.match(problems(loadConfig({ flags: { tier: "none", units: "2" }, env: {} }))[0]!, /^flag --units: units apply to a tier, and the tier is none/);
  const dir = tempDir(t);
  const file = join(dir, "malachite.json");
  writeFileSync(file, JSON.stringify({ limits: ["dailyMessages=3"] }));
  assert.match(problems(loadConfig({ flags: { config: file }, env: {} }))[0]!, /\(key "limits"\): must be an object of limit names and numbers/);
  writeFileSync(file, JSON.stringify({ limits: { dailyMessages: -3 } }));
  assert.match(problems(loadConfig({ flags: { config: file }, env: {} }))[0]!, /\(key "limits.dailyMessages"\): dailyMessages=-3 must be more than 0/);
});

import { test } from "node:test";
import assert from "node:assert/strict";
import { HUB_ERRORS } from "../hub/errors/catalog.js";
import { runCli } from "./cli.js";

/** Runs `malachite explain ...` in-process, with no hub, and captures what it prints. */
async function explain(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const out: string[] = [];
  const err: string[] = [];
  const code = await runCli(["node", "malachite", "explain", ...args], {}, {
    stdout: { write: (text: string) => void out.push(text) },
    stderr: { write: (text: string) => void err.push(text) },
  });
  return { code, stdout: out.join(""), stderr: err.join("") };
}

test("explain <code> prints the header line and every section", async () => {
  const { code, stdout, stderr } = await explain("403004");
  assert.equal(code, 0);
  assert.equal(stderr, "");
  const lines = stdout.split("\n");
  assert.equal(lines[0], "403004 DeviceMaximumQueueDepthExceeded (HTTP 403, AMQP amqp:resource-limit-exceeded, MQTT 403)");
  for (const section of ["What happened", "Usual causes", "What the SDKs do", "What to change", "Reproduce it in Malachite"]) {
    assert.ok(lines.includes(section), section);
  }
  assert.match(stdout, /DeviceMaximumQueueDepthExceededError/);
  assert.match(stdout, /malachite c2d send/);
  assert.ok(lines.slice(1).every((line) => line.length <= 100), "wrapped at 100 columns");
});

test("explain <name> matches names without regard to case", async () => {
  const lower = await explain("devicemaximumqueuedepthexceeded");
  const exact = await explain("DeviceMaximumQueueDepthExceeded");
  assert.equal(lower.code, 0);
  assert.equal(lower.stdout, exact.stdout);
  assert.equal((await explain("401003")).stdout.split("\n")[0], "401003 IotHubUnauthorized (HTTP 401, AMQP amqp:unauthorized-access, MQTT 401, CONNACK 5)");
});

test("explain without an argument lists every code and name", async () => {
  const { code, stdout } = await explain();
  assert.equal(code, 0);
  for (const [name, spec] of Object.entries(HUB_ERRORS)) assert.match(stdout, new RegExp(`^  ${spec.code}  ${name}$`, "m"), name);
});

test("an unknown query exits 2 and lists close matches", async () => {
  const partial = await explain("QueueDepth");
  assert.equal(partial.code, 2);
  assert.equal(partial.stdout, "");
  assert.match(partial.stderr, /no IoT Hub error has the code or name 'QueueDepth'/);
  assert.match(partial.stderr, /403004 {2}DeviceMaximumQueueDepthExceeded/);

  const status = await explain("404");
  assert.equal(status.code, 2);
  for (const name of ["DeviceNotFound", "ModuleNotFound", "DeviceNotOnline", "NotFound"]) assert.match(status.stderr, new RegExp(` ${name}\n`), name);

  const sdkClass = await explain("ThrottlingError");
  assert.equal(sdkClass.code, 2);
  assert.match(sdkClass.stderr, /429001 {2}ThrottlingException/);

  const nothing = await explain("no-such-error-at-all");
  assert.equal(nothing.code, 2);
  assert.match(nothing.stderr, /Run `malachite explain` to list every code and name/);
  assert.doesNotMatch(nothing.stderr, /Close matches/);
});

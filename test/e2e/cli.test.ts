import { test } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { randomInt } from "node:crypto";
import { createSasToken } from "../../src/hub/index.js";

const root = new URL("../..", import.meta.url).pathname;

/** Runs `malachite` from source as `npm start` runs it from the build, and collects its output. */
function malachite(args: string[], env: Record<string, string> = {}) {
  const child = spawn(process.execPath, ["--import", "tsx", join(root, "src/main.ts"), ...args], { cwd: root, env: { ...process.env, ...env }, stdio: ["ignore", "pipe", "pipe"] });
  let stdout = "";
  let stderr = "";
  child.stdout.on("data", (c: Buffer) => (stdout += c.toString()));
  child.stderr.on("data", (c: Buffer) => (stderr += c.toString()));
  const exited = new Promise<number | null>((resolve) => child.on("exit", (code) => resolve(code)));
  return { child, exited, output: () => ({ stdout, stderr }) };
}

async function waitFor(check: () => boolean, what: string): Promise<void> {
  for (let i = 0; i < 300; i++) {
    if (check()) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`Timed out waiting for ${what}`);
}

test("bad flags and config exit with code 2, listing every problem", async () => {
  const run = malachite(["start", "--https-port", "99999", "--log-level", "loud"], { MALACHITE_MQTT_PORT: "x" });
  assert.equal(await run.exited, 2);
  const { stderr } = run.output();
  assert.match(stderr, /https-port/);
  assert.match(stderr, /log-level/);
  assert.match(stderr, /MALACHITE_MQTT_PORT/);
});

test("malachite start serves the hub, writes hub.json with a working connection string, and stops on SIGTERM", async () => {
  const dataDir = mkdtempSync(join(tmpdir(), "malachite-cli-"));
  const address = `127.${randomInt(1, 255)}.${randomInt(0, 256)}.${randomInt(1, 255)}`;
  const caDir = process.env["MALACHITE_TEST_CA_DIR"]!;
  const run = malachite(["start", "--data-dir", dataDir, "--host-name", address, "--bind", address, "--log-level", "warn"]);
  try {
    const hubJsonPath = join(dataDir, "hub.json");
    await waitFor(() => existsSync(hubJsonPath) || run.child.exitCode !== null, "hub.json");
    assert.equal(run.child.exitCode, null, run.output().stderr);
    const hubJson = JSON.parse(readFileSync(hubJsonPath, "utf8"));
    await waitFor(() => run.output().stdout.includes("NODE_EXTRA_CA_CERTS="), "the banner");
    const { stdout } = run.output();
    assert.ok(stdout.includes(hubJson.connectionStrings.iothubowner), "the banner shows the owner connection string");
    assert.ok(stdout.includes(`NODE_EXTRA_CA_CERTS=${hubJson.caCertificatePath}`));
    assert.equal(hubJson.hubName, "malachite");
    // The CLI made its own CA, which this test process does not trust; check it with a one-off agent instead of the SDK.
    assert.ok(readFileSync(hubJson.caCertificatePath, "utf8").includes("BEGIN CERTIFICATE"));
    assert.notEqual(hubJson.caCertificatePath, join(caDir, "ca.pem"));
    const { request } = await import("node:https");
    const status = await new Promise<number>((resolve, reject) => {
      const req = request({ host: address, port: 443, path: "/statistics/devices?api-version=2021-04-12", ca: readFileSync(hubJson.caCertificatePath) }, (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
      });
      req.on("error", reject);
      req.end();
    });
    assert.equal(status, 401, "an unauthenticated call reaches the hub over TLS with its own CA");

    // `malachite c2d send` queues through the running hub found in the data dir.
    const ownerKey = /SharedAccessKey=([^;]+)/.exec(hubJson.connectionStrings.iothubowner)![1]!;
    const created = await new Promise<number>((resolve, reject) => {
      const body = JSON.stringify({ deviceId: "cli-dev" });
      const req = request(
        {
          host: address, port: 443, method: "PUT", path: "/devices/cli-dev?api-version=2021-04-12", ca: readFileSync(hubJson.caCertificatePath),
          headers: { authorization: createSasToken(address, ownerKey, Math.ceil(Date.now() / 1000) + 60, "iothubowner"), "content-type": "application/json", "content-length": Buffer.byteLength(body) },
        },
        (res) => {
          res.resume();
          resolve(res.statusCode ?? 0);
        },
      );
      req.on("error", reject);
      req.end(body);
    });
    assert.equal(created, 200);
    const sent = malachite(["c2d", "send", "cli-dev", "hello", "--data-dir", dataDir, "--property", "a=b", "--ack", "full"]);
    assert.equal(await sent.exited, 0, sent.output().stderr);
    assert.match(sent.output().stdout, /Queued for cli-dev/);
    const refused = malachite(["c2d", "send", "nobody", "hello", "--data-dir", dataDir]);
    assert.equal(await refused.exited, 1);
    assert.match(refused.output().stderr, /ErrorCode:DeviceNotFound/);

    // `malachite clock` shows and advances hub time.
    const advanced = malachite(["clock", "--advance", "3600", "--data-dir", dataDir]);
    assert.equal(await advanced.exited, 0, advanced.output().stderr);
    assert.match(advanced.output().stdout, /\(3600 s ahead of wall time\)/);
    const shown = malachite(["clock", "--data-dir", dataDir]);
    assert.equal(await shown.exited, 0);
    assert.match(shown.output().stdout, /3600 s ahead/);
    const backwards = malachite(["clock", "--advance", "-1", "--data-dir", dataDir]);
    assert.equal(await backwards.exited, 2);

    // `malachite consumer-group` manages the built-in endpoint's consumer groups.
    const added = malachite(["consumer-group", "add", "Analytics", "--data-dir", dataDir]);
    assert.equal(await added.exited, 0, added.output().stderr);
    assert.match(added.output().stdout, /Consumer group Analytics exists/);
    const listed = malachite(["consumer-group", "list", "--data-dir", dataDir]);
    assert.equal(await listed.exited, 0, listed.output().stderr);
    assert.equal(listed.output().stdout, "$Default\nAnalytics\n");
    const removedGroup = malachite(["consumer-group", "remove", "analytics", "--data-dir", dataDir]);
    assert.equal(await removedGroup.exited, 0, removedGroup.output().stderr);
    const keepDefault = malachite(["consumer-group", "remove", "$Default", "--data-dir", dataDir]);
    assert.equal(await keepDefault.exited, 1);
    assert.match(keepDefault.output().stderr, /HTTP 400.*cannot be deleted/);
    run.child.kill("SIGTERM");
    assert.equal(await run.exited, 0);
  } finally {
    if (run.child.exitCode === null) run.child.kill("SIGKILL");
    rmSync(dataDir, { recursive: true, force: true });
  }
});

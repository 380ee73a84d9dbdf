import { test } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { randomInt } from "node:crypto";
import iothub from "azure-iothub";
import type { RunningHub } from "../../src/app.js";
import { issueServerCertificate } from "../../src/tls/issue-server-certificate.js";
import { deviceClient } from "../integration/harness/device-client.js";
import { testIssuer } from "../integration/harness/start-test-hub.js";
import { within } from "../integration/harness/within.js";

// A hub killed with SIGKILL never writes its devices' disconnects. IoT Hub shows a device whose connection ended with
// the service as Disconnected, so the next start must too, instead of "Connected" forever (decision 0013's marker).

const root = new URL("../..", import.meta.url).pathname;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** `malachite start` from source, as `npm start` runs it from the build; resolves once it wrote hub.json. */
async function startCli(dataDir: string, address: string, tls: { cert: string; key: string }) {
  const hubJson = join(dataDir, "hub.json");
  rmSync(hubJson, { force: true });
  const child = spawn(process.execPath, ["--import", "tsx", join(root, "src/main.ts"), "start", "--data-dir", dataDir, "--host-name", address, "--bind", address, "--tls-cert", tls.cert, "--tls-key", tls.key, "--tier", "none", "--log-level", "warn"], { cwd: root, stdio: ["ignore", "ignore", "pipe"] });
  let stderr = "";
  child.stderr.on("data", (c: Buffer) => (stderr += c.toString()));
  const exited = new Promise<void>((resolve) => child.on("exit", () => resolve()));
  for (let i = 0; !existsSync(hubJson); i++) {
    if (child.exitCode !== null || i > 400) throw new Error(`the hub did not start: ${stderr}`);
    await sleep(50);
  }
  return { child, exited, owner: JSON.parse(readFileSync(hubJson, "utf8")).connectionStrings.iothubowner as string };
}

test("after a kill -9, the next start shows the device that was connected as Disconnected", async (t) => {
  const dataDir = mkdtempSync(join(tmpdir(), "malachite-crash-"));
  const address = `127.${randomInt(1, 255)}.${randomInt(0, 256)}.${randomInt(1, 255)}`;
  // A certificate from the test run's CA, which this process trusts (NODE_EXTRA_CA_CERTS), so the SDKs connect unchanged.
  const issued = await issueServerCertificate({ issuer: testIssuer(), names: [address] });
  const tls = { cert: join(dataDir, "server.pem"), key: join(dataDir, "server-key.pem") };
  writeFileSync(tls.cert, issued.certPem);
  writeFileSync(tls.key, issued.keyPem, { mode: 0o600 });
  const hubs: Array<Awaited<ReturnType<typeof startCli>>> = [];
  t.after(async () => {
    for (const hub of hubs) if (hub.child.exitCode === null) hub.child.kill("SIGKILL");
    await Promise.all(hubs.map((hub) => hub.exited));
    rmSync(dataDir, { recursive: true, force: true });
  });

  const first = await startCli(dataDir, address, tls);
  hubs.push(first);
  const registry = iothub.Registry.fromConnectionString(first.owner);
  const key = (await registry.create({ deviceId: "crash-dev" })).responseBody.authentication!.symmetricKey!.primaryKey!;
  const device = deviceClient({ hostName: address } as RunningHub, "crash-dev", key, "Mqtt");
  device.setRetryPolicy({ shouldRetry: () => false, nextRetryTimeout: () => 0 });
  await device.open();
  assert.equal((await registry.get("crash-dev")).responseBody.connectionState, "Connected");

  first.child.kill("SIGKILL");
  await first.exited;
  // Closed before the restart, so the device cannot reconnect to the new hub and mark itself Connected again.
  await within(device.close().catch(() => undefined), 10_000, "the device client did not close");

  const killedAt = Date.now();
  const second = await startCli(dataDir, address, tls);
  hubs.push(second);
  const after = (await iothub.Registry.fromConnectionString(second.owner).get("crash-dev")).responseBody;
  assert.equal(after.connectionState, "Disconnected");
  assert.ok(Date.parse(after.connectionStateUpdatedTime!) >= killedAt - 1000, `updated at the restart, not before: ${after.connectionStateUpdatedTime}`);
  second.child.kill("SIGTERM");
});

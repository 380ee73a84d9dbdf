import { test } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { issueServerCertificate } from "../../src/tls/issue-server-certificate.js";
import { testIssuer } from "../integration/harness/start-test-hub.js";

// Two libraries only some hubs ever use are loaded when first needed, not at start: the Storage SDK (file upload;
// ~260 ms and 7 MB of heap to load) and @peculiar/x509 (making certificates; ~190 ms and 3.6 MB). Every start of the
// hub, the test suite's many included, paid for both, and every garbage collection marked them.

const root = new URL("../..", import.meta.url).pathname;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

test("a hub started with its certificate files loads neither the Storage SDK nor @peculiar/x509", async (t) => {
  const dir = mkdtempSync(join(tmpdir(), "malachite-lazy-"));
  const record = join(dir, "imports.txt");
  writeFileSync(record, "");
  const issued = await issueServerCertificate({ issuer: testIssuer(), names: ["127.0.0.1"] });
  writeFileSync(join(dir, "server.pem"), issued.certPem);
  writeFileSync(join(dir, "server-key.pem"), issued.keyPem, { mode: 0o600 });
  const hubJson = join(dir, "data", "hub.json");
  const child = spawn(
    process.execPath,
    [
      "--import", "tsx",
      "--import", join(root, "test/e2e/harness/record-imports.ts"),
      join(root, "src/main.ts"), "start", "--data-dir", join(dir, "data"), "--bind", "127.0.0.1",
      "--https-port", "0", "--mqtt-port", "0", "--amqp-port", "0",
      "--tls-cert", join(dir, "server.pem"), "--tls-key", join(dir, "server-key.pem"), "--log-level", "warn",
    ],
    { cwd: root, stdio: ["ignore", "ignore", "pipe"], env: { ...process.env, RECORD_IMPORTS_TO: record } },
  );
  let stderr = "";
  child.stderr.on("data", (c: Buffer) => (stderr += c.toString()));
  const exited = new Promise<void>((resolve) => child.on("exit", () => resolve()));
  t.after(async () => {
    if (child.exitCode === null) child.kill("SIGKILL");
    await exited;
    rmSync(dir, { recursive: true, force: true });
  });
  for (let i = 0; !existsSync(hubJson); i++) {
    if (child.exitCode !== null || i > 400) throw new Error(`the hub did not start: ${stderr}`);
    await sleep(50);
  }

  const loaded = readFileSync(record, "utf8").split("\n");
  // The recorder works: the hub's own modules and the libraries it does need are in the list.
  assert.ok(loaded.some((url) => url.endsWith("/src/app.ts")), "src/app.ts was recorded");
  assert.ok(loaded.some((url) => url.includes("/node_modules/better-sqlite3/")), "better-sqlite3 was recorded");
  assert.deepEqual(loaded.filter((url) => /\/node_modules\/(@azure\/storage-blob|@peculiar\/x509|reflect-metadata)\//.test(url)), []);
});

import { test } from "node:test";
import assert from "node:assert/strict";
import { X509Certificate } from "node:crypto";
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createCertificateAuthority } from "../tls/create-certificate-authority.js";
import { issueServerCertificate } from "../tls/issue-server-certificate.js";
import { SqliteStore } from "../storage/sqlite/sqlite-store.js";
import { TRUSTED_CAS_SETTING, runCaAdd, runCaList } from "./ca-command.js";
import { runCli } from "./cli.js";

function output() {
  const out: string[] = [];
  const err: string[] = [];
  return {
    deps: { stdout: { write: (s: string) => void out.push(s) }, stderr: { write: (s: string) => void err.push(s) } },
    stdout: () => out.join(""),
    stderr: () => err.join(""),
  };
}

function tempDir(t: { after(fn: () => void): void }): string {
  const dir = mkdtempSync(join(tmpdir(), "malachite-ca-add-"));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

async function registered(dataDir: string): Promise<unknown> {
  const store = SqliteStore.open({ path: join(dataDir, "malachite.db") });
  try {
    return await store.getSetting(TRUSTED_CAS_SETTING);
  } finally {
    await store.close();
  }
}

test("ca add registers a CA certificate in the data directory's database, once", async (t) => {
  const dir = tempDir(t);
  const dataDir = join(dir, "data");
  const ca = await createCertificateAuthority("Devices Root CA");
  const pemFile = join(dir, "root.pem");
  writeFileSync(pemFile, ca.certPem);

  const first = output();
  assert.equal(await runCaAdd(pemFile, { dataDir }, {}, first.deps), 0);
  assert.match(first.stdout(), /Added CA certificate: CN=Devices Root CA, O=Malachite/);
  assert.match(first.stdout(), /SHA-256 thumbprint [0-9A-F]{64}/);
  assert.match(first.stdout(), /next start/);
  assert.equal(first.stderr(), "");
  const stored = await registered(dataDir);
  assert.ok(Array.isArray(stored) && stored.length === 1);
  assert.equal(new X509Certificate(stored[0] as string).fingerprint256, new X509Certificate(ca.certPem).fingerprint256);

  // The same certificate again (here with other whitespace around it) is not added twice.
  writeFileSync(pemFile, `\n\n${ca.certPem}\n`);
  const again = output();
  assert.equal(await runCaAdd(pemFile, { dataDir }, {}, again.deps), 0);
  assert.match(again.stdout(), /Already registered: CN=Devices Root CA/);
  assert.doesNotMatch(again.stdout(), /next start/);
  assert.equal((await registered(dataDir) as unknown[]).length, 1);

  // A second CA is appended after the first.
  const other = await createCertificateAuthority("Second CA");
  writeFileSync(join(dir, "second.pem"), other.certPem);
  assert.equal(await runCaAdd(join(dir, "second.pem"), { dataDir }, {}, output().deps), 0);
  const both = (await registered(dataDir)) as string[];
  assert.deepEqual(
    both.map((pem) => new X509Certificate(pem).subject.split("\n")[0]),
    ["CN=Devices Root CA", "CN=Second CA"],
  );

  const list = output();
  assert.equal(await runCaList({ dataDir }, {}, list.deps), 0);
  assert.match(list.stdout(), /2 CA certificates registered in .*malachite\.db:/);
  assert.match(list.stdout(), /CN=Devices Root CA, O=Malachite\n +SHA-1 thumbprint [0-9A-F]{40}\n/);
  assert.match(list.stdout(), /CN=Second CA/);
});

test("ca add refuses what is not a CA certificate with exit 2 and registers nothing", async (t) => {
  const dir = tempDir(t);
  const dataDir = join(dir, "data");
  const ca = await createCertificateAuthority("Issuer");
  const leaf = await issueServerCertificate({ issuer: ca, names: ["device-1"] });
  const cases: Array<[string, string, RegExp]> = [
    ["leaf.pem", leaf.certPem, /leaf\.pem \('CN=device-1, O=Malachite'\) is not a CA certificate: its basicConstraints extension does not say CA=true/],
    ["key.pem", ca.keyPem, /holds a private key, not a certificate/],
    ["empty.pem", "hello\n", /holds no PEM certificate/],
    ["broken.pem", "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n", /is not a readable X\.509 certificate/],
    // A bundle is all or nothing: one leaf in it refuses the whole file.
    ["bundle.pem", ca.certPem + leaf.certPem, /certificate 2 of .*bundle\.pem .* is not a CA certificate/],
  ];
  for (const [name, content, message] of cases) {
    writeFileSync(join(dir, name), content);
    const o = output();
    assert.equal(await runCaAdd(join(dir, name), { dataDir }, {}, o.deps), 2, name);
    assert.match(o.stderr(), message, name);
    assert.equal(o.stdout(), "", name);
  }
  const missing = output();
  assert.equal(await runCaAdd(join(dir, "missing.pem"), { dataDir }, {}, missing.deps), 2);
  assert.match(missing.stderr(), /Cannot read .*missing\.pem/);
  // Nothing was opened or created for a refused file.
  assert.equal(existsSync(join(dataDir, "malachite.db")), false);

  const list = output();
  assert.equal(await runCaList({ dataDir }, {}, list.deps), 0);
  assert.match(list.stdout(), /No CA certificates are registered/);
  assert.equal(existsSync(join(dataDir, "malachite.db")), false, "ca list does not create a database");
});

test("malachite ca add / ca list on the command line, with MALACHITE_DATA_DIR", async (t) => {
  const dir = tempDir(t);
  const dataDir = join(dir, "from-env");
  const ca = await createCertificateAuthority("Env CA");
  writeFileSync(join(dir, "ca.pem"), ca.certPem);
  const env = { MALACHITE_DATA_DIR: dataDir };

  const add = output();
  assert.equal(await runCli(["node", "malachite", "ca", "add", join(dir, "ca.pem")], env, add.deps), 0);
  assert.match(add.stdout(), /Added CA certificate: CN=Env CA/);
  assert.equal(((await registered(dataDir)) as unknown[]).length, 1);

  // --data-dir wins over the environment.
  const flagDir = join(dir, "from-flag");
  assert.equal(await runCli(["node", "malachite", "ca", "add", join(dir, "ca.pem"), "--data-dir", flagDir], env, output().deps), 0);
  assert.equal(((await registered(flagDir)) as unknown[]).length, 1);

  const list = output();
  assert.equal(await runCli(["node", "malachite", "ca", "list"], env, list.deps), 0);
  assert.match(list.stdout(), /1 CA certificate registered in .*from-env.*:\n {2}CN=Env CA/);

  const noFile = output();
  assert.equal(await runCli(["node", "malachite", "ca", "add"], env, noFile.deps), 2);
  assert.match(noFile.stderr(), /missing required argument 'pem-file'/);
});

import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtemp, readFile, rm, stat, writeFile } from "node:fs/promises";
import { X509Certificate } from "node:crypto";
import { once } from "node:events";
import { tmpdir } from "node:os";
import { join } from "node:path";
import * as tls from "node:tls";
import type { AddressInfo } from "node:net";
import { createCertificateAuthority, ensureCertificates, type TlsMaterial } from "./ensure-certificates.js";
import { issueServerCertificate } from "./issue-server-certificate.js";

async function tempDir(t: { after(fn: () => Promise<void>): void }): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), "malachite-tls-"));
  t.after(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

/** Serves the material on 127.0.0.1 and connects with Node's TLS client trusting only `ca`. */
async function handshake(
  material: TlsMaterial,
  servername: string,
  ca = material.caCertPem,
): Promise<{ authorized: boolean; error: Error | null }> {
  const server = tls.createServer({ cert: material.certPem, key: material.keyPem }, (socket) => socket.end());
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  const { port } = server.address() as AddressInfo;
  try {
    const socket = tls.connect({ host: "127.0.0.1", port, ca, servername, rejectUnauthorized: false });
    await once(socket, "secureConnect");
    const result = { authorized: socket.authorized, error: socket.authorizationError ?? null };
    socket.destroy();
    return result;
  } finally {
    server.close();
  }
}

function sans(certPem: string): string {
  return new X509Certificate(certPem).subjectAltName ?? "";
}

test("first start creates a local CA and a server certificate Node's TLS client accepts", async (t) => {
  const dataDir = await tempDir(t);
  const material = await ensureCertificates({ dataDir, hostName: "localhost" });

  assert.equal(material.caCertificatePath, join(dataDir, "tls", "ca.pem"));
  assert.equal(await readFile(material.caCertificatePath, "utf8"), material.caCertPem);
  for (const file of ["ca.pem", "ca-key.pem", "server.pem", "server-key.pem"]) {
    await stat(join(dataDir, "tls", file));
  }
  if (process.platform !== "win32") {
    assert.equal((await stat(join(dataDir, "tls", "ca-key.pem"))).mode & 0o777, 0o600);
    assert.equal((await stat(join(dataDir, "tls", "server-key.pem"))).mode & 0o777, 0o600);
  }

  const ca = new X509Certificate(material.caCertPem);
  assert.equal(ca.ca, true);
  const server = new X509Certificate(material.certPem);
  assert.equal(server.ca, false);
  assert.equal(server.checkIssued(ca), true);
  assert.deepEqual(server.keyUsage, ["1.3.6.1.5.5.7.3.1"]);
  assert.equal(server.publicKey.asymmetricKeyType, "ec");
  assert.equal(server.publicKey.asymmetricKeyDetails?.namedCurve, "prime256v1");
  assert.match(sans(material.certPem), /DNS:localhost/);
  assert.match(sans(material.certPem), /IP Address:127\.0\.0\.1/);

  assert.deepEqual(await handshake(material, "localhost"), { authorized: true, error: null });
});

test("the certificate is checked by name: a name not in it is refused", async (t) => {
  const dataDir = await tempDir(t);
  const material = await ensureCertificates({ dataDir, hostName: "localhost" });
  const result = await handshake(material, "elsewhere.example.com");
  assert.equal(result.authorized, false);
  assert.match(String(result.error), /ERR_TLS_CERT_ALTNAME_INVALID|does not match/);
});

test("a second call reuses the same files", async (t) => {
  const dataDir = await tempDir(t);
  const first = await ensureCertificates({ dataDir, hostName: "localhost" });
  const second = await ensureCertificates({ dataDir, hostName: "localhost" });
  assert.deepEqual(second, first);
});

test("a changed host name reissues the server certificate from the same CA", async (t) => {
  const dataDir = await tempDir(t);
  const first = await ensureCertificates({ dataDir, hostName: "localhost" });
  const second = await ensureCertificates({ dataDir, hostName: "myhub.example.com", extraNames: ["127.0.0.7"] });
  assert.equal(second.caCertPem, first.caCertPem);
  assert.notEqual(second.certPem, first.certPem);
  assert.match(sans(second.certPem), /DNS:myhub\.example\.com/);
  assert.match(sans(second.certPem), /IP Address:127\.0\.0\.7/);
  assert.equal(await readFile(join(dataDir, "tls", "server.pem"), "utf8"), second.certPem);
  assert.deepEqual(await handshake(second, "myhub.example.com"), { authorized: true, error: null });
  assert.deepEqual(await handshake(second, "localhost"), { authorized: true, error: null });
});

test("an expired server certificate is reissued", async (t) => {
  const dataDir = await tempDir(t);
  const first = await ensureCertificates({ dataDir, hostName: "localhost" });
  const caKeyPem = await readFile(join(dataDir, "tls", "ca-key.pem"), "utf8");
  const old = await issueServerCertificate({
    issuer: { certPem: first.caCertPem, keyPem: caKeyPem },
    names: ["localhost", "127.0.0.1"],
    now: new Date(Date.now() - 900 * 24 * 60 * 60 * 1000),
  });
  await writeFile(join(dataDir, "tls", "server.pem"), old.certPem);
  await writeFile(join(dataDir, "tls", "server-key.pem"), old.keyPem);

  const second = await ensureCertificates({ dataDir, hostName: "localhost" });
  assert.notEqual(second.certPem, old.certPem);
  assert.equal(second.caCertPem, first.caCertPem);
  assert.ok(Date.parse(new X509Certificate(second.certPem).validTo) > Date.now());
  assert.deepEqual(await handshake(second, "localhost"), { authorized: true, error: null });
});

test("a server key that does not match its certificate is replaced", async (t) => {
  const dataDir = await tempDir(t);
  const first = await ensureCertificates({ dataDir, hostName: "localhost" });
  const other = await createCertificateAuthority("unrelated");
  await writeFile(join(dataDir, "tls", "server-key.pem"), other.keyPem);
  const second = await ensureCertificates({ dataDir, hostName: "localhost" });
  assert.notEqual(second.certPem, first.certPem);
  assert.deepEqual(await handshake(second, "localhost"), { authorized: true, error: null });
});

test("with an issuer, the server certificate comes from that CA", async (t) => {
  const dataDir = await tempDir(t);
  const ca = await createCertificateAuthority("Malachite Test CA");
  const certPath = join(dataDir, "test-ca.pem");
  await writeFile(certPath, ca.certPem);
  const issuer = { ...ca, certPath };

  const material = await ensureCertificates({ dataDir, hostName: "localhost", extraNames: ["127.0.0.2"], issuer });
  assert.equal(material.caCertPem, ca.certPem);
  assert.equal(material.caCertificatePath, certPath);
  await assert.rejects(stat(join(dataDir, "tls", "ca.pem")), { code: "ENOENT" });
  assert.deepEqual(await handshake(material, "localhost", ca.certPem), { authorized: true, error: null });

  // The same data directory switched to another CA gets a certificate from that one.
  const ca2 = await createCertificateAuthority("Another Test CA");
  const again = await ensureCertificates({ dataDir, hostName: "localhost", issuer: { ...ca2, certPath } });
  assert.notEqual(again.certPem, material.certPem);
  assert.deepEqual(await handshake(again, "localhost", ca2.certPem), { authorized: true, error: null });
  assert.equal((await handshake(again, "localhost", ca.certPem)).authorized, false);
});

test("an issuer whose key does not match is refused", async (t) => {
  const dataDir = await tempDir(t);
  const a = await createCertificateAuthority("A");
  const b = await createCertificateAuthority("B");
  await assert.rejects(
    ensureCertificates({ dataDir, hostName: "localhost", issuer: { certPem: a.certPem, keyPem: b.keyPem, certPath: "a.pem" } }),
    /does not belong/,
  );
});

test("a given certificate and key are used as-is", async (t) => {
  const dataDir = await tempDir(t);
  const ca = await createCertificateAuthority("Own CA");
  const own = await issueServerCertificate({ issuer: ca, names: ["localhost"] });
  const tlsCert = join(dataDir, "own.pem");
  const tlsKey = join(dataDir, "own-key.pem");
  await writeFile(tlsCert, own.certPem);
  await writeFile(tlsKey, own.keyPem);

  const material = await ensureCertificates({ dataDir, hostName: "localhost", tlsCert, tlsKey });
  assert.deepEqual(material, { certPem: own.certPem, keyPem: own.keyPem, caCertPem: own.certPem, caCertificatePath: tlsCert });
  await assert.rejects(stat(join(dataDir, "tls")), { code: "ENOENT" });
  assert.deepEqual(await handshake(material, "localhost", ca.certPem), { authorized: true, error: null });

  const wrongKey = join(dataDir, "wrong-key.pem");
  await writeFile(wrongKey, ca.keyPem);
  await assert.rejects(ensureCertificates({ dataDir, hostName: "localhost", tlsCert, tlsKey: wrongKey }), /does not belong/);
});

test("createCertificateAuthority makes a P-256 CA that may sign certificates", async () => {
  const ca = await createCertificateAuthority("Malachite Test CA");
  const cert = new X509Certificate(ca.certPem);
  assert.equal(cert.ca, true);
  assert.match(cert.subject, /CN=Malachite Test CA/);
  assert.equal(cert.publicKey.asymmetricKeyDetails?.namedCurve, "prime256v1");
  const years = (Date.parse(cert.validTo) - Date.now()) / (365.25 * 24 * 60 * 60 * 1000);
  assert.ok(years > 9.9 && years < 10.1, `${years} years`);
  assert.match(ca.keyPem, /^-----BEGIN PRIVATE KEY-----/);
});

/**
 * The TLS files of a benchmark run (`writeTlsFiles`): one CA made for the run and one ECDSA P-256 server certificate
 * it issues for the host and localhost, served by every server of the run.
 */
import { chmodSync, mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { createCertificateAuthority } from "../src/tls/create-certificate-authority.js";
import { issueServerCertificate } from "../src/tls/issue-server-certificate.js";

/**
 * Writes `ca.pem`, `server.pem` and `server-key.pem` (mode 600) into `workDir/tls` (mode 700), and answers that
 * directory and the CA.
 */
export async function writeTlsFiles(workDir: string, host: string): Promise<{ tlsDir: string; ca: { certPem: string; keyPem: string } }> {
  const tlsDir = join(workDir, "tls");
  mkdirSync(tlsDir);
  const ca = await createCertificateAuthority("Malachite bench CA");
  const serverCert = await issueServerCertificate({ issuer: ca, names: [host, "localhost"] });
  writeFileSync(join(tlsDir, "ca.pem"), ca.certPem);
  writeFileSync(join(tlsDir, "server.pem"), serverCert.certPem);
  writeFileSync(join(tlsDir, "server-key.pem"), serverCert.keyPem, { mode: 0o600 });
  chmodSync(tlsDir, 0o700);
  return { tlsDir, ca };
}

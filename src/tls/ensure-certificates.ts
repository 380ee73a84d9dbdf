import { createPrivateKey, randomBytes, X509Certificate, type KeyObject } from "node:crypto";
import { mkdir, readFile } from "node:fs/promises";
import { isIP } from "node:net";
import { join, resolve } from "node:path";
import { createCertificateAuthority } from "./create-certificate-authority.js";
import { issueServerCertificate } from "./issue-server-certificate.js";
import { writeFileAtomic } from "../shared/write-file-atomic.js";

export { createCertificateAuthority } from "./create-certificate-authority.js";

export interface TlsMaterial {
  /** The server certificate PEM, followed by any intermediate CA certificates clients need to build the chain. */
  readonly certPem: string;
  readonly keyPem: string;
  /** The certificate clients must trust. */
  readonly caCertPem: string;
  /** Absolute path of that certificate, for NODE_EXTRA_CA_CERTS. */
  readonly caCertificatePath: string;
}

export interface EnsureCertificatesOptions {
  readonly dataDir: string;
  readonly hostName: string;
  /** More DNS names or IP addresses the server certificate must carry (e.g. a per-test loopback address). */
  readonly extraNames?: readonly string[];
  /** A certificate (chain) PEM file to use as-is instead of generating one; needs `tlsKey`. */
  readonly tlsCert?: string | undefined;
  readonly tlsKey?: string | undefined;
  /** A CA to issue the server certificate from instead of the local one (one test CA for a whole test run). */
  readonly issuer?: { readonly certPem: string; readonly keyPem: string; readonly certPath: string };
}

const DAY_MS = 24 * 60 * 60 * 1000;
/** Renew this long before expiry, so a hub that restarts now and then never serves an expired certificate. */
const RENEW_BEFORE_MS = 30 * DAY_MS;
const PRIVATE = 0o600;
const PUBLIC = 0o644;

/**
 * First start: creates a local CA (ECDSA P-256, 10 years) and a server certificate (ECDSA P-256, 825 days, SANs:
 * hostName, "localhost", "127.0.0.1" and `extraNames`) under `${dataDir}/tls/` (ca.pem, ca-key.pem (0600),
 * server.pem, server-key.pem (0600)). Later starts reuse them. The server certificate is reissued from the same
 * CA when it lacks a needed name, was issued by another CA, does not match its key, or expires within 30 days.
 * With `issuer`, the server certificate comes from that CA and caCertPem/caCertificatePath are the issuer's.
 * With `tlsCert`/`tlsKey`, those files are used as-is and caCertificatePath is `tlsCert`.
 */
export async function ensureCertificates(options: EnsureCertificatesOptions): Promise<TlsMaterial> {
  if (options.tlsCert !== undefined || options.tlsKey !== undefined) {
    return useProvidedCertificate(options.tlsCert, options.tlsKey);
  }
  const dir = resolve(options.dataDir, "tls");
  await mkdir(dir, { recursive: true });
  const now = new Date();
  const names = serverNames(options.hostName, options.extraNames ?? []);

  const issuer = options.issuer ? checkIssuer(options.issuer) : await ensureLocalCa(dir, now);

  const certPath = join(dir, "server.pem");
  const keyPath = join(dir, "server-key.pem");
  const existing = await readPair(certPath, keyPath);
  if (existing !== undefined && serverCertificateFits(existing, issuer.cert, names, now)) {
    return { certPem: existing.certPem, keyPem: existing.keyPem, caCertPem: issuer.certPem, caCertificatePath: issuer.path };
  }

  const issued = await issueServerCertificate({ issuer: { certPem: issuer.certPem, keyPem: issuer.keyPem }, names, now });
  const certPem = issued.certPem + intermediates(issuer.certPem);
  // Key first: after a crash between the two writes, the next start sees a mismatched pair and reissues.
  await writeFileAtomic(keyPath, issued.keyPem, PRIVATE);
  await writeFileAtomic(certPath, certPem, PUBLIC);
  return { certPem, keyPem: issued.keyPem, caCertPem: issuer.certPem, caCertificatePath: issuer.path };
}

/** The names every server certificate carries: the configured host name, then what local clients use. */
function serverNames(hostName: string, extraNames: readonly string[]): string[] {
  const names: string[] = [];
  for (const name of [hostName, "localhost", "127.0.0.1", ...extraNames]) {
    const normalized = isIP(name) !== 0 ? name : name.toLowerCase();
    if (!names.includes(normalized)) names.push(normalized);
  }
  return names;
}

interface Issuer {
  readonly cert: X509Certificate;
  readonly certPem: string;
  readonly keyPem: string;
  readonly path: string;
}

function checkIssuer(issuer: { certPem: string; keyPem: string; certPath: string }): Issuer {
  const cert = new X509Certificate(issuer.certPem);
  if (!cert.ca) throw new Error(`the issuer certificate ${issuer.certPath} is not a CA certificate`);
  if (!cert.checkPrivateKey(createPrivateKey(issuer.keyPem))) {
    throw new Error(`the issuer key does not belong to the issuer certificate ${issuer.certPath}`);
  }
  return { cert, certPem: issuer.certPem, keyPem: issuer.keyPem, path: resolve(issuer.certPath) };
}

/** Reuses the local CA when it is intact and not about to expire; otherwise makes a new one. */
async function ensureLocalCa(dir: string, now: Date): Promise<Issuer> {
  const certPath = join(dir, "ca.pem");
  const keyPath = join(dir, "ca-key.pem");
  const existing = await readPair(certPath, keyPath);
  if (
    existing !== undefined &&
    existing.cert.ca &&
    existing.cert.checkPrivateKey(existing.key) &&
    Date.parse(existing.cert.validTo) - now.getTime() > RENEW_BEFORE_MS
  ) {
    return { cert: existing.cert, certPem: existing.certPem, keyPem: existing.keyPem, path: certPath };
  }
  // A suffix tells apart the CAs of several data directories once they sit in the same trust store.
  const id = randomBytes(3).toString("hex");
  const ca = await createCertificateAuthority(`Malachite Local CA ${id}`, now);
  await writeFileAtomic(keyPath, ca.keyPem, PRIVATE);
  await writeFileAtomic(certPath, ca.certPem, PUBLIC);
  return { cert: new X509Certificate(ca.certPem), certPem: ca.certPem, keyPem: ca.keyPem, path: certPath };
}

interface Pair {
  readonly cert: X509Certificate;
  readonly key: KeyObject;
  readonly certPem: string;
  readonly keyPem: string;
}

/** Reads a certificate and key; anything missing or unparsable reads as "nothing there" so it gets replaced. */
async function readPair(certPath: string, keyPath: string): Promise<Pair | undefined> {
  try {
    const [certPem, keyPem] = await Promise.all([readFile(certPath, "utf8"), readFile(keyPath, "utf8")]);
    return { cert: new X509Certificate(certPem), key: createPrivateKey(keyPem), certPem, keyPem };
  } catch {
    return undefined;
  }
}

const SERVER_AUTH = "1.3.6.1.5.5.7.3.1";

function serverCertificateFits(pair: Pair, issuer: X509Certificate, names: readonly string[], now: Date): boolean {
  const { cert } = pair;
  if (!cert.checkPrivateKey(pair.key)) return false;
  if (!cert.checkIssued(issuer) || !cert.verify(issuer.publicKey)) return false;
  if (Date.parse(cert.validFrom) > now.getTime()) return false;
  // Renew near expiry, unless the certificate already lasts as long as its issuer (reissuing would not help).
  const notAfter = Date.parse(cert.validTo);
  const wanted = Math.min(now.getTime() + RENEW_BEFORE_MS, Date.parse(issuer.validTo));
  if (notAfter <= now.getTime() || notAfter < wanted) return false;
  if (!(cert.keyUsage ?? []).includes(SERVER_AUTH)) return false;
  return names.every((name) =>
    isIP(name) !== 0 ? cert.checkIP(name) !== undefined : cert.checkHost(name, { subject: "never" }) !== undefined,
  );
}

/** Certificates of an issuer chain that clients need sent to them: all but self-signed roots. */
function intermediates(issuerPem: string): string {
  const blocks = issuerPem.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? [];
  return blocks
    .filter((block) => {
      const cert = new X509Certificate(block);
      return !(cert.issuer === cert.subject && cert.verify(cert.publicKey));
    })
    .map((block) => `${block}\n`)
    .join("");
}

async function useProvidedCertificate(certPath: string | undefined, keyPath: string | undefined): Promise<TlsMaterial> {
  if (certPath === undefined || keyPath === undefined) {
    throw new Error("a TLS certificate and its private key must be given together (tlsCert and tlsKey)");
  }
  const [certPem, keyPem] = await Promise.all([readFile(certPath, "utf8"), readFile(keyPath, "utf8")]);
  let matches: boolean;
  try {
    matches = new X509Certificate(certPem).checkPrivateKey(createPrivateKey(keyPem));
  } catch (error) {
    throw new Error(`cannot read the TLS certificate ${certPath} or key ${keyPath}: ${(error as Error).message}`);
  }
  // Caught here, a mismatch names both files; caught by the TLS listener, it is an opaque OpenSSL error.
  if (!matches) throw new Error(`the TLS key ${keyPath} does not belong to the certificate ${certPath}`);
  return { certPem, keyPem, caCertPem: certPem, caCertificatePath: resolve(certPath) };
}

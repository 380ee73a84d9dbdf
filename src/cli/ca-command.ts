import { X509Certificate } from "node:crypto";
import { access, mkdir, readFile } from "node:fs/promises";
import { join, resolve } from "node:path";
import { TRUSTED_CAS_SETTING, type Store } from "../hub/index.js";
import { createCertificateAuthority } from "../tls/ensure-certificates.js";
import { writeFileAtomic } from "../shared/write-file-atomic.js";
import type { CliDeps } from "./cli-deps.js";
import { EXIT_FAILURE, EXIT_OK, EXIT_USAGE } from "./start-command.js";
import { resolveDataDir } from "./data-dir.js";

export interface CaCreateOptions {
  readonly out: string;
  readonly commonName: string;
  readonly force?: boolean;
}

/**
 * `malachite ca create`: writes a standalone CA (ca.pem, ca-key.pem) for hubs to issue their certificates from,
 * e.g. one CA for a whole test run that NODE_EXTRA_CA_CERTS points at once.
 */
export async function runCaCreate(options: CaCreateOptions, deps: Pick<CliDeps, "stdout" | "stderr">): Promise<number> {
  const dir = resolve(options.out);
  const certPath = join(dir, "ca.pem");
  const keyPath = join(dir, "ca-key.pem");
  if (!options.force) {
    for (const path of [certPath, keyPath]) {
      if (await exists(path)) {
        // Replacing a CA silently would break every client that already trusts it.
        deps.stderr.write(`${path} already exists; use --force to replace it.\n`);
        return EXIT_FAILURE;
      }
    }
  }
  const ca = await createCertificateAuthority(options.commonName);
  await mkdir(dir, { recursive: true });
  await writeFileAtomic(keyPath, ca.keyPem, 0o600);
  await writeFileAtomic(certPath, ca.certPem, 0o644);
  deps.stdout.write(`CA certificate: ${certPath}\nCA private key: ${keyPath}\nNODE_EXTRA_CA_CERTS=${certPath}\n`);
  return EXIT_OK;
}

async function exists(path: string): Promise<boolean> {
  try {
    await access(path);
    return true;
  } catch {
    return false;
  }
}

// The store setting createHub reads the registered CAs from (an array of PEM strings), once per start.
export { TRUSTED_CAS_SETTING };

export interface CaStoreOptions {
  /** `--data-dir`; falls back to MALACHITE_DATA_DIR, then the default data directory, as `malachite start` does. */
  readonly dataDir?: string | undefined;
}


const PEM_BLOCK = /-----BEGIN ([A-Z0-9 ]+)-----[\s\S]*?-----END \1-----/g;

/** A CA certificate as `ca add` and `ca list` show it: subject, thumbprints (as IoT Hub writes them), validity. */
function describeCa(cert: X509Certificate): string {
  const subject = cert.subject.split("\n").join(", ");
  const sha1 = cert.fingerprint.replace(/:/g, "");
  const sha256 = cert.fingerprint256.replace(/:/g, "");
  return `${subject}\n    SHA-1 thumbprint ${sha1}\n    SHA-256 thumbprint ${sha256}\n    valid ${new Date(cert.validFrom).toISOString()} to ${new Date(cert.validTo).toISOString()}`;
}

/**
 * Reads the CA certificates of a PEM file: every CERTIFICATE block must be a CA certificate (basicConstraints CA=true);
 * returns the problem as text otherwise.
 */
function readCaCertificates(text: string, file: string): X509Certificate[] | string {
  const blocks = [...text.matchAll(PEM_BLOCK)];
  const certificates = blocks.filter((b) => b[1] === "CERTIFICATE");
  if (certificates.length === 0) {
    return blocks.some((b) => /PRIVATE KEY/.test(b[1]!))
      ? `${file} holds a private key, not a certificate; give the CA's certificate (e.g. ca.pem)`
      : `${file} holds no PEM certificate (-----BEGIN CERTIFICATE-----)`;
  }
  const result: X509Certificate[] = [];
  for (const [index, block] of certificates.entries()) {
    const where = certificates.length === 1 ? file : `certificate ${index + 1} of ${file}`;
    let cert: X509Certificate;
    try {
      cert = new X509Certificate(block[0]);
    } catch (error) {
      return `${where} is not a readable X.509 certificate: ${(error as Error).message}`;
    }
    if (!cert.ca) {
      return (
        `${where} ('${cert.subject.split("\n").join(", ")}') is not a CA certificate: its basicConstraints extension ` +
        "does not say CA=true. Register the certificate of the CA that signs your device certificates, not a device certificate."
      );
    }
    result.push(cert);
  }
  return result;
}

async function openStore(dataDir: string): Promise<Store> {
  // Loaded on use, like the hub: the rest of the CLI never loads the native SQLite module.
  const { SqliteStore } = await import("../storage/sqlite/sqlite-store.js");
  return SqliteStore.open({ path: join(dataDir, "malachite.db") });
}

function storedPems(value: unknown): string[] {
  return Array.isArray(value) ? value.filter((v): v is string => typeof v === "string") : [];
}

function fingerprintOf(pem: string): string | undefined {
  try {
    return new X509Certificate(pem).fingerprint256;
  } catch {
    return undefined;
  }
}

/**
 * `malachite ca add <pem-file>`: registers CA certificates with a hub (its data directory's database), so devices of
 * authentication type certificateAuthority whose certificate chains up to one can connect. A hub reads the list when
 * it starts, so a running hub needs a restart. Adding a CA that is already registered changes nothing.
 */
export async function runCaAdd(
  pemFile: string,
  options: CaStoreOptions,
  env: Record<string, string | undefined>,
  deps: Pick<CliDeps, "stdout" | "stderr">,
): Promise<number> {
  let text: string;
  try {
    text = await readFile(pemFile, "utf8");
  } catch (error) {
    deps.stderr.write(`Cannot read ${pemFile}: ${(error as Error).message}\n`);
    return EXIT_USAGE;
  }
  const certificates = readCaCertificates(text, pemFile);
  if (typeof certificates === "string") {
    deps.stderr.write(`${certificates}\n`);
    return EXIT_USAGE;
  }
  const dataDir = resolveDataDir(options.dataDir, env);
  await mkdir(dataDir, { recursive: true });
  const store = await openStore(dataDir);
  try {
    const pems = storedPems(await store.getSetting(TRUSTED_CAS_SETTING));
    const known = new Set(pems.map(fingerprintOf));
    const added: X509Certificate[] = [];
    for (const cert of certificates) {
      if (known.has(cert.fingerprint256)) {
        deps.stdout.write(`Already registered: ${describeCa(cert)}\n`);
        continue;
      }
      known.add(cert.fingerprint256);
      pems.push(cert.toString());
      added.push(cert);
    }
    if (added.length > 0) await store.putSetting(TRUSTED_CAS_SETTING, pems);
    for (const cert of added) {
      const expired = Date.parse(cert.validTo) < Date.now();
      deps.stdout.write(`Added CA certificate: ${describeCa(cert)}\n${expired ? "    warning: this certificate has expired; devices chaining to it are refused\n" : ""}`);
    }
    deps.stdout.write(
      `${pems.length} CA certificate${pems.length === 1 ? "" : "s"} registered in ${join(dataDir, "malachite.db")}.\n` +
        (added.length > 0 ? "A running hub picks the change up on its next start.\n" : ""),
    );
    return EXIT_OK;
  } finally {
    await store.close();
  }
}

/** `malachite ca list`: the CA certificates registered in a data directory, as `ca add` stored them. */
export async function runCaList(options: CaStoreOptions, env: Record<string, string | undefined>, deps: Pick<CliDeps, "stdout" | "stderr">): Promise<number> {
  const dataDir = resolveDataDir(options.dataDir, env);
  const dbPath = join(dataDir, "malachite.db");
  if (!(await exists(dbPath))) {
    deps.stdout.write(`No CA certificates are registered: ${dbPath} does not exist yet.\n`);
    return EXIT_OK;
  }
  const store = await openStore(dataDir);
  let pems: string[];
  try {
    pems = storedPems(await store.getSetting(TRUSTED_CAS_SETTING));
  } finally {
    await store.close();
  }
  if (pems.length === 0) {
    deps.stdout.write(`No CA certificates are registered in ${dbPath}.\n`);
    return EXIT_OK;
  }
  deps.stdout.write(`${pems.length} CA certificate${pems.length === 1 ? "" : "s"} registered in ${dbPath}:\n`);
  for (const pem of pems) {
    let line: string;
    try {
      line = describeCa(new X509Certificate(pem));
    } catch {
      line = "(an entry that is not a readable certificate; it trusts nothing)";
    }
    deps.stdout.write(`  ${line.replace(/\n/g, "\n  ")}\n`);
  }
  return EXIT_OK;
}

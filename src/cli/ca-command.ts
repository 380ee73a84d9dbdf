import { access, mkdir } from "node:fs/promises";
import { join, resolve } from "node:path";
import { createCertificateAuthority } from "../tls/ensure-certificates.js";
import { writeFileAtomic } from "../shared/write-file-atomic.js";
import type { CliDeps } from "./cli-deps.js";
import { EXIT_FAILURE, EXIT_OK } from "./start-command.js";

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

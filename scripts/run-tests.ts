/**
 * `npm test`: type-checks, makes one throwaway CA for the whole run, then runs every test file with node:test.
 * Node reads NODE_EXTRA_CA_CERTS once at process start and the service SDK has no `ca` option, so the CA must exist
 * before the test processes start; every hub under test issues its server certificate from it (DESIGN.md).
 */
import { spawnSync } from "node:child_process";
import { mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, relative } from "node:path";
import { createCertificateAuthority } from "../src/tls/create-certificate-authority.js";

const root = new URL("..", import.meta.url).pathname;

function testFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) return name === "node_modules" ? [] : testFiles(path);
    return name.endsWith(".test.ts") ? [relative(root, path)] : [];
  });
}

function run(command: string, args: string[], env: NodeJS.ProcessEnv = process.env): number {
  const result = spawnSync(command, args, { cwd: root, stdio: "inherit", env });
  return result.status ?? 1;
}

const typecheck = run(process.execPath, [join(root, "node_modules/typescript/bin/tsc"), "-p", "tsconfig.check.json"]);
if (typecheck !== 0) {
  console.error("Type check failed.");
  process.exit(typecheck);
}

const caDir = mkdtempSync(join(tmpdir(), "malachite-test-ca-"));
const ca = await createCertificateAuthority("Malachite test CA");
writeFileSync(join(caDir, "ca.pem"), ca.certPem);
writeFileSync(join(caDir, "ca-key.pem"), ca.keyPem, { mode: 0o600 });

const files = [...testFiles(join(root, "src")), ...testFiles(join(root, "test"))].sort();
const only = process.argv.slice(2);
const selected = only.length > 0 ? files.filter((f) => only.some((o) => f.includes(o))) : files;
const env = { ...process.env, NODE_EXTRA_CA_CERTS: join(caDir, "ca.pem"), MALACHITE_TEST_CA_DIR: caDir };
// A hung test fails after a minute instead of stalling the run.
const status = run(process.execPath, ["--import", "tsx", "--test", "--test-concurrency=2", "--test-timeout=60000", ...selected], env);
rmSync(caDir, { recursive: true, force: true });
process.exit(status);

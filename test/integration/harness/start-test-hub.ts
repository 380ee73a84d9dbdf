import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { randomInt } from "node:crypto";
import { startHub, type RunningHub, type StartHubOptions } from "../../../src/app.js";
import { createLogger } from "../../../src/observability/logger.js";

export interface TestHub extends RunningHub {
  readonly dataDir: string;
  /** Closes the hub and deletes its data directory. */
  dispose(): Promise<void>;
}

export function testIssuer(): { certPem: string; keyPem: string; certPath: string } {
  const dir = process.env["MALACHITE_TEST_CA_DIR"];
  if (dir === undefined) throw new Error("MALACHITE_TEST_CA_DIR is not set: run the tests with `npm test`, which creates the test CA");
  const certPath = join(dir, "ca.pem");
  return { certPath, certPem: readFileSync(certPath, "utf8"), keyPem: readFileSync(join(dir, "ca-key.pem"), "utf8") };
}

/**
 * Starts a hub for one test file on its own loopback address (127.x.y.z), so parallel test files can each own port
 * 443, which the SDKs hard-code. The host name is that address, which the server certificate names.
 */
export async function startTestHub(options: StartHubOptions = {}): Promise<TestHub> {
  const dataDir = options.dataDir ?? mkdtempSync(join(tmpdir(), "malachite-test-"));
  for (let attempt = 0; ; attempt++) {
    const address = `127.${randomInt(1, 255)}.${randomInt(0, 256)}.${randomInt(1, 255)}`;
    try {
      const hub = await startHub({
        dataDir,
        hostName: address,
        hubName: "test-hub",
        bind: address,
        logLevel: "silent",
        logger: createLogger({ level: process.env["MALACHITE_TEST_LOG"] === "1" ? "debug" : "silent" }),
        issuer: testIssuer(),
        // A hub with IoT Hub's S1 limits (the default) would throttle the suites' bursts; tests of limits choose a tier.
        tier: "none",
        ...options,
      });
      return {
        ...hub,
        dataDir,
        async dispose() {
          await hub.close();
          if (options.dataDir === undefined) rmSync(dataDir, { recursive: true, force: true });
        },
      };
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== "EADDRINUSE" || attempt >= 5) throw error;
    }
  }
}

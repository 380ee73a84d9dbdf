import { spawn, type ChildProcess } from "node:child_process";
import { createRequire } from "node:module";
import { createInterface } from "node:readline";

export interface AzuriteProcessOptions {
  /** Address to listen on (the hub's bind address). */
  readonly host: string;
  /** 0 picks a free port. */
  readonly port: number;
  /** Where Azurite keeps blobs and metadata; undefined keeps everything in memory (`--inMemoryPersistence`). */
  readonly location: string | undefined;
  /** PEM files of the server certificate and key Azurite serves HTTPS with. */
  readonly certPath: string;
  readonly keyPath: string;
  /** How long to wait for Azurite to listen before giving up (default 30 s). */
  readonly startTimeoutMs?: number;
  /** Each line Azurite writes (stdout, stderr), for the hub's log. */
  readonly onLine?: (line: string, stream: "stdout" | "stderr") => void;
}

/** How long a stopping Azurite gets to close its metadata database before it is killed. */
const STOP_GRACE_MS = 5_000;

/**
 * Runs before Azurite's own entry (`azurite-blob`, i.e. `dist/src/blob/main.js`) in the child: the child exits when
 * its stdin reaches end of file, which happens when the hub process ends in any way (even SIGKILL), so an Azurite is
 * never left running without its hub. stdin is unref'd, so it does not keep a stopping Azurite alive.
 */
const WATCHDOG = [
  "process.stdin.on('end', () => process.exit(0));",
  "process.stdin.on('error', () => process.exit(0));",
  "process.stdin.resume();",
  "process.stdin.unref();",
  "require(process.argv[1]);",
].join(" ");

function azuriteBlobMain(): string {
  return createRequire(import.meta.url).resolve("azurite/dist/src/blob/main.js");
}

/**
 * One Azurite blob service as a child process of the hub: HTTPS with the given certificate, loose mode (the device
 * SDK's @azure/storage-blob 12.8.0 sends a header strict mode refuses), no API version check (newer SDKs send
 * versions Azurite does not know yet), path-style URLs only, no access log, and its usage telemetry off. The child
 * gets an empty environment, so a user's AZURITE_ACCOUNTS or AZURITE_DB cannot change what the hub relies on (the
 * well-known devstoreaccount1 account, the Loki metadata store).
 */
export class AzuriteProcess {
  /** Resolves with the bound port once Azurite listens; rejects if it exits or times out first (it is then stopped). */
  readonly ready: Promise<number>;
  readonly #child: ChildProcess;
  readonly #exited: Promise<void>;
  #exitCode: number | null | undefined;
  #stopping: Promise<void> | undefined;

  constructor(options: AzuriteProcessOptions) {
    const args = [
      "-e",
      WATCHDOG,
      azuriteBlobMain(),
      "--blobHost",
      options.host,
      "--blobPort",
      String(options.port),
      "--cert",
      options.certPath,
      "--key",
      options.keyPath,
      "--loose",
      "--skipApiVersionCheck",
      "--disableProductStyleUrl",
      "--disableTelemetry",
      "--silent",
      ...(options.location === undefined ? ["--inMemoryPersistence"] : ["--location", options.location]),
    ];
    // Its own process group: a Ctrl+C in the terminal reaches the hub, which then stops Azurite in order.
    this.#child = spawn(process.execPath, args, { stdio: ["pipe", "pipe", "pipe"], env: {}, detached: true, windowsHide: true });
    this.#exited = new Promise((resolve) => {
      this.#child.once("exit", (code) => {
        this.#exitCode = code;
        resolve();
      });
      // A spawn failure emits "error" and no "exit".
      this.#child.once("error", () => {
        this.#exitCode ??= null;
        resolve();
      });
    });
    const recent: string[] = [];
    let listening: ((port: number) => void) | undefined;
    const onLine = (stream: "stdout" | "stderr") => (line: string) => {
      recent.push(line);
      if (recent.length > 20) recent.shift();
      options.onLine?.(line, stream);
      const match = /successfully listens on \S+:(\d+)\/?\s*$/.exec(line);
      if (match !== null) listening?.(Number(match[1]));
    };
    createInterface({ input: this.#child.stdout! }).on("line", onLine("stdout"));
    createInterface({ input: this.#child.stderr! }).on("line", onLine("stderr"));
    this.#child.stdin!.on("error", () => undefined);

    const timeoutMs = options.startTimeoutMs ?? 30_000;
    this.ready = new Promise<number>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`Azurite did not start listening within ${timeoutMs} ms${tail(recent)}`)), timeoutMs);
      listening = (port) => {
        clearTimeout(timer);
        resolve(port);
      };
      void this.#exited.then(() => {
        clearTimeout(timer);
        reject(new Error(`Azurite exited before it listened (exit code ${String(this.#exitCode)})${tail(recent)}`));
      });
    });
    // Whoever awaits `ready` sees the failure; this keeps an unawaited one from becoming an unhandled rejection.
    this.ready.catch(() => this.stop());
  }

  get pid(): number | undefined {
    return this.#child.pid;
  }

  /** Asks Azurite to close (SIGTERM: it saves its metadata), kills it after a grace period; resolves once it exited. */
  stop(): Promise<void> {
    this.#stopping ??= (async () => {
      if (this.#exitCode !== undefined) return;
      this.#child.kill("SIGTERM");
      const graceful = await Promise.race([this.#exited.then(() => true), delay(STOP_GRACE_MS).then(() => false)]);
      if (!graceful) {
        this.#child.kill("SIGKILL");
        await this.#exited;
      }
      this.#child.stdin?.destroy();
    })();
    return this.#stopping;
  }
}

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms).unref());
}

function tail(lines: readonly string[]): string {
  return lines.length === 0 ? "" : `; its last output:\n${lines.join("\n")}`;
}

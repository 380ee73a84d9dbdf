import { mkdir } from "node:fs/promises";
import { join } from "node:path";
import type { BlobInfo, BlobStorage, BlobUploadGrant } from "../../hub/ports/blob-storage.js";
import { writeFileAtomic } from "../../shared/write-file-atomic.js";
import { AccountBlobStorage } from "./account-blob-storage.js";
import { AzuriteProcess } from "./azurite-process.js";

/** Azurite's well-known development account (Azurite README, "Default Storage Account"). */
export const AZURITE_ACCOUNT_NAME = "devstoreaccount1";
export const AZURITE_ACCOUNT_KEY = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==";

export interface EmbeddedAzuriteOptions {
  /** Address Azurite listens on: the hub's bind address. */
  readonly bind: string;
  /** The host devices (and the hub) reach it by: the hub's host name, which its certificate names. */
  readonly hostName: string;
  /** 0 (default) picks a free port. */
  readonly port?: number;
  /** Azurite's workspace (`<dataDir>/blob`); undefined keeps blobs in memory only. */
  readonly location: string | undefined;
  /** Where the certificate and key files Azurite reads are written (private to the hub). */
  readonly tlsDir: string;
  /** The hub's server certificate (chain) and key: Azurite serves HTTPS with them. */
  readonly certPem: string;
  readonly keyPem: string;
  /** The CA that issued the certificate, trusted by the hub's own calls to Azurite. */
  readonly caPem: string;
  readonly containerName: string;
  readonly startTimeoutMs?: number;
  readonly log?: {
    readonly info: (fields: Record<string, unknown>, message: string) => void;
    readonly debug: (fields: Record<string, unknown>, message: string) => void;
    readonly warn: (fields: Record<string, unknown>, message: string) => void;
  };
}

/**
 * BlobStorage on an Azurite the hub runs itself (DESIGN.md, "Blob storage for file upload"). Azurite is started on
 * the first call that needs it, not with the hub: a hub whose devices never upload never pays for it (about a second
 * and a Node process), and the many short-lived hubs of the test suite do not either. Calls made while it starts wait
 * for it; if it fails to start, those calls fail and the next one tries again. `close()` stops it, also when it is
 * still starting. Devices get `hostName` `{hostName}:{port}/devstoreaccount1`, the path-style URL Azurite serves.
 */
export class EmbeddedAzuriteStorage implements BlobStorage {
  readonly #options: EmbeddedAzuriteOptions;
  #starting: Promise<AccountBlobStorage> | undefined;
  #process: AzuriteProcess | undefined;
  #closed = false;
  #port: number | undefined;

  constructor(options: EmbeddedAzuriteOptions) {
    this.#options = options;
  }

  /** The blob endpoint once Azurite runs (`https://{hostName}:{port}/devstoreaccount1`), else undefined. */
  get endpoint(): string | undefined {
    return this.#port === undefined ? undefined : `https://${this.#options.hostName}:${this.#port}/${AZURITE_ACCOUNT_NAME}`;
  }

  /** Starts Azurite now rather than on first use; resolves once it serves requests. */
  async start(): Promise<void> {
    await this.#storage();
  }

  async grantUpload(blobName: string, expiresOn: number): Promise<BlobUploadGrant> {
    return (await this.#storage()).grantUpload(blobName, expiresOn);
  }

  async blobInfo(blobName: string): Promise<BlobInfo | undefined> {
    return (await this.#storage()).blobInfo(blobName);
  }

  /** Stops Azurite (if it was started) and waits until its process has exited. */
  async close(): Promise<void> {
    this.#closed = true;
    await this.#starting?.catch(() => undefined);
    await this.#process?.stop();
  }

  #storage(): Promise<AccountBlobStorage> {
    if (this.#closed) return Promise.reject(new Error("The embedded blob storage is closed"));
    this.#starting ??= this.#start().catch((error: unknown) => {
      this.#starting = undefined;
      throw error;
    });
    return this.#starting;
  }

  async #start(): Promise<AccountBlobStorage> {
    const o = this.#options;
    const started = Date.now();
    await mkdir(o.tlsDir, { recursive: true, mode: 0o700 });
    const certPath = join(o.tlsDir, "azurite-cert.pem");
    const keyPath = join(o.tlsDir, "azurite-key.pem");
    await writeFileAtomic(certPath, o.certPem, 0o644);
    await writeFileAtomic(keyPath, o.keyPem, 0o600);
    if (o.location !== undefined) await mkdir(o.location, { recursive: true });
    if (this.#closed) throw new Error("The embedded blob storage is closed");
    const azurite = new AzuriteProcess({
      host: o.bind,
      port: o.port ?? 0,
      location: o.location,
      certPath,
      keyPath,
      ...(o.startTimeoutMs === undefined ? {} : { startTimeoutMs: o.startTimeoutMs }),
      onLine: (line, stream) => (stream === "stderr" ? o.log?.warn({ azurite: line }, "Azurite") : o.log?.debug({ azurite: line }, "Azurite")),
    });
    this.#process = azurite;
    try {
      const port = await azurite.ready;
      const hostName = `${o.hostName.includes(":") ? `[${o.hostName}]` : o.hostName}:${port}/${AZURITE_ACCOUNT_NAME}`;
      const storage = new AccountBlobStorage({
        account: { accountName: AZURITE_ACCOUNT_NAME, accountKey: AZURITE_ACCOUNT_KEY, blobEndpoint: `https://${hostName}` },
        containerName: o.containerName,
        hostName,
        trustedCaPem: o.caPem,
      });
      // Azurite answers once the container exists: the hub's own HTTPS call proves the whole path works.
      await storage.ensureContainer();
      if (this.#closed) throw new Error("The embedded blob storage is closed");
      this.#port = port;
      o.log?.info({ endpoint: this.endpoint, pid: azurite.pid, startMs: Date.now() - started, persistent: o.location !== undefined }, "Embedded Azurite blob storage started");
      return storage;
    } catch (error) {
      await azurite.stop();
      throw error;
    }
  }
}

import { rootCertificates } from "node:tls";
import {
  BlobSASPermissions,
  BlobServiceClient,
  SASProtocol,
  StorageSharedKeyCredential,
  generateBlobSASQueryParameters,
  type ContainerClient,
  type StoragePipelineOptions,
} from "@azure/storage-blob";
import type { BlobInfo, BlobStorage, BlobUploadGrant } from "../../hub/ports/blob-storage.js";
import type { StorageAccount } from "./connection-string.js";

export interface AccountBlobStorageOptions {
  readonly account: StorageAccount;
  readonly containerName: string;
  /**
   * The `hostName` handed to devices; default: the blob endpoint without its scheme (`acct.blob.core.windows.net`,
   * or `host:port/acct` for a path-style endpoint).
   */
  readonly hostName?: string;
  /** An extra CA (PEM) the hub trusts for its own calls to the storage, besides Node's bundled roots (the hub's own CA for the embedded Azurite). */
  readonly trustedCaPem?: string;
}

// The SAS service version: one every Azure Storage account and the bundled Azurite understand (the SDK's newest
// version can be newer than the bundled Azurite knows). IoT Hub itself still signs with 2018-03-28.
const SAS_VERSION = "2021-08-06";

/**
 * BlobStorage over an Azure Storage account (or any endpoint that speaks its REST API with shared-key auth, such as
 * Azurite): SAS tokens signed with the account key, limited to one blob, read and write (as IoT Hub grants), HTTPS
 * only; blob properties read with the same key. The upload container is created on first use if it does not exist.
 */
export class AccountBlobStorage implements BlobStorage {
  readonly #credential: StorageSharedKeyCredential;
  readonly #container: ContainerClient;
  readonly #containerName: string;
  readonly #hostName: string;
  #containerReady: Promise<void> | undefined;

  constructor(options: AccountBlobStorageOptions) {
    const { account } = options;
    this.#credential = new StorageSharedKeyCredential(account.accountName, account.accountKey);
    const pipeline: StoragePipelineOptions & { tlsOptions?: { ca: string[] } } = {
      retryOptions: { maxTries: 3 },
      userAgentOptions: { userAgentPrefix: "malachite" },
    };
    // Passed through to @azure/core-rest-pipeline's tlsPolicy (not in StoragePipelineOptions' type): `ca` replaces
    // Node's trust store, so the bundled roots go along with the extra CA.
    if (options.trustedCaPem !== undefined) pipeline.tlsOptions = { ca: [...rootCertificates, options.trustedCaPem] };
    const service = new BlobServiceClient(account.blobEndpoint, this.#credential, pipeline);
    this.#container = service.getContainerClient(options.containerName);
    this.#containerName = options.containerName;
    this.#hostName = options.hostName ?? account.blobEndpoint.replace(/^https:\/\//, "");
  }

  get hostName(): string {
    return this.#hostName;
  }

  get containerName(): string {
    return this.#containerName;
  }

  /** Creates the upload container if it does not exist; a failure is thrown and tried again on the next call. */
  ensureContainer(): Promise<void> {
    this.#containerReady ??= this.#container.createIfNotExists().then(
      () => undefined,
      (error: unknown) => {
        this.#containerReady = undefined;
        throw error;
      },
    );
    return this.#containerReady;
  }

  async grantUpload(blobName: string, expiresOn: number): Promise<BlobUploadGrant> {
    await this.ensureContainer();
    const sas = generateBlobSASQueryParameters(
      {
        containerName: this.#containerName,
        blobName,
        permissions: BlobSASPermissions.parse("rw"),
        expiresOn: new Date(expiresOn),
        protocol: SASProtocol.Https,
        version: SAS_VERSION,
      },
      this.#credential,
    ).toString();
    return {
      hostName: this.#hostName,
      containerName: this.#containerName,
      blobName,
      sasToken: `?${sas}`,
      blobUri: `https://${this.#hostName}/${this.#containerName}/${blobName.split("/").map(encodeURIComponent).join("/")}`,
    };
  }

  async blobInfo(blobName: string): Promise<BlobInfo | undefined> {
    try {
      const properties = await this.#container.getBlobClient(blobName).getProperties();
      return { sizeInBytes: properties.contentLength ?? 0, lastModified: properties.lastModified?.getTime() ?? Date.now() };
    } catch (error) {
      if ((error as { statusCode?: unknown }).statusCode === 404) return undefined;
      throw error;
    }
  }
}

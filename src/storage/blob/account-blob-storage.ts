import { rootCertificates } from "node:tls";
import type { ContainerClient, StoragePipelineOptions, StorageSharedKeyCredential } from "@azure/storage-blob";
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

type StorageSdk = typeof import("@azure/storage-blob");

/** What the SDK gives once loaded: the account key credential and the upload container's client. */
interface Clients {
  readonly sdk: StorageSdk;
  readonly credential: StorageSharedKeyCredential;
  readonly container: ContainerClient;
}

/**
 * BlobStorage over an Azure Storage account (or any endpoint that speaks its REST API with shared-key auth, such as
 * Azurite): SAS tokens signed with the account key, limited to one blob, read and write (as IoT Hub grants), HTTPS
 * only; blob properties read with the same key. The upload container is created on first use if it does not exist.
 *
 * The Storage SDK is loaded on the first call, not with the hub: loading it costs about 260 ms and 7 MB of heap
 * (measured on Node 20), which every start of the hub (and every GC of its heap) paid even when no device uploads.
 */
export class AccountBlobStorage implements BlobStorage {
  readonly #options: AccountBlobStorageOptions;
  readonly #containerName: string;
  readonly #hostName: string;
  #clients: Promise<Clients> | undefined;
  #containerReady: Promise<void> | undefined;

  constructor(options: AccountBlobStorageOptions) {
    this.#options = options;
    this.#containerName = options.containerName;
    this.#hostName = options.hostName ?? options.account.blobEndpoint.replace(/^https:\/\//, "");
  }

  get hostName(): string {
    return this.#hostName;
  }

  get containerName(): string {
    return this.#containerName;
  }

  /** Creates the upload container if it does not exist; a failure is thrown and tried again on the next call. */
  ensureContainer(): Promise<void> {
    this.#containerReady ??= this.#connect()
      .then(({ container }) => container.createIfNotExists())
      .then(
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
    const { sdk, credential } = await this.#connect();
    const sas = sdk.generateBlobSASQueryParameters(
      {
        containerName: this.#containerName,
        blobName,
        permissions: sdk.BlobSASPermissions.parse("rw"),
        expiresOn: new Date(expiresOn),
        protocol: sdk.SASProtocol.Https,
        version: SAS_VERSION,
      },
      credential,
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
    const { container } = await this.#connect();
    try {
      const properties = await container.getBlobClient(blobName).getProperties();
      return { sizeInBytes: properties.contentLength ?? 0, lastModified: properties.lastModified?.getTime() ?? Date.now() };
    } catch (error) {
      if ((error as { statusCode?: unknown }).statusCode === 404) return undefined;
      throw error;
    }
  }

  /** Loads the SDK and builds the clients, once; a failed load is tried again on the next call. */
  #connect(): Promise<Clients> {
    this.#clients ??= import("@azure/storage-blob").then(
      (sdk) => this.#build(sdk),
      (error: unknown) => {
        this.#clients = undefined;
        throw error;
      },
    );
    return this.#clients;
  }

  #build(sdk: StorageSdk): Clients {
    const { account, containerName, trustedCaPem } = this.#options;
    const credential = new sdk.StorageSharedKeyCredential(account.accountName, account.accountKey);
    const pipeline: StoragePipelineOptions & { tlsOptions?: { ca: string[] } } = {
      retryOptions: { maxTries: 3 },
      userAgentOptions: { userAgentPrefix: "malachite" },
    };
    // Passed through to @azure/core-rest-pipeline's tlsPolicy (not in StoragePipelineOptions' type): `ca` replaces
    // Node's trust store, so the bundled roots go along with the extra CA.
    if (trustedCaPem !== undefined) pipeline.tlsOptions = { ca: [...rootCertificates, trustedCaPem] };
    const service = new sdk.BlobServiceClient(account.blobEndpoint, credential, pipeline);
    return { sdk, credential, container: service.getContainerClient(containerName) };
  }
}

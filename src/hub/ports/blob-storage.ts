/**
 * The blob storage devices upload files into (IoT Hub's "storage account linked to the hub"): the embedded Azurite
 * or any Azure Storage account (adapters in `src/storage/blob/`). The core decides names, limits and lifetimes; the
 * adapter only mints SAS tokens and reads blob properties, and never throws IoT Hub errors.
 */

/** Where one blob may be written, as `POST /devices/{id}/files` hands it to the device. */
export interface BlobUploadGrant {
  /**
   * What the device SDK puts between `https://` and `/{containerName}`: `{account}.blob.core.windows.net`, or for a
   * path-style endpoint such as Azurite's `{host}:{port}/{account}`.
   */
  readonly hostName: string;
  readonly containerName: string;
  readonly blobName: string;
  /** The SAS query string, starting with "?": write (and read) access to this one blob only. */
  readonly sasToken: string;
  /** `https://{hostName}/{containerName}/{blobName}` without the SAS (blob name path-encoded), for notifications. */
  readonly blobUri: string;
}

/** What the storage knows about a blob that was written. */
export interface BlobInfo {
  readonly sizeInBytes: number;
  /** Last-Modified, ms since epoch (the storage's clock). */
  readonly lastModified: number;
}

export interface BlobStorage {
  /**
   * A SAS for writing exactly `blobName` in the upload container, valid until `expiresOn` (ms since epoch, wall time:
   * the storage checks it against its own clock). Storage that is started on demand is started first, so this may
   * take a moment the first time; it rejects (a plain Error) when the storage cannot be reached or started.
   */
  grantUpload(blobName: string, expiresOn: number): Promise<BlobUploadGrant>;
  /** The blob's size and last-modified time, or undefined when it does not exist (the upload never committed). */
  blobInfo(blobName: string): Promise<BlobInfo | undefined>;
}

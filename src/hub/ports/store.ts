/**
 * What the core needs from storage. Adapters (memory, SQLite, later PostgreSQL) implement it and pass the one
 * conformance suite in `test/conformance/`. Stores hold plain JSON-able records and never throw IoT Hub errors:
 * the core decides what a missing or conflicting record means.
 */

export type AuthenticationType = "sas" | "selfSigned" | "certificateAuthority" | "none";

export interface Authentication {
  type: AuthenticationType;
  symmetricKey: { primaryKey: string | null; secondaryKey: string | null } | null;
  x509Thumbprint: { primaryThumbprint: string | null; secondaryThumbprint: string | null } | null;
}

/** A device or module identity as the registry keeps it. `moduleId` is "" for a device. */
export interface IdentityRecord {
  deviceId: string;
  moduleId: string;
  generationId: string;
  /** Incremented on every identity change; rendered as IoT Hub's opaque etag. */
  etagVersion: number;
  status: "enabled" | "disabled";
  statusReason: string | null;
  /** ISO-8601 timestamps; "0001-01-01T00:00:00" means never, as IoT Hub writes it. */
  statusUpdatedTime: string;
  connectionState: "Connected" | "Disconnected";
  connectionStateUpdatedTime: string;
  lastActivityTime: string;
  cloudToDeviceMessageCount: number;
  authentication: Authentication;
  capabilities: { iotEdge: boolean };
  deviceScope: string | null;
  parentScopes: string[];
  /** Modules only: who manages the module (e.g. "IotEdge"), or null. */
  managedBy: string | null;
}

/** The twin sections the hub stores; the rendered twin adds identity fields around them. */
export interface TwinRecord {
  /** The twin `version`: incremented once per write of tags, desired or reported. */
  version: number;
  tags: Record<string, unknown>;
  /** Includes `$metadata` and `$version`. */
  desired: Record<string, unknown>;
  /** Includes `$metadata` and `$version`. */
  reported: Record<string, unknown>;
  /**
   * Counter behind the twin `etag`: bumped by service-side writes (tags/desired) only, not by reported writes, so it
   * is separate from `version` (query-twins-jobs-routing.md §2.6). A fresh twin starts at 1 ("AAAAAAAAAAE=").
   */
  etagVersion: number;
}

/** One identity with its twin: a device (moduleId "") or a module. Written and read as a unit. */
export interface IdentityEntry {
  identity: IdentityRecord;
  twin: TwinRecord;
}

export interface IdentityKey {
  deviceId: string;
  /** "" for the device itself. */
  moduleId: string;
}

/**
 * Identity fields the hub keeps as bookkeeping (connection state, activity, C2D queue depth). They change on hot paths
 * (every connect and disconnect), so a write can set them alone instead of rewriting the whole entry with its twin.
 * Never `status`, which stores may index.
 */
export type IdentityBookkeeping = Partial<Pick<IdentityRecord, "connectionState" | "connectionStateUpdatedTime" | "lastActivityTime" | "cloudToDeviceMessageCount">>;

export type StoreWrite =
  | { readonly kind: "put"; readonly entry: IdentityEntry }
  | { readonly kind: "delete"; readonly key: IdentityKey }
  /** Sets these fields of an existing identity and leaves everything else as it is; nothing when it does not exist. */
  | { readonly kind: "patch"; readonly key: IdentityKey; readonly fields: IdentityBookkeeping };

export interface ScanOptions {
  /** Devices only (moduleId ""), or modules only (moduleId non-empty). */
  readonly collection: "devices" | "modules";
  /** Resume strictly after this key, in (deviceId, moduleId) order. */
  readonly after?: IdentityKey;
  /** Maximum number of entries to return. */
  readonly limit: number;
}

export interface IdentityCounts {
  total: number;
  enabled: number;
  disabled: number;
}

export interface Store {
  getIdentity(key: IdentityKey): Promise<IdentityEntry | undefined>;
  /** The identity part of the entry only (no twin): what device authentication reads on every connect. */
  getIdentityRecord(key: IdentityKey): Promise<IdentityRecord | undefined>;
  /**
   * Applies writes atomically and durably: when the promise resolves every write is persisted, and after a crash
   * either all or none of them are visible. Deleting a device (moduleId "") also deletes its modules.
   */
  write(writes: readonly StoreWrite[]): Promise<void>;
  /** Entries in (deviceId, moduleId) order, binary (case-sensitive) comparison, as IoT Hub ids are case-sensitive. */
  scan(options: ScanOptions): Promise<IdentityEntry[]>;
  /** The modules of one device, ordered by moduleId. */
  listModules(deviceId: string): Promise<IdentityEntry[]>;
  /** Counts of devices (not modules). */
  countDevices(): Promise<IdentityCounts>;
  /** Small key-value documents the hub keeps (e.g. its shared access policies). */
  getSetting(name: string): Promise<unknown | undefined>;
  putSetting(name: string, value: unknown): Promise<void>;
  /** Every setting whose name starts with `prefix` (non-empty, printable ASCII), in name order (code point order, as scans are). */
  listSettings(prefix: string): Promise<Array<{ name: string; value: unknown }>>;
  close(): Promise<void>;
}

import { hubNameFromHostName } from "./names.js";
import type { TierName } from "../hub/limits/tiers.js";

export const LOG_LEVELS = ["fatal", "error", "warn", "info", "debug", "trace", "silent"] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

/** Everything the hub process is configured with. Loaded once by `loadConfig`, frozen, and handed down in slices. */
export interface Config {
  /** Where the hub keeps its state (hub.json, database, TLS material). */
  readonly dataDir: string;
  /** The `HostName=` of connection strings; must match the server certificate. */
  readonly hostName: string;
  /** The IoT Hub name (on Azure, the first label of `{name}.azure-devices.net`). */
  readonly hubName: string;
  /** The IP address every listener binds to. */
  readonly bind: string;
  /** HTTPS and WebSocket port; 0 picks a free port. */
  readonly httpsPort: number;
  /** MQTT over TLS port; 0 picks a free port. */
  readonly mqttPort: number;
  /**
   * MQTT over plain TCP, off unless set: only for a TLS-terminating proxy in front of the hub. Devices then
   * authenticate with SAS only (no client certificate reaches the hub).
   */
  readonly mqttPlainPort: number | undefined;
  /** AMQP over TLS port; 0 picks a free port. */
  readonly amqpPort: number;
  /** Prometheus `GET /metrics` over plain HTTP, off unless set; 0 picks a free port. */
  readonly metricsPort: number | undefined;
  /** PEM server certificate (chain) to use instead of the generated one; always set together with `tlsKey`. */
  readonly tlsCert: string | undefined;
  /** PEM private key of `tlsCert`. */
  readonly tlsKey: string | undefined;
  readonly logLevel: LogLevel;
  /** Azure Storage connection string (with AccountKey) for file upload; undefined runs the embedded Azurite. */
  readonly storageConnectionString: string | undefined;
  /** The blob container devices upload into. */
  readonly storageContainer: string;
  /** How long a file upload SAS URI (and its correlation id) is valid: 60 to 86400 seconds. */
  readonly fileUploadSasTtlSeconds: number;
  /** Whether completed uploads queue file notifications for the service (IoT Hub's enableFileUploadNotifications). */
  readonly fileNotifications: boolean;
  /**
   * The IoT Hub tier whose quota, throttles, features and device count the hub enforces (docs/limits.md): S1 unless
   * set, as a new IoT Hub is; "none" enforces nothing but `limits` (decision 0011).
   */
  readonly tier: TierName | "none";
  /** Units of the tier (1 unless set; at most 1 on F1, 10 on B3/S3, 200 otherwise). */
  readonly units: number | undefined;
  /** `--limit name=value` overrides of single limits (Infinity: not enforced), on top of the tier's. */
  readonly limits: Readonly<Record<string, number>>;
}

const DEFAULT_HOST_NAME = "localhost";

/**
 * The defaults match what the official SDKs assume of IoT Hub: 443 for HTTPS/WebSocket (hard-coded in the SDKs),
 * 8883 for MQTT, 5671 for AMQP. Binding to loopback keeps a developer's hub private unless configured otherwise.
 */
export const DEFAULT_CONFIG: Config = Object.freeze({
  dataDir: "./.malachite",
  hostName: DEFAULT_HOST_NAME,
  hubName: hubNameFromHostName(DEFAULT_HOST_NAME),
  bind: "127.0.0.1",
  httpsPort: 443,
  mqttPort: 8883,
  mqttPlainPort: undefined,
  amqpPort: 5671,
  metricsPort: undefined,
  tlsCert: undefined,
  tlsKey: undefined,
  logLevel: "info",
  storageConnectionString: undefined,
  storageContainer: "fileupload",
  fileUploadSasTtlSeconds: 3600,
  fileNotifications: true,
  tier: "S1",
  units: undefined,
  limits: Object.freeze({}),
});

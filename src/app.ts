import { mkdir } from "node:fs/promises";
import { isAbsolute, join, resolve } from "node:path";
import { DEFAULT_CONFIG, type Config } from "./config/config.js";
import { hubNameFromHostName } from "./config/names.js";
import { createHttpGateway } from "./gateways/http/http-gateway.js";
import { createMqttGateway } from "./gateways/mqtt/mqtt-gateway.js";
import { createAmqpGateway } from "./gateways/amqp/amqp-gateway.js";
import { createHub, type BlobStorage, type C2dStore, type FileUploadStore, type Hub, type Store, type TelemetryLog } from "./hub/index.js";
import { createLogger, type Logger } from "./observability/logger.js";
import { ResourceLogs } from "./observability/resource-logs/resource-logs.js";
import { createHubMetricsEndpoint } from "./observability/metrics/index.js";
import { randomIds } from "./shared/random-ids.js";
import { writeFileAtomic } from "./shared/write-file-atomic.js";
import { MemoryStore } from "./storage/memory/memory-store.js";
import { MemoryTelemetryLog } from "./storage/memory/memory-telemetry-log.js";
import { MemoryC2dStore } from "./storage/memory/memory-c2d-store.js";
import { SqliteC2dStore } from "./storage/sqlite/sqlite-c2d-store.js";
import { SqliteStore } from "./storage/sqlite/sqlite-store.js";
import { SqliteTelemetryLog } from "./storage/sqlite/sqlite-telemetry-log.js";
import { SettingSubscriptionStore } from "./storage/setting-subscription-store.js";
import { MemoryFileUploadStore } from "./storage/memory/memory-file-upload-store.js";
import { SqliteFileUploadStore } from "./storage/sqlite/sqlite-file-upload-store.js";
import { AccountBlobStorage } from "./storage/blob/account-blob-storage.js";
import { parseStorageConnectionString } from "./storage/blob/connection-string.js";
import { EmbeddedAzuriteStorage } from "./storage/blob/embedded-azurite-storage.js";
import { ensureCertificates } from "./tls/ensure-certificates.js";

export interface StartHubOptions extends Partial<Config> {
  /** Issue the server certificate from this CA instead of the data dir's own (the test run shares one CA). */
  readonly issuer?: { readonly certPem: string; readonly keyPem: string; readonly certPath: string };
  readonly logger?: Logger;
  /** "sqlite" (default): durable, in the data dir. "memory": nothing survives the process. */
  readonly storage?: "sqlite" | "memory";
}

export interface RunningHub {
  readonly hostName: string;
  readonly hubName: string;
  /** Bound ports; null for a protocol whose gateway is not part of this build yet. */
  readonly ports: { readonly https: number; readonly mqtt: number; readonly amqp: number | null; readonly mqttPlain?: number; readonly metrics?: number };
  readonly caCertificatePath: string;
  /** One IoT Hub service connection string per shared access policy, keyed by policy name. */
  readonly connectionStrings: Readonly<Record<string, string>>;
  /**
   * The built-in endpoint's "Event Hub-compatible endpoint" connection string, for @azure/event-hubs and other Event
   * Hubs clients: `Endpoint=sb://{hostName}[:{amqpPort}]/;SharedAccessKeyName=service;SharedAccessKey=…;EntityPath={hubName}`
   * (the port only when AMQP is not on 5671; over WebSockets the SDK dials 443 unless the endpoint names a port).
   */
  readonly eventHubConnectionString: string;
  readonly hubJsonPath: string;
  /**
   * Moves the hub clock forward (TTLs, locks, quota days follow it). Synchronous: the new offset is stored in the
   * background, in order, and `close` waits for it, so it survives a restart (decision 0013).
   */
  advanceClock(seconds: number): { now: string; offsetSeconds: number };
  close(): Promise<void>;
}

function resolveConfig(options: StartHubOptions): Config {
  const hostName = options.hostName ?? DEFAULT_CONFIG.hostName;
  return {
    dataDir: options.dataDir ?? DEFAULT_CONFIG.dataDir,
    hostName,
    hubName: options.hubName ?? hubNameFromHostName(hostName),
    bind: options.bind ?? DEFAULT_CONFIG.bind,
    httpsPort: options.httpsPort ?? DEFAULT_CONFIG.httpsPort,
    mqttPort: options.mqttPort ?? DEFAULT_CONFIG.mqttPort,
    mqttPlainPort: options.mqttPlainPort,
    amqpPort: options.amqpPort ?? DEFAULT_CONFIG.amqpPort,
    metricsPort: options.metricsPort,
    tlsCert: options.tlsCert,
    tlsKey: options.tlsKey,
    logLevel: options.logLevel ?? DEFAULT_CONFIG.logLevel,
    storageConnectionString: options.storageConnectionString,
    storageContainer: options.storageContainer ?? DEFAULT_CONFIG.storageContainer,
    fileUploadSasTtlSeconds: options.fileUploadSasTtlSeconds ?? DEFAULT_CONFIG.fileUploadSasTtlSeconds,
    fileNotifications: options.fileNotifications ?? DEFAULT_CONFIG.fileNotifications,
    tier: options.tier ?? DEFAULT_CONFIG.tier,
    units: options.units,
    limits: options.limits ?? DEFAULT_CONFIG.limits,
  };
}

/**
 * What the portal shows as the built-in endpoint's connection string (service-protocol.md §5.1), signed with the
 * `service` policy as IoT Hub's portal does by default: that policy has ServiceConnect, which is what reading needs.
 */
function eventHubConnectionString(hub: Hub, entity: string, amqpPort: number): string {
  const policy = hub.policies.find((p) => p.keyName === "service") ?? hub.policies.find((p) => p.rights.includes("ServiceConnect"));
  const endpoint = amqpPort === 5671 ? hub.hostName : `${hub.hostName}:${amqpPort}`;
  return `Endpoint=sb://${endpoint}/;SharedAccessKeyName=${policy?.keyName ?? "service"};SharedAccessKey=${policy?.primaryKey ?? ""};EntityPath=${entity}`;
}

function connectionStrings(hub: Hub): Record<string, string> {
  return Object.fromEntries(
    hub.policies.map((p) => [p.keyName, `HostName=${hub.hostName};SharedAccessKeyName=${p.keyName};SharedAccessKey=${p.primaryKey}`]),
  );
}

/**
 * Starts a hub: the composition root, the one place that builds concrete objects. The CLI and the tests start
 * hubs through it; other projects can too (DESIGN.md, "Programmatic use").
 */
export async function startHub(options: StartHubOptions = {}): Promise<RunningHub> {
  const config = resolveConfig(options);
  const dataDir = isAbsolute(config.dataDir) ? config.dataDir : resolve(config.dataDir);
  await mkdir(dataDir, { recursive: true });
  const logger = options.logger ?? createLogger({ level: config.logLevel });
  const tls = await ensureCertificates({
    dataDir,
    hostName: config.hostName,
    extraNames: config.bind === "0.0.0.0" ? [] : [config.bind],
    tlsCert: config.tlsCert,
    tlsKey: config.tlsKey,
    ...(options.issuer === undefined ? {} : { issuer: options.issuer }),
  });
  const memory = options.storage === "memory";
  // File upload storage: the embedded Azurite (started on the first upload request, stopped with the hub), or an
  // Azure Storage account. A memory hub keeps its blobs in memory too. Nothing runs yet, so nothing to undo on a throw.
  const blobs = blobStorageFor(config, dataDir, tls, memory, logger);
  const store: Store = memory ? new MemoryStore() : SqliteStore.open({ path: join(dataDir, "malachite.db") });
  const telemetryLog: TelemetryLog = memory ? new MemoryTelemetryLog() : SqliteTelemetryLog.open({ path: join(dataDir, "telemetry.db") });
  const c2dStore: C2dStore = memory ? new MemoryC2dStore() : SqliteC2dStore.open({ path: join(dataDir, "c2d.db") });
  const fileUploadStore: FileUploadStore = memory ? new MemoryFileUploadStore() : SqliteFileUploadStore.open({ path: join(dataDir, "files.db") });
  const closers: Array<() => Promise<void>> = [];
  try {
    const hub = await createHub({
      hostName: config.hostName,
      store,
      telemetryLog,
      c2dStore,
      blobStorage: blobs.storage,
      fileUploadStore,
      fileUploadSettings: { sasTtlMs: config.fileUploadSasTtlSeconds * 1000, notifications: config.fileNotifications },
      wallClock: { now: () => Date.now() },
      ids: randomIds,
      partitionCount: 4,
      eventHubName: config.hubName,
      reportError: (error) => logger.error({ err: error }, "Unexpected error in a hub timer or event listener"),
      limits: { tier: config.tier === "none" ? undefined : config.tier, units: config.units, overrides: config.limits },
    });
    closers.push(async () => {
      await hub.registry.idle();
      await hub.c2d.close();
      await hub.feedback.idle();
      await hub.fileUploads.close();
      // Writes the clock offset, fault rule counts and quota count still unwritten: before the store closes below.
      await hub.stop();
    });
    // Azure Monitor resource logs (issue #6): JSON Lines under <dataDir>/logs, and a memory hub keeps only the
    // in-memory ring. Closed after the hub, so the disconnects of shutdown are written too.
    const resourceLogs = await ResourceLogs.open({
      hubName: config.hubName,
      dir: memory ? undefined : join(dataDir, "logs"),
      onError: (error, message) => logger.warn({ err: error }, message),
    });
    hub.events.on(resourceLogs.listener);
    closers.push(() => resourceLogs.close());
    // Created before any gateway listens, so the counters see every event from the first connection on.
    const metrics =
      config.metricsPort === undefined
        ? undefined
        : createHubMetricsEndpoint({ hub, totalDeviceCount: async () => (await store.countDevices()).total, reportError: (error) => logger.error({ err: error }, "Metrics scrape failed") });
    if (metrics !== undefined) closers.unshift(() => metrics.close());
    const mqtt = createMqttGateway({ hub, logger, tls, subscriptions: await SettingSubscriptionStore.open(store) });
    const amqp = createAmqpGateway({ hub, logger, tls, eventHubName: config.hubName });
    const http = createHttpGateway({
      hub,
      logger,
      tls,
      webSockets: { mqtt: (stream, socket) => mqtt.accept(stream, socket), AMQPWSB10: (stream, socket) => amqp.accept(stream, socket) },
      resourceLogs: (query) => resourceLogs.query(query),
    });
    closers.unshift(() => http.close(), () => mqtt.close(), () => amqp.close());
    const httpsPort = await http.listen(config.bind, config.httpsPort);
    const mqttPort = await mqtt.listen(config.bind, config.mqttPort);
    const amqpPort = await amqp.listen(config.bind, config.amqpPort);
    const mqttPlainPort = config.mqttPlainPort === undefined ? undefined : await mqtt.listenPlain(config.bind, config.mqttPlainPort);
    const metricsPort = metrics === undefined || config.metricsPort === undefined ? undefined : await metrics.listen(config.bind, config.metricsPort);
    const strings = connectionStrings(hub);
    const eventHubString = eventHubConnectionString(hub, config.hubName, amqpPort);
    const hubJsonPath = join(dataDir, "hub.json");
    const ports = { https: httpsPort, mqtt: mqttPort, amqp: amqpPort, ...(mqttPlainPort === undefined ? {} : { mqttPlain: mqttPlainPort }), ...(metricsPort === undefined ? {} : { metrics: metricsPort }) };
    // Written only once every listener accepts connections, so a script may wait for this file and then connect.
    await writeFileAtomic(
      hubJsonPath,
      `${JSON.stringify(
        {
          hostName: config.hostName,
          hubName: config.hubName,
          ports,
          caCertificatePath: tls.caCertificatePath,
          connectionStrings: strings,
          eventHubCompatible: { connectionString: eventHubString, name: config.hubName, partitionCount: 4 },
        },
        null,
        2,
      )}\n`,
      0o600,
    );
    logger.info({ hostName: config.hostName, hubName: config.hubName, ports, tier: hub.limits.tier ?? "none (no quota or throttles)", units: hub.limits.units, limits: config.limits }, "Hub started");
    let closing: Promise<void> | undefined;
    return {
      hostName: config.hostName,
      hubName: config.hubName,
      ports,
      caCertificatePath: tls.caCertificatePath,
      connectionStrings: strings,
      eventHubConnectionString: eventHubString,
      hubJsonPath,
      advanceClock: (seconds) => hub.clockAdmin.advanceBy(seconds),
      close() {
        closing ??= (async () => {
          for (const close of closers) await close();
          await blobs.close();
          await fileUploadStore.close();
          await telemetryLog.close();
    await c2dStore.close();
          await store.close();
          logger.info("Hub stopped");
        })();
        return closing;
      },
    };
  } catch (error) {
    for (const close of closers) await close().catch(() => undefined);
    await blobs.close().catch(() => undefined);
    await fileUploadStore.close();
    await telemetryLog.close();
    await c2dStore.close();
    await store.close();
    throw error;
  }
}

function blobStorageFor(
  config: Config,
  dataDir: string,
  tls: { readonly certPem: string; readonly keyPem: string; readonly caCertPem: string },
  memory: boolean,
  logger: Logger,
): { storage: BlobStorage; close: () => Promise<void> } {
  if (config.storageConnectionString !== undefined) {
    const parsed = parseStorageConnectionString(config.storageConnectionString);
    if (!parsed.ok) throw new Error(`The storage connection string is not usable: ${parsed.reason}`);
    return { storage: new AccountBlobStorage({ account: parsed.account, containerName: config.storageContainer }), close: async () => undefined };
  }
  const azurite = new EmbeddedAzuriteStorage({
    bind: config.bind,
    hostName: config.hostName,
    location: memory ? undefined : join(dataDir, "blob"),
    tlsDir: join(dataDir, "blob-tls"),
    certPem: tls.certPem,
    keyPem: tls.keyPem,
    caPem: tls.caCertPem,
    containerName: config.storageContainer,
    log: {
      info: (fields, message) => logger.info(fields, message),
      debug: (fields, message) => logger.debug(fields, message),
      warn: (fields, message) => logger.warn(fields, message),
    },
  });
  return { storage: azurite, close: () => azurite.close() };
}

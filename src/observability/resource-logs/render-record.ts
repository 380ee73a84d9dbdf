import { HUB_ERRORS, type C2dAck, type HubErrorName, type HubEvent } from "../../hub/index.js";

/**
 * The IoT Hub resource-log categories Malachite writes (monitoring.md §2), spelled as Azure Monitor spells them.
 * Routes, JobsOperations, DistributedTracing, Configurations and DeviceStreams have no feature behind them yet.
 */
export const RESOURCE_LOG_CATEGORIES = [
  "Connections",
  "DeviceTelemetry",
  "C2DCommands",
  "DeviceIdentityOperations",
  "FileUploadOperations",
  "D2CTwinOperations",
  "C2DTwinOperations",
  "TwinQueries",
  "DirectMethods",
] as const;

export type ResourceLogCategory = (typeof RESOURCE_LOG_CATEGORIES)[number];

/**
 * One record in the Azure Monitor common envelope, members in the order a real hub writes them (monitoring.md §1.1:
 * time, resourceId, operationName, category, level, [resultType, resultDescription], [durationMs], properties,
 * location). `properties` is a JSON-encoded string, not an object, as IoT Hub writes it [REAL]. `correlationId` is
 * part of the envelope but IoT Hub fills it only for DistributedTracing, which we do not emit.
 */
export interface ResourceLogRecord {
  readonly time: string;
  readonly resourceId: string;
  readonly operationName: string;
  readonly category: ResourceLogCategory;
  readonly level: "Information" | "Error";
  readonly resultType?: string;
  readonly resultDescription?: string;
  readonly durationMs?: string;
  readonly correlationId?: string;
  readonly properties: string;
  readonly location: string;
}

/** What the hub last knew of an identity's device connection (the Connections facts other categories repeat). */
export interface ConnectionFacts {
  readonly protocol: string;
  /** iothub-connection-auth-method JSON text, or null when unknown. */
  readonly authType: string | null;
  readonly sdkVersion: string | undefined;
  readonly ipAddress: string | undefined;
}

/** The hub-wide facts every record needs, and a lookup for events that do not carry their connection's facts. */
export interface HubFacts {
  readonly resourceId: string;
  readonly location: string;
  readonly connection?: (deviceId: string, moduleId: string) => ConnectionFacts | undefined;
}

/**
 * The ARM id of the hub as Azure Monitor writes it: upper case [REAL]. Malachite has no subscription or resource
 * group, so it uses the all-zero subscription GUID and a resource group named MALACHITE (decision 0010).
 */
export function resourceIdOf(hubName: string): string {
  return `/SUBSCRIPTIONS/00000000-0000-0000-0000-000000000000/RESOURCEGROUPS/MALACHITE/PROVIDERS/MICROSOFT.DEVICES/IOTHUBS/${hubName.toUpperCase()}`;
}

let lastSecond = Number.NaN;
let lastRecordTime = "";

/** Record `time`: whole seconds with a `Z` (`2023-09-21T22:33:34Z`) [REAL]. Records come in bursts within a second. */
function recordTime(ms: number): string {
  const second = Math.floor(ms / 1000);
  if (second !== lastSecond) {
    lastRecordTime = `${new Date(second * 1000).toISOString().slice(0, 19)}Z`;
    lastSecond = second;
  }
  return lastRecordTime;
}

function isoTime(ms: number): string {
  return new Date(ms).toISOString();
}

/**
 * `maskedIpAddress`: IPv4 with the last octet replaced by `XXX` (`24.9.142.XXX`) [REAL]. An IPv4-mapped IPv6
 * address (how Node reports IPv4 peers on a dual-stack socket) is masked as the IPv4 address it is. The IPv6 form is
 * unknown [UNCERTAIN]; we mask the last group the same way (decision 0010). Unknown: null.
 */
export function maskIpAddress(ip: string | undefined): string | null {
  if (ip === undefined || ip === "") return null;
  const v4 = /^(?:::ffff:)?(\d{1,3}\.\d{1,3}\.\d{1,3})\.\d{1,3}$/i.exec(ip);
  if (v4 !== null) return `${v4[1]}.XXX`;
  return ip.includes(":") ? ip.replace(/[^:]*$/, "XXX") : null;
}

/** `protocol` as IoT Hub writes it: `Mqtt`, `Amqp` [REAL/SAMPLE], `HTTP` [SAMPLE]; WebSocket variants reuse these. */
export function protocolName(protocol: string): string {
  switch (protocol.toLowerCase()) {
    case "mqtt":
      return "Mqtt";
    case "amqp":
      return "Amqp";
    case "https":
    case "http":
      return "HTTP";
    default:
      return protocol.charAt(0).toUpperCase() + protocol.slice(1);
  }
}

/** resultType (6-digit code, a string), resultDescription (the error name), statusCode (3-digit class) [REAL]. */
function failure(error: HubErrorName): { resultType: string; resultDescription: string; statusCode: string } {
  const code = String(HUB_ERRORS[error].code);
  return { resultType: code, resultDescription: error, statusCode: code.slice(0, 3) };
}

/** The aka.ms wording of the real 404104 record, used for every code [REAL for 404104, INF otherwise]. */
function errorMessage(what: string, error: HubErrorName): string {
  return `${what}, see cause and resolution at https://aka.ms/iothub${HUB_ERRORS[error].code}`;
}

/** `deliveryAcknowledgement` names (monitoring.md §2.3) of the queue's ack modes. */
const ACK_NAMES: Readonly<Record<C2dAck, string>> = { none: "None", positive: "PositiveOnly", negative: "NegativeOnly", full: "Full" };

type Props = Record<string, unknown>;

/** deviceId, then moduleId only for module identities [INF: modules are not in the samples]. */
function identity(deviceId: string, moduleId: string): Props {
  return moduleId === "" ? { deviceId } : { deviceId, moduleId };
}

interface Draft {
  readonly operationName: string;
  readonly category: ResourceLogCategory;
  readonly error?: HubErrorName | undefined;
  /** An Error record without a code (messageExpired: the docs show none). */
  readonly level?: "Error";
  readonly durationMs?: number;
  readonly properties: Props;
}

function finish(draft: Draft, time: number, facts: HubFacts): ResourceLogRecord {
  const error = draft.error === undefined ? undefined : failure(draft.error);
  // Built member by member, in the envelope's order.
  const record: { -readonly [K in keyof ResourceLogRecord]: ResourceLogRecord[K] } = {
    time: recordTime(time),
    resourceId: facts.resourceId,
    operationName: draft.operationName,
    category: draft.category,
    level: error !== undefined || draft.level === "Error" ? "Error" : "Information",
  } as ResourceLogRecord;
  if (error !== undefined) {
    record.resultType = error.resultType;
    record.resultDescription = error.resultDescription;
  }
  if (draft.durationMs !== undefined) record.durationMs = String(Math.max(0, Math.round(draft.durationMs)));
  record.properties = JSON.stringify(draft.properties);
  record.location = facts.location;
  return record;
}

/**
 * The resource-log records IoT Hub writes for one hub event: none (successes of errors-only categories, and events
 * no category covers), one, or two (a token expiry is 401003 then 404104, monitoring.md §0.14). Pure: everything it
 * needs is in the event and `facts`.
 */
export function renderRecords(event: HubEvent, facts: HubFacts): ResourceLogRecord[] {
  const list = drafts(event, facts);
  const records = new Array<ResourceLogRecord>(list.length);
  for (let i = 0; i < list.length; i++) records[i] = finish(list[i]!, event.time, facts);
  return records;
}

// The most frequent events (a connect, a method call) have functions of their own: small functions get optimized,
// the large switch below may not.

function deviceConnectDraft(event: Extract<HubEvent, { type: "deviceConnected" }>): Draft {
  const properties: Props = identity(event.deviceId, event.moduleId);
  if (event.sdkVersion !== undefined) properties["sdkVersion"] = event.sdkVersion;
  properties["protocol"] = protocolName(event.protocol);
  properties["authType"] = event.authMethod;
  properties["maskedIpAddress"] = maskIpAddress(event.ipAddress);
  properties["statusCode"] = null;
  properties["errorMessage"] = "";
  return { operationName: "deviceConnect", category: "Connections", properties };
}

function methodDraft(event: Extract<HubEvent, { type: "methodInvoked" }>): Draft {
  const properties: Props = identity(event.deviceId, event.moduleId);
  // RequestSize/ResponseSize are bare numbers, PascalCase, as in the sample [SAMPLE].
  properties["RequestSize"] = event.requestSize ?? 0;
  properties["ResponseSize"] = event.responseSize ?? 0;
  properties["sdkVersion"] = event.sdkVersion ?? null;
  return {
    operationName: "send",
    category: "DirectMethods",
    error: event.outcome === "answered" ? undefined : event.outcome,
    durationMs: event.durationMs,
    properties,
  };
}

function drafts(event: HubEvent, facts: HubFacts): Draft[] {
  switch (event.type) {
    // ---- Connections: successes and errors (§2.1) ----
    case "deviceConnected":
      return [deviceConnectDraft(event)];
    case "deviceDisconnected": {
      const known = facts.connection?.(event.deviceId, event.moduleId);
      const base = {
        ...identity(event.deviceId, event.moduleId),
        protocol: protocolName(event.protocol),
        authType: event.authMethod ?? known?.authType ?? null,
        maskedIpAddress: maskIpAddress(event.ipAddress ?? known?.ipAddress),
      };
      if (event.reason === "ClientDisconnect") {
        return [{ operationName: "deviceDisconnect", category: "Connections", properties: { ...base, statusCode: null, errorMessage: "" } }];
      }
      const closed = (error: HubErrorName): Draft => ({
        operationName: "deviceDisconnect",
        category: "Connections",
        error,
        properties: { ...base, statusCode: failure(error).statusCode, errorMessage: errorMessage("Device disconnected", error) },
      });
      // A SAS token that expires on a live connection: the hub logs 401003, then 404104 for the socket it closes
      // (monitoring.md §0.14 and §7; the 401003 rides on deviceDisconnect, §2.1).
      if (event.reason === "IotHubUnauthorized") return [closed("IotHubUnauthorized"), closed("DeviceConnectionClosedRemotely")];
      return [closed(event.reason)];
    }
    case "connectionRefused":
      return [
        {
          operationName: "deviceConnect",
          category: "Connections",
          error: event.error,
          properties: {
            ...identity(event.deviceId, event.moduleId),
            ...(event.sdkVersion === undefined ? {} : { sdkVersion: event.sdkVersion }),
            protocol: protocolName(event.protocol),
            authType: null,
            maskedIpAddress: maskIpAddress(event.ipAddress),
            statusCode: failure(event.error).statusCode,
            errorMessage: errorMessage("Device connect failed", event.error),
          },
        },
      ];

    // ---- DeviceTelemetry: errors only, `ingress` (§2.2) ----
    case "telemetryRefused":
      return [
        {
          operationName: "ingress",
          category: "DeviceTelemetry",
          error: event.error,
          properties: {
            ...identity(event.deviceId, event.moduleId),
            batching: "0",
            messageSizeInBytes: String(event.sizeInBytes),
            // A refused message is never enqueued; both times are the refusal's [INF].
            EventProcessedUtcTime: isoTime(event.time),
            EventEnqueuedUtcTime: isoTime(event.time),
            partitionId: String(event.partition),
          },
        },
      ];

    // ---- C2DCommands: errors only (§2.3) ----
    case "c2dDeadLettered": {
      const known = facts.connection?.(event.deviceId, "");
      const enqueued = event.enqueuedTime;
      return [
        {
          // `messageExpired` is documented; the docs name no operation for a delivery count running out [INF].
          operationName: event.reason === "Expired" ? "messageExpired" : "deliveryCountExceeded",
          category: "C2DCommands",
          level: "Error",
          properties: {
            deviceId: event.deviceId,
            messageId: event.messageId,
            ...(event.sizeInBytes === undefined ? {} : { messageSizeInBytes: String(event.sizeInBytes) }),
            ...(known === undefined ? {} : { protocol: protocolName(known.protocol) }),
            ...(event.ack === undefined ? {} : { deliveryAcknowledgement: ACK_NAMES[event.ack] }),
            deliveryCount: String(event.deliveryCount),
            ...(event.expiryTime === undefined ? {} : { expiryTime: isoTime(event.expiryTime) }),
            // Units are not documented [UNCERTAIN]; milliseconds, like every other duration here.
            ...(enqueued === undefined ? {} : { timeInSystem: String(event.time - enqueued) }),
            ...(enqueued === undefined || event.expiryTime === undefined ? {} : { ttl: event.expiryTime - enqueued }),
            EventProcessedUtcTime: isoTime(event.time),
            ...(enqueued === undefined ? {} : { EventEnqueuedUtcTime: isoTime(enqueued) }),
            maskedIpAddress: maskIpAddress(known?.ipAddress),
            statusCode: "4XX",
          },
        },
      ];
    }
    case "c2dRefused":
      return [
        {
          operationName: event.operation,
          category: "C2DCommands",
          error: event.error,
          properties: {
            deviceId: event.deviceId,
            messageId: event.messageId,
            protocol: protocolName(event.protocol),
            maskedIpAddress: maskIpAddress(event.ipAddress),
            statusCode: failure(event.error).statusCode,
          },
        },
      ];

    // ---- DeviceIdentityOperations: errors only (§2.4) ----
    case "identityOperationFailed":
      return [
        {
          operationName: event.operation,
          category: "DeviceIdentityOperations",
          error: event.error,
          properties: { maskedIpAddress: maskIpAddress(event.ipAddress), ...identity(event.deviceId, event.moduleId), statusCode: failure(event.error).statusCode },
        },
      ];

    // ---- FileUploadOperations: errors only, `ingress` (§2.5) ----
    case "fileUploadRefused":
      return [
        {
          operationName: "ingress",
          category: "FileUploadOperations",
          error: event.error ?? "DeviceMaximumActiveFileUploadLimitExceeded",
          durationMs: 0,
          // No SAS URI was issued, so there is no blob URI; the HTTPS call's auth method is not in the event.
          properties: { deviceId: event.deviceId, protocol: protocolName(event.protocol), authType: null, blobUri: null },
        },
      ];
    case "fileUploadCompleted":
      // The device reporting a failed upload is one of the failures this category shows; the docs give no code for it.
      if (event.isSuccess) return [];
      return [
        {
          operationName: "ingress",
          category: "FileUploadOperations",
          level: "Error",
          durationMs: 0,
          properties: { deviceId: event.deviceId, protocol: protocolName(event.protocol), authType: null, blobUri: event.blobUri },
        },
      ];

    // ---- D2CTwinOperations: successes and errors (§2.7) ----
    case "twinOperation": {
      // A desired-property push is the tail of a service twin update, which C2DTwinOperations already logs.
      if (event.operation === "notifyDesired") return [];
      const known = facts.connection?.(event.deviceId, event.moduleId);
      return [
        {
          // `update` is documented; `read` for a GET mirrors C2DTwinOperations [INF].
          operationName: event.operation === "get" ? "read" : "update",
          category: "D2CTwinOperations",
          error: event.error,
          durationMs: event.durationMs ?? 0,
          properties: {
            ...identity(event.deviceId, event.moduleId),
            protocol: known === undefined ? null : protocolName(known.protocol),
            authenticationType: known?.authType ?? null,
            sdkVersion: known?.sdkVersion ?? null,
          },
        },
      ];
    }

    // ---- C2DTwinOperations: successes and errors (§2.8) ----
    case "serviceTwinOperation":
      return [
        {
          // `read` is documented; `update` (PATCH) and `replace` (PUT) are [INF].
          operationName: event.operation === "get" ? "read" : event.operation === "patch" ? "update" : "replace",
          category: "C2DTwinOperations",
          error: event.error,
          durationMs: event.durationMs,
          properties: { ...identity(event.deviceId, event.moduleId), sdkVersion: event.sdkVersion ?? null, messageSize: String(event.messageSize) },
        },
      ];

    // ---- TwinQueries: successes and errors (§2.9) ----
    case "twinQuery":
      return [
        {
          operationName: "query",
          category: "TwinQueries",
          error: event.error,
          durationMs: event.durationMs,
          properties: {
            query: event.query,
            sdkVersion: event.sdkVersion ?? null,
            messageSize: String(event.messageSize),
            pageSize: String(event.pageSize),
            continuation: String(event.continuation),
            resultSize: String(event.resultSize),
          },
        },
      ];

    // ---- DirectMethods: successes and errors, `send` (§2.11) ----
    case "methodInvoked":
      return [methodDraft(event)];

    // Successes of errors-only categories, and events no category covers (monitoring.md §0.8).
    default:
      return [];
  }
}

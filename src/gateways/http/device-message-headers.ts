import type { C2dMessage } from "../../hub/index.js";

/** The prefix of an application property, as a request header, a batch `properties` key and a C2D response header. */
export const APP_PROPERTY_PREFIX = "iothub-app-";

/**
 * Request headers (and batch `properties` keys) a device sets system properties with, compared lower-case, and the
 * system property each sets (the names the MQTT gateway's property bag uses). Sources: [NODE] azure-iot-device-http
 * 1.14.4 `dist/http.js` `sendEvent` (device-protocol.md §4.2); [JAVA] azure-iot-sdk-java `HttpsSingleMessage`
 * (`iothub-` + messageid/correlationid/to/userid/contentencoding/contenttype, also inside batch `properties`);
 * [C] azure-iot-sdk-c `iothubtransporthttp.c` (`iothub-messageid`, `iothub-correlationid`, `iothub-contenttype`,
 * `iothub-contentencoding`, `iothub-interface-id` for security messages); [CS] `iothub-creation-time-utc`.
 */
const SYSTEM_HEADERS: Readonly<Record<string, string>> = {
  "iothub-messageid": "messageId", // [NODE] IoTHub-MessageId, [JAVA], [C]
  "iothub-correlationid": "correlationId", // [NODE] IoTHub-CorrelationId, [JAVA], [C]
  "iothub-userid": "userId", // [NODE] IoTHub-UserId, [JAVA]
  "iothub-to": "to", // [NODE] always sent (the request path, or message.to), [JAVA]
  "iothub-contenttype": "contentType", // [NODE], [JAVA], [C]
  "iothub-contentencoding": "contentEncoding", // [NODE], [JAVA], [C]
  "iothub-expiry": "expiryTimeUtc", // [NODE] String(message.expiryTimeUtc), kept as sent
  "iothub-creation-time-utc": "creationTimeUtc", // [CS]
  "iothub-interface-id": "interfaceId", // [NODE] message.interfaceId, [C]
  "dt-subject": "dt-subject", // [NODE] application property dt-subject is sent without the prefix
};

/**
 * `iothub-ack` is kept as an application property, as the MQTT and AMQP gateways keep it (a D2C message has no ack
 * semantics; device-protocol.md §3.4).
 */
const APP_HEADERS: ReadonlySet<string> = new Set(["iothub-ack"]);

export interface TelemetryProperties {
  readonly properties: Record<string, string>;
  readonly systemProperties: Record<string, string>;
}

/** defineProperty keeps a "__proto__" name an ordinary property. */
function setOwn(map: Record<string, string>, key: string, value: string): void {
  Object.defineProperty(map, key, { value, enumerable: true, writable: true, configurable: true });
}

/**
 * Sorts telemetry name/value pairs (request headers, or one batch message's `properties`) into application and system
 * properties. Names are compared case-insensitively; an application property keeps the case of its name after
 * `iothub-app-` as the device wrote it (Node lower-cases `request.headers`, so pass `rawHeaders` pairs). Any other
 * name (Host, User-Agent, Authorization, Content-Type…) is not part of the message: the HTTP `Content-Type` describes
 * the request (the Java SDK always sends `binary/octet-stream`), the message's own content type is
 * `iothub-contenttype`. A name given twice keeps its last value.
 */
export function telemetryProperties(pairs: Iterable<readonly [string, string]>): TelemetryProperties {
  const properties: Record<string, string> = {};
  const systemProperties: Record<string, string> = {};
  for (const [name, value] of pairs) {
    const lower = name.toLowerCase();
    if (lower.startsWith(APP_PROPERTY_PREFIX)) {
      const key = name.slice(APP_PROPERTY_PREFIX.length);
      if (key !== "") setOwn(properties, key, value);
    } else if (APP_HEADERS.has(lower)) {
      setOwn(properties, lower, value);
    } else if (Object.hasOwn(SYSTEM_HEADERS, lower)) {
      systemProperties[SYSTEM_HEADERS[lower]!] = value;
    }
  }
  return { properties, systemProperties };
}

/** Node's `rawHeaders` (name, value, name, value…) as pairs, names in the case the client sent them. */
export function headerPairs(rawHeaders: readonly string[]): Array<readonly [string, string]> {
  const pairs: Array<readonly [string, string]> = [];
  for (let i = 0; i + 1 < rawHeaders.length; i += 2) pairs.push([rawHeaders[i]!, rawHeaders[i + 1]!]);
  return pairs;
}

// RFC 9110 token characters (header names) and field-value characters Node accepts (latin1 without controls).
const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
const FIELD_VALUE = /^[\t\x20-\x7e\x80-\xff]*$/;

/**
 * `2024-05-01T12:00:00.0000000Z`: the .NET round-trip ("o") form IoT Hub writes its times in (as the MQTT gateway
 * writes `$.exp`). The Node SDK keeps `iothub-expiry` as a string and reads no other time header.
 */
export function roundTripUtc(ms: number): string {
  return new Date(ms).toISOString().replace(/Z$/, "0000Z");
}

export interface C2dResponseHeaders {
  /** Names in IoT Hub's case (`ETag`, `ContentType`): the C SDK compares them case-sensitively, so write them as given. */
  readonly headers: Record<string, string>;
  /** Application properties that cannot be written as an HTTP header (name not a token, or value not latin1 text). */
  readonly skipped: string[];
}

/**
 * The headers of `GET /devices/{id}/messages/deviceBound` with a message: the ones IoT Hub sends (the Azure CLI IoT
 * extension reads `iothub-messageid`, `-correlationid`, `-sequencenumber`, `-to`, `-userid`, `-ack`, `-expiry`,
 * `-deliverycount`, `-enqueuedtime`, `ContentType`, `ContentEncoding` and the quoted `ETag`; the C SDK reads
 * `ContentType`/`ContentEncoding` un-prefixed), and `iothub-app-{name}` per application property. The Node SDK maps
 * `iothub-messageid`, `-to`, `-expiry`, `-correlationid`, `iothub-app-*` (prefix kept) and the ETag minus its first and
 * last character (device-protocol.md §4.3). messageId, correlationId and userId are sent empty when the service set
 * none, as the CLI's recorded responses show.
 */
export function c2dResponseHeaders(message: C2dMessage): C2dResponseHeaders {
  const system = message.systemProperties;
  const headers: Record<string, string> = {
    ETag: `"${message.lockToken ?? ""}"`,
    "iothub-messageid": system.messageId ?? "",
    "iothub-correlationid": system.correlationId ?? "",
    "iothub-userid": system.userId ?? "",
    "iothub-sequencenumber": String(message.sequenceNumber),
    "iothub-enqueuedtime": roundTripUtc(message.enqueuedTime),
    "iothub-expiry": roundTripUtc(message.expiryTime),
    "iothub-deliverycount": String(message.deliveryCount),
    "iothub-ack": system.ack,
  };
  if (system.to !== undefined) headers["iothub-to"] = system.to;
  if (system.contentType !== undefined) headers["ContentType"] = system.contentType;
  if (system.contentEncoding !== undefined) headers["ContentEncoding"] = system.contentEncoding;
  const skipped: string[] = [];
  for (const [key, value] of Object.entries(message.properties)) {
    const name = `${APP_PROPERTY_PREFIX}${key}`;
    if (key === "" || !TOKEN.test(name) || !FIELD_VALUE.test(value)) {
      skipped.push(key);
      continue;
    }
    headers[name] = value;
  }
  // System property values come from the service; one that cannot be a header value is sent empty rather than
  // failing the whole response.
  for (const [name, value] of Object.entries(headers)) {
    if (!FIELD_VALUE.test(value)) headers[name] = "";
  }
  return { headers, skipped };
}

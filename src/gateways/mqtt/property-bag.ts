import { HubError } from "../../hub/index.js";
import { setOwn, splitQuery, tryDecodeComponent } from "./split-query.js";

/**
 * The `$.`-keys a device may put in the telemetry property bag, and the system property each one sets.
 * Sources, by tag: [NODE] azure-iot-device-mqtt 1.16.4 `dist/mqtt.js` `_getEventTopicFromMessage` and `sendOutputEvent`
 * (what the Node SDK sends, device-protocol.md §2.3); [CS] azure-iot-sdk-csharp `MqttIotHubAdapter.cs`
 * `IotHubWirePropertyNames` / `s_fromSystemPropertiesMap` (what the .NET SDK sends, written against the real hub);
 * [C] azure-iot-sdk-c `iothubtransport_mqtt_common.c` `sysPropList` (edgehub-server-notes.md §1.2);
 * [DOC] Learn "Communicate with an IoT hub using the MQTT protocol" (`$.ct`, `$.ce` examples) and the routing query
 * syntax's system-property list, whose names the right-hand column follows.
 */
export const SYSTEM_PROPERTY_KEYS = {
  "$.mid": "messageId", // [NODE] message.messageId, [CS], [C], [DOC]
  "$.cid": "correlationId", // [NODE] message.correlationId, [CS], [C]
  "$.uid": "userId", // [NODE] message.userId, [CS], [C]
  "$.to": "to", // [NODE] message.to, [CS], [C]
  "$.ct": "contentType", // [NODE] message.contentType, [CS], [C], [DOC] `$.ct=application%2Fjson`
  "$.ce": "contentEncoding", // [NODE] message.contentEncoding, [CS], [C], [DOC] `$.ce=utf-8`
  "$.exp": "expiryTimeUtc", // [NODE] Date -> toISOString(), a string/number as is; [CS] round-trip "o" format
  "$.ctime": "creationTimeUtc", // [CS] CreationTimeUtc, [C]; not sent by Node
  "$.on": "outputName", // [NODE] sendOutputEvent(outputName) on module topics; [CS] OutputName
  "$.ifid": "interfaceId", // [NODE] message.interfaceId (e.g. urn:azureiot:Security:SecurityAgent:1); [CS] InterfaceId
  "$.sub": "dt-subject", // [NODE] application property `dt-subject` is sent as `$.sub`; [CS] ComponentName = dt-subject
  "$.schema": "messageSchema", // [CS] MessageSchema; not sent by Node
  "$.diagid": "diagId", // [CS] distributed-tracing sampling id; not sent by Node
  "$.diagctx": "diagCorrelationContext", // [CS] distributed-tracing context; not sent by Node
} as const satisfies Record<string, string>;

export type SystemPropertyName = (typeof SYSTEM_PROPERTY_KEYS)[keyof typeof SYSTEM_PROPERTY_KEYS];
export type SystemProperties = { [Name in SystemPropertyName]?: string };

/**
 * Keys the hub stamps itself from the authenticated connection ([CS] `$.cdid`/`$.cmid`, [C] `%24.cdid`/`%24.cmid`).
 * A device must not be able to choose them, so a bag that carries them has them dropped, not trusted.
 * (`dt-dataschema` is in the same class: IoT Hub sets it from the username's `model-id`; no bag key exists for it.)
 */
const HUB_STAMPED_KEYS: ReadonlySet<string> = new Set(["$.cdid", "$.cmid"]);

/** A telemetry property bag split into application properties and the system properties it sets. */
export interface PropertyBag {
  readonly application: Record<string, string>;
  readonly system: SystemProperties;
}

function invalid(message: string): HubError {
  return new HubError("ArgumentInvalid", { message });
}

function decodeOrThrow(raw: string, what: string): string {
  const decoded = tryDecodeComponent(raw);
  if (decoded === undefined) throw invalid(`The property bag has a ${what} that is not valid percent-encoded UTF-8: '${raw}'`);
  return decoded;
}

/**
 * Reads the `{property_bag}` a device appends to `devices/{id}[/modules/{mid}]/messages/events/` (without the topic
 * prefix and without the one trailing `/` module output events add; topics.ts strips both).
 * The bag is `&`-joined `key=value` pairs with both sides percent-encoded; the Node SDK writes system keys as `%24.mid`
 * because `querystring.stringify` escapes `$` (device-protocol.md §2.3), other clients write `$.mid` raw ([DOC]
 * example `$.ct=application%2Fjson`), and both decode to the same key. `+` stays `+`. A key without `=` gets the value
 * `""` (Learn writes a null-valued property that way on C2D; telemetry properties are strings).
 * Unknown `$.`-keys are kept as application properties under their literal name, so a newer SDK's additions are not
 * lost; `iothub-ack` and `iothub-operation` are application properties too, as on AMQP (device-protocol.md §3.4).
 * @throws HubError ArgumentInvalid for an empty key, a key given twice (after decoding, so `%24.mid` and `$.mid`
 *   collide) or text that is not valid percent-encoded UTF-8.
 */
export function parsePropertyBag(text: string): PropertyBag {
  const application: Record<string, string> = {};
  const system: Record<string, string> = {};
  const seen = new Set<string>();
  for (const pair of splitQuery(text)) {
    const key = decodeOrThrow(pair.key, "key");
    if (key === "") throw invalid(`The property bag '${text}' has an entry with an empty key`);
    if (seen.has(key)) throw invalid(`The property bag gives the key '${key}' more than once`);
    seen.add(key);
    const value = pair.value === undefined ? "" : decodeOrThrow(pair.value, `value for '${key}'`);
    if (HUB_STAMPED_KEYS.has(key)) continue;
    const systemName = Object.hasOwn(SYSTEM_PROPERTY_KEYS, key) ? SYSTEM_PROPERTY_KEYS[key as keyof typeof SYSTEM_PROPERTY_KEYS] : undefined;
    if (systemName === undefined) setOwn(application, key, value);
    else system[systemName] = value;
  }
  return { application, system: system as SystemProperties };
}

/** IoT Hub's C2D acknowledgement request (`iothub-ack`), as the service set it (service-protocol.md). */
export type C2dAck = "none" | "positive" | "negative" | "full";
const ACKS: ReadonlySet<string> = new Set<C2dAck>(["none", "positive", "negative", "full"]);

/** What the hub puts in a C2D message's property bag. */
export interface C2dProperties {
  readonly messageId?: string | undefined;
  /** The real hub always sends it (edgehub-server-notes.md §1.2), e.g. `/devices/{id}/messages/devicebound`. */
  readonly to?: string | undefined;
  readonly correlationId?: string | undefined;
  readonly userId?: string | undefined;
  readonly contentType?: string | undefined;
  readonly contentEncoding?: string | undefined;
  /** A Date or epoch milliseconds is written in .NET round-trip form; a string is sent as given. */
  readonly expiryTimeUtc?: Date | number | string | undefined;
  readonly creationTimeUtc?: Date | number | string | undefined;
  /** Defaults to `none`: the real hub always sends `iothub-ack`, `none` when the service chose nothing. */
  readonly ack?: C2dAck | undefined;
  /** Application properties in the order given; `null` is written as a bare key (Learn's encoding of a null value). */
  readonly properties?: Readonly<Record<string, string | null>> | undefined;
}

/**
 * `2024-05-01T12:00:00.0000000Z`: the .NET round-trip ("o") form with exactly seven fractional digits, which is how
 * the hub writes `$.exp`/`$.ctime` and the only form the C# SDK's `DateTime.ParseExact(value, "o")` accepts
 * (edgehub-server-notes.md §1.2). JavaScript dates have milliseconds, so the last four digits are zeros.
 */
export function formatRoundTripUtc(time: Date | number): string {
  const date = typeof time === "number" ? new Date(time) : time;
  if (Number.isNaN(date.getTime())) throw invalid("The C2D message has a date that is not valid");
  return date.toISOString().replace(/Z$/, "0000Z");
}

function encodeOrThrow(text: string, what: string): string {
  try {
    return encodeURIComponent(text);
  } catch {
    throw invalid(`The C2D ${what} '${text}' holds a lone UTF-16 surrogate and cannot be encoded`);
  }
}

function timeText(value: Date | number | string): string {
  return typeof value === "string" ? value : formatRoundTripUtc(value);
}

/**
 * Writes the `{property_bag}` of `devices/{id}/messages/devicebound/{property_bag}` the way IoT Hub does
 * (edgehub-server-notes.md §1.2): system keys first, percent-encoded as `%24.mid` (the Java SDK finds the start of the
 * bag by the first `%24`), in the order `$.mid`, `$.to`, `$.cid`, `$.uid`, `$.ct`, `$.ce`, `$.exp`, `$.ctime`; then
 * the un-prefixed `iothub-ack`; then application properties. Keys and values go through `encodeURIComponent`, so `/`
 * (the Node SDK splits the topic on `/` and reads segment 4), `&`, `=`, `#`, `+` and space are always escaped.
 * The Node SDK maps `$.mid`, `$.to`, `$.exp`, `$.cid`, `$.uid`, `$.ct`, `$.ce` to Message fields and everything else,
 * `iothub-ack` included, to `message.properties` (device-protocol.md §2.4); a bare key there becomes `"undefined"`.
 * @throws HubError ArgumentInvalid for an empty application key, one that starts with `$.` (the device would read it
 *   as a system property) or is `iothub-ack`, an unknown ack mode, an invalid date, or a lone surrogate.
 */
export function formatPropertyBag(message: C2dProperties): string {
  const parts: string[] = [];
  const add = (key: string, value: string | null | undefined): void => {
    if (value === undefined) return;
    parts.push(value === null ? encodeOrThrow(key, "property key") : `${encodeOrThrow(key, "property key")}=${encodeOrThrow(value, `value of '${key}'`)}`);
  };
  add("$.mid", message.messageId);
  add("$.to", message.to);
  add("$.cid", message.correlationId);
  add("$.uid", message.userId);
  add("$.ct", message.contentType);
  add("$.ce", message.contentEncoding);
  add("$.exp", message.expiryTimeUtc === undefined ? undefined : timeText(message.expiryTimeUtc));
  add("$.ctime", message.creationTimeUtc === undefined ? undefined : timeText(message.creationTimeUtc));
  const ack = message.ack ?? "none";
  if (!ACKS.has(ack)) throw invalid(`The C2D ack mode '${ack}' is not one of none, positive, negative, full`);
  add("iothub-ack", ack);
  for (const [key, value] of Object.entries(message.properties ?? {})) {
    if (key === "") throw invalid("A C2D application property has an empty name");
    if (key.startsWith("$.") || key === "iothub-ack") {
      throw invalid(`The C2D application property '${key}' would be read as a system property by the device`);
    }
    add(key, value);
  }
  return parts.join("&");
}

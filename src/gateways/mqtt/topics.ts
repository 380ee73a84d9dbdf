import { HubError } from "../../hub/index.js";
import { parsePropertyBag, type PropertyBag } from "./property-bag.js";
import { splitQuery, tryDecodeComponent } from "./split-query.js";

// IoT Hub's MQTT topic grammar (device-protocol.md §2.2, Learn "Communicate with an IoT hub using the MQTT protocol",
// checked against azure-iot-device-mqtt 1.16.4 dist/mqtt.js and dist/mqtt_twin_client.js). IoT Hub is not a broker:
// it serves only these topic names and filters, and closes the connection on anything else (Learn; a refused
// subscription is a closed connection, never SUBACK 0x80: edgehub-server-notes.md §1.8).

/** The identity an MQTT connection authenticated as; a device has no module id (undefined or ""). */
export interface MqttIdentity {
  readonly deviceId: string;
  readonly moduleId?: string | undefined;
}

/** What a device's PUBLISH asks for. */
export type PublishTarget =
  | { readonly kind: "telemetry"; readonly properties: PropertyBag }
  | { readonly kind: "twinGet"; readonly rid: string }
  /** `rid` is optional: edgeHub applies a PATCH without one and sends no reply (edgehub-server-notes.md §1.3). */
  | { readonly kind: "twinReportedPatch"; readonly rid?: string; readonly version?: number }
  | { readonly kind: "methodResponse"; readonly status: number; readonly rid: string }
  | { readonly kind: "forbidden"; readonly reason: string };

/** What a device's SUBSCRIBE filter asks for. */
export type SubscribeTarget =
  | { readonly kind: "c2d" }
  /** A module's input queue (IoT Edge routing); IoT Hub itself never publishes there. */
  | { readonly kind: "moduleInputs" }
  | { readonly kind: "twinResponses" }
  | { readonly kind: "desiredUpdates" }
  | { readonly kind: "methods" }
  | { readonly kind: "forbidden"; readonly reason: string };

/**
 * QoS of each PUBLISH the hub sends (edgehub-server-notes.md §1.8): C2D at 1 (a QoS 2 subscription is granted 1 and
 * still gets 1), twin responses, desired patches and method requests always at 0 — the Java SDK notes the hub sends
 * them "always with QoS 0", and the Node SDK subscribes to them at 0. Module inputs (IoT Edge only) use 1.
 */
export const HUB_PUBLISH_QOS = {
  c2d: 1,
  moduleInput: 1,
  twinResponse: 0,
  desiredPatch: 0,
  methodRequest: 0,
} as const;

/** SUBACK's granted QoS: IoT Hub grants at most 1 ([DOC] "grants maximum QoS level 1"). */
export function grantQos(requested: 0 | 1 | 2): 0 | 1 {
  return requested === 0 ? 0 : 1;
}

function moduleOf(identity: MqttIdentity): string | undefined {
  return identity.moduleId === undefined || identity.moduleId === "" ? undefined : identity.moduleId;
}

/**
 * Whether a topic segment names `id`. The Node SDK writes ids into topics raw (device-protocol.md §2.2), so that is
 * the first test; a client that percent-encodes the id (device ids may hold `%`, `?`, `#`, `+`, `$` …) also matches.
 * Only the connection's own identity is ever compared, so the looser test cannot reach another device.
 */
function sameId(segment: string, id: string): boolean {
  return segment === id || tryDecodeComponent(segment) === id;
}

function describeIdentity(identity: MqttIdentity): string {
  const moduleId = moduleOf(identity);
  return moduleId === undefined ? `device '${identity.deviceId}'` : `module '${identity.deviceId}/${moduleId}'`;
}

function forbidden(reason: string): { readonly kind: "forbidden"; readonly reason: string } {
  return { kind: "forbidden", reason };
}

/**
 * Telemetry: `devices/{d}/messages/events/{bag}` for a device, `devices/{d}/modules/{m}/messages/events/{bag}` for a
 * module. The SDK always writes the `/` after `events`, and module output events add one more after the bag
 * (`…/events/%24.on=out1&k=v/`, device-protocol.md §2.2); the C# SDK does the same for any module message. One
 * trailing `/` is therefore dropped, and a bare `…/messages/events` is accepted too.
 */
function parseTelemetry(topic: string, identity: MqttIdentity): PublishTarget {
  const segments = topic.split("/");
  const deviceSegment = segments[1] ?? "";
  const moduleId = moduleOf(identity);
  let bagStart: number;
  let topicModule: string | undefined;
  if (segments[2] === "messages" && segments[3] === "events") {
    bagStart = 4;
  } else if (segments[2] === "modules" && segments[4] === "messages" && segments[5] === "events") {
    bagStart = 6;
    topicModule = segments[3] ?? "";
  } else {
    return forbidden(`IoT Hub accepts no PUBLISH on '${topic}'`);
  }
  const ownTopic =
    sameId(deviceSegment, identity.deviceId) &&
    (topicModule === undefined ? moduleId === undefined : moduleId !== undefined && sameId(topicModule, moduleId));
  if (!ownTopic) return forbidden(`The ${describeIdentity(identity)} cannot send telemetry on '${topic}'`);
  let bag = segments.slice(bagStart).join("/");
  if (bag.endsWith("/")) bag = bag.slice(0, -1);
  return { kind: "telemetry", properties: parsePropertyBag(bag) };
}

interface RequestTopic {
  /** The path with one trailing `/` removed: `$iothub/twin/GET`. */
  readonly path: string;
  /** Raw (still encoded) query values by key; a key given twice makes the topic unreadable. */
  readonly query: ReadonlyMap<string, string>;
}

/**
 * Splits `$iothub/…/?$rid=x&$version=3` at the first `?`. Values are kept raw: a `$rid` is echoed byte for byte in the
 * reply (as edgeHub does), which is right whether the device percent-encoded it or not, since the device decodes the
 * reply the same way it encoded the request; hub-issued method `$rid`s are hex digits.
 */
function splitRequestTopic(topic: string): RequestTopic | string {
  const question = topic.indexOf("?");
  let path = question < 0 ? topic : topic.slice(0, question);
  if (path.endsWith("/")) path = path.slice(0, -1);
  const query = new Map<string, string>();
  for (const pair of splitQuery(question < 0 ? "" : topic.slice(question + 1))) {
    if (query.has(pair.key)) return `'${pair.key}' appears twice in '${topic}'`;
    query.set(pair.key, pair.value ?? "");
  }
  return { path, query };
}

const INTEGER = /^-?\d{1,10}$/;
const VERSION = /^\d{1,15}$/;

function parseRequest(topic: string): PublishTarget {
  const request = splitRequestTopic(topic);
  if (typeof request === "string") return forbidden(request);
  const rid = request.query.get("$rid") || undefined;
  if (request.path === "$iothub/twin/GET") {
    // [DOC] `$iothub/twin/GET/?$rid={request id}`; the Node SDK sends a body of one space.
    return rid === undefined ? forbidden(`A twin GET needs a $rid: '${topic}'`) : { kind: "twinGet", rid };
  }
  if (request.path === "$iothub/twin/PATCH/properties/reported") {
    // [DOC] `$iothub/twin/PATCH/properties/reported/?$rid={request id}`; the Node SDK never adds `$version`.
    const versionText = request.query.get("$version");
    if (versionText === undefined) return rid === undefined ? { kind: "twinReportedPatch" } : { kind: "twinReportedPatch", rid };
    if (!VERSION.test(versionText)) return forbidden(`The $version of '${topic}' is not a non-negative integer`);
    const version = Number(versionText);
    return rid === undefined ? { kind: "twinReportedPatch", version } : { kind: "twinReportedPatch", rid, version };
  }
  const method = /^\$iothub\/methods\/res\/([^/]*)$/.exec(request.path);
  if (method !== null) {
    // [DOC] `$iothub/methods/res/{status}/?$rid={request id}`, "status must be an integer"; the Node SDK writes it
    // with util.format('%d') from a non-zero number (dist/mqtt.js TOPIC_RESPONSE_PUBLISH_FORMAT).
    const statusText = method[1] ?? "";
    const status = Number(statusText);
    if (!INTEGER.test(statusText) || !Number.isSafeInteger(status) || Math.abs(status) > 2 ** 31 - 1) {
      return forbidden(`The method response status '${statusText}' is not an integer`);
    }
    return rid === undefined ? forbidden(`A method response needs a $rid: '${topic}'`) : { kind: "methodResponse", status, rid };
  }
  return forbidden(`IoT Hub accepts no PUBLISH on '${topic}'`);
}

/**
 * Classifies a device's PUBLISH topic. Twin and method topics carry no identity (the connection is the identity, and
 * modules use the same topics as devices: device-protocol.md §2.7); telemetry topics must name the connection's own
 * identity. A device publishing on a topic the hub itself publishes to (`$iothub/twin/res/…`, desired patches,
 * method requests, C2D) is forbidden like any other unknown topic.
 * @throws HubError ArgumentInvalid when a telemetry topic's property bag is malformed (see parsePropertyBag).
 */
export function parsePublishTopic(topic: string, identity: MqttIdentity): PublishTarget {
  if (topic.startsWith("devices/")) return parseTelemetry(topic, identity);
  if (topic.startsWith("$iothub/")) return parseRequest(topic);
  return forbidden(`IoT Hub accepts no PUBLISH on '${topic}'`);
}

/**
 * Classifies a device's SUBSCRIBE filter. Only the documented filters are served ([DOC]: "it only supports the
 * documented topic names and topic filters"):
 * - `devices/{d}/messages/devicebound/#` (devices only: Node subscribes only when there is no module id, §2.7);
 *   `devices/+/messages/devicebound/#` too, the filter Microsoft's Embedded C SDK (azure-sdk-for-c
 *   `AZ_IOT_HUB_CLIENT_C2D_SUBSCRIBE_TOPIC`) uses against the real hub;
 * - `devices/{d}/modules/{m}/inputs/#` (Node `enableInputMessages`) and `devices/{d}/modules/{m}/#` ([DOC] for modules);
 * - `$iothub/twin/res/#`, `$iothub/twin/PATCH/properties/desired/#`, `$iothub/methods/POST/#` (every SDK, [DOC]).
 */
export function parseSubscribeFilter(filter: string, identity: MqttIdentity): SubscribeTarget {
  switch (filter) {
    case "$iothub/twin/res/#":
      return { kind: "twinResponses" };
    case "$iothub/twin/PATCH/properties/desired/#":
      return { kind: "desiredUpdates" };
    case "$iothub/methods/POST/#":
      return { kind: "methods" };
  }
  const segments = filter.split("/");
  const moduleId = moduleOf(identity);
  if (segments[0] === "devices" && segments.length === 5 && segments[2] === "messages" && segments[3] === "devicebound" && segments[4] === "#") {
    const deviceSegment = segments[1] ?? "";
    if (moduleId !== undefined) return forbidden(`The ${describeIdentity(identity)} cannot receive cloud-to-device messages ('${filter}')`);
    if (deviceSegment === "+" || sameId(deviceSegment, identity.deviceId)) return { kind: "c2d" };
    return forbidden(`The ${describeIdentity(identity)} cannot subscribe to '${filter}'`);
  }
  const isModuleFilter =
    segments[0] === "devices" &&
    segments[2] === "modules" &&
    ((segments.length === 6 && segments[4] === "inputs" && segments[5] === "#") || (segments.length === 5 && segments[4] === "#"));
  if (isModuleFilter) {
    const own = moduleId !== undefined && sameId(segments[1] ?? "", identity.deviceId) && sameId(segments[3] ?? "", moduleId);
    return own ? { kind: "moduleInputs" } : forbidden(`The ${describeIdentity(identity)} cannot subscribe to '${filter}'`);
  }
  return forbidden(`IoT Hub serves no subscription to '${filter}'`);
}

/**
 * `devices/{d}/messages/devicebound/{bag}` (bag from formatPropertyBag). The `/` after `devicebound` is always written,
 * even with an empty bag: the Node SDK's dispatch regex is `^devices\/.*\/messages\/devicebound\/.*$` (edgeHub leaves
 * it out and Node drops the message: edgehub-server-notes.md §5). No `/` follows the bag, since the Microsoft Rust
 * client would read it into the last value. The device id is written raw, as the SDKs write it.
 */
export function c2dTopic(identity: Pick<MqttIdentity, "deviceId">, bag: string): string {
  return `devices/${identity.deviceId}/messages/devicebound/${bag}`;
}

function checkStatus(status: number): void {
  if (!Number.isInteger(status) || status < 100 || status > 999) throw new RangeError(`Status ${status} is not a three-digit integer`);
}

function checkVersion(version: number): void {
  if (!Number.isSafeInteger(version) || version < 0) throw new RangeError(`Version ${version} is not a non-negative integer`);
}

function checkRid(rid: string): void {
  if (rid === "") throw new RangeError("A $rid cannot be empty");
}

/**
 * `$iothub/twin/res/{status}/?$rid={rid}[&$version={v}]`: `$version` (the new reported version) goes on a successful
 * reported PATCH reply (`204`), after `$rid` ([DOC] `$iothub/twin/res/204/?$rid=1&$version=6`). The Node SDK ignores
 * the status and reads only the body (device-protocol.md §2.5), so the body must never be empty on a GET reply.
 */
export function twinResponseTopic(status: number, rid: string, version?: number): string {
  checkStatus(status);
  checkRid(rid);
  if (version === undefined) return `$iothub/twin/res/${status}/?$rid=${rid}`;
  checkVersion(version);
  return `$iothub/twin/res/${status}/?$rid=${rid}&$version=${version}`;
}

/** `$iothub/twin/PATCH/properties/desired/?$version={v}` ([DOC]); the body must carry the same `"$version"`. */
export function desiredPatchTopic(version: number): string {
  checkVersion(version);
  return `$iothub/twin/PATCH/properties/desired/?$version=${version}`;
}

/**
 * `$iothub/methods/POST/{name}/?$rid={rid}` ([DOC]). The Node SDK takes segment 3 of `url.parse(topic).path` as the
 * name, so a name must not hold `/`, `?` or `#`; `+` and `#` are also MQTT wildcards, which a topic name must not
 * contain [MQTT-3.3.2-2]. (Node's url.parse also re-escapes space and `"'<>\^`{|}` in the name, so methods named with
 * those never reach a Node handler: an SDK limit, not ours.) A missing `$rid` crashes the Node client (§2.6).
 */
export function methodRequestTopic(name: string, rid: string): string {
  if (name === "" || /[/?#+\u0000]/.test(name)) {
    throw new HubError("ArgumentInvalid", { message: `The method name '${name}' cannot be sent over MQTT: it is empty or holds / ? # + or NUL` });
  }
  checkRid(rid);
  return `$iothub/methods/POST/${name}/?$rid=${rid}`;
}

/**
 * The `$rid` of the n-th method request on a connection: the real hub numbers them from 1 in lower-case hex (`9`, `a`,
 * `b`, …; edgehub-server-notes.md §1.4). Compare the device's echo with this string exactly.
 */
export function methodRequestId(sequence: number): string {
  if (!Number.isSafeInteger(sequence) || sequence < 1) throw new RangeError(`Method request sequence ${sequence} must be a positive integer`);
  return sequence.toString(16);
}

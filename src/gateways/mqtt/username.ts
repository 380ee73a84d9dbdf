import { HubError } from "../../hub/index.js";
import { setOwn, splitQuery, tryDecodeComponent } from "./split-query.js";

/** What a CONNECT username says. */
export interface MqttUsername {
  /** The host name as the device wrote it (the connection string's `HostName`, even through a gateway). */
  readonly hostName: string;
  readonly deviceId: string;
  readonly moduleId?: string;
  /** `deviceId` or `deviceId/moduleId`: the MQTT client id must equal it (edgeHub DeviceIdentityProvider, ordinal). */
  readonly clientId: string;
  /** Absent only for hand-written clients: Learn "recommends" it and the Node SDK always sends `2021-04-12`. */
  readonly apiVersion?: string;
  /** The IoT Plug and Play model id (`model-id`), e.g. `dtmi:com:example:Thermostat;1`; it becomes `dt-dataschema`. */
  readonly modelId?: string;
  /** The SDK's user agent (`DeviceClientType`), decoded, e.g. `azure-iot-device/1.18.4 (node v20.20.2; Debian 12; x64)`. */
  readonly deviceClientType?: string;
  /** Every query parameter, values decoded; the first of a repeated key wins. */
  readonly params: Readonly<Record<string, string>>;
}

function invalid(message: string): HubError {
  return new HubError("ArgumentInvalid", { message });
}

/**
 * Reads a CONNECT username: `{host}/{deviceId}[/{moduleId}]/?api-version=…[&model-id=…]&DeviceClientType=…`.
 * The Node SDK (azure-iot-device-mqtt 1.16.4 `_getBaseTransportConfig`) writes host and ids raw, the `model-id` raw
 * (`:` and `;` literal) and `DeviceClientType` through encodeURIComponent (device-protocol.md §2.1). The split follows
 * edgeHub's MqttUsernameParser (edgehub-server-notes.md §1.1): split on `/` first — device ids may hold `?` and `=` —
 * and take the last segment as the query when it starts with `?`; the legacy form `{host}/{deviceId}/api-version=…`
 * (no `?`) is accepted when that segment contains `api-version=`, and a username with no query at all is accepted
 * because Learn only recommends `api-version`. Query values are percent-decoded (a value that is not valid
 * percent-encoding is kept as written); unknown keys are kept in `params`.
 * @param hostName The hub's configured host name; compared case-insensitively (it is a DNS name).
 * @throws HubError ArgumentInvalid for a username that is not `host/device[/module][/?query]` or has an empty
 *   `api-version`; IotHubNotFound (CONNACK 5) when it names another hub.
 */
export function parseUsername(username: string, hostName: string): MqttUsername {
  const segments = username.split("/");
  let query: string | undefined;
  const last = segments[segments.length - 1] ?? "";
  if (segments.length >= 3 && last.startsWith("?")) {
    query = last.slice(1);
    segments.pop();
  } else if (segments.length >= 3 && last.includes("api-version=")) {
    query = last;
    segments.pop();
  } else if (segments.length >= 3 && last === "") {
    segments.pop();
  }
  if (segments.length !== 2 && segments.length !== 3) {
    throw invalid(`The MQTT username '${username}' is not {hostName}/{deviceId}[/{moduleId}]/?api-version=2021-04-12`);
  }
  const [host = "", deviceId = "", moduleId] = segments;
  if (host === "" || deviceId === "" || moduleId === "") {
    throw invalid(`The MQTT username '${username}' has an empty host name, device id or module id`);
  }
  if (host.toLowerCase() !== hostName.toLowerCase()) {
    throw new HubError("IotHubNotFound", { message: `The MQTT username names the IoT hub '${host}', but this hub is '${hostName}'` });
  }
  const params: Record<string, string> = {};
  for (const pair of splitQuery(query ?? "")) {
    if (pair.key === "" || Object.hasOwn(params, pair.key)) continue; // first occurrence wins, as in edgeHub
    const raw = pair.value ?? "";
    setOwn(params, pair.key, tryDecodeComponent(raw) ?? raw);
  }
  const apiVersion = params["api-version"];
  if (apiVersion !== undefined && apiVersion.trim() === "") {
    throw invalid(`The MQTT username '${username}' has an empty api-version`);
  }
  const result: { -readonly [K in keyof MqttUsername]: MqttUsername[K] } = {
    hostName: host,
    deviceId,
    clientId: moduleId === undefined ? deviceId : `${deviceId}/${moduleId}`,
    params,
  };
  if (moduleId !== undefined) result.moduleId = moduleId;
  if (apiVersion !== undefined) result.apiVersion = apiVersion;
  const modelId = params["model-id"];
  if (modelId !== undefined && modelId !== "") result.modelId = modelId;
  const deviceClientType = params["DeviceClientType"];
  if (deviceClientType !== undefined) result.deviceClientType = deviceClientType;
  return result;
}

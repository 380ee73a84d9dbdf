/**
 * IoT Hub's record of how a device connection authenticated: the JSON it puts, as a string, in the D2C message
 * annotation `iothub-connection-auth-method`, the routing field `$connectionAuthMethod` and the `authType` of
 * Connections resource logs, e.g. `{"scope":"device","type":"sas","issuer":"iothub","acceptingIpFilterRule":null}`
 * (service-protocol.md, monitoring.md).
 *
 * Values, and where they come from:
 * - device key SAS: scope "device", type "sas", issuer "iothub" [SAMPLE: Learn's routing/export samples];
 * - module key SAS: scope "module", type "sas", issuer "iothub" [SAMPLE: an IoT Edge module's message];
 * - shared access policy token (skn, DeviceConnect): scope "hub", type "sas", issuer "iothub" [SAMPLE: a device
 *   message in an exported AVRO record];
 * - X.509 (thumbprint or CA): type "x509Certificate", issuer "external" [SAMPLE: one captured D2C message of a
 *   certificate device]; that the same value is used for both X.509 kinds is our inference [INF].
 */
export interface ConnectionAuthMethod {
  readonly scope: "device" | "module" | "hub";
  readonly type: "sas" | "x509Certificate";
  readonly issuer: "iothub" | "external";
  readonly acceptingIpFilterRule: null;
}

/** The few texts there are, each rendered once: every connection carries one, and the resource logs keep it per identity. */
const rendered = new Map<string, string>();

/** The JSON text IoT Hub writes, members in its order (scope, type, issuer, acceptingIpFilterRule). */
export function renderConnectionAuthMethod(method: ConnectionAuthMethod): string {
  const key = `${method.scope} ${method.type} ${method.issuer}`;
  let text = rendered.get(key);
  if (text === undefined) {
    text = JSON.stringify({ scope: method.scope, type: method.type, issuer: method.issuer, acceptingIpFilterRule: method.acceptingIpFilterRule });
    rendered.set(key, text);
  }
  return text;
}

export function sasAuthMethod(scope: ConnectionAuthMethod["scope"]): ConnectionAuthMethod {
  return { scope, type: "sas", issuer: "iothub", acceptingIpFilterRule: null };
}

export function x509AuthMethod(scope: "device" | "module"): ConnectionAuthMethod {
  return { scope, type: "x509Certificate", issuer: "external", acceptingIpFilterRule: null };
}

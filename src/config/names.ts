import { isIP, isIPv4 } from "node:net";

/**
 * IoT Hub's own rule for hub names (Microsoft.Devices/IotHubs): 3–50 characters, letters, digits and hyphens,
 * not ending with a hyphen. The name is also the first DNS label of `{name}.azure-devices.net`, so it cannot start
 * with a hyphen either.
 */
const HUB_NAME = /^[A-Za-z0-9](?:[A-Za-z0-9-]{1,48})[A-Za-z0-9]$/;

/** One DNS label: 1–63 letters, digits and hyphens, not starting or ending with a hyphen. */
const DNS_LABEL = /^[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?$/;

/** The name used when the host name gives none that IoT Hub would accept (an IP address, a label under 3 chars). */
export const FALLBACK_HUB_NAME = "malachite";

export function isValidHubName(name: string): boolean {
  return HUB_NAME.test(name);
}

/**
 * A host name clients can put in a connection string's `HostName=` and check against the server certificate:
 * a DNS name or an IPv4 address. IPv6 literals are refused because the SDKs build URLs as `https://{HostName}/`
 * without brackets.
 */
export function isValidHostName(name: string): boolean {
  if (isIPv4(name)) return true;
  if (isIP(name) !== 0) return false;
  if (name.length === 0 || name.length > 253) return false;
  const labels = name.split(".");
  if (!labels.every((label) => DNS_LABEL.test(label))) return false;
  // An all-numeric last label would read as a (malformed) IPv4 address, e.g. "300.1.1.1".
  return !/^[0-9]+$/.test(labels[labels.length - 1]!);
}

/** A bind address must be an IP literal so the listeners never depend on name resolution at start. */
export function isValidBindAddress(address: string): boolean {
  return isIP(address) !== 0;
}

/**
 * The hub name a host name implies when none is configured: its first label ("myhub.example.com" → "myhub"),
 * as on Azure where the host name is `{hubName}.azure-devices.net`. IP addresses and labels IoT Hub would refuse
 * as a hub name give {@link FALLBACK_HUB_NAME}.
 */
export function hubNameFromHostName(hostName: string): string {
  if (isIP(hostName) !== 0) return FALLBACK_HUB_NAME;
  const label = hostName.split(".")[0] ?? "";
  return isValidHubName(label) ? label : FALLBACK_HUB_NAME;
}

/**
 * The link addresses IoT Hub serves over AMQP, as the official SDKs attach them (device-protocol.md §3.3,
 * service-protocol.md §4–5). IoT Hub matches them case-insensitively, with or without a leading slash or an
 * `amqps://host` prefix, and percent-decodes the ids (edgehub-server-notes.md §2.2).
 */
export type LinkAddress =
  | { readonly kind: "cbs" }
  /** Device side: d2c (device sends), c2d (device receives), methods and twin (both directions). */
  | { readonly kind: "d2c" | "c2d" | "methods" | "twin"; readonly deviceId: string; readonly moduleId: string }
  /** Service side: C2D send, the feedback and file-notification receivers. */
  | { readonly kind: "serviceC2d" | "feedback" | "fileNotifications" }
  /** The Event Hub-compatible endpoint: `$management` and `{entity}/ConsumerGroups/{cg}/Partitions/{p}`. */
  | { readonly kind: "management" }
  | { readonly kind: "partition"; readonly entity: string; readonly consumerGroup: string; readonly partitionId: string }
  | { readonly kind: "unknown"; readonly address: string };

const DEVICE = /^devices\/([^/]+)(?:\/modules\/([^/]+))?\/(messages\/events|messages\/devicebound|methods\/devicebound|twin)$/i;
const PARTITION = /^([^/]+)\/consumergroups\/([^/]+)\/partitions\/([^/]+)$/i;
const DEVICE_KINDS = { "messages/events": "d2c", "messages/devicebound": "c2d", "methods/devicebound": "methods", twin: "twin" } as const;

function decode(text: string): string | undefined {
  try {
    return decodeURIComponent(text);
  } catch {
    return undefined;
  }
}

/** Classifies a source or target address; anything IoT Hub does not serve is `unknown`. */
export function parseLinkAddress(raw: unknown): LinkAddress {
  if (typeof raw !== "string") return { kind: "unknown", address: String(raw) };
  const path = raw.replace(/^amqps?:\/\/[^/]*/i, "").replace(/^\/+/, "").replace(/\/+$/, "");
  const lower = path.toLowerCase();
  if (lower === "$cbs") return { kind: "cbs" };
  if (lower === "$management") return { kind: "management" };
  if (lower === "messages/devicebound") return { kind: "serviceC2d" };
  if (lower === "messages/servicebound/feedback") return { kind: "feedback" };
  if (lower === "messages/servicebound/filenotifications") return { kind: "fileNotifications" };
  const device = DEVICE.exec(path);
  if (device !== null) {
    const deviceId = decode(device[1]!);
    const moduleId = device[2] === undefined ? "" : decode(device[2]);
    const kind = DEVICE_KINDS[device[3]!.toLowerCase() as keyof typeof DEVICE_KINDS];
    if (deviceId !== undefined && moduleId !== undefined) return { kind, deviceId, moduleId };
  }
  const partition = PARTITION.exec(path);
  if (partition !== null) {
    const [entity, consumerGroup, partitionId] = [decode(partition[1]!), decode(partition[2]!), decode(partition[3]!)];
    if (entity !== undefined && consumerGroup !== undefined && partitionId !== undefined) return { kind: "partition", entity, consumerGroup, partitionId };
  }
  return { kind: "unknown", address: raw };
}

/** `{host}/devices/{id}[/modules/{m}]` (a CBS audience or SAS `sr`, decoded) → the identity it names, if it names one. */
export function identityOfAudience(audience: string, hostName: string): { deviceId: string; moduleId: string } | undefined {
  const decoded = decode(audience) ?? audience;
  const path = decoded.replace(/^amqps?:\/\//i, "");
  const slash = path.indexOf("/");
  if (slash < 0 || path.slice(0, slash).toLowerCase() !== hostName.toLowerCase()) return undefined;
  const match = /^devices\/([^/]+)(?:\/modules\/([^/]+))?\/?$/i.exec(path.slice(slash + 1));
  if (match === null) return undefined;
  const deviceId = decode(match[1]!);
  const moduleId = match[2] === undefined ? "" : decode(match[2]);
  return deviceId === undefined || moduleId === undefined ? undefined : { deviceId, moduleId };
}

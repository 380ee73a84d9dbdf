import type { IdentityRecord, TwinRecord } from "../ports/store.js";
import { cloneJson } from "./json-value.js";
import { readPropertySection, writePropertySection } from "./property-section.js";
import { twinEtag } from "./twin-etag.js";
import { asTwinTimestamp } from "./twin-time.js";

/**
 * The twin document of GET /twins/{id}[/modules/{mid}] and of twin query results, keys in IoT Hub's observed
 * order (query-twins-jobs-routing.md §2.1, service-protocol.md §3.5). `deviceEtag` is the identity's etag, which
 * the registry renders. Choices where the captures are thin:
 * - `statusReason` is omitted when null, `tags` when empty (§2.1).
 * - `modelId` is always `""`: the identity does not record a Plug and Play model yet.
 * - Module twins stop after `properties`: the published `$edgeAgent` module twin capture (IoT Edge "monitor
 *   module twins" article) has no `capabilities`, `deviceScope` or `parentScopes`.
 * - Devices show `capabilities` always; `deviceScope` and `parentScopes` only for Edge hierarchies (§1 field
 *   table: "present for Edge hierarchies"), i.e. when a scope or a parent scope is set.
 */
export function renderTwin(identity: IdentityRecord, twin: TwinRecord, deviceEtag: string): Record<string, unknown> {
  return buildTwin(identity, twin, deviceEtag, true);
}

/**
 * The same document without copying tags and properties: for evaluating a query's WHERE over every scanned twin,
 * where copying dominated the cost (bench/registry.ts). The result shares objects with `twin`, so it is only for
 * reading; what a caller receives is always made by renderTwin.
 */
export function twinMatchView(identity: IdentityRecord, twin: TwinRecord, deviceEtag: string): Record<string, unknown> {
  return buildTwin(identity, twin, deviceEtag, false);
}

function buildTwin(identity: IdentityRecord, twin: TwinRecord, deviceEtag: string, copy: boolean): Record<string, unknown> {
  const isModule = identity.moduleId !== "";
  const thumbprint = identity.authentication.x509Thumbprint;
  const doc: Record<string, unknown> = { deviceId: identity.deviceId };
  if (isModule) doc["moduleId"] = identity.moduleId;
  doc["etag"] = twinEtag(twin);
  doc["deviceEtag"] = deviceEtag;
  doc["status"] = identity.status;
  if (identity.statusReason !== null) doc["statusReason"] = identity.statusReason;
  doc["statusUpdateTime"] = asTwinTimestamp(identity.statusUpdatedTime);
  doc["connectionState"] = identity.connectionState;
  doc["lastActivityTime"] = asTwinTimestamp(identity.lastActivityTime);
  doc["cloudToDeviceMessageCount"] = identity.cloudToDeviceMessageCount;
  doc["authenticationType"] = identity.authentication.type;
  // Always present, with null members when unused (§2.1).
  doc["x509Thumbprint"] = {
    primaryThumbprint: thumbprint?.primaryThumbprint ?? null,
    secondaryThumbprint: thumbprint?.secondaryThumbprint ?? null,
  };
  doc["modelId"] = "";
  doc["version"] = twin.version;
  if (Object.keys(twin.tags).length > 0) doc["tags"] = copy ? cloneJson(twin.tags) : twin.tags;
  doc["properties"] = copy
    ? { desired: writePropertySection(readPropertySection(twin.desired)), reported: writePropertySection(readPropertySection(twin.reported)) }
    : { desired: twin.desired, reported: twin.reported };
  if (!isModule) {
    doc["capabilities"] = { iotEdge: identity.capabilities.iotEdge };
    const inHierarchy = (identity.deviceScope !== null && identity.deviceScope !== "") || identity.parentScopes.length > 0;
    if (inHierarchy) {
      doc["deviceScope"] = identity.deviceScope;
      doc["parentScopes"] = [...identity.parentScopes];
    }
  }
  return doc;
}

/**
 * Service-side twin writes (PATCH and PUT /twins/{id}[/modules/{mid}], jobs, imports): read the body, validate
 * all of it, then build the new record (query-twins-jobs-routing.md §2.4–§2.8, service-protocol.md §3.5).
 * Nothing is modified in place, so a failed validation leaves the caller's record exactly as it was.
 */
import type { TwinRecord } from "../ports/store.js";
import { HubError } from "../errors/index.js";
import { cloneJson, getOwn, isJsonObject, type JsonObject } from "./json-value.js";
import { mergeTwinPatch } from "./merge-twin.js";
import { mergeNotification, replacementNotification } from "./desired-notification.js";
import { readPropertySection, writePropertySection } from "./property-section.js";
import { refreshMetadata } from "./twin-metadata.js";
import { twinTimestamp } from "./twin-time.js";
import { assertTwinSectionSize, validateTwinPatch, type TwinSectionName } from "./validate-twin.js";

/** How one section changes: merged with a patch, or replaced by new values. */
export type SectionWrite = { readonly kind: "merge"; readonly patch: JsonObject } | { readonly kind: "replace"; readonly values: JsonObject };

/** The validated sections of a service write; `undefined` means the section is not touched. */
export interface ServiceTwinWrite {
  readonly tags: SectionWrite | undefined;
  readonly desired: SectionWrite | undefined;
}

/** What a service write returns: the new record and, when desired changed, the device notification (§2.8). */
export interface ServiceTwinWriteResult {
  twin: TwinRecord;
  desiredNotification: Record<string, unknown> | undefined;
}

/**
 * Reads and validates a PATCH (`mode: "merge"`) or PUT (`mode: "replace"`) body. Only `tags` and
 * `properties.desired` are writable; other top-level fields the SDKs echo (`deviceId`, `etag`, `version`, …) are
 * ignored (service-protocol.md §3.5). A PATCH leaves absent sections alone; a PUT replaces both sections
 * wholesale, so an absent section becomes empty. `null` clears a section in either mode (§2.4).
 */
export function readServiceTwinWrite(body: unknown, mode: "merge" | "replace"): ServiceTwinWrite {
  if (!isJsonObject(body)) throw invalid(`The twin ${mode === "merge" ? "patch" : "replacement"} must be a JSON object`);
  const rawProperties = getOwn(body, "properties");
  if (rawProperties !== undefined && rawProperties !== null && !isJsonObject(rawProperties)) {
    throw invalid("'properties' must be a JSON object with 'desired' and/or 'reported'");
  }
  const properties = isJsonObject(rawProperties) ? rawProperties : undefined;
  const reported = properties === undefined ? undefined : getOwn(properties, "reported");
  // The Node job e2e sends `reported: {}`, which must pass; writing reported is the device's job (§2.2).
  if (reported !== undefined && reported !== null && !(isJsonObject(reported) && Object.keys(reported).length === 0)) {
    throw invalid("'properties.reported' cannot be written by the service: it must be absent or an empty object");
  }
  return {
    tags: readSectionWrite(getOwn(body, "tags"), "tags", mode),
    desired: readSectionWrite(properties === undefined ? undefined : getOwn(properties, "desired"), "properties.desired", mode),
  };
}

/**
 * Applies a validated service write. One operation bumps `version` and the etag counter once, whichever sections
 * it touches, and desired `$version` when desired is touched, even if no value changes (§2.6, §0 rule 2). A body
 * that touches neither section (e.g. `{}`) is not a write: the record comes back unchanged (our choice).
 */
export function applyServiceTwinWrite(twin: TwinRecord, write: ServiceTwinWrite, now: number): ServiceTwinWriteResult {
  if (write.tags === undefined && write.desired === undefined) return { twin: cloneJson(twin), desiredNotification: undefined };

  let tags = cloneJson(twin.tags);
  if (write.tags !== undefined) {
    tags = applySectionWrite(tags, write.tags);
    assertTwinSectionSize(tags, "tags");
  }

  let desired = cloneJson(twin.desired);
  let desiredNotification: Record<string, unknown> | undefined;
  if (write.desired !== undefined) {
    const current = readPropertySection(twin.desired);
    const values = applySectionWrite(current.values, write.desired);
    assertTwinSectionSize(values, "properties.desired");
    const version = current.version + 1;
    const stamp = { $lastUpdated: twinTimestamp(now), $lastUpdatedVersion: version };
    if (write.desired.kind === "merge") {
      desired = writePropertySection({ values, metadata: refreshMetadata(current.metadata, values, write.desired.patch, stamp), version });
      desiredNotification = mergeNotification(write.desired.patch, version);
    } else {
      desired = writePropertySection({ values, metadata: refreshMetadata({}, values, values, stamp), version });
      desiredNotification = replacementNotification(current.values, values, version);
    }
  }

  return {
    twin: {
      version: twin.version + 1,
      etagVersion: twin.etagVersion + 1,
      tags,
      desired,
      reported: cloneJson(twin.reported),
    },
    desiredNotification,
  };
}

/** The section's values after the write (a new object). */
export function applySectionWrite(current: JsonObject, write: SectionWrite): JsonObject {
  // A replacement is a merge into nothing: `null` members then simply create nothing.
  return write.kind === "merge" ? mergeTwinPatch(current, write.patch) : mergeTwinPatch({}, write.values);
}

function readSectionWrite(value: unknown, section: TwinSectionName, mode: "merge" | "replace"): SectionWrite | undefined {
  if (value === undefined) return mode === "merge" ? undefined : { kind: "replace", values: {} };
  if (value === null) return { kind: "replace", values: {} };
  if (!isJsonObject(value)) throw invalid(`'${section}' must be a JSON object or null`);
  validateTwinPatch(value, section);
  return mode === "merge" ? { kind: "merge", patch: value } : { kind: "replace", values: value };
}

function invalid(message: string): HubError {
  return new HubError("ArgumentInvalid", { message });
}

import type { TwinRecord } from "../ports/store.js";
import { HubError } from "../errors/index.js";
import { cloneJson, isJsonObject } from "./json-value.js";
import { mergeTwinPatch } from "./merge-twin.js";
import { readPropertySection, writePropertySection } from "./property-section.js";
import { refreshMetadata } from "./twin-metadata.js";
import { twinTimestamp } from "./twin-time.js";
import { assertTwinSectionSize, validateTwinPatch } from "./validate-twin.js";

/**
 * A device's reported-properties patch (MQTT `$iothub/twin/PATCH/properties/reported/`, AMQP PATCH): merged into
 * `reported` by the §2.5 rules. Any `$` key, such as a `$version` copied back from a GET, fails the whole patch
 * (query-twins-jobs-routing.md §0 rule 4). Bumps `version` and reported `$version`, but not the etag counter,
 * which only service-side writes move (§2.6); every patch counts, even one that changes nothing (§0 rule 2).
 */
export function patchReported(twin: TwinRecord, patch: unknown, now: number): TwinRecord {
  if (!isJsonObject(patch)) throw new HubError("ArgumentInvalid", { message: "The reported properties patch must be a JSON object" });
  validateTwinPatch(patch, "properties.reported");
  const current = readPropertySection(twin.reported);
  const values = mergeTwinPatch(current.values, patch);
  assertTwinSectionSize(values, "properties.reported");
  const metadata = refreshMetadata(current.metadata, values, patch, { $lastUpdated: twinTimestamp(now) });
  return {
    version: twin.version + 1,
    etagVersion: twin.etagVersion,
    tags: cloneJson(twin.tags),
    desired: cloneJson(twin.desired),
    reported: writePropertySection({ values, metadata, version: current.version + 1 }),
  };
}

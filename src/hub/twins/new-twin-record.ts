import type { TwinRecord } from "../ports/store.js";
import { twinTimestamp } from "./twin-time.js";

/**
 * The twin of a newly created identity, as IoT Hub shows it (query-twins-jobs-routing.md §2.1, §2.6): `version` 2,
 * etag counter 1 ("AAAAAAAAAAE="), no tags, and desired and reported each `{"$metadata":{"$lastUpdated":<now>},
 * "$version":1}`. Version 2 fits the captured invariant `version = desired.$version + reported.$version +
 * tags-only writes` (1 + 1 + 0).
 */
export function newTwinRecord(now: number): TwinRecord {
  const created = twinTimestamp(now);
  return {
    version: 2,
    etagVersion: 1,
    tags: {},
    desired: { $metadata: { $lastUpdated: created }, $version: 1 },
    reported: { $metadata: { $lastUpdated: created }, $version: 1 },
  };
}

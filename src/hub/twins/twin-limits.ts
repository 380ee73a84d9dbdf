/**
 * IoT Hub's twin document limits, one row per rule (query-twins-jobs-routing.md §2.3, service-protocol.md §3.5;
 * the same numbers appear as "taken from IoTHub" constants in edgeHub's ReportedPropertiesValidator).
 */
export const TWIN_LIMITS = {
  /** Keys are at most 1 KB, counted as UTF-8 bytes. */
  maxKeyBytes: 1024,
  /** String values are at most 4 KB, counted as UTF-8 bytes (edgeHub: "bytes. taken from IoTHub"). */
  maxStringBytes: 4096,
  /** Objects (and arrays, which edgeHub counts as a level) may nest at most 10 levels below the section root. */
  maxDepth: 10,
  /** Integers must lie in [-2^52, 2^52 - 1]. */
  minInteger: -4503599627370496,
  maxInteger: 4503599627370495,
  /** Section sizes, excluding `$metadata` and `$version`. */
  maxTagsBytes: 8 * 1024,
  maxDesiredBytes: 32 * 1024,
  maxReportedBytes: 32 * 1024,
} as const;

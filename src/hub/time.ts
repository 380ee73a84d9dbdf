/** IoT Hub's "never" in registry JSON: .NET's DateTime.MinValue, written without a zone. */
export const NEVER = "0001-01-01T00:00:00";

/** ISO-8601 with seven fractional digits and Z, as IoT Hub writes timestamps (e.g. "2023-08-24T12:39:49.5076305Z"). */
export function hubTime(ms: number): string {
  return new Date(ms).toISOString().replace(/\.(\d{3})Z$/, ".$10000Z");
}

/**
 * Twin timestamps: IoT Hub writes them with 7 fractional digits (.NET ticks) and a `Z`, e.g.
 * "2019-03-07T20:07:53.5386626Z" (query-twins-jobs-routing.md §2.1, service-protocol.md §3.5).
 */

/** Formats the hub clock (`now`, ms since the epoch, possibly fractional) as a twin `$lastUpdated` value. */
export function twinTimestamp(now: number): string {
  const wholeMs = Math.floor(now);
  const iso = new Date(wholeMs).toISOString(); // "2024-01-01T00:00:00.123Z"
  // The last four digits are sub-millisecond ticks (100 ns each); the hub clock may supply them as a fraction.
  const ticks = Math.min(9999, Math.round((now - wholeMs) * 10_000));
  return `${iso.slice(0, -1)}${String(ticks).padStart(4, "0")}Z`;
}

/**
 * Renders a registry timestamp the way twins show it. The registry keeps "never" as "0001-01-01T00:00:00"
 * (store.ts), while twins show "0001-01-01T00:00:00Z" (query-twins-jobs-routing.md §2.1), so add a `Z` when the
 * value carries no zone.
 */
export function asTwinTimestamp(value: string): string {
  return /(Z|[+-]\d\d:\d\d)$/i.test(value) ? value : `${value}Z`;
}

import type { TwinRecord } from "../ports/store.js";

/**
 * The twin etag as IoT Hub renders it: base64 of the etag counter as 8 bytes big-endian, e.g. 1 → "AAAAAAAAAAE=",
 * 22 → "AAAAAAAAABY=" (query-twins-jobs-routing.md §2.6, service-protocol.md §3.5). Queries render one per scanned
 * twin, so this avoids BigInt: counters stay far below 2^53.
 */
export function twinEtag(twin: TwinRecord): string {
  const bytes = Buffer.allocUnsafe(8);
  const value = twin.etagVersion;
  bytes.writeUInt32BE(Math.floor(value / 2 ** 32), 0);
  bytes.writeUInt32BE(value >>> 0, 4);
  return bytes.toString("base64");
}

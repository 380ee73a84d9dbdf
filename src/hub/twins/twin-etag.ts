import type { TwinRecord } from "../ports/store.js";

/**
 * The twin etag as IoT Hub renders it: base64 of the etag counter as 8 bytes big-endian, e.g. 1 → "AAAAAAAAAAE=",
 * 22 → "AAAAAAAAABY=" (query-twins-jobs-routing.md §2.6, service-protocol.md §3.5).
 */
export function twinEtag(twin: TwinRecord): string {
  const bytes = new Uint8Array(8);
  new DataView(bytes.buffer).setBigUint64(0, BigInt(twin.etagVersion));
  return btoa(String.fromCharCode(...bytes));
}

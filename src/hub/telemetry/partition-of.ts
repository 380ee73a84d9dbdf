/**
 * The built-in endpoint's partition for a device: IoT Hub hashes the device id so a device's messages stay in order
 * in one partition. Its hash is not published; FNV-1a over the UTF-8 id spreads ids evenly and never changes.
 */
export function partitionOf(deviceId: string, partitionCount: number): number {
  let hash = 0x811c9dc5;
  for (const byte of Buffer.from(deviceId, "utf8")) {
    hash ^= byte;
    hash = Math.imul(hash, 0x01000193) >>> 0;
  }
  return hash % partitionCount;
}

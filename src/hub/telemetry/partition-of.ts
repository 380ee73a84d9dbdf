/**
 * The built-in endpoint's partition for a device: IoT Hub hashes the device id so a device's messages stay in order
 * in one partition. Its hash is not published; FNV-1a over the UTF-8 id spreads ids evenly and never changes.
 * It runs once per telemetry message, so an ASCII id (IoT Hub's id rules allow only ASCII) is hashed from its char
 * codes, which are its UTF-8 bytes, without encoding it into a Buffer first.
 */
export function partitionOf(deviceId: string, partitionCount: number): number {
  let hash = FNV_OFFSET;
  for (let i = 0; i < deviceId.length; i++) {
    const code = deviceId.charCodeAt(i);
    if (code > 0x7f) return hashBytes(Buffer.from(deviceId, "utf8")) % partitionCount;
    hash = Math.imul(hash ^ code, FNV_PRIME) >>> 0;
  }
  return hash % partitionCount;
}

const FNV_OFFSET = 0x811c9dc5;
const FNV_PRIME = 0x01000193;

function hashBytes(bytes: Buffer): number {
  let hash = FNV_OFFSET;
  for (let i = 0; i < bytes.length; i++) hash = Math.imul(hash ^ bytes[i]!, FNV_PRIME) >>> 0;
  return hash;
}

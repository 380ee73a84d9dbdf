import { randomBytes, randomInt } from "node:crypto";
import type { Ids } from "../hub/ports/ids.js";

/**
 * Tracking ids (one per call and per connection, not secrets) are cut from a buffer of random bytes filled 256 ids
 * at a time: one randomBytes call per id cost more than the rest of a connect's id handling.
 */
const TRACKING_ID_BYTES = 16;
const POOL_IDS = 256;
let pool = Buffer.alloc(0);
let poolOffset = 0;

function trackingId(): string {
  if (poolOffset + TRACKING_ID_BYTES > pool.length) {
    pool = randomBytes(TRACKING_ID_BYTES * POOL_IDS);
    poolOffset = 0;
  }
  const id = pool.toString("hex", poolOffset, poolOffset + TRACKING_ID_BYTES);
  poolOffset += TRACKING_ID_BYTES;
  return id;
}

/** Cryptographically random ids and keys, as IoT Hub generates them. */
export const randomIds: Ids = {
  trackingId,
  generationId: () => `63${String(randomInt(0, 1e9)).padStart(9, "0")}${String(randomInt(0, 1e7)).padStart(7, "0")}`,
  // Keys are secrets: each comes straight from the CSPRNG, never from a buffer kept in memory.
  symmetricKey: () => randomBytes(32).toString("base64"),
};

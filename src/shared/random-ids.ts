import { randomBytes, randomInt } from "node:crypto";
import type { Ids } from "../hub/ports/ids.js";

/** Cryptographically random ids and keys, as IoT Hub generates them. */
export const randomIds: Ids = {
  trackingId: () => randomBytes(16).toString("hex"),
  generationId: () => `63${String(randomInt(0, 1e9)).padStart(9, "0")}${String(randomInt(0, 1e7)).padStart(7, "0")}`,
  symmetricKey: () => randomBytes(32).toString("base64"),
};

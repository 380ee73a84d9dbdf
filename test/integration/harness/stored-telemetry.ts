import { join } from "node:path";
import type { TelemetryRecord } from "../../../src/hub/index.js";
import { SqliteTelemetryLog } from "../../../src/storage/sqlite/sqlite-telemetry-log.js";

/**
 * Every message in a running test hub's telemetry log (read through a second SQLite connection, as a crash-safe
 * reader would), optionally only those of one device: what "stored durably" means, checked from outside the hub.
 */
export async function storedTelemetry(hub: { readonly dataDir: string }, deviceId?: string): Promise<TelemetryRecord[]> {
  const log = SqliteTelemetryLog.open({ path: join(hub.dataDir, "telemetry.db") });
  try {
    const records: TelemetryRecord[] = [];
    for (let partition = 0; partition < 4; partition++) records.push(...(await log.read({ partition, fromSequenceNumber: 0, limit: 10_000 })));
    return deviceId === undefined ? records : records.filter((r) => r.systemProperties["iothub-connection-device-id"] === deviceId);
  } finally {
    await log.close();
  }
}

import type {
  IdentityCounts,
  IdentityEntry,
  IdentityKey,
  IdentityRecord,
  ScanOptions,
  Store,
  StoreWrite,
} from "../../hub/ports/store.js";
import { compareCodePoints } from "./compare-code-points.js";
import { settingPrefixEnd } from "../setting-prefix-end.js";

/** One stored entry. It is kept as JSON text so neither writers nor readers can reach stored state by reference. */
interface Row {
  readonly deviceId: string;
  readonly moduleId: string;
  status: string;
  json: string;
}

/**
 * A Store in process memory, for unit tests. It round-trips records through JSON exactly as the SQLite store does, so
 * a test sees the same copies (and the same loss of `undefined` properties) it would see in production.
 */
export class MemoryStore implements Store {
  /** deviceId → moduleId → row; the device itself is under moduleId "", so a device delete drops one inner map. */
  private readonly devices = new Map<string, Map<string, Row>>();
  /** All rows in (deviceId, moduleId) order; rebuilt lazily after the set of keys changes. */
  private sorted: Row[] | undefined = [];
  private readonly settings = new Map<string, string>();
  private closed = false;

  async getIdentity(key: IdentityKey): Promise<IdentityEntry | undefined> {
    this.assertOpen();
    const row = this.devices.get(key.deviceId)?.get(key.moduleId);
    return row === undefined ? undefined : parseEntry(row);
  }

  async getIdentityRecord(key: IdentityKey): Promise<IdentityRecord | undefined> {
    return (await this.getIdentity(key))?.identity;
  }

  async write(writes: readonly StoreWrite[]): Promise<void> {
    this.assertOpen();
    // Serialize everything before touching state: JSON.stringify is the only thing that can throw, so doing it first
    // makes the batch all-or-nothing.
    const prepared = writes.map((write) => {
      switch (write.kind) {
        case "put":
          return { kind: "put" as const, row: toRow(write.entry) };
        case "delete":
          return write;
        case "patch":
          return { kind: "patch" as const, key: write.key, json: toJson(write.fields) };
        default:
          throw new TypeError(`unknown store write kind ${JSON.stringify((write as { kind: unknown }).kind)}`);
      }
    });
    for (const write of prepared) {
      if (write.kind === "put") this.put(write.row);
      else if (write.kind === "patch") this.patch(write.key, write.json);
      else this.delete(write.key);
    }
  }

  async scan(options: ScanOptions): Promise<IdentityEntry[]> {
    this.assertOpen();
    const result: IdentityEntry[] = [];
    if (options.limit <= 0) return result;
    const rows = this.sortedRows();
    const wantDevices = options.collection === "devices";
    for (let i = options.after === undefined ? 0 : upperBound(rows, options.after); i < rows.length; i++) {
      const row = rows[i]!;
      if ((row.moduleId === "") !== wantDevices) continue;
      result.push(parseEntry(row));
      if (result.length >= options.limit) break;
    }
    return result;
  }

  async listModules(deviceId: string): Promise<IdentityEntry[]> {
    this.assertOpen();
    const modules = this.devices.get(deviceId);
    if (modules === undefined) return [];
    return [...modules.values()]
      .filter((row) => row.moduleId !== "")
      .sort((a, b) => compareCodePoints(a.moduleId, b.moduleId))
      .map(parseEntry);
  }

  async countDevices(): Promise<IdentityCounts> {
    this.assertOpen();
    const counts: IdentityCounts = { total: 0, enabled: 0, disabled: 0 };
    for (const rows of this.devices.values()) {
      const device = rows.get("");
      if (device === undefined) continue;
      counts.total++;
      if (device.status === "enabled") counts.enabled++;
      else if (device.status === "disabled") counts.disabled++;
    }
    return counts;
  }

  async getSetting(name: string): Promise<unknown | undefined> {
    this.assertOpen();
    const json = this.settings.get(name);
    return json === undefined ? undefined : JSON.parse(json);
  }

  /** Putting `undefined` removes the setting, so that reading it back gives `undefined` again. */
  async putSetting(name: string, value: unknown): Promise<void> {
    this.assertOpen();
    if (value === undefined) this.settings.delete(name);
    else this.settings.set(name, toJson(value));
  }

  async listSettings(prefix: string): Promise<Array<{ name: string; value: unknown }>> {
    this.assertOpen();
    const end = settingPrefixEnd(prefix);
    return [...this.settings]
      .filter(([name]) => compareCodePoints(name, prefix) >= 0 && compareCodePoints(name, end) < 0)
      .sort(([a], [b]) => compareCodePoints(a, b))
      .map(([name, json]) => ({ name, value: JSON.parse(json) as unknown }));
  }

  async close(): Promise<void> {
    this.closed = true;
  }

  private put(row: Row): void {
    let rows = this.devices.get(row.deviceId);
    if (rows === undefined) {
      rows = new Map();
      this.devices.set(row.deviceId, rows);
    }
    const existing = rows.get(row.moduleId);
    if (existing !== undefined) {
      // Same key: update in place so the sorted view stays valid.
      existing.status = row.status;
      existing.json = row.json;
    } else {
      rows.set(row.moduleId, row);
      this.sorted = undefined;
    }
  }

  private patch(key: IdentityKey, fieldsJson: string): void {
    const row = this.devices.get(key.deviceId)?.get(key.moduleId);
    if (row === undefined) return;
    const entry = JSON.parse(row.json) as IdentityEntry;
    row.json = JSON.stringify({ identity: { ...entry.identity, ...(JSON.parse(fieldsJson) as object) }, twin: entry.twin });
  }

  private delete(key: IdentityKey): void {
    const rows = this.devices.get(key.deviceId);
    if (rows === undefined) return;
    if (key.moduleId === "") {
      // Deleting a device takes its modules with it.
      this.devices.delete(key.deviceId);
      this.sorted = undefined;
    } else if (rows.delete(key.moduleId)) {
      if (rows.size === 0) this.devices.delete(key.deviceId);
      this.sorted = undefined;
    }
  }

  private sortedRows(): Row[] {
    if (this.sorted === undefined) {
      const rows: Row[] = [];
      for (const deviceRows of this.devices.values()) for (const row of deviceRows.values()) rows.push(row);
      this.sorted = rows.sort(compareRows);
    }
    return this.sorted;
  }

  private assertOpen(): void {
    if (this.closed) throw new Error("the store is closed");
  }
}

function toRow(entry: IdentityEntry): Row {
  const { identity, twin } = entry;
  // Only the two sections, as the SQLite store keeps them, so both stores return the same shape.
  const json = toJson({ identity, twin });
  return { deviceId: identity.deviceId, moduleId: identity.moduleId, status: identity.status, json };
}

function toJson(value: unknown): string {
  const json = JSON.stringify(value);
  if (json === undefined) throw new TypeError("the value cannot be stored as JSON");
  return json;
}

function parseEntry(row: Row): IdentityEntry {
  return JSON.parse(row.json) as IdentityEntry;
}

function compareRows(a: IdentityKey, b: IdentityKey): number {
  return compareCodePoints(a.deviceId, b.deviceId) || compareCodePoints(a.moduleId, b.moduleId);
}

/** Index of the first row strictly after `key`. */
function upperBound(rows: readonly Row[], key: IdentityKey): number {
  let low = 0;
  let high = rows.length;
  while (low < high) {
    const middle = (low + high) >>> 1;
    if (compareRows(rows[middle]!, key) <= 0) low = middle + 1;
    else high = middle;
  }
  return low;
}

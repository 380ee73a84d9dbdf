import { HubError, isHubError } from "../errors/index.js";
import type { CallContext } from "../call-context.js";
import type { Ids } from "../ports/ids.js";
import type { IdentityEntry, IdentityKey, Store, StoreWrite } from "../ports/store.js";
import { patchTwin } from "../twins/index.js";
import { etagMatches, identityEtag } from "./etag.js";
import { checkId } from "./identity-id.js";
import { parseIdentityInput, type IdentityInput } from "./identity-input.js";

/** BulkRegistryOperationResult, as the service swagger defines it. */
export interface BulkResult {
  isSuccessful: boolean;
  errors: Array<{ deviceId: string; moduleId: string | null; operation: string; errorCode: string; errorStatus: string }>;
  warnings: Array<{ deviceId: string; warningCode: string; warningStatus: string }>;
}

export interface BulkDeps {
  readonly store: Store;
  readonly ids: Ids;
  /** Hub time of the request, for the initial twin's metadata. */
  readonly now: number;
  readonly upsert: (key: IdentityKey, current: IdentityEntry | undefined, input: IdentityInput, ifMatch: string | undefined) => Promise<IdentityEntry>;
  readonly notFound: (key: IdentityKey) => HubError;
  /** Told about the writes once they are durable. */
  readonly onWritten: (writes: readonly StoreWrite[]) => void;
  /** Throws (413002) when the request's net new devices would exceed the hub's device limit; nothing is written then. */
  readonly checkDeviceCount?: (adding: number) => Promise<void>;
}

const MAX_RECORDS = 100;
// The Node SDK sends "create", "Update", "UpdateIfMatchETag", "Delete", "DeleteIfMatchETag"; the swagger spells
// them in camelCase. IoT Hub's .NET reader matches enum names case-insensitively, so we do too.
const MODES = ["create", "update", "updateIfMatchETag", "delete", "deleteIfMatchETag"] as const;
type Mode = (typeof MODES)[number];

interface ParsedRecord {
  readonly key: IdentityKey;
  readonly mode: Mode;
  readonly etag: string | undefined;
  readonly raw: Record<string, unknown>;
}

function invalid(ctx: CallContext, message: string): HubError {
  return new HubError("ArgumentInvalid", { trackingId: ctx.trackingId, message });
}

/** Reads a property the way IoT Hub's JSON reader does: by name, ignoring case. */
function field(record: Record<string, unknown>, name: string): unknown {
  if (name in record) return record[name];
  const lower = name.toLowerCase();
  const found = Object.keys(record).find((k) => k.toLowerCase() === lower);
  return found === undefined ? undefined : record[found];
}

function parseRecords(ctx: CallContext, body: unknown): ParsedRecord[] {
  if (!Array.isArray(body)) throw invalid(ctx, "The body of a bulk registry operation must be a JSON array of device records");
  if (body.length === 0) throw invalid(ctx, "A bulk registry operation needs at least one device record");
  if (body.length > MAX_RECORDS) {
    throw new HubError("TooManyDevices", { trackingId: ctx.trackingId, message: `A bulk registry operation can hold at most ${MAX_RECORDS} devices; this one has ${body.length}` });
  }
  const seen = new Set<string>();
  return body.map((item, index) => {
    if (typeof item !== "object" || item === null || Array.isArray(item)) throw invalid(ctx, `Record ${index} of the bulk request is not a JSON object`);
    const raw = item as Record<string, unknown>;
    const deviceId = checkId(field(raw, "id") ?? field(raw, "deviceId"), "DeviceId", ctx.trackingId);
    const rawModule = field(raw, "moduleId");
    const moduleId = rawModule === undefined || rawModule === null ? "" : checkId(rawModule, "ModuleId", ctx.trackingId);
    const rawMode = field(raw, "importMode") ?? "create";
    const mode = MODES.find((m) => typeof rawMode === "string" && m.toLowerCase() === rawMode.toLowerCase());
    if (mode === undefined) throw invalid(ctx, `Record ${index}: importMode '${String(rawMode)}' is not one of ${MODES.join(", ")}`);
    const id = `${deviceId}\u0000${moduleId}`;
    if (seen.has(id)) {
      throw new HubError("DeviceDefinedMultipleTimes", { trackingId: ctx.trackingId, message: `Device '${deviceId}'${moduleId === "" ? "" : ` module '${moduleId}'`} is defined more than once in the request` });
    }
    seen.add(id);
    const etag = field(raw, "eTag") ?? field(raw, "etag");
    return { key: { deviceId, moduleId }, mode, etag: typeof etag === "string" ? etag : undefined, raw };
  });
}

/**
 * POST /devices: up to 100 creates, updates and deletes. Each record succeeds or fails on its own; the records that
 * succeed are written together, atomically. A request-level problem (not an array, over 100 records, the same
 * identity twice) fails the whole request. When any record fails the reply is 400 with the same result shape
 * (service swagger: BulkRegistryOperationResult on 400).
 */
export async function runBulk(ctx: CallContext, body: unknown, deps: BulkDeps): Promise<BulkResult> {
  const records = parseRecords(ctx, body);
  const result: BulkResult = { isSuccessful: true, errors: [], warnings: [] };
  const writes: StoreWrite[] = [];
  let addedDevices = 0;
  for (const record of records) {
    try {
      const applied = await apply(record, deps);
      writes.push(applied.write);
      if (record.key.moduleId === "") addedDevices += applied.devices;
    } catch (thrown) {
      if (!isHubError(thrown)) throw thrown;
      result.isSuccessful = false;
      result.errors.push({
        deviceId: record.key.deviceId,
        moduleId: record.key.moduleId === "" ? null : record.key.moduleId,
        operation: record.mode,
        errorCode: thrown.errorName,
        errorStatus: thrown.message,
      });
    }
  }
  if (addedDevices > 0) await deps.checkDeviceCount?.(addedDevices);
  if (writes.length > 0) {
    await deps.store.write(writes);
    deps.onWritten(writes);
  }
  return result;
}

/** One record's write, and how it changes the number of identities of its kind (+1 created, -1 deleted). */
async function apply(record: ParsedRecord, deps: BulkDeps): Promise<{ write: StoreWrite; devices: number }> {
  const { key, mode } = record;
  const current = await deps.store.getIdentity(key);
  if (mode === "delete" || mode === "deleteIfMatchETag") {
    if (current === undefined) throw deps.notFound(key);
    if (mode === "deleteIfMatchETag" && !etagMatches(quoted(record.etag), identityEtag(current.identity.etagVersion))) {
      throw new HubError("PreconditionFailed", { message: `The etag '${record.etag ?? ""}' does not match the current etag of device '${key.deviceId}'` });
    }
    return { write: { kind: "delete", key }, devices: -1 };
  }
  const input = parseIdentityInput(record.raw, deps.ids);
  // create: only new ids; update: create or overwrite regardless of etag; updateIfMatchETag: overwrite only on a match.
  const ifMatch = mode === "create" ? undefined : mode === "update" || current === undefined ? "*" : quoted(record.etag);
  let entry = await deps.upsert(key, current, input, ifMatch);
  if (current === undefined) entry = withInitialTwin(entry, record.raw, deps.now);
  return { write: { kind: "put", entry }, devices: current === undefined ? 1 : 0 };
}

/** A created record may carry initial tags and desired properties, as in an import job. */
function withInitialTwin(entry: IdentityEntry, raw: Record<string, unknown>, now: number): IdentityEntry {
  const tags = field(raw, "tags");
  const properties = field(raw, "properties");
  const desired = typeof properties === "object" && properties !== null ? field(properties as Record<string, unknown>, "desired") : undefined;
  if (tags === undefined && desired === undefined) return entry;
  const patch: Record<string, unknown> = {};
  if (tags !== undefined) patch["tags"] = tags;
  if (desired !== undefined) patch["properties"] = { desired };
  return { ...entry, twin: patchTwin(entry.twin, patch, now).twin };
}

function quoted(etag: string | undefined): string {
  return etag === undefined ? '""' : etag;
}

/**
 * Field names whose values are credentials: shared access keys, SAS signatures and tokens (MQTT carries the SAS
 * token as the CONNECT password), connection strings. Both the camelCase the code uses and the PascalCase of
 * connection-string fields (`SharedAccessKey=`) when those are parsed into objects.
 */
export const SECRET_FIELDS: readonly string[] = [
  "key",
  "primaryKey",
  "secondaryKey",
  "sharedAccessKey",
  "SharedAccessKey",
  "sharedAccessSignature",
  "SharedAccessSignature",
  "authorization",
  "Authorization",
  "sig",
  "password",
  "connectionString",
  "connectionStrings",
  "storageConnectionString",
  "accountKey",
  "AccountKey",
];

export const REDACTED = "[REDACTED]";

const SECRETS = new Set(SECRET_FIELDS);

/**
 * Returns `value` with every secret field, at any depth, replaced by "[REDACTED]". Objects holding no secret are
 * returned as they are (no copy), and the caller's objects are never changed: only the branches leading to a
 * secret are copied. Only records and arrays are walked; class instances (Buffers, sockets) are left to the
 * logger's serializers. Cycles are cut, not followed.
 */
export function redactSecrets<T>(value: T): T {
  return walk(value, new Set()) as T;
}

function walk(value: unknown, ancestors: Set<object>): unknown {
  if (value === null || typeof value !== "object" || ancestors.has(value)) return value;
  if (Array.isArray(value)) {
    ancestors.add(value);
    let copy: unknown[] | undefined;
    for (let i = 0; i < value.length; i++) {
      const item: unknown = value[i];
      const cleaned = walk(item, ancestors);
      if (cleaned !== item) (copy ??= value.slice())[i] = cleaned;
    }
    ancestors.delete(value);
    return copy ?? value;
  }
  if (!isRecord(value)) return value;
  ancestors.add(value);
  const record = value as Record<string, unknown>;
  let copy: Record<string, unknown> | undefined;
  for (const key of Object.keys(record)) {
    const field = record[key];
    const cleaned = SECRETS.has(key) ? (field === undefined ? field : REDACTED) : walk(field, ancestors);
    if (cleaned !== field) (copy ??= { ...record })[key] = cleaned;
  }
  ancestors.delete(value);
  return copy ?? value;
}

/**
 * Plain objects, null-prototype objects, and objects made with `Object.create(plainObject)` (pino's serialized
 * errors are), but no class instance: walking a socket or a Buffer would be slow and pointless.
 */
function isRecord(value: object): boolean {
  const proto = Object.getPrototypeOf(value) as { constructor?: unknown } | null;
  return proto === null || proto === Object.prototype || proto.constructor === Object;
}

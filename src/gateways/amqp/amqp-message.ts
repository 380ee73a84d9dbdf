import rhea, { type Message } from "rhea";

/**
 * The bytes of a message body. The SDKs send one `data` section (device-protocol.md §3.4); an amqp-value string or
 * binary is taken as its bytes, anything else as its JSON text, so no body is ever dropped silently.
 */
export function bodyBytes(message: Message): Buffer {
  const body = message.body as unknown;
  if (body === undefined || body === null) return Buffer.alloc(0);
  if (Buffer.isBuffer(body)) return body;
  if (typeof body === "string") return Buffer.from(body, "utf8");
  if (typeof body === "object" && (body as { typecode?: number }).typecode === 0x75) {
    const content = (body as { content?: unknown }).content;
    if (Buffer.isBuffer(content)) return content;
    if (Array.isArray(content)) return Buffer.concat(content.filter((c): c is Buffer => Buffer.isBuffer(c)));
  }
  return Buffer.from(JSON.stringify(body), "utf8");
}

/** One `data` section holding `bytes`: the body shape IoT Hub sends everywhere (service-protocol.md §5.6). */
export function dataBody(bytes: Buffer): unknown {
  return rhea.message.data_section(bytes);
}

/**
 * A message-id or correlation-id as text: the SDKs send a uuid-typed id (16 bytes) when it looks like a uuid and a
 * string otherwise; ulong and binary ids are allowed by AMQP too (service-protocol.md §4.3).
 */
export function idText(value: unknown): string | undefined {
  if (value === undefined || value === null) return undefined;
  if (typeof value === "string") return value;
  if (typeof value === "number" || typeof value === "bigint") return String(value);
  if (Buffer.isBuffer(value)) return value.length === 16 ? rhea.uuid_to_string(value) : value.toString("hex");
  return String(value);
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[1-5][0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

/** An id as IoT Hub puts it on the wire: uuid-typed when it is a lower-case uuid, a string otherwise. */
export function wireId(text: string): unknown {
  return UUID.test(text) ? rhea.types.wrap_uuid(rhea.string_to_uuid(text)) : text;
}

/** A timestamp field (Date or ms) as ms since the epoch. */
export function timeMs(value: unknown): number | undefined {
  if (value instanceof Date) return value.getTime();
  if (typeof value === "number" && Number.isFinite(value)) return value;
  return undefined;
}

/** Application properties as strings (IoT Hub keeps them as text; numbers, booleans and dates are rendered). */
export function stringProperties(props: unknown): Record<string, string> {
  const out: Record<string, string> = {};
  if (typeof props !== "object" || props === null) return out;
  for (const [key, value] of Object.entries(props as Record<string, unknown>)) {
    if (value === undefined || value === null) continue;
    out[key] = value instanceof Date ? value.toISOString() : Buffer.isBuffer(value) ? value.toString("utf8") : String(value);
  }
  return out;
}

import { HubError, type DeviceMessage } from "../../hub/index.js";
import { parseJsonBody } from "./json-body.js";
import { telemetryProperties } from "./device-message-headers.js";

/** The media type of a telemetry batch (every SDK's HTTPS `sendEventBatch`). */
export const BATCH_MEDIA_TYPE = "application/vnd.microsoft.iothub.json";

/** Is the request's Content-Type the batch media type (parameters such as `; charset=utf-8` allowed)? */
export function isBatch(contentType: string | undefined): boolean {
  return (contentType ?? "").split(";")[0]!.trim().toLowerCase() === BATCH_MEDIA_TYPE;
}

const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

function invalid(message: string): HubError {
  return new HubError("ArgumentInvalid", { message });
}

/**
 * Reads a telemetry batch: a JSON array of `{"body": "<text>", "base64Encoded"?: boolean, "properties"?: {…}}`.
 * - The Node SDK writes `{"body": "<base64>", "properties":{"iothub-app-k":"v"}}` with no `base64Encoded`
 *   (device-protocol.md §4.2); the Java and C SDKs write `"base64Encoded":true`. So a missing `base64Encoded` means
 *   base64, and only `false` takes `body` as UTF-8 text.
 * - `properties` holds what a single message carries as headers: `iothub-app-{name}` application properties and the
 *   `iothub-messageid`-style system properties (the Java SDK puts them there); other names are ignored, as headers are.
 * - An empty array is accepted and sends nothing.
 * @throws HubError IotHubFormatError (400006) for a body that is not JSON; ArgumentInvalid (400004) for JSON of the
 *   wrong shape, a body that is not valid base64, or a property value that is not a string.
 */
export function parseTelemetryBatch(body: Buffer): DeviceMessage[] {
  const parsed = parseJsonBody(body);
  if (parsed === undefined) throw new HubError("IotHubFormatError", { message: "The batch body is empty: send a JSON array of messages" });
  if (!Array.isArray(parsed)) throw invalid('A batch must be a JSON array of {"body": …, "properties": {…}} objects');
  return parsed.map((item: unknown, index) => {
    if (typeof item !== "object" || item === null || Array.isArray(item)) throw invalid(`Batch message ${index} is not an object`);
    const entry = item as Record<string, unknown>;
    const text = entry["body"] ?? "";
    if (typeof text !== "string") throw invalid(`Batch message ${index}: 'body' must be a string`);
    const base64 = entry["base64Encoded"] ?? true;
    if (typeof base64 !== "boolean") throw invalid(`Batch message ${index}: 'base64Encoded' must be true or false`);
    if (base64 && !BASE64.test(text)) throw invalid(`Batch message ${index}: 'body' is not valid base64`);
    const given = entry["properties"] ?? {};
    if (typeof given !== "object" || given === null || Array.isArray(given)) throw invalid(`Batch message ${index}: 'properties' must be an object`);
    const pairs: Array<readonly [string, string]> = [];
    for (const [name, value] of Object.entries(given)) {
      if (typeof value !== "string") throw invalid(`Batch message ${index}: the property '${name}' must be a string`);
      pairs.push([name, value]);
    }
    const { properties, systemProperties } = telemetryProperties(pairs);
    return { body: Buffer.from(text, base64 ? "base64" : "utf8"), properties, systemProperties };
  });
}

import { HubError } from "../errors/index.js";
import type { Ids } from "../ports/ids.js";
import type { Authentication, AuthenticationType } from "../ports/store.js";

/** The writable part of a device or module, validated from a registry PUT body or a bulk record. */
export interface IdentityInput {
  readonly status: "enabled" | "disabled";
  readonly statusReason: string | null;
  readonly authentication: Authentication;
  readonly iotEdge: boolean;
  readonly deviceScope: string | null;
  readonly parentScopes: string[];
  readonly managedBy: string | null;
}

const AUTH_TYPES: readonly AuthenticationType[] = ["sas", "selfSigned", "certificateAuthority", "none"];
// SHA-1 (40 hex) or SHA-256 (64 hex) certificate thumbprints, as IoT Hub accepts for self-signed X.509 devices.
const THUMBPRINT = /^([0-9A-Fa-f]{40}|[0-9A-Fa-f]{64})$/;

function invalid(message: string): HubError {
  return new HubError("ArgumentInvalid", { message });
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function optionalString(body: Record<string, unknown>, name: string, max: number): string | null {
  const value = body[name];
  if (value === undefined || value === null) return null;
  if (typeof value !== "string") throw invalid(`'${name}' must be a string`);
  if (value.length > max) throw invalid(`'${name}' must be at most ${max} characters`);
  return value;
}

/** IoT Hub accepts symmetric keys that are base64 of 16 to 64 bytes; empty or absent keys are generated. */
function symmetricKey(value: unknown, name: string, ids: Ids): string {
  if (value === undefined || value === null || value === "") return ids.symmetricKey();
  if (typeof value !== "string" || !/^[A-Za-z0-9+/]+={0,2}$/.test(value)) {
    throw invalid(`The ${name} is not a valid base64 string`);
  }
  const bytes = Buffer.from(value, "base64").length;
  if (bytes < 16 || bytes > 64) throw invalid(`The ${name} must be between 16 and 64 bytes long, base64 encoded; it has ${bytes}`);
  return value;
}

function thumbprint(value: unknown, name: string): string | null {
  if (value === undefined || value === null || value === "") return null;
  if (typeof value !== "string" || !THUMBPRINT.test(value)) {
    throw invalid(`The ${name} must be a SHA-1 (40 hex digits) or SHA-256 (64 hex digits) certificate thumbprint`);
  }
  return value.toUpperCase();
}

function parseAuthentication(value: unknown, ids: Ids): Authentication {
  const auth = value === undefined || value === null ? {} : value;
  if (!isObject(auth)) throw invalid("'authentication' must be an object");
  const x509 = auth["x509Thumbprint"];
  const keys = auth["symmetricKey"];
  if (x509 !== undefined && x509 !== null && !isObject(x509)) throw invalid("'authentication.x509Thumbprint' must be an object");
  if (keys !== undefined && keys !== null && !isObject(keys)) throw invalid("'authentication.symmetricKey' must be an object");
  const primaryThumbprint = thumbprint(x509?.["primaryThumbprint"], "primary thumbprint");
  const secondaryThumbprint = thumbprint(x509?.["secondaryThumbprint"], "secondary thumbprint");
  // The SDKs default a missing type to selfSigned when a thumbprint is set, else sas; IoT Hub does the same.
  const rawType = auth["type"] ?? (primaryThumbprint !== null || secondaryThumbprint !== null ? "selfSigned" : "sas");
  const type = AUTH_TYPES.find((t) => typeof rawType === "string" && t.toLowerCase() === rawType.toLowerCase());
  if (type === undefined) throw invalid(`'authentication.type' must be one of ${AUTH_TYPES.join(", ")}`);
  const none = { symmetricKey: { primaryKey: null, secondaryKey: null }, x509Thumbprint: { primaryThumbprint: null, secondaryThumbprint: null } };
  switch (type) {
    case "sas":
      if (primaryThumbprint !== null || secondaryThumbprint !== null) {
        throw invalid("A device or module with authentication type 'sas' cannot have X.509 thumbprints");
      }
      return {
        type,
        symmetricKey: { primaryKey: symmetricKey(keys?.["primaryKey"], "primary key", ids), secondaryKey: symmetricKey(keys?.["secondaryKey"], "secondary key", ids) },
        x509Thumbprint: none.x509Thumbprint,
      };
    case "selfSigned":
      if (primaryThumbprint === null) throw invalid("Authentication type 'selfSigned' needs a primary thumbprint");
      return { type, symmetricKey: none.symmetricKey, x509Thumbprint: { primaryThumbprint, secondaryThumbprint } };
    default:
      return { type, ...none };
  }
}

/** Validates the writable fields of a device or module body; throws 400 ArgumentInvalid naming the first problem. */
export function parseIdentityInput(body: unknown, ids: Ids): IdentityInput {
  if (!isObject(body)) throw invalid("The request body must be a JSON object describing the device or module");
  const rawStatus = body["status"] ?? "enabled";
  if (typeof rawStatus !== "string" || !["enabled", "disabled"].includes(rawStatus.toLowerCase())) {
    throw invalid("'status' must be 'enabled' or 'disabled'");
  }
  const capabilities = body["capabilities"];
  if (capabilities !== undefined && capabilities !== null && !isObject(capabilities)) throw invalid("'capabilities' must be an object");
  const iotEdge = capabilities?.["iotEdge"] ?? false;
  if (typeof iotEdge !== "boolean") throw invalid("'capabilities.iotEdge' must be true or false");
  const parentScopes = body["parentScopes"] ?? [];
  if (!Array.isArray(parentScopes) || parentScopes.some((s) => typeof s !== "string")) throw invalid("'parentScopes' must be an array of strings");
  return {
    status: rawStatus.toLowerCase() as "enabled" | "disabled",
    statusReason: optionalString(body, "statusReason", 128),
    authentication: parseAuthentication(body["authentication"], ids),
    iotEdge,
    deviceScope: optionalString(body, "deviceScope", 1024),
    parentScopes: parentScopes as string[],
    managedBy: optionalString(body, "managedBy", 128),
  };
}

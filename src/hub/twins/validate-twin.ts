/**
 * Twin document rules (query-twins-jobs-routing.md §2.3, service-protocol.md §3.5). Every check throws
 * `ArgumentInvalid` (400004) with a message naming the offending key or path; callers run them before changing
 * anything, so one bad key fails the whole operation (§2.5, §0 rule 4).
 */
import { HubError } from "../errors/index.js";
import { getOwn, isJsonObject, type JsonObject } from "./json-value.js";
import { TWIN_LIMITS } from "./twin-limits.js";

/** The three writable twin sections, named by their path in the twin document. */
export type TwinSectionName = "tags" | "properties.desired" | "properties.reported";

// C0, DEL and C1: .NET's char.IsControl, which edgeHub's validator (copied from IoT Hub) uses.
const CONTROL = /[\u0000-\u001f\u007f-\u009f]/u;
// '#' and all whitespace follow edgeHub, whose validator says it reserves '#' for the service like '$'
// (IoT Hub's docs list only '.', '$' and space). Decision recorded: we reject them too.
const FORBIDDEN_IN_KEY = /[.$#\t\n\v\f\r\u0085\p{Zs}\p{Zl}\p{Zp}]|[\u0000-\u001f\u007f-\u009f]/u;

/** IoT Hub's own spelling of the section in size errors: "'Properties.Desired' size should be less than …". */
const SECTION_LABEL: Readonly<Record<TwinSectionName, string>> = {
  tags: "Tags",
  "properties.desired": "Properties.Desired",
  "properties.reported": "Properties.Reported",
};

const SECTION_MAX_BYTES: Readonly<Record<TwinSectionName, number>> = {
  tags: TWIN_LIMITS.maxTagsBytes,
  "properties.desired": TWIN_LIMITS.maxDesiredBytes,
  "properties.reported": TWIN_LIMITS.maxReportedBytes,
};

/** Throws unless `key` is a legal twin key. `path` names the object that holds it, for the message. */
export function validateTwinKey(key: string, path: string): void {
  if (key.length === 0) throw invalid(`Twin key '' in '${path}' is not valid: keys may not be empty`);
  if (FORBIDDEN_IN_KEY.test(key)) {
    throw invalid(
      `Twin key '${displayText(key)}' in '${path}' is not valid: keys may not contain '.', '$', '#', spaces or control characters`,
    );
  }
  if (utf8ByteLength(key) > TWIN_LIMITS.maxKeyBytes) {
    throw invalid(`Twin key '${displayText(key)}' in '${path}' is not valid: keys may be at most ${TWIN_LIMITS.maxKeyBytes} bytes (UTF-8)`);
  }
}

/**
 * Checks every key and value of a patch (or replacement) for one section. `null` is allowed as an object member,
 * where it means "delete" (§2.5), but not inside arrays (§2.3). Depth is checked on the way down, so the walk never
 * goes deeper than the limit; the patch's depth equals the depth it reaches in the merged section, because a merge
 * places every patch node at the same path.
 */
export function validateTwinPatch(patch: JsonObject, section: TwinSectionName): void {
  validateMembers(patch, section, 0, false);
}

/** Size of a section's values as IoT Hub counts it (§2.3): keys plus values, `$metadata`/`$version` excluded. */
export function twinSectionSize(values: JsonObject): number {
  let size = 0;
  for (const key of Object.keys(values)) size += textSize(key) + valueSize(values[key]);
  return size;
}

/** Throws when the section's values exceed its limit (tags 8 KB, desired 32 KB, reported 32 KB). */
export function assertTwinSectionSize(values: JsonObject, section: TwinSectionName): void {
  const limit = SECTION_MAX_BYTES[section];
  // 400004 rather than the once-observed 403100, which is listed as DeviceModelMaxPropertiesExceeded (§2.3).
  if (twinSectionSize(values) > limit) throw invalid(`'${SECTION_LABEL[section]}' size should be less than ${limit} bytes.`);
}

/** UTF-8 length of a JS string; a lone surrogate counts 3 bytes, as its U+FFFD replacement would. */
export function utf8ByteLength(text: string): number {
  let bytes = 0;
  for (const char of text) {
    const code = char.codePointAt(0) ?? 0;
    bytes += code < 0x80 ? 1 : code < 0x800 ? 2 : code < 0x10000 ? 3 : 4;
  }
  return bytes;
}

function validateMembers(object: JsonObject, path: string, depth: number, inArray: boolean): void {
  for (const key of Object.keys(object)) {
    validateTwinKey(key, path);
    const value = getOwn(object, key);
    const childPath = `${path}.${key}`;
    if (value === null) {
      // edgeHub: "Property {name} of an object in an array cannot be 'null'" (§2.3).
      if (inArray) throw invalid(`Twin value at '${childPath}' is not valid: objects inside arrays may not hold null`);
      continue;
    }
    validateValue(value, childPath, depth, inArray);
  }
}

/** `depth` is the nesting level of the container that holds `value` (the section root is level 0). */
function validateValue(value: unknown, path: string, depth: number, inArray: boolean): void {
  if (isJsonObject(value) || Array.isArray(value)) {
    if (depth + 1 > TWIN_LIMITS.maxDepth) {
      throw invalid(`Twin value at '${path}' is not valid: objects and arrays may be nested at most ${TWIN_LIMITS.maxDepth} levels deep`);
    }
    if (Array.isArray(value)) {
      value.forEach((item: unknown, index: number) => {
        const itemPath = `${path}[${index}]`;
        if (item === null) throw invalid(`Twin value at '${itemPath}' is not valid: arrays may not contain null`);
        validateValue(item, itemPath, depth + 1, true);
      });
    } else {
      validateMembers(value, path, depth + 1, inArray);
    }
    return;
  }
  switch (typeof value) {
    case "boolean":
      return;
    case "string":
      if (utf8ByteLength(value) > TWIN_LIMITS.maxStringBytes) {
        throw invalid(`Twin value at '${path}' is not valid: strings may be at most ${TWIN_LIMITS.maxStringBytes} bytes (UTF-8)`);
      }
      return;
    case "number":
      if (!Number.isFinite(value)) throw invalid(`Twin value at '${path}' is not valid: numbers must be finite`);
      // JSON.parse cannot tell 1e20 from 100000000000000000000, so every integral value is range-checked.
      if (Number.isInteger(value) && (value < TWIN_LIMITS.minInteger || value > TWIN_LIMITS.maxInteger)) {
        throw invalid(
          `Twin value at '${path}' is not valid: integers must lie between ${TWIN_LIMITS.minInteger} and ${TWIN_LIMITS.maxInteger}`,
        );
      }
      return;
    default:
      throw invalid(`Twin value at '${path}' is not valid: only strings, numbers, booleans, objects and arrays are allowed`);
  }
}

function valueSize(value: unknown): number {
  if (typeof value === "string") return textSize(value);
  if (typeof value === "number") return 8;
  if (typeof value === "boolean") return 4;
  if (Array.isArray(value)) return value.reduce((sum: number, item: unknown) => sum + valueSize(item), 0);
  if (isJsonObject(value)) return twinSectionSize(value);
  return 0;
}

/** Keys and strings count as UTF-8 without C0/C1 control characters (§2.3). */
function textSize(text: string): number {
  return utf8ByteLength(CONTROL.test(text) ? text.replace(new RegExp(CONTROL.source, "gu"), "") : text);
}

/** Keys are quoted in messages; escape controls and cut very long ones so the message stays readable. */
function displayText(text: string): string {
  const escaped = JSON.stringify(text).slice(1, -1);
  return escaped.length > 64 ? `${escaped.slice(0, 64)}…` : escaped;
}

function invalid(message: string): HubError {
  return new HubError("ArgumentInvalid", { message });
}

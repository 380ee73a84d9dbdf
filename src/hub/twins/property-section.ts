/**
 * A stored `desired` or `reported` object holds the values plus `$metadata` and `$version`
 * (query-twins-jobs-routing.md §2.1). These helpers split it for editing and join it back in IoT Hub's order:
 * values first, then `$metadata`, then `$version`.
 */
import { cloneJson, isJsonObject, setOwn, type JsonObject } from "./json-value.js";

/** One property section taken apart. */
export interface PropertySection {
  readonly values: JsonObject;
  readonly metadata: JsonObject;
  readonly version: number;
}

/** Copies a stored section apart; the stored object is not modified. */
export function readPropertySection(stored: Record<string, unknown>): PropertySection {
  const values: JsonObject = {};
  // Twin keys can never contain '$' (§2.3), so every '$' key at the root is bookkeeping, not a value.
  for (const key of Object.keys(stored)) if (!key.startsWith("$")) setOwn(values, key, cloneJson(stored[key]));
  const metadata = stored["$metadata"];
  const version = stored["$version"];
  return {
    values,
    metadata: isJsonObject(metadata) ? cloneJson(metadata) : {},
    version: typeof version === "number" ? version : 1,
  };
}

/** The stored form of a section. */
export function writePropertySection(section: PropertySection): Record<string, unknown> {
  const stored: Record<string, unknown> = {};
  for (const key of Object.keys(section.values)) setOwn(stored, key, section.values[key]);
  stored["$metadata"] = section.metadata;
  stored["$version"] = section.version;
  return stored;
}

/** The section as devices see it: values plus `$version`, no `$metadata` (§2.7, device GET and notifications). */
export function propertyValuesView(stored: Record<string, unknown>): Record<string, unknown> {
  const section = readPropertySection(stored);
  const view: Record<string, unknown> = {};
  for (const key of Object.keys(section.values)) setOwn(view, key, section.values[key]);
  view["$version"] = section.version;
  return view;
}

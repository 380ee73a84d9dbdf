/**
 * What a connected device is told after a desired write (query-twins-jobs-routing.md §2.8): the effective patch
 * plus `"$version"`. Devices merge it into their cached copy and drop `null` leaves (the Node device SDK's
 * `_mergePatch`), so after a wholesale change every removed key must appear as `null`, or stale keys survive.
 */
import { cloneJson, getOwn, isJsonObject, setOwn, type JsonObject } from "./json-value.js";

/** The notification for a merge patch: the patch as the service sent it (nulls included) plus `$version`. */
export function mergeNotification(patch: JsonObject, version: number): Record<string, unknown> {
  const notification = cloneJson(patch);
  setOwn(notification, "$version", version);
  return notification;
}

/**
 * The notification for a replacement (PUT, or `desired: null`): a patch that turns `previous` into `next` when
 * merged. Removed top-level keys are `null` as §2.8 requires; where an object survives as an object we recurse, so
 * keys removed inside it are `null` too, which a merging device also needs.
 */
export function replacementNotification(previous: JsonObject, next: JsonObject, version: number): Record<string, unknown> {
  const notification = replacementPatch(previous, next);
  setOwn(notification, "$version", version);
  return notification;
}

function replacementPatch(previous: JsonObject, next: JsonObject): JsonObject {
  const patch: JsonObject = {};
  for (const key of Object.keys(next)) {
    const before = getOwn(previous, key);
    const after = next[key];
    setOwn(patch, key, isJsonObject(before) && isJsonObject(after) ? replacementPatch(before, after) : cloneJson(after));
  }
  for (const key of Object.keys(previous)) if (!Object.hasOwn(next, key)) setOwn(patch, key, null);
  return patch;
}

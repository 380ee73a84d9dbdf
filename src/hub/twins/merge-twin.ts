/**
 * The twin merge (query-twins-jobs-routing.md §2.5), used for tags, desired and reported alike:
 * `null` deletes (a no-op when the key is absent), an object merges key by key (replacing a non-object, and
 * leaving `{}` when it only held nulls), anything else (primitive or array) replaces the old value whole.
 * The patch must already be validated (validate-twin.ts): `$` keys never reach here.
 */
import { cloneJson, getOwn, isJsonObject, setOwn, type JsonObject } from "./json-value.js";

/** Returns a new object: `target` merged with `patch`. Neither argument is modified. */
export function mergeTwinPatch(target: JsonObject, patch: JsonObject): JsonObject {
  const result = cloneJson(target);
  mergeInto(result, patch);
  return result;
}

function mergeInto(target: JsonObject, patch: JsonObject): void {
  for (const key of Object.keys(patch)) {
    const value = getOwn(patch, key);
    if (value === null) {
      if (Object.hasOwn(target, key)) delete target[key];
    } else if (isJsonObject(value)) {
      let child = getOwn(target, key);
      if (!isJsonObject(child)) {
        // {a:{b:null}} with no `a` creates `a` as {} (.NET e2e, §2.5).
        child = {};
        setOwn(target, key, child);
      }
      mergeInto(child as JsonObject, value);
    } else {
      setOwn(target, key, cloneJson(value));
    }
  }
}

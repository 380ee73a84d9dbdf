/**
 * Small helpers for the plain JSON trees twins are made of. Twin keys come from callers, so a key such as
 * "__proto__" or "constructor" must be handled as data: reads go through `getOwn` and writes through `setOwn`,
 * never through `obj[key]` on an object that might not own the key.
 */

/** A JSON object as twins hold it. */
export type JsonObject = Record<string, unknown>;

/** True for a plain JSON object (not an array, not null, not a class instance such as Date). */
export function isJsonObject(value: unknown): value is JsonObject {
  if (typeof value !== "object" || value === null || Array.isArray(value)) return false;
  const proto: unknown = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
}

/** The value of an own property, or undefined: inherited members ("toString", "__proto__") are not twin data. */
export function getOwn(object: JsonObject, key: string): unknown {
  return Object.hasOwn(object, key) ? object[key] : undefined;
}

/** Sets an own, enumerable property; plain assignment of "__proto__" would change the prototype instead. */
export function setOwn(object: JsonObject, key: string, value: unknown): void {
  Object.defineProperty(object, key, { value, writable: true, enumerable: true, configurable: true });
}

/** A deep copy of a JSON tree, so results never share nodes with the caller's input. */
export function cloneJson<T>(value: T): T {
  if (Array.isArray(value)) return value.map((item: unknown) => cloneJson(item)) as T;
  if (isJsonObject(value)) {
    const copy: JsonObject = {};
    for (const key of Object.keys(value)) setOwn(copy, key, cloneJson(value[key]));
    return copy as T;
  }
  return value;
}

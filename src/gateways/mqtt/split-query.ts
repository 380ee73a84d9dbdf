/** One `key[=value]` pair of an `&`-joined list, still percent-encoded; `value` is undefined when there was no `=`. */
export interface RawPair {
  readonly key: string;
  readonly value: string | undefined;
}

/**
 * Splits `a=1&b&c=x=y` into raw pairs: on every `&`, then each part on its first `=` only. Nothing is decoded, so an
 * encoded `&` or `=` (`%26`, `%3D`) stays inside its key or value. An empty text gives no pairs; an empty part (from
 * `a&&b` or a trailing `&`) gives a pair with an empty key, which callers reject or skip.
 * This is the tolerant parse device-protocol.md §2.1 and edgehub-server-notes.md §1.1 recommend for the MQTT username
 * query and that the property bag of §2.3 needs.
 */
export function splitQuery(text: string): RawPair[] {
  if (text === "") return [];
  return text.split("&").map((part) => {
    const equals = part.indexOf("=");
    return equals < 0 ? { key: part, value: undefined } : { key: part.slice(0, equals), value: part.slice(equals + 1) };
  });
}

/**
 * `decodeURIComponent`, or undefined when the text is not valid percent-encoded UTF-8 (`%zz`, a cut `%E2%82`, an
 * encoded lone surrogate). `+` is left as `+`: the SDKs write a space as `%20` (device-protocol.md §2.3).
 */
export function tryDecodeComponent(text: string): string | undefined {
  try {
    return decodeURIComponent(text);
  } catch {
    return undefined;
  }
}

/**
 * Adds `key` as an own enumerable property even when it is `__proto__`: the keys come from devices, and a plain
 * assignment of `__proto__` would replace the record's prototype instead of storing a property.
 */
export function setOwn(record: Record<string, string>, key: string, value: string): void {
  // Only `__proto__` has a setter on Object.prototype; any other key is stored by plain assignment (much cheaper).
  if (key === "__proto__") Object.defineProperty(record, key, { value, enumerable: true, writable: true, configurable: true });
  else record[key] = value;
}

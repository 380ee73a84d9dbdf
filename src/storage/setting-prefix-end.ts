/**
 * The first setting name after every name that starts with `prefix`: the prefix with its last character raised by
 * one. Names from the prefix (included) to this (excluded) are exactly those that start with it, in the stores' code
 * point order, for an ASCII prefix, which is all `Store.listSettings` takes.
 */
export function settingPrefixEnd(prefix: string): string {
  const last = prefix.charCodeAt(prefix.length - 1);
  if (prefix === "" || !/^[\x20-\x7e]+$/.test(prefix)) throw new RangeError(`listSettings takes a non-empty printable ASCII prefix, not ${JSON.stringify(prefix)}`);
  return prefix.slice(0, -1) + String.fromCharCode(last + 1);
}

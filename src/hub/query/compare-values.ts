/**
 * §1.4 comparison: defined only between two primitives of the same JSON type. Returns -1/0/1, or
 * undefined when the comparison is undefined: a missing value, mixed types (`tags.floor = 1` against
 * "1"), or any object/array (two equal objects still never match). Strings compare ordinally by
 * UTF-16 code unit, as .NET's ordinal comparison does; false < true; null equals null.
 */
export function compareValues(a: unknown, b: unknown): -1 | 0 | 1 | undefined {
  const ta = typeof a;
  if (ta !== typeof b) return undefined;
  switch (ta) {
    case "string":
    case "number":
    case "boolean":
      return (a as number) < (b as number) ? -1 : (a as number) > (b as number) ? 1 : 0;
    case "object":
      return a === null && b === null ? 0 : undefined;
    default:
      return undefined;
  }
}

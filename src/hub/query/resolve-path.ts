import type { PathExpr } from "./query-ast.js";

export type Doc = Readonly<Record<string, unknown>>;
export type Getter = (doc: Doc) => unknown;

/**
 * Removes the collection prefix a path may carry: Azure IoT Explorer sends
 * `STARTSWITH(devices.deviceId, 'x')` (§1.5), and module queries may write `devices.modules.moduleId`.
 * No twin has a top-level `devices` field, so the prefix can never shadow a real property.
 */
export function stripCollectionPrefix(segments: readonly string[], collection: "devices" | "modules"): readonly string[] {
  if (segments.length > 1 && segments[0]!.toLowerCase() === "devices") {
    if (collection === "modules" && segments.length > 2 && segments[1]!.toLowerCase() === "modules") {
      return segments.slice(2);
    }
    return segments.slice(1);
  }
  return segments;
}

interface Step {
  readonly name: string;
  readonly lower: string;
  /** false for names Object.prototype also has (`constructor`, `__proto__`...): those need an own-property check. */
  readonly plain: boolean;
}

function toStep(name: string): Step {
  return { name, lower: name.toLowerCase(), plain: !(name in Object.prototype) };
}

/**
 * Property names match case-insensitively (§1.3, §1.4: `DeviceId` works; "values are case-sensitive,
 * property names are not"). An exact match wins; otherwise the first key that differs only in case.
 * Arrays are not indexed: the twin grammar (§1.2) has no element access, so a path through an array
 * is undefined.
 */
function child(value: unknown, step: Step): unknown {
  if (typeof value !== "object" || value === null || Array.isArray(value)) return undefined;
  const rec = value as Record<string, unknown>;
  if (step.plain) {
    const v = rec[step.name];
    if (v !== undefined) return v;
  } else if (Object.hasOwn(rec, step.name)) {
    return rec[step.name];
  }
  const key = findKeyIgnoringCase(rec, step);
  return key === undefined ? undefined : rec[key];
}

function findKeyIgnoringCase(rec: Record<string, unknown>, step: Step): string | undefined {
  for (const key in rec) {
    if (key.length === step.name.length && key !== step.name && equalsIgnoringCase(key, step.lower) && Object.hasOwn(rec, key)) {
      return key;
    }
  }
  return undefined;
}

/**
 * `key.toLowerCase() === lower` without allocating a string per key: this runs for every document
 * that lacks a queried field (e.g. `tags.site` on twins without tags), so it must be cheap.
 */
function equalsIgnoringCase(key: string, lower: string): boolean {
  for (let i = 0; i < key.length; i++) {
    let c = key.charCodeAt(i);
    if (c >= 65 && c <= 90) c += 32;
    else if (c > 127) return key.toLowerCase() === lower; // non-ASCII: let the runtime fold it
    if (c !== lower.charCodeAt(i)) return false;
  }
  return true;
}

/** The document's own spelling of `step` in `value`, or undefined if absent (used to name projections, §1.6). */
function keyIn(value: unknown, step: Step): string | undefined {
  if (typeof value !== "object" || value === null || Array.isArray(value)) return undefined;
  const rec = value as Record<string, unknown>;
  if (Object.hasOwn(rec, step.name)) return step.name;
  return findKeyIgnoringCase(rec, step);
}

/** Compiles a (prefix-stripped) path into a getter; short paths get unrolled closures for speed. */
export function compileGetter(segments: readonly string[]): Getter {
  const steps = segments.map(toStep);
  switch (steps.length) {
    case 1: {
      const [a] = steps as [Step];
      return (doc) => child(doc, a);
    }
    case 2: {
      const [a, b] = steps as [Step, Step];
      return (doc) => child(child(doc, a), b);
    }
    case 3: {
      const [a, b, c] = steps as [Step, Step, Step];
      return (doc) => child(child(child(doc, a), b), c);
    }
    default:
      return (doc) => {
        let value: unknown = doc;
        for (const step of steps) {
          value = child(value, step);
          if (value === undefined) return undefined;
        }
        return value;
      };
  }
}

export interface NamedValue {
  readonly name: string;
  readonly value: unknown;
}

/**
 * For projections: the value at the path plus the output name, which is the last segment spelled as
 * in the document (§1.6: `SELECT DeviceId` yields `deviceId`). undefined when the path is missing.
 */
export function compileNamedGetter(segments: readonly string[]): (doc: Doc) => NamedValue | undefined {
  const parent = segments.length > 1 ? compileGetter(segments.slice(0, -1)) : (doc: Doc): unknown => doc;
  const last = toStep(segments[segments.length - 1]!);
  return (doc) => {
    const container = parent(doc);
    const name = keyIn(container, last);
    if (name === undefined) return undefined;
    return { name, value: (container as Record<string, unknown>)[name] };
  };
}

/** Canonical form used to compare paths written in a query (GROUP BY vs SELECT list). */
export function pathKey(segments: readonly string[]): string {
  return segments.map((s) => s.toLowerCase()).join("\u0000");
}

export function pathText(path: PathExpr): string {
  return path.segments.join(".");
}

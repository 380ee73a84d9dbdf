import { createAccumulator, type Accumulator } from "./create-accumulator.js";
import { compileExpression } from "./evaluate.js";
import { parseQuery } from "./parse-query.js";
import { planSelect, type AggregateField, type Field, type PathField } from "./plan-select.js";
import { compileGetter, compileNamedGetter, type Doc } from "./resolve-path.js";

export interface CompiledQuery {
  /** "devices" for FROM devices, "modules" for FROM devices.modules */
  readonly collection: "devices" | "modules";
  /** "twin" for SELECT * (whole twin documents), "raw" for projections and aggregates (x-ms-item-type header, §1.6). */
  readonly itemType: "twin" | "raw";
  /** True for SELECT COUNT() / GROUP BY queries: results are computed over all matches, not paged per document. */
  readonly isAggregate: boolean;
  /** Does this twin document satisfy the WHERE clause (true if no WHERE)? */
  matches(doc: Readonly<Record<string, unknown>>): boolean;
  /**
   * Non-aggregate: the result item for one matching document (the document itself for SELECT *, a
   * projection otherwise). Throws for aggregate queries, which have no per-document item.
   */
  project(doc: Readonly<Record<string, unknown>>): unknown;
  /**
   * Aggregate: the result rows computed from the documents, one per group in order of first appearance,
   * with TOP already applied. Documents failing WHERE are skipped, so passing all documents or only the
   * matching ones gives the same answer. For non-aggregate queries it returns the projected matches (TOP applied).
   */
  aggregate(docs: Iterable<Readonly<Record<string, unknown>>>): unknown[];
  /** TOP n if given, else undefined. */
  readonly top: number | undefined;
}

/**
 * Compiles a full twin query (§1.2) once; the returned functions run per document without re-parsing.
 * Throws HubError ArgumentInvalid (400004) for any syntax error or unsupported construct (§1.9).
 */
export function compileQuery(text: string): CompiledQuery {
  const ast = parseQuery(text);
  const plan = planSelect(ast);
  const where = ast.where === undefined ? undefined : compileExpression(ast.where, ast.collection);
  // §1.4: only boolean true selects; false, null, undefined and every non-boolean value do not.
  const matches = where === undefined ? (): boolean => true : (doc: Doc): boolean => where(doc) === true;
  const top = ast.top;

  if (plan.isAggregate) {
    const rows = compileAggregation(plan.fields!, plan.groupBy, matches);
    return {
      collection: ast.collection,
      itemType: "raw",
      isAggregate: true,
      top,
      matches,
      project: () => {
        throw new Error("project() is not available for aggregate queries; use aggregate()");
      },
      aggregate: (docs) => {
        const result = rows(docs);
        return top === undefined ? result : result.slice(0, top);
      },
    };
  }

  const project = plan.fields === undefined ? (doc: Doc): unknown => doc : compileProjection(plan.fields as readonly PathField[]);
  return {
    collection: ast.collection,
    itemType: plan.fields === undefined ? "twin" : "raw",
    isAggregate: false,
    top,
    matches,
    project,
    aggregate: (docs) => {
      const result: unknown[] = [];
      if (top === 0) return result;
      for (const doc of docs) {
        if (!matches(doc)) continue;
        result.push(project(doc));
        if (result.length === top) break;
      }
      return result;
    },
  };
}

/**
 * `SELECT a.b, c AS x`: one row per document; fields missing from the document are left out of its row
 * (§1.6). Unaliased fields take the document's spelling of the last segment (`SELECT DeviceId` → `deviceId`).
 */
function compileProjection(fields: readonly PathField[]): (doc: Doc) => Record<string, unknown> {
  const writers = fields.map((field): ((doc: Doc, row: Record<string, unknown>) => void) => {
    if (field.alias !== undefined) {
      const alias = field.alias;
      const get = compileGetter(field.segments);
      return (doc, row) => {
        const value = get(doc);
        if (value !== undefined) setField(row, alias, value);
      };
    }
    const get = compileNamedGetter(field.segments);
    return (doc, row) => {
      const named = get(doc);
      if (named !== undefined) setField(row, named.name, named.value);
    };
  });
  return (doc) => {
    const row: Record<string, unknown> = {};
    for (const write of writers) write(doc, row);
    return row;
  };
}

interface Group {
  keyName: string | undefined;
  keyValue: unknown;
  readonly accumulators: Accumulator[];
}

/**
 * Aggregates with an optional single-path GROUP BY (§1.6). Without GROUP BY there is exactly one row,
 * even over zero documents (`COUNT()` → 0). With GROUP BY, groups come out in order of first appearance
 * (IoT Hub documents no order); a group whose key is undefined is a row without the key field.
 */
function compileAggregation(
  fields: readonly Field[],
  groupBy: readonly string[] | undefined,
  matches: (doc: Doc) => boolean,
): (docs: Iterable<Doc>) => unknown[] {
  const aggregates = fields.filter((f): f is AggregateField => f.kind === "aggregate");
  const makers = aggregates.map((f) => {
    const arg = f.segments === undefined ? undefined : compileGetter(f.segments);
    return () => createAccumulator(f.name, arg);
  });
  const newGroup = (): Group => ({ keyName: undefined, keyValue: undefined, accumulators: makers.map((make) => make()) });
  const groupName = groupBy === undefined ? undefined : compileNamedGetter(groupBy);

  const toRow = (group: Group): Record<string, unknown> => {
    const row: Record<string, unknown> = {};
    let next = 0;
    for (const field of fields) {
      if (field.kind === "aggregate") {
        const value = group.accumulators[next++]!.result();
        if (value !== undefined) setField(row, field.outputName, value);
      } else if (group.keyValue !== undefined) {
        setField(row, field.alias ?? group.keyName!, group.keyValue);
      }
    }
    return row;
  };

  return (docs) => {
    if (groupBy === undefined) {
      const only = newGroup();
      for (const doc of docs) if (matches(doc)) for (const acc of only.accumulators) acc.add(doc);
      return [toRow(only)];
    }
    const getKey = compileGetter(groupBy);
    // Primitive keys index a Map directly (SameValueZero keeps 1 and '1' apart, §1.4); objects and
    // arrays are grouped by their JSON text. Insertion order gives groups in order of first appearance.
    const groups = new Map<unknown, Group>();
    for (const doc of docs) {
      if (!matches(doc)) continue;
      const value = getKey(doc);
      const id = typeof value === "object" && value !== null ? `\u0000json:${JSON.stringify(value)}` : value;
      let group = groups.get(id);
      if (group === undefined) {
        group = newGroup();
        if (value !== undefined) {
          group.keyValue = value;
          group.keyName = groupName!(doc)?.name ?? groupBy[groupBy.length - 1]!;
        }
        groups.set(id, group);
      }
      for (const acc of group.accumulators) acc.add(doc);
    }
    return [...groups.values()].map(toRow);
  };
}

/** `row[key] = value`, except that a key named `__proto__` must become a real property, not the prototype. */
function setField(row: Record<string, unknown>, key: string, value: unknown): void {
  if (key === "__proto__") Object.defineProperty(row, key, { value, enumerable: true, writable: true, configurable: true });
  else row[key] = value;
}

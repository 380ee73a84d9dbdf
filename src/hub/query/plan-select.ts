import type { AggregateName, QueryAst } from "./query-ast.js";
import { semanticError } from "./query-error.js";
import { pathKey, stripCollectionPrefix } from "./resolve-path.js";

export interface PathField {
  readonly kind: "path";
  /** Path with any `devices.` / `devices.modules.` prefix removed. */
  readonly segments: readonly string[];
  /** Output name when aliased; otherwise the last segment as spelled in each document (§1.6). */
  readonly alias: string | undefined;
}

export interface AggregateField {
  readonly kind: "aggregate";
  readonly name: AggregateName;
  readonly segments: readonly string[] | undefined;
  readonly outputName: string;
}

export type Field = PathField | AggregateField;

export interface SelectPlan {
  /** undefined for SELECT * */
  readonly fields: readonly Field[] | undefined;
  readonly isAggregate: boolean;
  readonly groupBy: readonly string[] | undefined;
}

/**
 * Checks the SELECT list against GROUP BY and names every output field.
 * - Aggregate queries may select only aggregates and the GROUP BY path (standard SQL; Cosmos errors too).
 * - An unaliased aggregate is named `$1`, `$2`, ... in order. §1.6 marks this UNCERTAIN: every documented
 *   example uses AS, and `$n` is what the Cosmos-style engine would emit.
 * - Two fields with the same output name (ignoring case, as property names are case-insensitive) are
 *   rejected rather than silently overwriting each other.
 */
export function planSelect(ast: QueryAst): SelectPlan {
  const groupBy = ast.groupBy === undefined ? undefined : stripCollectionPrefix(ast.groupBy.segments, ast.collection);
  if (ast.items === undefined) {
    if (ast.groupBy !== undefined) throw semanticError(ast.groupBy.pos, "GROUP BY cannot be used with SELECT *; select the grouped path and aggregates");
    return { fields: undefined, isAggregate: false, groupBy: undefined };
  }
  const isAggregate = groupBy !== undefined || ast.items.some((item) => item.kind === "aggregate");
  const fields: Field[] = [];
  const names = new Set<string>();
  let unnamed = 0;
  for (const item of ast.items) {
    let field: Field;
    let name: string;
    let pos: number;
    if (item.kind === "path") {
      const segments = stripCollectionPrefix(item.path.segments, ast.collection);
      pos = item.path.pos;
      if (isAggregate && (groupBy === undefined || pathKey(segments) !== pathKey(groupBy))) {
        const text = item.path.segments.join(".");
        throw semanticError(pos, groupBy === undefined
          ? `'${text}' cannot be selected together with an aggregate unless the query has GROUP BY ${text}`
          : `'${text}' must be the GROUP BY path or be inside an aggregate`);
      }
      field = { kind: "path", segments, alias: item.alias };
      name = item.alias ?? segments[segments.length - 1]!;
    } else {
      pos = item.pos;
      name = item.alias ?? `$${++unnamed}`;
      const segments = item.arg === undefined ? undefined : stripCollectionPrefix(item.arg.segments, ast.collection);
      field = { kind: "aggregate", name: item.name, segments, outputName: name };
    }
    const lower = name.toLowerCase();
    if (names.has(lower)) throw semanticError(pos, `the output name '${name}' is used more than once in the SELECT list; add AS to rename one`);
    names.add(lower);
    fields.push(field);
  }
  return { fields, isAggregate, groupBy };
}

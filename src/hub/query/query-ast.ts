/** Syntax tree of a twin query (§1.2). Every node keeps the 0-based offset it starts at, for messages. */

/** A JSON scalar as written in a query; `undefined` is a literal of the language (§1.2). */
export type Scalar = string | number | boolean | null | undefined;

export interface LiteralExpr {
  readonly kind: "literal";
  readonly value: Scalar;
  readonly pos: number;
}

export interface PathExpr {
  readonly kind: "path";
  /** Segments as written (before any `devices.` prefix is removed); names compare case-insensitively (§1.4). */
  readonly segments: readonly string[];
  readonly pos: number;
}

/** `[literal, ...]`; a value of its own, and the right-hand side of IN/NIN. */
export interface ArrayExpr {
  readonly kind: "array";
  readonly items: readonly Scalar[];
  readonly pos: number;
}

export interface UnaryExpr {
  readonly kind: "unary";
  readonly op: "-" | "NOT";
  readonly operand: Expr;
  readonly pos: number;
}

export type ArithmeticOp = "+" | "-" | "*" | "/" | "%";
/** `<>` is normalised to `!=`. */
export type ComparisonOp = "=" | "!=" | "<" | ">" | "<=" | ">=";

export interface BinaryExpr {
  readonly kind: "binary";
  readonly op: ArithmeticOp | ComparisonOp;
  readonly left: Expr;
  readonly right: Expr;
  readonly pos: number;
}

export interface InExpr {
  readonly kind: "in";
  /** true for NIN */
  readonly negated: boolean;
  readonly operand: Expr;
  readonly list: ArrayExpr;
  readonly pos: number;
}

/** AND/OR chains are kept flat so long chains neither recurse deeply nor nest closures. */
export interface LogicalExpr {
  readonly kind: "logical";
  readonly op: "AND" | "OR";
  readonly operands: readonly Expr[];
  readonly pos: number;
}

export type FunctionName = "IS_DEFINED" | "STARTSWITH" | "ENDSWITH";

export interface CallExpr {
  readonly kind: "call";
  readonly name: FunctionName;
  readonly args: readonly Expr[];
  readonly pos: number;
}

export type Expr = LiteralExpr | PathExpr | ArrayExpr | UnaryExpr | BinaryExpr | InExpr | LogicalExpr | CallExpr;

export type AggregateName = "COUNT" | "AVG" | "SUM" | "MIN" | "MAX";

export interface PathItem {
  readonly kind: "path";
  readonly path: PathExpr;
  readonly alias: string | undefined;
}

export interface AggregateItem {
  readonly kind: "aggregate";
  readonly name: AggregateName;
  /** undefined for COUNT() */
  readonly arg: PathExpr | undefined;
  readonly alias: string | undefined;
  readonly pos: number;
}

export type SelectItem = PathItem | AggregateItem;

export interface QueryAst {
  readonly top: number | undefined;
  /** undefined for `SELECT *` */
  readonly items: readonly SelectItem[] | undefined;
  readonly collection: "devices" | "modules";
  readonly where: Expr | undefined;
  readonly groupBy: PathExpr | undefined;
}

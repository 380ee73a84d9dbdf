import type { ArithmeticOp, ComparisonOp, Expr, LiteralExpr } from "./query-ast.js";
import { compareValues } from "./compare-values.js";
import { syntaxError } from "./query-error.js";
import { compileGetter, stripCollectionPrefix, type Doc } from "./resolve-path.js";

/**
 * A compiled expression. Results follow the Cosmos-style three-valued logic the reference describes
 * (§1.4): comparisons and functions yield true, false or undefined, and only `true` selects a document.
 */
export type Evaluator = (doc: Doc) => unknown;

/**
 * Bounds the depth of the compiled closure tree. The parser already bounds nesting, but long left-deep
 * chains such as `1+1+1+...` are built by loops and would otherwise make compilation and every
 * evaluation recurse once per operator.
 */
export const MAX_EXPRESSION_DEPTH = 256;

/** Compiles a WHERE expression once into closures; nothing is parsed or allocated per document. */
export function compileExpression(expr: Expr, collection: "devices" | "modules"): Evaluator {
  return compile(expr, collection, 0);
}

function compile(expr: Expr, collection: "devices" | "modules", depth: number): Evaluator {
  if (depth > MAX_EXPRESSION_DEPTH) {
    throw syntaxError(expr.pos, `the expression is nested too deeply (more than ${MAX_EXPRESSION_DEPTH} levels)`);
  }
  const sub = (e: Expr): Evaluator => compile(e, collection, depth + 1);
  switch (expr.kind) {
    case "literal": {
      const value = expr.value;
      return () => value;
    }
    case "path":
      return compileGetter(stripCollectionPrefix(expr.segments, collection));
    case "array": {
      const value = expr.items;
      return () => value;
    }
    case "unary": {
      const operand = sub(expr.operand);
      if (expr.op === "NOT") return (doc) => not(operand(doc));
      return (doc) => {
        const v = operand(doc);
        return typeof v === "number" ? -v : undefined;
      };
    }
    case "logical": {
      const operands = expr.operands.map(sub);
      return expr.op === "AND" ? and(operands) : or(operands);
    }
    case "in":
      return inList(sub(expr.operand), expr.list.items, expr.negated);
    case "call":
      return call(expr.name, expr.args.map(sub));
    case "binary":
      if (isArithmetic(expr.op)) return arithmetic(expr.op, sub(expr.left), sub(expr.right));
      if (expr.right.kind === "literal") return compareWithLiteral(expr.op, sub(expr.left), expr.right);
      if (expr.left.kind === "literal") return compareWithLiteral(mirror(expr.op), sub(expr.right), expr.left);
      return comparison(expr.op, sub(expr.left), sub(expr.right));
  }
}

function not(v: unknown): boolean | undefined {
  return v === true ? false : v === false ? true : undefined;
}

// AND: false if any operand is false, true if all are true, otherwise undefined. Non-booleans count as
// undefined, so `NOT tags.missing = 1` does not select a document lacking the tag (§1.4).
function and(operands: readonly Evaluator[]): Evaluator {
  if (operands.length === 2) {
    const [a, b] = operands as [Evaluator, Evaluator];
    return (doc) => {
      const x = a(doc);
      if (x === false) return false;
      const y = b(doc);
      if (y === false) return false;
      return x === true && y === true ? true : undefined;
    };
  }
  return (doc) => {
    let result: boolean | undefined = true;
    for (const operand of operands) {
      const v = operand(doc);
      if (v === false) return false;
      if (v !== true) result = undefined;
    }
    return result;
  };
}

// OR: true if any operand is true, false if all are false, otherwise undefined.
function or(operands: readonly Evaluator[]): Evaluator {
  if (operands.length === 2) {
    const [a, b] = operands as [Evaluator, Evaluator];
    return (doc) => {
      const x = a(doc);
      if (x === true) return true;
      const y = b(doc);
      if (y === true) return true;
      return x === false && y === false ? false : undefined;
    };
  }
  return (doc) => {
    let result: boolean | undefined = false;
    for (const operand of operands) {
      const v = operand(doc);
      if (v === true) return true;
      if (v !== false) result = undefined;
    }
    return result;
  };
}

/**
 * IN is true when the value equals a list member of the same type, false when it is a primitive that
 * equals none (Cosmos semantics: `'1' IN [1]` is false, so `'1' NIN [1]` is true), and undefined when
 * the value is missing or is an object/array, so neither IN nor NIN selects a document lacking the field.
 */
function inList(operand: Evaluator, items: readonly unknown[], negated: boolean): Evaluator {
  // A Set compares with SameValueZero: 1 and '1' stay distinct, null is a member like any other.
  const members = new Set(items.filter((item) => item !== undefined));
  return (doc) => {
    const v = operand(doc);
    if (v === undefined || (typeof v === "object" && v !== null)) return undefined;
    return members.has(v) !== negated;
  };
}

function call(name: "IS_DEFINED" | "STARTSWITH" | "ENDSWITH", args: readonly Evaluator[]): Evaluator {
  switch (name) {
    case "IS_DEFINED": {
      // §1.4: the only presence test; true for a present null.
      const [arg] = args as [Evaluator];
      return (doc) => arg(doc) !== undefined;
    }
    case "STARTSWITH":
    case "ENDSWITH": {
      // §1.5: ordinal, case-sensitive; non-string arguments give undefined (Cosmos behaviour).
      const [str, affix] = args as [Evaluator, Evaluator];
      const starts = name === "STARTSWITH";
      return (doc) => {
        const s = str(doc);
        if (typeof s !== "string") return undefined;
        const a = affix(doc);
        if (typeof a !== "string") return undefined;
        return starts ? s.startsWith(a) : s.endsWith(a);
      };
    }
  }
}

function isArithmetic(op: ArithmeticOp | ComparisonOp): op is ArithmeticOp {
  return op === "+" || op === "-" || op === "*" || op === "/" || op === "%";
}

// §1.4 allows arithmetic in conditions. Numbers only (no string concatenation with '+'); a result
// that is not finite (division by zero) is undefined rather than Infinity/NaN, as in Cosmos.
function arithmetic(op: ArithmeticOp, left: Evaluator, right: Evaluator): Evaluator {
  const apply = ARITHMETIC[op];
  return (doc) => {
    const a = left(doc);
    if (typeof a !== "number") return undefined;
    const b = right(doc);
    if (typeof b !== "number") return undefined;
    const r = apply(a, b);
    return Number.isFinite(r) ? r : undefined;
  };
}

const ARITHMETIC: Readonly<Record<ArithmeticOp, (a: number, b: number) => number>> = {
  "+": (a, b) => a + b,
  "-": (a, b) => a - b,
  "*": (a, b) => a * b,
  "/": (a, b) => a / b,
  "%": (a, b) => a % b,
};

function mirror(op: ComparisonOp): ComparisonOp {
  switch (op) {
    case "<":
      return ">";
    case ">":
      return "<";
    case "<=":
      return ">=";
    case ">=":
      return "<=";
    default:
      return op;
  }
}

/** Maps compareValues' -1/0/1 to the operator's answer. */
const TEST: Readonly<Record<ComparisonOp, (c: -1 | 0 | 1) => boolean>> = {
  "=": (c) => c === 0,
  "!=": (c) => c !== 0,
  "<": (c) => c < 0,
  ">": (c) => c > 0,
  "<=": (c) => c <= 0,
  ">=": (c) => c >= 0,
};

function comparison(op: ComparisonOp, left: Evaluator, right: Evaluator): Evaluator {
  const test = TEST[op];
  return (doc) => {
    const c = compareValues(left(doc), right(doc));
    return c === undefined ? undefined : test(c);
  };
}

/**
 * `path <op> literal` is the overwhelmingly common shape (`deviceId = 'd1'`, `tags.floor > 3`), so it
 * gets closures specialised on the literal's type: one typeof check and one primitive comparison.
 */
function compareWithLiteral(op: ComparisonOp, left: Evaluator, literal: LiteralExpr): Evaluator {
  const lit = literal.value;
  if (lit === undefined) return () => undefined; // any comparison with undefined is undefined (§1.4)
  if (lit === null) return comparison(op, left, () => null);
  const type = typeof lit;
  switch (op) {
    case "=":
      return (doc) => {
        const v = left(doc);
        return typeof v === type ? v === lit : undefined;
      };
    case "!=":
      return (doc) => {
        const v = left(doc);
        return typeof v === type ? v !== lit : undefined;
      };
    case "<":
      return (doc) => {
        const v = left(doc);
        return typeof v === type ? (v as number) < (lit as number) : undefined;
      };
    case ">":
      return (doc) => {
        const v = left(doc);
        return typeof v === type ? (v as number) > (lit as number) : undefined;
      };
    case "<=":
      return (doc) => {
        const v = left(doc);
        return typeof v === type ? (v as number) <= (lit as number) : undefined;
      };
    case ">=":
      return (doc) => {
        const v = left(doc);
        return typeof v === type ? (v as number) >= (lit as number) : undefined;
      };
  }
}

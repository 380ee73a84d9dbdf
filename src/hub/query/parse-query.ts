import type {
  AggregateName,
  ArrayExpr,
  ComparisonOp,
  Expr,
  FunctionName,
  PathExpr,
  QueryAst,
  Scalar,
  SelectItem,
} from "./query-ast.js";
import { queryError, syntaxError } from "./query-error.js";
import { tokenize, type Token } from "./tokenize.js";

/** IoT Hub rejects queries longer than 8192 characters (§1.2); it also bounds parser work. */
export const MAX_QUERY_LENGTH = 8192;

/**
 * Parentheses, NOT, unary minus and function arguments each recurse once; real queries nest a few
 * levels, so this only stops hostile input from exhausting the stack.
 */
export const MAX_NESTING = 64;

/** Words that cannot start a path unquoted; `tags.[[group]]` is the documented way round it (§1.2). */
const RESERVED = new Set([
  "SELECT", "FROM", "WHERE", "GROUP", "BY", "AS", "AND", "OR", "NOT", "IN", "NIN", "TOP",
  "TRUE", "FALSE", "NULL", "UNDEFINED",
]);

/** Cosmos/SQL constructs users try; named in the error rather than a bare "unexpected word". */
const UNSUPPORTED_CLAUSES: Readonly<Record<string, string>> = {
  ORDER: "ORDER BY",
  JOIN: "JOIN",
  HAVING: "HAVING",
  LIMIT: "LIMIT (use SELECT TOP n)",
  OFFSET: "OFFSET",
  UNION: "UNION",
};

const COMPARISON_OPS: Readonly<Record<string, ComparisonOp>> = {
  "=": "=", "!=": "!=", "<>": "!=", "<": "<", ">": ">", "<=": "<=", ">=": ">=",
};

const AGGREGATES = new Set<string>(["COUNT", "AVG", "SUM", "MIN", "MAX"]);

/** §1.5: IS_DEFINED is documented, STARTSWITH/ENDSWITH observed to work; everything else is a 400. */
const FUNCTION_ARITY: Readonly<Record<FunctionName, number>> = { IS_DEFINED: 1, STARTSWITH: 2, ENDSWITH: 2 };

/** Parses a full `SELECT ... FROM ...` twin query (§1.2) into a syntax tree. */
export function parseQuery(text: string): QueryAst {
  if (typeof text !== "string") throw queryError("The query must be a string");
  if (text.length > MAX_QUERY_LENGTH) {
    throw queryError(`The query is ${text.length} characters long; the maximum is ${MAX_QUERY_LENGTH}`);
  }
  return new Parser(tokenize(text)).parseQuery();
}

class Parser {
  private index = 0;
  private nesting = 0;

  constructor(private readonly tokens: readonly Token[]) {}

  parseQuery(): QueryAst {
    this.expectWord("SELECT");
    let top: number | undefined;
    if (this.acceptWord("TOP")) {
      const tok = this.next();
      if (tok.kind !== "number" || !Number.isSafeInteger(tok.num)) this.fail(tok, "a non-negative integer after TOP");
      top = tok.num;
    }
    this.rejectSelectModifier();
    let items: SelectItem[] | undefined;
    if (!this.acceptPunct("*")) {
      items = [this.parseSelectItem()];
      while (this.acceptPunct(",")) items.push(this.parseSelectItem());
    }
    if (!this.isWord(this.peek(), "FROM")) this.fail(this.peek(), items === undefined ? "FROM" : "',' or FROM");
    this.next();
    const collection = this.parseCollection();
    let where: Expr | undefined;
    if (this.acceptWord("WHERE")) where = this.parseExpression();
    let groupBy: PathExpr | undefined;
    if (this.acceptWord("GROUP")) {
      this.expectWord("BY");
      groupBy = this.parsePath("a property path after GROUP BY");
    }
    const end = this.peek();
    if (end.kind !== "eof") {
      this.rejectUnsupportedClause(end);
      const expected = groupBy !== undefined ? "the end of the query" : where !== undefined ? "an operator, GROUP BY or the end of the query" : "WHERE, GROUP BY or the end of the query";
      this.fail(end, expected);
    }
    return { top, items, collection, where, groupBy };
  }

  private rejectSelectModifier(): void {
    const tok = this.peek();
    if (tok.kind !== "word") return;
    const upper = tok.value.toUpperCase();
    if (upper !== "DISTINCT" && upper !== "VALUE") return;
    // `SELECT value FROM devices` is a path named "value"; only a following item makes it a keyword.
    const after = this.peek(1);
    if (after.kind === "word" || after.kind === "quoted" || (after.kind === "punct" && after.value === "*")) {
      if (!this.isWord(after, "FROM") && !this.isWord(after, "AS")) {
        throw syntaxError(tok.pos, `SELECT ${upper} is not supported by IoT Hub queries`);
      }
    }
  }

  private rejectUnsupportedClause(tok: Token): void {
    if (tok.kind !== "word") return;
    const clause = UNSUPPORTED_CLAUSES[tok.value.toUpperCase()];
    if (clause !== undefined) throw syntaxError(tok.pos, `${clause} is not supported by IoT Hub queries`);
  }

  private parseSelectItem(): SelectItem {
    const tok = this.peek();
    let item: SelectItem;
    if (tok.kind === "word" && AGGREGATES.has(tok.value.toUpperCase()) && this.isPunct(this.peek(1), "(")) {
      const name = tok.value.toUpperCase() as AggregateName;
      this.next();
      this.next();
      let arg: PathExpr | undefined;
      if (name === "COUNT") {
        if (!this.isPunct(this.peek(), ")")) this.fail(this.peek(), "')': COUNT takes no argument, write COUNT()");
      } else {
        arg = this.parsePath(`a property path inside ${name}()`);
      }
      this.expectPunct(")");
      item = { kind: "aggregate", name, arg, alias: undefined, pos: tok.pos };
    } else if ((tok.kind === "word" && !RESERVED.has(tok.value.toUpperCase())) || tok.kind === "quoted") {
      const path = this.parsePath("a property path");
      if (this.isPunct(this.peek(), "(")) {
        throw syntaxError(tok.pos, "only property paths and the aggregates COUNT(), AVG, SUM, MIN and MAX may be selected");
      }
      item = { kind: "path", path, alias: undefined };
    } else if (tok.kind === "string" || tok.kind === "number" || keywordLiteral(tok) !== NOT_A_LITERAL) {
      this.fail(tok, "a property path or an aggregate in the SELECT list (expressions and literals cannot be selected)");
    } else {
      this.fail(tok, "'*', a property path or an aggregate after SELECT");
    }
    if (this.acceptWord("AS")) {
      const aliasTok = this.next();
      const isName = (aliasTok.kind === "word" && !RESERVED.has(aliasTok.value.toUpperCase())) || aliasTok.kind === "quoted";
      if (!isName) this.fail(aliasTok, "a name after AS");
      item = { ...item, alias: aliasTok.value };
    }
    return item;
  }

  private parseCollection(): "devices" | "modules" {
    const tok = this.next();
    if (!this.isWord(tok, "devices")) this.fail(tok, "a collection: devices or devices.modules");
    if (!this.acceptPunct(".")) return "devices";
    const sub = this.next();
    if (this.isWord(sub, "modules")) return "modules";
    if (this.isWord(sub, "jobs")) throw syntaxError(sub.pos, "FROM devices.jobs is not supported by this hub");
    this.fail(sub, "modules after 'devices.'");
  }

  parseExpression(): Expr {
    return this.parseOr();
  }

  // Precedence (§1.2, SQL-like): unary, multiplicative, additive, comparison/IN/NIN, NOT, AND, OR.
  private parseOr(): Expr {
    const first = this.parseAnd();
    if (!this.isWord(this.peek(), "OR")) return first;
    const operands = [first];
    while (this.acceptWord("OR")) operands.push(this.parseAnd());
    return { kind: "logical", op: "OR", operands, pos: first.pos };
  }

  private parseAnd(): Expr {
    const first = this.parseNot();
    if (!this.isWord(this.peek(), "AND")) return first;
    const operands = [first];
    while (this.acceptWord("AND")) operands.push(this.parseNot());
    return { kind: "logical", op: "AND", operands, pos: first.pos };
  }

  private parseNot(): Expr {
    const tok = this.peek();
    if (!this.isWord(tok, "NOT")) return this.parseComparison();
    this.next();
    this.enter(tok);
    const operand = this.parseNot();
    this.nesting--;
    return { kind: "unary", op: "NOT", operand, pos: tok.pos };
  }

  private parseComparison(): Expr {
    let left = this.parseAdditive();
    for (;;) {
      const tok = this.peek();
      const op = tok.kind === "punct" ? COMPARISON_OPS[tok.value] : undefined;
      if (op !== undefined) {
        this.next();
        const right = this.parseAdditive();
        left = { kind: "binary", op, left, right, pos: tok.pos };
      } else if (this.isWord(tok, "IN") || this.isWord(tok, "NIN")) {
        this.next();
        if (this.isPunct(this.peek(), "(")) {
          // Learn fixed its docs in 2018: IN takes square brackets, never parentheses (§1.2).
          throw syntaxError(this.peek().pos, `${tok.value.toUpperCase()} takes a list in square brackets, e.g. IN ['a', 'b']`);
        }
        const list = this.parseArray();
        left = { kind: "in", negated: this.isWord(tok, "NIN"), operand: left, list, pos: tok.pos };
      } else if (this.isWord(tok, "NOT") && this.isWord(this.peek(1), "IN")) {
        throw syntaxError(tok.pos, "NOT IN is not supported, use NIN [...]");
      } else {
        return left;
      }
    }
  }

  private parseAdditive(): Expr {
    let left = this.parseMultiplicative();
    for (;;) {
      const tok = this.peek();
      if (!this.isPunct(tok, "+") && !this.isPunct(tok, "-")) return left;
      this.next();
      const right = this.parseMultiplicative();
      left = { kind: "binary", op: tok.value as "+" | "-", left, right, pos: tok.pos };
    }
  }

  private parseMultiplicative(): Expr {
    let left = this.parseUnary();
    for (;;) {
      const tok = this.peek();
      if (!this.isPunct(tok, "*") && !this.isPunct(tok, "/") && !this.isPunct(tok, "%")) return left;
      this.next();
      const right = this.parseUnary();
      left = { kind: "binary", op: tok.value as "*" | "/" | "%", left, right, pos: tok.pos };
    }
  }

  private parseUnary(): Expr {
    const tok = this.peek();
    if (!this.isPunct(tok, "-")) return this.parsePrimary();
    this.next();
    this.enter(tok);
    const operand = this.parseUnary();
    this.nesting--;
    // Fold `-5` into a literal so comparisons against negative numbers take the literal fast path.
    if (operand.kind === "literal" && typeof operand.value === "number") {
      return { kind: "literal", value: -operand.value, pos: tok.pos };
    }
    return { kind: "unary", op: "-", operand, pos: tok.pos };
  }

  private parsePrimary(): Expr {
    const tok = this.peek();
    switch (tok.kind) {
      case "number":
        this.next();
        return { kind: "literal", value: tok.num, pos: tok.pos };
      case "string":
        this.next();
        return { kind: "literal", value: tok.value, pos: tok.pos };
      case "quoted":
        return this.parsePath("an expression");
      case "punct":
        if (tok.value === "(") {
          this.next();
          this.enter(tok);
          const inner = this.parseOr();
          this.nesting--;
          this.expectPunct(")");
          return inner;
        }
        if (tok.value === "[") return this.parseArray();
        return this.fail(tok, "an expression");
      case "word": {
        const literal = keywordLiteral(tok);
        if (literal !== NOT_A_LITERAL) {
          this.next();
          return { kind: "literal", value: literal, pos: tok.pos };
        }
        if (RESERVED.has(tok.value.toUpperCase())) return this.fail(tok, "an expression");
        if (this.isPunct(this.peek(1), "(")) return this.parseCall();
        return this.parsePath("an expression");
      }
      default:
        return this.fail(tok, "an expression");
    }
  }

  private parseCall(): Expr {
    const tok = this.next();
    const upper = tok.value.toUpperCase();
    if (AGGREGATES.has(upper)) {
      throw syntaxError(tok.pos, `the aggregate ${upper}() is only allowed in the SELECT list`);
    }
    if (!Object.hasOwn(FUNCTION_ARITY, upper)) {
      const hint = upper === "STARTS_WITH" || upper === "ENDS_WITH" ? ` (twin queries spell it ${upper.replace("_", "")})` : "";
      throw syntaxError(tok.pos, `unsupported function '${tok.value}'${hint}; twin queries support IS_DEFINED, STARTSWITH and ENDSWITH`);
    }
    const name = upper as FunctionName;
    const open = this.next();
    this.enter(open);
    const args: Expr[] = [];
    if (!this.isPunct(this.peek(), ")")) {
      args.push(this.parseOr());
      while (this.acceptPunct(",")) args.push(this.parseOr());
    }
    this.nesting--;
    this.expectPunct(")");
    const arity = FUNCTION_ARITY[name];
    if (args.length !== arity) {
      throw syntaxError(tok.pos, `${name} takes ${arity} argument${arity === 1 ? "" : "s"} but was given ${args.length}`);
    }
    return { kind: "call", name, args, pos: tok.pos };
  }

  /** `[literal, ...]`: square brackets, at least one literal (§1.2). */
  private parseArray(): ArrayExpr {
    const open = this.peek();
    this.expectPunct("[");
    const items: Scalar[] = [];
    if (this.isPunct(this.peek(), "]")) throw syntaxError(open.pos, "a list needs at least one value");
    do {
      items.push(this.parseListLiteral());
    } while (this.acceptPunct(","));
    if (!this.isPunct(this.peek(), "]")) this.fail(this.peek(), "',' or ']' in the list");
    this.next();
    return { kind: "array", items, pos: open.pos };
  }

  private parseListLiteral(): Scalar {
    const tok = this.next();
    if (tok.kind === "string") return tok.value;
    if (tok.kind === "number") return tok.num;
    if (this.isPunct(tok, "-") && this.peek().kind === "number") return -this.next().num;
    if (tok.kind === "word") {
      const literal = keywordLiteral(tok);
      if (literal !== NOT_A_LITERAL) return literal;
    }
    return this.fail(tok, "a literal (string, number, true, false or null) in the list");
  }

  private parsePath(expected: string): PathExpr {
    const first = this.next();
    const startsPath = (first.kind === "word" && !RESERVED.has(first.value.toUpperCase())) || first.kind === "quoted";
    if (!startsPath) this.fail(first, expected);
    const segments = [first.value];
    while (this.acceptPunct(".")) {
      // After a dot any word is a name, reserved or not: `tags.group` cannot be mistaken for a keyword.
      const seg = this.next();
      if (seg.kind !== "word" && seg.kind !== "quoted") this.fail(seg, "a property name after '.'");
      segments.push(seg.value);
    }
    return { kind: "path", segments, pos: first.pos };
  }

  private enter(tok: Token): void {
    if (++this.nesting > MAX_NESTING) {
      throw syntaxError(tok.pos, `the query is nested too deeply (more than ${MAX_NESTING} levels)`);
    }
  }

  private peek(offset = 0): Token {
    return this.tokens[Math.min(this.index + offset, this.tokens.length - 1)]!;
  }

  private next(): Token {
    const tok = this.peek();
    if (this.index < this.tokens.length - 1) this.index++;
    return tok;
  }

  private isWord(tok: Token, keyword: string): boolean {
    return tok.kind === "word" && tok.value.toUpperCase() === keyword.toUpperCase();
  }

  private isPunct(tok: Token, punct: string): boolean {
    return tok.kind === "punct" && tok.value === punct;
  }

  private acceptWord(keyword: string): boolean {
    if (!this.isWord(this.peek(), keyword)) return false;
    this.next();
    return true;
  }

  private acceptPunct(punct: string): boolean {
    if (!this.isPunct(this.peek(), punct)) return false;
    this.next();
    return true;
  }

  private expectWord(keyword: string): void {
    if (!this.acceptWord(keyword)) this.fail(this.peek(), keyword);
  }

  private expectPunct(punct: string): void {
    if (!this.acceptPunct(punct)) this.fail(this.peek(), `'${punct}'`);
  }

  private fail(tok: Token, expected: string): never {
    throw syntaxError(tok.pos, `expected ${expected} but found ${describe(tok)}`);
  }
}

const NOT_A_LITERAL = Symbol("not a literal");

function keywordLiteral(tok: Token): Scalar | typeof NOT_A_LITERAL {
  switch (tok.value.toUpperCase()) {
    case "TRUE":
      return true;
    case "FALSE":
      return false;
    case "NULL":
      return null;
    case "UNDEFINED":
      return undefined;
    default:
      return NOT_A_LITERAL;
  }
}

function describe(tok: Token): string {
  switch (tok.kind) {
    case "eof":
      return "the end of the query";
    case "string":
      return `the string ${JSON.stringify(tok.value)}`;
    case "quoted":
      return `'[[${tok.value}]]'`;
    default:
      return `'${tok.value}'`;
  }
}

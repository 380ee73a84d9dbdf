import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { HubError } from "../errors/index.js";
import { MAX_QUERY_LENGTH, parseQuery } from "./parse-query.js";
import type { Expr } from "./query-ast.js";

/** Renders an expression as fully parenthesised text, to check precedence without position noise. */
function show(e: Expr | undefined): string {
  if (e === undefined) return "-";
  switch (e.kind) {
    case "literal":
      return e.value === undefined ? "undefined" : JSON.stringify(e.value);
    case "path":
      return e.segments.join(".");
    case "array":
      return `[${e.items.map((i) => JSON.stringify(i)).join(",")}]`;
    case "unary":
      return `(${e.op} ${show(e.operand)})`;
    case "binary":
      return `(${show(e.left)} ${e.op} ${show(e.right)})`;
    case "in":
      return `(${show(e.operand)} ${e.negated ? "NIN" : "IN"} ${show(e.list)})`;
    case "logical":
      return `(${e.operands.map(show).join(` ${e.op} `)})`;
    case "call":
      return `${e.name}(${e.args.map(show).join(",")})`;
  }
}

function where(condition: string): string {
  return show(parseQuery(`SELECT * FROM devices WHERE ${condition}`).where);
}

function assertInvalid(text: string, pattern: RegExp): void {
  assert.throws(
    () => parseQuery(text),
    (err: unknown) => {
      assert.ok(err instanceof HubError, `expected HubError, got ${String(err)}`);
      assert.equal(err.errorName, "ArgumentInvalid");
      assert.equal(err.code, 400004);
      assert.equal(err.spec.httpStatus, 400);
      assert.match(err.message, pattern);
      return true;
    },
  );
}

describe("parseQuery: clauses", () => {
  it("parses SELECT * FROM devices", () => {
    const ast = parseQuery("SELECT * FROM devices");
    assert.equal(ast.items, undefined);
    assert.equal(ast.collection, "devices");
    assert.equal(ast.where, undefined);
    assert.equal(ast.groupBy, undefined);
    assert.equal(ast.top, undefined);
  });

  it("parses FROM devices.modules, keywords in any case", () => {
    const ast = parseQuery("select * from Devices.Modules where moduleId = 'm'");
    assert.equal(ast.collection, "modules");
    assert.equal(show(ast.where), `(moduleId = "m")`);
  });

  it("parses TOP, the select list, aliases, aggregates and GROUP BY", () => {
    const ast = parseQuery("SELECT TOP 5 tags.site AS s, count() AS n, MAX(properties.reported.t) FROM devices GROUP BY tags.site");
    assert.equal(ast.top, 5);
    assert.deepEqual(ast.items!.map((i) => (i.kind === "path" ? [i.path.segments.join("."), i.alias] : [i.name, i.arg?.segments.join("."), i.alias])), [
      ["tags.site", "s"],
      ["COUNT", undefined, "n"],
      ["MAX", "properties.reported.t", undefined],
    ]);
    assert.deepEqual(ast.groupBy!.segments, ["tags", "site"]);
  });

  it("accepts TOP with SELECT * and TOP 0", () => {
    assert.equal(parseQuery("SELECT TOP 0 * FROM devices").top, 0);
  });

  it("keeps [[...]] segments and keywords after a dot", () => {
    assert.equal(where("tags.[[group]].name = 'a'"), `(tags.group.name = "a")`);
    assert.equal(where("tags.group = 1 AND tags.select = 2"), `((tags.group = 1) AND (tags.select = 2))`);
    assert.equal(where("[[odd-name]] = 1"), `(odd-name = 1)`);
  });

  it("treats a column named value as a path, not SELECT VALUE", () => {
    const ast = parseQuery("SELECT value FROM devices");
    assert.equal(ast.items![0]!.kind, "path");
  });
});

describe("parseQuery: expressions", () => {
  it("normalises <> to !=", () => {
    assert.equal(where("a <> 1"), "(a != 1)");
  });

  it("binds unary, multiplicative, additive, comparison, NOT, AND, OR in that order", () => {
    assert.equal(where("a = 1 OR b = 2 AND NOT c = 3"), "((a = 1) OR ((b = 2) AND (NOT (c = 3))))");
    assert.equal(where("a + b * c - d / e % f > -g"), "(((a + (b * c)) - ((d / e) % f)) > (- g))");
    assert.equal(where("(a = 1 OR b = 2) AND c"), "(((a = 1) OR (b = 2)) AND c)");
  });

  it("keeps AND/OR chains flat", () => {
    assert.equal(where("a AND b AND c OR d OR e"), "((a AND b AND c) OR d OR e)");
  });

  it("folds negative number literals", () => {
    assert.equal(where("a > -5"), "(a > -5)");
    assert.equal(where("a IN [-1, 2]"), "(a IN [-1,2])");
  });

  it("parses IN and NIN with literal lists, including one-element lists", () => {
    assert.equal(where("deviceId IN ['d1']"), `(deviceId IN ["d1"])`);
    assert.equal(where("x NIN [1, 'a', true, null]"), `(x NIN [1,"a",true,null])`);
  });

  it("parses literals in any case", () => {
    assert.equal(where("a = TRUE OR b = False OR c = NULL OR d = undefined"), "((a = true) OR (b = false) OR (c = null) OR (d = undefined))");
  });

  it("parses the documented functions, case-insensitively", () => {
    assert.equal(where("is_defined(tags.a) AND StartsWith(devices.deviceId, 'x') AND ENDSWITH(deviceId, 'y')"),
      `(IS_DEFINED(tags.a) AND STARTSWITH(devices.deviceId,"x") AND ENDSWITH(deviceId,"y"))`);
  });
});

describe("parseQuery: errors", () => {
  it("names the position and what was expected", () => {
    assertInvalid("SELECT * FROM devices WHERE", /^Syntax error at position 28: expected an expression but found the end of the query$/);
    assertInvalid("SELECT * devices", /^Syntax error at position 10: expected FROM but found 'devices'$/);
    assertInvalid("SELECT deviceId status FROM devices", /position 17: expected ',' or FROM but found 'status'/);
    assertInvalid("", /position 1: expected SELECT but found the end of the query/);
    assertInvalid("SELECT * FROM devices WHERE a = 1 b", /position 35: expected an operator, GROUP BY or the end of the query/);
    assertInvalid("SELECT * FROM devices WHERE (a = 1", /expected '\)' but found the end of the query/);
    assertInvalid("SELECT * FROM devices WHERE a = ", /expected an expression/);
    assertInvalid("SELECT * FROM devices WHERE a. = 1", /expected a property name after '\.' but found '='/);
  });

  it("rejects unknown collections and devices.jobs", () => {
    assertInvalid("SELECT * FROM c", /expected a collection: devices or devices.modules but found 'c'/);
    assertInvalid("SELECT * FROM devices.things", /expected modules after 'devices.'/);
    assertInvalid("SELECT * FROM devices.jobs", /FROM devices.jobs is not supported/);
  });

  it("rejects unsupported clauses by name", () => {
    assertInvalid("SELECT * FROM devices ORDER BY deviceId", /position 23: ORDER BY is not supported/);
    assertInvalid("SELECT * FROM devices WHERE a = 1 ORDER BY a", /ORDER BY is not supported/);
    assertInvalid("SELECT * FROM devices JOIN x IN devices.tags", /JOIN is not supported/);
    assertInvalid("SELECT * FROM devices GROUP BY a HAVING COUNT() > 1", /HAVING is not supported/);
    assertInvalid("SELECT DISTINCT deviceId FROM devices", /SELECT DISTINCT is not supported/);
    assertInvalid("SELECT VALUE deviceId FROM devices", /SELECT VALUE is not supported/);
    assertInvalid("SELECT * FROM devices d", /expected WHERE, GROUP BY or the end of the query but found 'd'/);
  });

  it("rejects IN with parentheses and NOT IN", () => {
    assertInvalid("SELECT * FROM devices WHERE a IN ('x')", /IN takes a list in square brackets/);
    assertInvalid("SELECT * FROM devices WHERE a NOT IN ['x']", /NOT IN is not supported, use NIN/);
    assertInvalid("SELECT * FROM devices WHERE a IN []", /a list needs at least one value/);
    assertInvalid("SELECT * FROM devices WHERE a IN [b]", /expected a literal .* in the list but found 'b'/);
    assertInvalid("SELECT * FROM devices WHERE a IN ['x' 'y']", /expected ',' or ']' in the list/);
  });

  it("rejects unsupported functions, with a hint for the routing spellings", () => {
    assertInvalid("SELECT * FROM devices WHERE CONTAINS(deviceId, 'a')", /unsupported function 'CONTAINS'; twin queries support IS_DEFINED, STARTSWITH and ENDSWITH/);
    assertInvalid("SELECT * FROM devices WHERE STARTS_WITH(deviceId, 'a')", /twin queries spell it STARTSWITH/);
    assertInvalid("SELECT * FROM devices WHERE IS_STRING(deviceId)", /unsupported function 'IS_STRING'/);
  });

  it("checks function arity", () => {
    assertInvalid("SELECT * FROM devices WHERE IS_DEFINED()", /IS_DEFINED takes 1 argument but was given 0/);
    assertInvalid("SELECT * FROM devices WHERE STARTSWITH(deviceId)", /STARTSWITH takes 2 arguments but was given 1/);
    assertInvalid("SELECT * FROM devices WHERE ENDSWITH(deviceId, 'a', true)", /ENDSWITH takes 2 arguments but was given 3/);
  });

  it("rejects aggregates outside SELECT and bad aggregate arguments", () => {
    assertInvalid("SELECT * FROM devices WHERE COUNT() > 1", /the aggregate COUNT\(\) is only allowed in the SELECT list/);
    assertInvalid("SELECT COUNT(deviceId) FROM devices", /COUNT takes no argument, write COUNT\(\)/);
    assertInvalid("SELECT SUM() FROM devices", /expected a property path inside SUM\(\)/);
  });

  it("rejects expressions and literals in the SELECT list", () => {
    assertInvalid("SELECT 1 FROM devices", /expected a property path or an aggregate in the SELECT list/);
    assertInvalid("SELECT true FROM devices", /expected a property path or an aggregate in the SELECT list/);
    assertInvalid("SELECT TOP 5 FROM devices", /expected '\*', a property path or an aggregate after SELECT but found 'FROM'/);
    assertInvalid("SELECT * FROM devices WHERE a = NOT(b)", /expected an expression but found 'NOT'/);
    assertInvalid("SELECT IS_DEFINED(tags) FROM devices", /only property paths and the aggregates/);
    assertInvalid("SELECT *, deviceId FROM devices", /expected FROM but found ','/);
    assertInvalid("SELECT deviceId AS FROM devices", /expected a name after AS but found 'FROM'/);
  });

  it("rejects a bad TOP", () => {
    assertInvalid("SELECT TOP * FROM devices", /expected a non-negative integer after TOP but found '\*'/);
    assertInvalid("SELECT TOP -1 * FROM devices", /non-negative integer after TOP/);
    assertInvalid("SELECT TOP 1.5 * FROM devices", /non-negative integer after TOP/);
  });

  it("rejects reserved words as unquoted paths", () => {
    assertInvalid("SELECT * FROM devices WHERE group = 1", /expected an expression but found 'group'/);
    assertInvalid("SELECT * FROM devices GROUP BY from", /expected a property path after GROUP BY but found 'from'/);
  });

  it("rejects queries longer than 8192 characters", () => {
    const text = `SELECT * FROM devices WHERE deviceId = '${"x".repeat(MAX_QUERY_LENGTH)}'`;
    assertInvalid(text, /maximum is 8192/);
    assert.doesNotThrow(() => parseQuery(`SELECT * FROM devices WHERE deviceId = '${"x".repeat(MAX_QUERY_LENGTH - 41)}'`));
  });

  it("rejects deep nesting instead of overflowing the stack", () => {
    assertInvalid(`SELECT * FROM devices WHERE ${"(".repeat(3000)}1${")".repeat(3000)}`, /nested too deeply/);
    assertInvalid(`SELECT * FROM devices WHERE ${"NOT ".repeat(2000)}true`, /nested too deeply/);
    assertInvalid(`SELECT * FROM devices WHERE ${"- ".repeat(3000)}1 = 1`, /nested too deeply/);
    assertInvalid(`SELECT * FROM devices WHERE ${"IS_DEFINED(".repeat(600)}1${")".repeat(600)}`, /nested too deeply/);
  });

  it("rejects a non-string query", () => {
    assertInvalid(undefined as unknown as string, /must be a string/);
  });
});

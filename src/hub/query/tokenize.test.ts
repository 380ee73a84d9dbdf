import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { HubError } from "../errors/index.js";
import { tokenize } from "./tokenize.js";

function kinds(text: string): string[] {
  return tokenize(text).map((t) => `${t.kind}:${t.kind === "number" ? t.num : t.value}`);
}

function assertSyntaxError(text: string, pattern: RegExp): void {
  assert.throws(
    () => tokenize(text),
    (err: unknown) => {
      assert.ok(err instanceof HubError);
      assert.equal(err.errorName, "ArgumentInvalid");
      assert.equal(err.code, 400004);
      assert.match(err.message, pattern);
      return true;
    },
  );
}

describe("tokenize", () => {
  it("splits words, punctuation and literals and ends with eof", () => {
    assert.deepEqual(kinds("SELECT * FROM devices.modules WHERE a.b >= 1.5"), [
      "word:SELECT", "punct:*", "word:FROM", "word:devices", "punct:.", "word:modules",
      "word:WHERE", "word:a", "punct:.", "word:b", "punct:>=", "number:1.5", "eof:",
    ]);
  });

  it("reads every comparison operator, longest first", () => {
    assert.deepEqual(kinds("= != <> < > <= >="), [
      "punct:=", "punct:!=", "punct:<>", "punct:<", "punct:>", "punct:<=", "punct:>=", "eof:",
    ]);
  });

  it("records 0-based positions", () => {
    assert.deepEqual(tokenize("a  = 'x'").map((t) => t.pos), [0, 3, 5, 8]);
  });

  it("accepts $ in names so $version and $metadata need no quoting", () => {
    assert.deepEqual(kinds("properties.desired.$version"), [
      "word:properties", "punct:.", "word:desired", "punct:.", "word:$version", "eof:",
    ]);
  });

  it("reads [[...]] as one quoted segment, keeping any characters", () => {
    assert.deepEqual(kinds("tags.[[group]].[[$iotin:deviceinfo]].[[my-config]]"), [
      "word:tags", "punct:.", "quoted:group", "punct:.", "quoted:$iotin:deviceinfo", "punct:.", "quoted:my-config", "eof:",
    ]);
  });

  it("reads single- and double-quoted strings with escapes", () => {
    const [a, b, c] = tokenize(`'it\\'s' "say \\"hi\\"" 'a\\\\b\\u0041\\n'`);
    assert.equal(a!.value, "it's");
    assert.equal(b!.value, 'say "hi"');
    assert.equal(c!.value, "a\\bA\n");
    assert.equal(tokenize("'x'")[0]!.kind, "string");
  });

  it("treats a doubled quote as two adjacent strings, not an escape", () => {
    assert.deepEqual(kinds("'it''s'"), ["string:it", "string:s", "eof:"]);
  });

  it("reads decimal, exponent and hex numbers", () => {
    assert.deepEqual(kinds("42 3.25 1e3 0x1F"), ["number:42", "number:3.25", "number:1000", "number:31", "eof:"]);
  });

  it("skips whitespace and /* */ comments", () => {
    assert.deepEqual(kinds(" a\t/* note */\n= 1 "), ["word:a", "punct:=", "number:1", "eof:"]);
  });

  it("rejects an unterminated string", () => {
    assertSyntaxError("a = 'abc", /position 5: string literal is not closed/);
  });

  it("rejects unknown escapes and bad \\u escapes", () => {
    assertSyntaxError("'a\\qb'", /position 3: unknown escape sequence '\\q'/);
    assertSyntaxError("'\\u12'", /\\u must be followed by four hex digits/);
  });

  it("rejects unexpected characters", () => {
    assertSyntaxError("a = #1", /position 5: unexpected character '#'/);
    assertSyntaxError("a ! b", /unexpected character '!'/);
  });

  it("rejects unterminated comments and quoted segments, and empty [[]]", () => {
    assertSyntaxError("a /* b", /comment is not closed/);
    assertSyntaxError("tags.[[x", /quoted property name is not closed/);
    assertSyntaxError("tags.[[]]", /\[\[\]\] is empty/);
  });

  it("rejects malformed and out-of-range numbers", () => {
    assertSyntaxError("a = 12ab", /malformed number '12a'/);
    assertSyntaxError("a = 1e999", /out of range/);
  });
});

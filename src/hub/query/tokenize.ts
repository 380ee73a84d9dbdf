import { syntaxError } from "./query-error.js";

export type TokenKind =
  /** identifier or keyword: letters, digits, `_` and `$` (so `$version`, `$metadata` work unquoted, §1.2) */
  | "word"
  /** `[[...]]` path segment, value is the text between the brackets (§1.2) */
  | "quoted"
  | "string"
  | "number"
  | "punct"
  | "eof";

export interface Token {
  readonly kind: TokenKind;
  /** Decoded value: the name for word/quoted, the string for string, the operator text for punct. */
  readonly value: string;
  /** Numeric value of a number token. */
  readonly num: number;
  /** 0-based offset of the token's first character in the query text. */
  readonly pos: number;
}

// Longest first so `<=` wins over `<`; `<>` is the SQL spelling of `!=` (§1.2).
const PUNCTUATORS = ["!=", "<>", "<=", ">=", "(", ")", "[", "]", ",", ".", "*", "/", "%", "+", "-", "=", "<", ">"];

// JSON's escape set. The reference (§1.2) lists \' \" \\ \uXXXX; accepting the rest of JSON's set is
// harmless and lets clients that JSON-escape their literals work. Doubled quotes ('it''s') are not an
// escape: the reference does not list them.
const SIMPLE_ESCAPES: Readonly<Record<string, string>> = {
  "'": "'",
  '"': '"',
  "\\": "\\",
  "/": "/",
  b: "\b",
  f: "\f",
  n: "\n",
  r: "\r",
  t: "\t",
};

const WORD_START = /[\p{L}_$]/u;
const WORD_PART = /[\p{L}\p{N}_$]/u;
const NUMBER = /0[xX][0-9a-fA-F]+|\d+(?:\.\d+)?(?:[eE][+-]?\d+)?/y;

/** Splits query text into tokens; the last token is always `eof`. */
export function tokenize(text: string): Token[] {
  const tokens: Token[] = [];
  let i = 0;
  const n = text.length;
  while (i < n) {
    const c = text[i]!;
    if (c === " " || c === "\t" || c === "\n" || c === "\r" || c === "\f" || c === "\v" || c === "\u00a0") {
      i++;
      continue;
    }
    // Block comments appear in one Learn metric-query example (§1.2, UNCERTAIN); accepting them is harmless.
    if (c === "/" && text[i + 1] === "*") {
      const end = text.indexOf("*/", i + 2);
      if (end < 0) throw syntaxError(i, "comment is not closed with */");
      i = end + 2;
      continue;
    }
    if (c === "'" || c === '"') {
      i = readString(text, i, tokens);
      continue;
    }
    if (c === "[" && text[i + 1] === "[") {
      // `[[...]]` quotes a path segment that contains reserved words or characters like '-', ':' (§1.2).
      const end = text.indexOf("]]", i + 2);
      if (end < 0) throw syntaxError(i, "quoted property name is not closed with ]]");
      if (end === i + 2) throw syntaxError(i, "quoted property name [[]] is empty");
      tokens.push({ kind: "quoted", value: text.slice(i + 2, end), num: 0, pos: i });
      i = end + 2;
      continue;
    }
    if (c >= "0" && c <= "9") {
      NUMBER.lastIndex = i;
      const m = NUMBER.exec(text)!;
      const raw = m[0];
      const end = i + raw.length;
      if (end < n && WORD_PART.test(text[end]!)) throw syntaxError(i, `malformed number '${text.slice(i, end + 1)}'`);
      const num = raw.length > 2 && (raw[1] === "x" || raw[1] === "X") ? parseInt(raw.slice(2), 16) : Number(raw);
      // Twin numbers are IEEE doubles (§1.4); a literal like 1e999 would silently become Infinity.
      if (!Number.isFinite(num)) throw syntaxError(i, `number '${raw}' is out of range`);
      tokens.push({ kind: "number", value: raw, num, pos: i });
      i = end;
      continue;
    }
    if (WORD_START.test(c)) {
      let end = i + 1;
      while (end < n && WORD_PART.test(text[end]!)) end++;
      tokens.push({ kind: "word", value: text.slice(i, end), num: 0, pos: i });
      i = end;
      continue;
    }
    const punct = PUNCTUATORS.find((p) => text.startsWith(p, i));
    if (punct === undefined) throw syntaxError(i, `unexpected character '${c}'`);
    tokens.push({ kind: "punct", value: punct, num: 0, pos: i });
    i += punct.length;
  }
  tokens.push({ kind: "eof", value: "", num: 0, pos: n });
  return tokens;
}

function readString(text: string, start: number, tokens: Token[]): number {
  const quote = text[start]!;
  let out = "";
  let i = start + 1;
  for (;;) {
    if (i >= text.length) throw syntaxError(start, "string literal is not closed");
    const c = text[i]!;
    if (c === quote) break;
    if (c !== "\\") {
      out += c;
      i++;
      continue;
    }
    const e = text[i + 1];
    if (e === "u") {
      const hex = text.slice(i + 2, i + 6);
      if (!/^[0-9a-fA-F]{4}$/.test(hex)) throw syntaxError(i, "\\u must be followed by four hex digits");
      out += String.fromCharCode(parseInt(hex, 16));
      i += 6;
      continue;
    }
    const simple = e === undefined ? undefined : SIMPLE_ESCAPES[e];
    if (simple === undefined) throw syntaxError(i, `unknown escape sequence '\\${e ?? ""}' in string literal`);
    out += simple;
    i += 2;
  }
  tokens.push({ kind: "string", value: out, num: 0, pos: start });
  return i + 1;
}

import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { isHubError } from "../errors/index.js";
import { assertTwinSectionSize, twinSectionSize, utf8ByteLength, validateTwinKey, validateTwinPatch } from "./validate-twin.js";

/** Asserts an ArgumentInvalid (400004) whose message names `mention`, so users can find the bad key or path. */
function assertInvalid(action: () => unknown, mention?: string): void {
  assert.throws(action, (error: unknown) => {
    assert.ok(isHubError(error), `expected a HubError, got ${String(error)}`);
    assert.equal(error.errorName, "ArgumentInvalid");
    assert.equal(error.code, 400004);
    if (mention !== undefined) assert.ok(error.message.includes(mention), `message should name ${mention}: ${error.message}`);
    return true;
  });
}

/** An object nested `levels` deep below the section root: {l1:{l2:…{lN:{leaf:1}}}}. */
function nested(levels: number): Record<string, unknown> {
  let value: Record<string, unknown> = { leaf: 1 };
  for (let level = levels; level >= 1; level--) value = { [`l${level}`]: value };
  return value;
}

describe("validateTwinKey()", () => {
  test("accepts ordinary keys, including non-ASCII letters and punctuation other than '.', '$', '#'", () => {
    for (const key of ["a", "Temperature_1", "a-b", "a:b", "a/b", "a@b", "température", "温度", "__proto__", "0"]) {
      validateTwinKey(key, "tags");
    }
  });

  test("rejects '.', '$', '#', space, other whitespace and C0/C1 control characters, naming the key", () => {
    for (const key of ["a.b", "$version", "a$", "a#b", "a b", "a\tb", "a\u00a0b", "a\u2003b", "a\u0000b", "a\u007fb", "a\u0085b", "a\u009fb"]) {
      assertInvalid(() => validateTwinKey(key, "properties.desired"), "properties.desired");
    }
    assertInvalid(() => validateTwinKey("a.b", "tags"), "Twin key 'a.b'");
  });

  test("rejects the empty key", () => {
    assertInvalid(() => validateTwinKey("", "tags"), "Twin key ''");
  });

  test("allows keys up to 1024 UTF-8 bytes", () => {
    validateTwinKey("k".repeat(1024), "tags");
    assertInvalid(() => validateTwinKey("k".repeat(1025), "tags"), "1024 bytes");
    validateTwinKey("€".repeat(341), "tags"); // 1023 bytes
    assertInvalid(() => validateTwinKey("€".repeat(342), "tags")); // 1026 bytes, 342 characters
  });
});

describe("validateTwinPatch()", () => {
  test("accepts nulls as object members: they mean delete", () => {
    validateTwinPatch({ a: null, b: { c: null } }, "properties.desired");
  });

  test("checks keys at every level, inside arrays too, and names the path", () => {
    assertInvalid(() => validateTwinPatch({ a: { b: { "c.d": 1 } } }, "tags"), "tags.a.b");
    assertInvalid(() => validateTwinPatch({ a: [{ $x: 1 }] }, "properties.desired"), "properties.desired.a[0]");
  });

  test("accepts strings up to 4096 UTF-8 bytes and stores date-like strings verbatim", () => {
    validateTwinPatch({ s: "x".repeat(4096), d: "2023-01-31T10:37:08.4599400" }, "tags");
    assertInvalid(() => validateTwinPatch({ s: "x".repeat(4097) }, "tags"), "tags.s");
    assertInvalid(() => validateTwinPatch({ s: "é".repeat(2049) }, "tags")); // 4098 bytes, 2049 characters
  });

  test("accepts integers in [-2^52, 2^52 - 1] and any finite fraction", () => {
    validateTwinPatch({ max: 4503599627370495, min: -4503599627370496, f: 1.5, tiny: 1e-300, neg: -0.25 }, "tags");
    assertInvalid(() => validateTwinPatch({ n: 4503599627370496 }, "tags"), "tags.n");
    assertInvalid(() => validateTwinPatch({ n: -4503599627370497 }, "tags"), "tags.n");
    assertInvalid(() => validateTwinPatch({ n: Number.NaN }, "tags"));
    assertInvalid(() => validateTwinPatch({ n: Number.POSITIVE_INFINITY }, "tags"));
  });

  test("accepts arrays mixing primitives and objects (the .NET e2e value)", () => {
    validateTwinPatch({ a: [1, "someString", false, { Id: 123, Name: "someName" }], nested: [[1, 2], []] }, "properties.reported");
  });

  test("rejects null in arrays and null members of objects inside arrays", () => {
    assertInvalid(() => validateTwinPatch({ a: [1, null] }, "properties.desired"), "properties.desired.a[1]");
    assertInvalid(() => validateTwinPatch({ a: [{ b: { c: null } }] }, "properties.desired"), "properties.desired.a[0].b.c");
  });

  test("allows 10 levels of nesting and rejects 11", () => {
    validateTwinPatch(nested(10), "tags");
    assertInvalid(() => validateTwinPatch(nested(11), "tags"), "10 levels");
  });

  test("counts an array as a level, as edgeHub does", () => {
    // The array is level 1, the object in it level 2, and l1…l8 levels 3…10.
    validateTwinPatch({ arr: [nested(8)] }, "tags");
    assertInvalid(() => validateTwinPatch({ arr: [nested(9)] }, "tags"), "10 levels");
    validateTwinPatch({ arr: [[[[[[[[[[1]]]]]]]]]] }, "tags"); // ten nested arrays
    assertInvalid(() => validateTwinPatch({ arr: [[[[[[[[[[[1]]]]]]]]]]] }, "tags"));
  });

  test("stops at the depth limit instead of walking arbitrarily deep input", () => {
    assertInvalid(() => validateTwinPatch(nested(10_000), "tags"), "10 levels");
  });

  test("rejects values JSON cannot carry", () => {
    for (const value of [undefined, () => 1, new Date(0), 1n, Symbol("s"), new Map()]) {
      assertInvalid(() => validateTwinPatch({ v: value }, "tags"), "tags.v");
    }
  });
});

describe("twinSectionSize()", () => {
  test("adds key and value sizes: strings by UTF-8 length, numbers 8, booleans 4, objects their contents", () => {
    assert.equal(twinSectionSize({}), 0);
    assert.equal(twinSectionSize({ ab: "cde" }), 5);
    assert.equal(twinSectionSize({ n: 1 }), 9);
    assert.equal(twinSectionSize({ b: true }), 5);
    assert.equal(twinSectionSize({ o: { ab: "cde", n: 2.5 } }), 1 + 5 + 9);
    assert.equal(twinSectionSize({ é: "€" }), 2 + 3);
  });

  test("counts array elements by value", () => {
    assert.equal(twinSectionSize({ a: [1, "xy", false, { k: 1 }] }), 1 + 8 + 2 + 4 + 9);
  });

  test("leaves control characters out of string sizes", () => {
    assert.equal(twinSectionSize({ s: "a\nb\u0085" }), 1 + 2);
  });

  test("utf8ByteLength() counts code points by their UTF-8 length", () => {
    assert.equal(utf8ByteLength("a"), 1);
    assert.equal(utf8ByteLength("é"), 2);
    assert.equal(utf8ByteLength("€"), 3);
    assert.equal(utf8ByteLength("😀"), 4);
  });
});

describe("assertTwinSectionSize()", () => {
  test("allows a section at exactly its limit and rejects one byte more, with IoT Hub's message", () => {
    assertTwinSectionSize({ a: "x".repeat(4095), b: "x".repeat(4095) }, "tags"); // 8192
    assertInvalid(
      () => assertTwinSectionSize({ a: "x".repeat(4095), b: "x".repeat(4096) }, "tags"),
      "'Tags' size should be less than 8192 bytes.",
    );
  });

  test("uses 32 KB for desired and reported", () => {
    const atLimit: Record<string, unknown> = {};
    for (let i = 0; i < 8; i++) atLimit[`k${i}`] = "x".repeat(4096 - 2);
    assert.equal(twinSectionSize(atLimit), 32768);
    assertTwinSectionSize(atLimit, "properties.desired");
    assertTwinSectionSize(atLimit, "properties.reported");
    const over = { ...atLimit, z: true };
    assertInvalid(() => assertTwinSectionSize(over, "properties.desired"), "'Properties.Desired' size should be less than 32768 bytes.");
    assertInvalid(() => assertTwinSectionSize(over, "properties.reported"), "'Properties.Reported' size should be less than 32768 bytes.");
  });
});

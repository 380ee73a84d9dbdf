import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { mergeTwinPatch } from "./merge-twin.js";

describe("mergeTwinPatch()", () => {
  test("adds and overwrites keys, merging objects key by key", () => {
    const merged = mergeTwinPatch({ a: 1, o: { x: 1, y: 2 } }, { b: 2, o: { y: 3, z: 4 } });
    assert.deepEqual(merged, { a: 1, o: { x: 1, y: 3, z: 4 }, b: 2 });
  });

  test("null deletes a key, and is a no-op for a key that does not exist", () => {
    assert.deepEqual(mergeTwinPatch({ a: 1, b: 2 }, { a: null, missing: null }), { b: 2 });
  });

  test("{x:{y:null}} for a missing x leaves x as {} and repeating it changes nothing (.NET e2e)", () => {
    const once = mergeTwinPatch({}, { x: { y: null } });
    assert.deepEqual(once, { x: {} });
    assert.deepEqual(mergeTwinPatch(once, { x: { y: null } }), { x: {} });
  });

  test("an object replaces a primitive or an array, and a primitive replaces an object", () => {
    assert.deepEqual(mergeTwinPatch({ a: "s", b: [1] }, { a: { k: 1 }, b: { k: 2 } }), { a: { k: 1 }, b: { k: 2 } });
    assert.deepEqual(mergeTwinPatch({ a: { k: 1 } }, { a: 5 }), { a: 5 });
  });

  test("arrays are replaced whole, never merged element by element", () => {
    assert.deepEqual(mergeTwinPatch({ a: [1, 2, 3] }, { a: [9] }), { a: [9] });
  });

  test("modifies neither argument and shares no nodes with them", () => {
    const target = { o: { x: 1 }, arr: [{ k: 1 }] };
    const patch = { o: { y: 2 }, p: { q: [1] } };
    const targetCopy = structuredClone(target);
    const patchCopy = structuredClone(patch);
    const merged = mergeTwinPatch(target, patch);
    assert.deepEqual(target, targetCopy);
    assert.deepEqual(patch, patchCopy);
    assert.notEqual(merged["arr"], target.arr);
    assert.notEqual(merged["p"], patch.p);
  });

  test("treats '__proto__' and 'constructor' as ordinary keys", () => {
    const patch = JSON.parse('{"__proto__":{"polluted":true},"constructor":{"k":1}}') as Record<string, unknown>;
    const merged = mergeTwinPatch({}, patch);
    assert.equal(Object.getPrototypeOf(merged), Object.prototype);
    assert.equal(({} as Record<string, unknown>)["polluted"], undefined);
    assert.equal(JSON.stringify(merged), '{"__proto__":{"polluted":true},"constructor":{"k":1}}');
    assert.deepEqual(Object.keys(merged), ["__proto__", "constructor"]);
  });
});

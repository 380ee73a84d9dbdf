import { test } from "node:test";
import assert from "node:assert/strict";
import { redactSecrets } from "./redact-secrets.js";

test("secret fields are replaced at any depth, including in arrays", () => {
  const input = { id: "d1", auth: { primaryKey: "p", nested: [{ sig: "s", ok: 1 }] }, password: "pw" };
  assert.deepEqual(redactSecrets(input), {
    id: "d1",
    auth: { primaryKey: "[REDACTED]", nested: [{ sig: "[REDACTED]", ok: 1 }] },
    password: "[REDACTED]",
  });
});

test("the input is never changed and clean branches are shared, not copied", () => {
  const clean = { a: { b: 1 } };
  const input = { clean, dirty: { key: "k" } };
  const output = redactSecrets(input);
  assert.equal(input.dirty.key, "k");
  assert.equal(output.clean, clean);
  assert.equal(redactSecrets(clean), clean);
});

test("cycles are cut and class instances are left alone", () => {
  const cyclic: Record<string, unknown> = { key: "k" };
  cyclic["self"] = cyclic;
  const output = redactSecrets(cyclic);
  assert.equal(output["key"], "[REDACTED]");
  const buffer = Buffer.from("x");
  assert.equal(redactSecrets({ buffer }).buffer, buffer);
});

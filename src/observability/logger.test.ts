import { test } from "node:test";
import assert from "node:assert/strict";
import { createLogger } from "./logger.js";

function capture() {
  const lines: Record<string, unknown>[] = [];
  return { lines, destination: { write: (line: string) => void lines.push(JSON.parse(line)) } };
}

test("secrets are redacted at the top and at depth", () => {
  const { lines, destination } = capture();
  const logger = createLogger({ level: "info", destination });
  logger.info(
    {
      key: "k0",
      sig: "s0",
      device: { primaryKey: "p1", secondaryKey: "s1", id: "dev1" },
      policy: { nested: { deeper: { sharedAccessKey: "sak", keep: "yes" } } },
      headers: { authorization: "SharedAccessSignature sr=..." },
      mqtt: { password: "SharedAccessSignature ..." },
      hub: { connectionStrings: { iothubowner: "HostName=...;SharedAccessKey=..." } },
      connectionString: "HostName=...",
      list: [{ key: "in-array" }],
      a: { b: { c: { d: { e: { f: { g: { key: "eighth-level" } } } } } } },
    },
    "hello",
  );
  const text = JSON.stringify(lines[0]);
  for (const secret of ["k0", "s0", "p1", "s1", "sak", "SharedAccessSignature", "HostName", "in-array", "eighth-level"]) {
    assert.ok(!text.includes(secret), `${secret} leaked: ${text}`);
  }
  assert.ok(text.includes("dev1") && text.includes('"keep":"yes"'));
  assert.equal(lines[0]!["msg"], "hello");
});

test("secrets in child bindings are redacted", () => {
  const { lines, destination } = capture();
  createLogger({ level: "info", destination }).child({ connectionString: "HostName=x" }).info("bound");
  assert.equal(lines[0]!["connectionString"], "[REDACTED]");
});

test("the level is honoured", () => {
  const { lines, destination } = capture();
  const logger = createLogger({ level: "warn", destination });
  logger.info("hidden");
  logger.warn("shown");
  assert.deepEqual(lines.map((l) => l["msg"]), ["shown"]);
});

test("secrets on logged errors are redacted", () => {
  const { lines, destination } = capture();
  const error = Object.assign(new Error("boom"), { connectionString: "HostName=x;SharedAccessKey=y" });
  createLogger({ level: "info", destination }).error({ err: error }, "failed");
  const err = lines[0]!["err"] as Record<string, unknown>;
  assert.equal(err["message"], "boom");
  assert.equal(err["connectionString"], "[REDACTED]");
});

test("secrets in grandchild bindings are redacted", () => {
  const { lines, destination } = capture();
  createLogger({ level: "info", destination }).child({ a: 1 }).child({ device: { primaryKey: "p" } }).info("x");
  assert.deepEqual(lines[0]!["device"], { primaryKey: "[REDACTED]" });
  assert.equal(lines[0]!["a"], 1);
});

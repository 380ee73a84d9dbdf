import { test } from "node:test";
import assert from "node:assert/strict";
import { describeRule, runFaultAdd } from "./fault-command.js";
import { EXIT_USAGE } from "./start-command.js";

function output() {
  const out: string[] = [];
  const err: string[] = [];
  return { out, err, deps: { stdout: { write: (t: string) => void out.push(t) }, stderr: { write: (t: string) => void err.push(t) } } };
}

test("fault add needs --error and --operation, and numbers where numbers go, before calling the hub", async () => {
  const missing = output();
  assert.equal(await runFaultAdd({ operation: "d2c" }, {}, missing.deps), EXIT_USAGE);
  assert.match(missing.err.join(""), /--error/);
  const notNumber = output();
  assert.equal(await runFaultAdd({ error: "403002", operation: "d2c", count: "twice" }, {}, notNumber.deps), EXIT_USAGE);
  assert.match(notNumber.err.join(""), /--count must be a number/);
});

test("a rule prints on one line: id, error, operation, scope and how often it applied", () => {
  assert.equal(
    describeRule({ id: "f1", error: "IotHubQuotaExceeded", code: 403002, operation: "d2c", deviceId: "d1", count: 2, probability: 0.5, seed: 7, applied: 1, state: "active" }),
    "f1  403002 IotHubQuotaExceeded on d2c, device d1, p=0.5 seed=7, applied 1/2, active\n",
  );
  assert.equal(describeRule({ id: "f2", error: "delay", operation: "connect", delaySeconds: 3, applied: 0, state: "pending" }), "f2  delay on connect, delay 3s, applied 0, pending\n");
});

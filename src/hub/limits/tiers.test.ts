import { test } from "node:test";
import assert from "node:assert/strict";
import { LIMIT_NAMES, TIER_NAMES, parseLimitAssignment, resolveLimits, tierLimits, type ResolvedLimits } from "./tiers.js";

function resolved(input: Parameters<typeof resolveLimits>[0]): ResolvedLimits {
  const result = resolveLimits(input);
  if (!result.ok) assert.fail(result.problems.join("\n"));
  return result.limits;
}

test("no tier: nothing is enforced, every feature is there", () => {
  const limits = resolved({});
  assert.equal(limits.tier, undefined);
  assert.deepEqual(limits.features, { cloudToDevice: true, twins: true, methods: true });
  for (const name of LIMIT_NAMES) {
    if (name === "meterBytes" || name === "throttleBurstSeconds" || name === "throttleMaxWaitSeconds") continue;
    assert.equal(limits.values[name], Infinity, name);
  }
});

test("no tier: an override still applies", () => {
  const limits = resolved({ overrides: { dailyMessages: 30 } });
  assert.equal(limits.values.dailyMessages, 30);
  assert.equal(limits.values.d2cSendsPerSecond, Infinity);
});

test("S1 with one unit: IoT Hub's published numbers", () => {
  const v = resolved({ tier: "S1" }).values;
  assert.equal(v.dailyMessages, 400_000);
  assert.equal(v.meterBytes, 4096);
  assert.equal(v.d2cSendsPerSecond, 100); // max(100/s, 12/s/unit)
  assert.equal(v.connectionsPerSecond, 100);
  assert.equal(v.registryOpsPerSecond, 100 / 60);
  assert.equal(v.c2dSendsPerSecond, 100 / 60);
  assert.equal(v.c2dReceivesPerSecond, 1000 / 60);
  assert.equal(v.queriesPerSecond, 20 / 60);
  assert.equal(v.methodKilobytesPerSecond, 160);
  assert.equal(v.twinReadsPerSecond, 100);
  assert.equal(v.twinUpdatesPerSecond, 50);
  assert.equal(v.devices, 1_000_000);
});

test("units scale the per-unit limits; the max(…) forms take over past their floor", () => {
  const v = tierLimits("S1", 10);
  assert.equal(v.dailyMessages, 4_000_000);
  assert.equal(v.d2cSendsPerSecond, 120); // 12/s × 10 > 100/s
  assert.equal(v.twinReadsPerSecond, 100); // flat on S1
  const s2 = tierLimits("S2", 20);
  assert.equal(s2.twinReadsPerSecond, 200); // max(100/s, 10/s/unit)
  assert.equal(s2.twinUpdatesPerSecond, 100); // max(50/s, 5/s/unit)
  assert.equal(s2.d2cSendsPerSecond, 2400);
  const s3 = tierLimits("S3", 2);
  assert.equal(s3.dailyMessages, 600_000_000);
  assert.equal(s3.d2cSendsPerSecond, 12_000);
  assert.equal(s3.twinReadsPerSecond, 1000);
});

test("F1: 8,000 messages in 0.5 KB blocks, 500 devices, S1's rates", () => {
  const limits = resolved({ tier: "F1" });
  assert.equal(limits.values.dailyMessages, 8000);
  assert.equal(limits.values.meterBytes, 512);
  assert.equal(limits.values.devices, 500);
  assert.equal(limits.values.d2cSendsPerSecond, 100);
  assert.deepEqual(limits.features, { cloudToDevice: true, twins: true, methods: true });
});

test("basic tiers lack C2D, twins and methods; their quotas match the standard tier of the same size", () => {
  for (const [basic, standard] of [["B1", "S1"], ["B2", "S2"], ["B3", "S3"]] as const) {
    const b = resolved({ tier: basic });
    assert.deepEqual(b.features, { cloudToDevice: false, twins: false, methods: false });
    assert.deepEqual(b.values, resolved({ tier: standard }).values);
  }
});

test("overrides replace single limits; unlimited lifts one", () => {
  const v = resolved({ tier: "F1", overrides: { devices: 3, d2cSendsPerSecond: 0.5, twinReadsPerSecond: Infinity } }).values;
  assert.equal(v.devices, 3);
  assert.equal(v.d2cSendsPerSecond, 0.5);
  assert.equal(v.twinReadsPerSecond, Infinity);
  assert.equal(v.dailyMessages, 8000);
});

test("problems name the valid choices", () => {
  const result = resolveLimits({ tier: "S4", units: 0, overrides: { dailyMesages: 3, devices: 2.5, meterBytes: Infinity, throttleMaxWaitSeconds: -1 } });
  assert.equal(result.ok, false);
  if (result.ok) return;
  assert.match(result.problems[0]!, /tier "S4" is not an IoT Hub tier \(one of F1, B1, B2, B3, S1, S2, S3\)/);
  assert.match(result.problems[1]!, /units 0 must be a whole number of at least 1/);
  assert.match(result.problems[2]!, /limit "dailyMesages" is not a limit name \(one of dailyMessages, meterBytes, devices, /);
  assert.match(result.problems[3]!, /devices=2.5 must be a whole number/);
  assert.match(result.problems[4]!, /meterBytes=Infinity must be finite/);
  assert.match(result.problems[5]!, /throttleMaxWaitSeconds=-1 must be 0 or more/);
});

test("units are capped per tier and need a tier", () => {
  assert.deepEqual(resolveLimits({ tier: "F1", units: 2 }), { ok: false, problems: ["units 2 is more than a F1 hub can have (at most 1)"] });
  assert.equal(resolveLimits({ tier: "S3", units: 11 }).ok, false);
  assert.equal(resolveLimits({ tier: "S3", units: 10 }).ok, true);
  assert.equal(resolveLimits({ tier: "S1", units: 200 }).ok, true);
  assert.equal(resolveLimits({ units: 2 }).ok, false);
  assert.equal(TIER_NAMES.length, 7);
});

test("name=value assignments", () => {
  assert.deepEqual(parseLimitAssignment("dailyMessages=30"), { ok: true, name: "dailyMessages", value: 30 });
  assert.deepEqual(parseLimitAssignment(" queriesPerSecond = 0.5 "), { ok: true, name: "queriesPerSecond", value: 0.5 });
  assert.deepEqual(parseLimitAssignment("devices=unlimited"), { ok: true, name: "devices", value: Infinity });
  assert.equal(parseLimitAssignment("devices").ok, false);
  assert.equal(parseLimitAssignment("devices=-1").ok, false);
  assert.equal(parseLimitAssignment("devices=1e3").ok, false);
});

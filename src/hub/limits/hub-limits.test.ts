import { afterEach, test } from "node:test";
import assert from "node:assert/strict";
import type { CallContext } from "../call-context.js";
import { HubClock } from "../clock.js";
import { HubError } from "../errors/index.js";
import { HubEvents, type HubEvent } from "../events/hub-event.js";
import { HubTimers } from "../timers/hub-timers.js";
import { HubLimits } from "./hub-limits.js";
import { resolveLimits, type LimitsInput } from "./tiers.js";

const T0 = Date.UTC(2024, 0, 1, 23);

const cleanups: Array<() => void> = [];
afterEach(() => {
  for (const cleanup of cleanups.splice(0)) cleanup();
});

function ctx(protocol: CallContext["protocol"] = "mqtt", trackingId = "trk"): CallContext {
  return { caller: { kind: "device", deviceId: "d1", moduleId: "" }, protocol, trackingId };
}

function setup(input: LimitsInput) {
  const clock = new HubClock({ now: () => T0 });
  const timers = new HubTimers(clock, (error) => assert.fail(String(error)));
  cleanups.push(() => timers.clear());
  const resolved = resolveLimits(input);
  if (!resolved.ok) assert.fail(resolved.problems.join("; "));
  const events = new HubEvents((error) => assert.fail(String(error)));
  const emitted: HubEvent[] = [];
  events.on((event) => emitted.push(event));
  const limits = new HubLimits({ clock, timers, limits: resolved.limits, hubName: "test-hub", events });
  const advance = async (seconds: number) => {
    clock.advance(seconds);
    timers.poke();
    await new Promise((resolve) => setImmediate(resolve));
  };
  return { limits, advance, emitted, now: () => clock.now() };
}

function refusal(run: () => unknown): HubError {
  try {
    run();
  } catch (error) {
    assert.ok(error instanceof HubError, String(error));
    return error;
  }
  assert.fail("expected a refusal");
}

test("no tier: every operation is admitted at once, and the day's messages are still counted", () => {
  const { limits } = setup({});
  for (let i = 0; i < 1000; i++) assert.equal(limits.admit(ctx(), "d2cSend", 5000), undefined);
  for (const op of ["c2dSend", "c2dReceive", "methodInvoke", "twinRead", "twinUpdate", "query", "registryOp", "deviceConnect"] as const) {
    assert.equal(limits.admit(ctx("https"), op), undefined);
  }
  assert.equal(limits.dailyMessages.used(), 2000 + 2); // 2 blocks per D2C message, methodInvoke and twinUpdate 1 each
});

test("basic tiers refuse C2D, twins, methods and queries with 403010; telemetry, uploads and the registry work", () => {
  const { limits } = setup({ tier: "B1" });
  for (const op of ["c2dSend", "c2dReceive", "c2dPurge", "methodInvoke", "twinRead", "twinUpdate", "query"] as const) {
    const error = refusal(() => limits.admit(ctx("https", `t-${op}`), op));
    assert.equal(error.errorName, "OperationNotAvailableInCurrentTier");
    assert.equal(error.code, 403010);
    assert.equal(error.spec.httpStatus, 403);
    assert.equal(error.trackingId, `t-${op}`);
    assert.match(error.message, /not available in the B1 tier of IoT Hub/);
  }
  for (const op of ["d2cSend", "fileUploadStart", "fileUploadComplete", "registryOp", "deviceConnect"] as const) assert.equal(limits.admit(ctx(), op), undefined);
});

test("the daily quota: D2C counts on entry, and a used-up quota refuses every metered operation with 403002", async () => {
  const { limits, advance } = setup({ overrides: { dailyMessages: 3 } });
  for (let i = 0; i < 3; i++) limits.admit(ctx(), "d2cSend", 10);
  for (const op of ["d2cSend", "fileUploadStart", "fileUploadComplete", "methodInvoke", "twinRead", "twinUpdate", "query", "c2dReceive"] as const) {
    assert.equal(refusal(() => limits.admit(ctx(), op)).code, 403002, op);
  }
  // Free operations go on: registry, connections, C2D sends (counted on delivery).
  for (const op of ["registryOp", "deviceConnect", "c2dSend"] as const) assert.equal(limits.admit(ctx(), op), undefined);
  // 23:00 UTC + 1 h: a new day.
  await advance(3600);
  assert.equal(limits.admit(ctx(), "d2cSend", 10), undefined);
});

test("F1 meters in 512-byte blocks", () => {
  const { limits } = setup({ tier: "F1" });
  limits.admit(ctx(), "d2cSend", 4096);
  assert.equal(limits.dailyMessages.used(), 8);
  limits.meterJson({ reported: "x".repeat(1000) }); // 1015 bytes of JSON: 2 blocks
  assert.equal(limits.dailyMessages.used(), 10);
});

test("shaping: the burst goes, the next calls wait for hub time, a persistent backlog is 429001; quota is charged on release", async () => {
  const { limits, advance } = setup({ overrides: { d2cSendsPerSecond: 1, throttleBurstSeconds: 2, throttleMaxWaitSeconds: 3, dailyMessages: 100 } });
  const released: number[] = [];
  for (let i = 0; i < 5; i++) {
    const wait = limits.admit(ctx(), "d2cSend", 1);
    if (wait === undefined) released.push(i);
    else void wait.then(() => released.push(i));
  }
  const error = refusal(() => limits.admit(ctx("mqtt", "late"), "d2cSend", 1));
  assert.equal(error.errorName, "ThrottlingException");
  assert.equal(error.trackingId, "late");
  await advance(0);
  assert.deepEqual(released, [0, 1]);
  assert.equal(limits.dailyMessages.used(), 2);
  await advance(3);
  assert.deepEqual(released, [0, 1, 2, 3, 4]);
  assert.equal(limits.dailyMessages.used(), 5);
});

test("C2D receives are throttled on HTTPS only: MQTT and AMQP deliveries are pushed", () => {
  const { limits } = setup({ overrides: { c2dReceivesPerSecond: 1, throttleBurstSeconds: 1, throttleMaxWaitSeconds: 0 } });
  assert.equal(limits.admit(ctx("https"), "c2dReceive"), undefined);
  assert.equal(refusal(() => limits.admit(ctx("https"), "c2dReceive")).code, 429001);
  for (let i = 0; i < 10; i++) assert.equal(limits.admit(ctx("mqtt"), "c2dReceive"), undefined);
});

test("direct methods are throttled in 4 KB blocks of payload: S1 allows 40 small calls a second per unit", () => {
  const { limits } = setup({ tier: "S1", overrides: { throttleBurstSeconds: 1, throttleMaxWaitSeconds: 0 } });
  for (let i = 0; i < 40; i++) assert.equal(limits.admit(ctx("https"), "methodInvoke", 100), undefined);
  assert.equal(refusal(() => limits.admit(ctx("https"), "methodInvoke", 100)).code, 429001);
});

test("the device count: 413002 past the limit; the count is read only when a limit applies", async () => {
  const { limits } = setup({ tier: "F1", overrides: { devices: 3 } });
  await limits.checkDeviceCount(ctx(), 1, async () => 2);
  await assert.rejects(limits.checkDeviceCount(ctx(), 2, async () => 2), (error: unknown) => error instanceof HubError && error.code === 413002 && /at most 3 devices/.test(error.message));
  const open = setup({});
  await open.limits.checkDeviceCount(ctx(), 1, async () => assert.fail("no limit: the registry is not counted"));
});

test("a call a throttle refuses with 429001 is reported as operationThrottled; admitted and shaped calls are not", async () => {
  const { limits, advance, emitted, now } = setup({ overrides: { queriesPerSecond: 1, twinReadsPerSecond: 1, throttleBurstSeconds: 1, throttleMaxWaitSeconds: 1 } });
  // The burst goes at once; the next call waits a second for hub time (shaped) and then goes.
  assert.equal(limits.admit(ctx("https"), "query"), undefined);
  const shaped = limits.admit(ctx("https"), "query");
  assert.ok(shaped instanceof Promise);
  assert.deepEqual(emitted, []);
  // A third would wait 2 s, past the backlog's 1 s: refused.
  assert.equal(refusal(() => limits.admit(ctx("https", "q3"), "query")).code, 429001);
  assert.deepEqual(emitted, [{ type: "operationThrottled", time: now(), operation: "query", protocol: "https", deviceId: "d1", moduleId: "" }]);
  await advance(1);
  await shaped;
  // Another operation's throttle, a back-end caller: no device in the event.
  const service: CallContext = { caller: { kind: "policy", policyName: "service", rights: ["ServiceConnect"] }, protocol: "https", trackingId: "t" };
  limits.admit(service, "twinRead");
  void limits.admit(service, "twinRead");
  assert.throws(() => limits.admit(service, "twinRead"), (error: unknown) => error instanceof HubError && error.code === 429001);
  assert.deepEqual(emitted.slice(1), [{ type: "operationThrottled", time: now(), operation: "twinRead", protocol: "https" }]);
  assert.equal(emitted.length, 2);
  await advance(2);
});

test("refusals that are not throttling (403010 tier, 403002 quota) and unthrottled operations emit nothing", () => {
  const basic = setup({ tier: "B1" });
  refusal(() => basic.limits.admit(ctx("https"), "twinRead"));
  const quota = setup({ overrides: { dailyMessages: 1 } });
  quota.limits.admit(ctx(), "d2cSend", 10);
  assert.equal(refusal(() => quota.limits.admit(ctx(), "d2cSend", 10)).code, 403002);
  // MQTT C2D receives are pushed: never throttled, however many.
  const c2d = setup({ overrides: { c2dReceivesPerSecond: 1, throttleBurstSeconds: 1, throttleMaxWaitSeconds: 0 } });
  for (let i = 0; i < 10; i++) c2d.limits.admit(ctx("mqtt"), "c2dReceive");
  assert.deepEqual([...basic.emitted, ...quota.emitted, ...c2d.emitted], []);
  // Over HTTPS the first goes and the next are refused, by the c2dReceive throttle.
  assert.equal(c2d.limits.admit(ctx("https"), "c2dReceive"), undefined);
  refusal(() => c2d.limits.admit(ctx("https"), "c2dReceive"));
  refusal(() => c2d.limits.admit(ctx("https"), "c2dReceive"));
  assert.deepEqual(c2d.emitted.map((event) => event.type === "operationThrottled" && event.operation), ["c2dReceive", "c2dReceive"]);
});

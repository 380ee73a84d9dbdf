import { afterEach, test } from "node:test";
import assert from "node:assert/strict";
import { HubClock } from "../clock.js";
import { HubError } from "../errors/index.js";
import { HubTimers } from "../timers/hub-timers.js";
import { Throttle, type ThrottleSettings } from "./throttle.js";

const T0 = Date.UTC(2024, 0, 1);

const cleanups: Array<() => void> = [];
afterEach(() => {
  for (const cleanup of cleanups.splice(0)) cleanup();
});

function setup(settings: Partial<ThrottleSettings> = {}) {
  const clock = new HubClock({ now: () => T0 });
  const timers = new HubTimers(clock, (error) => assert.fail(String(error)));
  cleanups.push(() => timers.clear());
  const throttle = new Throttle(clock, timers, { operation: "Device-to-cloud sends", ratePerSecond: 1, burstSeconds: 3, maxWaitMs: 5000, ...settings });
  /** Moves hub time forward and lets the released calls run. */
  const advance = async (seconds: number) => {
    clock.advance(seconds);
    timers.poke();
    await new Promise((resolve) => setImmediate(resolve));
  };
  return { clock, timers, throttle, advance };
}

/** Takes one token and records when the call goes ahead. */
function call(throttle: Throttle, log: string[], name: string): void {
  const wait = throttle.take(1, name);
  if (wait === undefined) log.push(name);
  else void wait.then(() => log.push(name));
}

test("an unlimited throttle never waits", () => {
  const { throttle } = setup({ ratePerSecond: Infinity });
  for (let i = 0; i < 10_000; i++) assert.equal(throttle.take(1, "t"), undefined);
});

test("a burst up to the bucket goes at once; the excess is queued and served at the rate, in order", async () => {
  const { throttle, advance } = setup();
  const log: string[] = [];
  for (const name of ["a", "b", "c", "d", "e"]) call(throttle, log, name);
  await advance(0);
  assert.deepEqual(log, ["a", "b", "c"]); // the bucket holds 3 s of 1/s
  await advance(1);
  assert.deepEqual(log, ["a", "b", "c", "d"]);
  await advance(1);
  assert.deepEqual(log, ["a", "b", "c", "d", "e"]);
});

test("when the backlog persists past the longest wait, 429001 ThrottlingException; nothing is taken for it", async () => {
  const { throttle, advance } = setup({ maxWaitMs: 2000 });
  const log: string[] = [];
  for (const name of ["a", "b", "c", "d", "e"]) call(throttle, log, name); // 3 at once, d waits 1 s, e 2 s
  let refused: unknown;
  try {
    throttle.take(1, "f"); // would wait 3 s
  } catch (error) {
    refused = error;
  }
  assert.ok(refused instanceof HubError);
  assert.equal(refused.errorName, "ThrottlingException");
  assert.equal(refused.code, 429001);
  assert.equal(refused.trackingId, "f");
  assert.match(refused.message, /Device-to-cloud sends are throttled at 1\/s/);
  // The refused call took nothing: after one second, one more fits in the backlog again.
  await advance(1);
  assert.deepEqual(log, ["a", "b", "c", "d"]);
  call(throttle, log, "g");
  await advance(2);
  assert.deepEqual(log, ["a", "b", "c", "d", "e", "g"]);
});

test("the bucket refills with hub time, up to its size", async () => {
  const { throttle, advance } = setup();
  for (let i = 0; i < 3; i++) assert.equal(throttle.take(1, "t"), undefined);
  assert.equal(throttle.available(), 0);
  await advance(3600);
  assert.equal(throttle.available(), 3);
});

test("a costly call (direct methods metered in KB) takes its cost; a zero wait bound refuses any wait", () => {
  const { throttle } = setup({ ratePerSecond: 160, burstSeconds: 0.05, maxWaitMs: 0 }); // 8 KB bucket
  assert.equal(throttle.take(4, "m1"), undefined);
  assert.equal(throttle.take(4, "m2"), undefined);
  assert.throws(() => throttle.take(4, "m3"), (error: unknown) => error instanceof HubError && error.code === 429001);
});

test("the bucket holds at least one call, however small the rate", () => {
  const { throttle } = setup({ ratePerSecond: 0.01, burstSeconds: 1, maxWaitMs: 0 });
  assert.equal(throttle.take(1, "first"), undefined);
  assert.throws(() => throttle.take(1, "second"), HubError);
});

import { test } from "node:test";
import assert from "node:assert/strict";
import { HubClock } from "../clock.js";
import { HubError } from "../errors/index.js";
import { DailyQuota } from "./daily-quota.js";

const MIDNIGHT = Date.UTC(2024, 0, 2);
const HOUR = 3600;

function quota(messagesPerDay: number, meterBytes = 4096) {
  const clock = new HubClock({ now: () => MIDNIGHT + 22 * HOUR * 1000 });
  return { clock, quota: new DailyQuota(clock, { messagesPerDay, meterBytes, hubName: "test-hub" }) };
}

function refusal(run: () => void): HubError {
  try {
    run();
  } catch (error) {
    assert.ok(error instanceof HubError);
    return error;
  }
  assert.fail("expected a refusal");
}

test("a message uses ceil(size / block) blocks, at least one", () => {
  const { quota: q } = quota(100);
  assert.equal(q.blocks(0), 1);
  assert.equal(q.blocks(4096), 1);
  assert.equal(q.blocks(4097), 2);
  const { quota: free } = quota(100, 512);
  assert.equal(free.blocks(512), 1);
  assert.equal(free.blocks(513), 2);
  assert.equal(free.blocks(4096), 8);
});

test("once the day's blocks are used up, every metered operation is 403002 until 00:00 UTC", () => {
  const { clock, quota: q } = quota(3);
  q.charge(10, "t1");
  q.charge(10, "t2");
  q.charge(10, "t3");
  const error = refusal(() => q.charge(10, "t4"));
  assert.equal(error.errorName, "IotHubQuotaExceeded");
  assert.equal(error.code, 403002);
  assert.equal(error.trackingId, "t4");
  assert.match(error.message, /Max allowed message count: 3, current message count: 3/);
  assert.match(error.message, /2024-01-03T00:00:00.000Z/);
  assert.throws(() => q.check("t5"), HubError);
  assert.equal(q.counter.used(), 3);
  // Two hours later it is 00:00 UTC: a new day, a fresh quota.
  clock.advance(2 * HOUR);
  q.charge(10, "t6");
  assert.equal(q.counter.used(), 1);
});

test("the message that reaches the quota still goes through; what a reply uses is counted after the fact", () => {
  const { quota: q } = quota(4);
  q.charge(3 * 4096, "big"); // 3 blocks: 3 of 4 used
  q.charge(8 * 4096, "bigger"); // not used up yet: admitted, now 11 of 4
  assert.equal(q.counter.used(), 11);
  assert.throws(() => q.check("next"), HubError);
  q.meter(100); // meter never refuses
  assert.equal(q.counter.used(), 12);
});

test("an unlimited quota still counts, for the dailyMessageQuotaUsed metric", () => {
  const { quota: q } = quota(Infinity);
  for (let i = 0; i < 10; i++) q.charge(5000, undefined);
  assert.equal(q.counter.used(), 20);
});

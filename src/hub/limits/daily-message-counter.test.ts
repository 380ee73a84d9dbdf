import { test } from "node:test";
import assert from "node:assert/strict";
import { DailyMessageCounter, quotaBlocks } from "./daily-message-counter.js";

const MIDNIGHT = Date.UTC(2026, 2, 4);
const HOUR = 3600_000;

function clockAt(start: number): { now(): number; set(t: number): void } {
  let now = start;
  return { now: () => now, set: (t) => void (now = t) };
}

test("a message uses one quota block per started 4 KB, and at least one", () => {
  assert.equal(quotaBlocks(0), 1);
  assert.equal(quotaBlocks(1), 1);
  assert.equal(quotaBlocks(4096), 1);
  assert.equal(quotaBlocks(4097), 2);
  assert.equal(quotaBlocks(256 * 1024), 64);
});

test("counts blocks through the day and starts again from 0 at 00:00 UTC", () => {
  const clock = clockAt(MIDNIGHT + 10 * HOUR);
  const counter = new DailyMessageCounter(clock);
  assert.equal(counter.countMessage(10), 1);
  assert.equal(counter.countMessage(6000), 2);
  assert.equal(counter.used(), 3);
  assert.equal(counter.resetsAt(), MIDNIGHT + 24 * HOUR);
  clock.set(MIDNIGHT + 24 * HOUR - 1);
  assert.equal(counter.used(), 3);
  // The hub clock moved past midnight: the new day reads 0 before anything is counted.
  clock.set(MIDNIGHT + 24 * HOUR);
  assert.equal(counter.used(), 0);
  counter.countMessage(1);
  assert.equal(counter.used(), 1);
});

test("a count stamped with a day that has ended is not charged to today", () => {
  const clock = clockAt(MIDNIGHT + 24 * HOUR + 5);
  const counter = new DailyMessageCounter(clock);
  counter.add(4);
  counter.add(7, MIDNIGHT + 23 * HOUR);
  assert.equal(counter.used(), 4);
});

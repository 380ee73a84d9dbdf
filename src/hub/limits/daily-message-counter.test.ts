import { test } from "node:test";
import assert from "node:assert/strict";
import { DAILY_MESSAGE_QUOTA_SETTING, DailyMessageCounter, quotaBlocks } from "./daily-message-counter.js";
import { MemoryStore } from "../../storage/memory/memory-store.js";

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

// Decision 0013: the hub's counter is kept in the store. A "restart" is a new counter loaded from the same store.

function load(clock: { now(): number }, store: MemoryStore, errors: unknown[] = []): Promise<DailyMessageCounter> {
  return DailyMessageCounter.load(clock, { store, reportError: (error) => errors.push(error) });
}

test("the day's count survives a restart within the day; counting writes nothing until the flush", async () => {
  const clock = clockAt(MIDNIGHT + 10 * HOUR);
  const store = new MemoryStore();
  const errors: unknown[] = [];
  const first = await load(clock, store, errors);
  first.countMessage(10);
  first.countMessage(6000);
  assert.equal(await store.getSetting(DAILY_MESSAGE_QUOTA_SETTING), undefined, "a count is an in-memory add: the write is debounced");
  await first.flush();
  assert.deepEqual(await store.getSetting(DAILY_MESSAGE_QUOTA_SETTING), { day: "2026-03-04", used: 3 });
  first.countMessage(1);
  // The hub stops: close writes what the flush has not.
  await first.close();

  clock.set(MIDNIGHT + 23 * HOUR);
  const second = await load(clock, store, errors);
  assert.equal(second.used(), 4);
  second.add(2);
  assert.equal(second.used(), 6);
  await second.close();
  assert.deepEqual(await store.getSetting(DAILY_MESSAGE_QUOTA_SETTING), { day: "2026-03-04", used: 6 });
  assert.deepEqual(errors, []);
});

test("a stored count from a day that is over counts as 0 after a restart", async () => {
  const clock = clockAt(MIDNIGHT + 23 * HOUR);
  const store = new MemoryStore();
  const first = await load(clock, store);
  first.add(50);
  await first.close();

  // The hub was down over midnight (or its clock was advanced past it before the restart).
  clock.set(MIDNIGHT + 24 * HOUR + 5);
  const second = await load(clock, store);
  assert.equal(second.used(), 0);
  assert.equal(second.used(MIDNIGHT + 23 * HOUR), 0, "yesterday's count is not kept either");
  second.add(1);
  await second.flush();
  assert.deepEqual(await store.getSetting(DAILY_MESSAGE_QUOTA_SETTING), { day: "2026-03-05", used: 1 });
});

test("a stored day later than the hub's today or a malformed setting is ignored rather than blocking the day", async () => {
  const clock = clockAt(MIDNIGHT + 10 * HOUR);
  const store = new MemoryStore();
  await store.putSetting(DAILY_MESSAGE_QUOTA_SETTING, { day: "2026-03-05", used: 9 });
  const counter = await load(clock, store);
  assert.equal(counter.used(), 0);
  counter.add(1);
  assert.equal(counter.used(), 1, "counts of today are not dropped as if today were over");
  await store.putSetting(DAILY_MESSAGE_QUOTA_SETTING, { day: "yesterday", used: "lots" });
  assert.equal((await load(clock, store)).used(), 0);
});

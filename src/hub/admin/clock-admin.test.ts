import { afterEach, test } from "node:test";
import assert from "node:assert/strict";
import { HUB_CLOCK_SETTING, HubClock } from "../clock.js";
import { HubTimers } from "../timers/hub-timers.js";
import { HubError } from "../errors/index.js";
import { RIGHTS } from "../auth/rights.js";
import type { CallContext } from "../call-context.js";
import { MemoryStore } from "../../storage/memory/memory-store.js";
import { ClockAdmin } from "./clock-admin.js";

// Decision 0013: the hub clock's offset survives a restart. A "restart" is a new clock loaded from the same store.

const WALL = Date.UTC(2026, 2, 4, 12);
const OWNER: CallContext = { caller: { kind: "policy", policyName: "iothubowner", rights: [...RIGHTS] }, protocol: "https", trackingId: "t" };

const cleanups: Array<() => void> = [];
afterEach(() => {
  for (const cleanup of cleanups.splice(0)) cleanup();
});

async function start(store: MemoryStore, wallNow = WALL) {
  const errors: unknown[] = [];
  const clock = await HubClock.load({ now: () => wallNow }, store);
  const timers = new HubTimers(clock, (error) => assert.fail(String(error)));
  cleanups.push(() => timers.clear());
  const admin = new ClockAdmin(clock, timers, { store, reportError: (error) => errors.push(error) });
  return { clock, timers, admin, errors };
}

test("POST /admin/clock answers once the offset is stored, and the offset survives a restart", async () => {
  const store = new MemoryStore();
  const first = await start(store);
  assert.equal(first.clock.offsetSeconds, 0, "first start: no stored offset");
  const status = await first.admin.advance(OWNER, { advanceSeconds: 3600 });
  assert.deepEqual(status, { now: new Date(WALL + 3_600_000).toISOString(), offsetSeconds: 3600 });
  // No close, no flush: the answer came after the write.
  assert.deepEqual(await store.getSetting(HUB_CLOCK_SETTING), { offsetMs: 3_600_000 });

  // The hub restarts ten minutes of wall time later: hub time is still an hour ahead, it did not go back.
  const second = await start(store, WALL + 600_000);
  assert.equal(second.clock.offsetSeconds, 3600);
  assert.equal(second.clock.now(), WALL + 600_000 + 3_600_000);
  assert.deepEqual(second.admin.status(OWNER).offsetSeconds, 3600);
  assert.deepEqual([first.errors, second.errors], [[], []]);
});

test("advanceBy stays synchronous and stores in the background, in order: an older offset never overwrites a newer one", async () => {
  const store = new MemoryStore();
  const first = await start(store);
  // The first write is slow; the later ones would be quick if they did not wait for it.
  const putSetting = store.putSetting.bind(store);
  let release!: () => void;
  const slow = new Promise<void>((resolve) => (release = resolve));
  let calls = 0;
  store.putSetting = async (name, value) => {
    if (calls++ === 0) await slow;
    await putSetting(name, value);
  };
  assert.equal(first.admin.advanceBy(10).offsetSeconds, 10, "advanced at once");
  assert.equal(first.clock.offsetSeconds, 10);
  first.admin.advanceBy(20);
  first.admin.advanceBy(30);
  release();
  // The hub stops: close waits for the writes still running.
  await first.admin.close();
  assert.deepEqual(await store.getSetting(HUB_CLOCK_SETTING), { offsetMs: 60_000 });
  assert.equal((await start(store)).clock.offsetSeconds, 60);
  assert.deepEqual(first.errors, []);
});

test("a background write that fails goes to reportError and is tried again; a refused advance stores nothing", async () => {
  const store = new MemoryStore();
  const first = await start(store);
  await assert.rejects(first.admin.advance(OWNER, { advanceSeconds: -1 }), (e: unknown) => e instanceof HubError && e.errorName === "ArgumentInvalid");
  assert.equal(await store.getSetting(HUB_CLOCK_SETTING), undefined);
  const putSetting = store.putSetting.bind(store);
  store.putSetting = () => Promise.reject(new Error("disk full"));
  first.admin.advanceBy(5);
  await assert.rejects(first.admin.advance(OWNER, { advanceSeconds: 5 }), /disk full/, "not acknowledged when not stored");
  assert.equal(first.errors.length, 1);
  assert.match(String(first.errors[0]), /disk full/);
  store.putSetting = putSetting;
  await first.admin.close();
  assert.deepEqual(await store.getSetting(HUB_CLOCK_SETTING), { offsetMs: 10_000 });
});

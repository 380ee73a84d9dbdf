import { test } from "node:test";
import assert from "node:assert/strict";
import { HubClock } from "../clock.js";
import { HubTimers } from "./hub-timers.js";

function setup() {
  const wall = 1_000_000;
  const clock = new HubClock({ now: () => wall });
  const errors: unknown[] = [];
  const timers = new HubTimers(clock, (error) => errors.push(error));
  return { clock, timers, errors };
}

test("advancing the hub clock fires due timers in order, and only those", () => {
  const { clock, timers } = setup();
  const fired: string[] = [];
  timers.after(30_000, () => fired.push("b"));
  timers.after(10_000, () => fired.push("a"));
  timers.after(90_000, () => fired.push("c"));
  clock.advance(40);
  timers.poke();
  assert.deepEqual(fired, ["a", "b"]);
  clock.advance(60);
  timers.poke();
  assert.deepEqual(fired, ["a", "b", "c"]);
  timers.clear();
});

test("cancelled timers never fire", () => {
  const { clock, timers } = setup();
  const fired: string[] = [];
  const handle = timers.after(1000, () => fired.push("x"));
  timers.after(2000, () => fired.push("y"));
  handle.cancel();
  clock.advance(5);
  timers.poke();
  assert.deepEqual(fired, ["y"]);
  timers.clear();
});

test("a throwing callback does not stop the others, and is reported", () => {
  const { clock, timers, errors } = setup();
  const fired: string[] = [];
  timers.after(1000, () => {
    throw new Error("boom");
  });
  timers.after(1000, () => fired.push("after"));
  clock.advance(1);
  timers.poke();
  assert.deepEqual(fired, ["after"]);
  assert.equal((errors[0] as Error).message, "boom");
  timers.clear();
});

test("timers also fire in real time", async () => {
  const { timers } = setup();
  // The wall clock here is frozen, so a 0 ms timer is due immediately and fires from the real timer.
  const fired = new Promise<void>((resolve) => timers.after(0, resolve));
  await fired;
  timers.clear();
});

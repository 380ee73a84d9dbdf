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

test("many cancelled timers (method timeouts answered early) leave the others firing in order", () => {
  const { clock, timers } = setup();
  const fired: number[] = [];
  const handles = [];
  // 5,000 timers; all but every 7th cancelled, which compacts the heap several times along the way.
  for (let i = 0; i < 5000; i++) {
    const at = (i * 7919) % 5000; // scattered due times, in seconds
    handles.push({ i, at, handle: timers.after(at * 1000 + 1000, () => fired.push(i)) });
    if (i % 3 === 2) for (const h of handles.splice(0, 3)) if (h.i % 7 !== 0) h.handle.cancel();
  }
  for (const h of handles) if (h.i % 7 !== 0) h.handle.cancel();
  // Cancelling twice changes nothing.
  for (const h of handles) if (h.i % 7 !== 0) h.handle.cancel();
  clock.advance(3000);
  timers.poke();
  const expected = Array.from({ length: 5000 }, (_, i) => i).filter((i) => i % 7 === 0).map((i) => ({ i, at: (i * 7919) % 5000 }));
  const dueBy = (s: number) => expected.filter((e) => e.at * 1000 + 1000 <= s * 1000).sort((a, b) => a.at - b.at || a.i - b.i).map((e) => e.i);
  assert.deepEqual(fired, dueBy(3000));
  // Cancelling a timer that already fired changes nothing either.
  const first = timers.after(0, () => fired.push(-1));
  timers.poke();
  first.cancel();
  fired.pop();
  clock.advance(3000);
  timers.poke();
  assert.deepEqual(fired, dueBy(6000));
  timers.clear();
});

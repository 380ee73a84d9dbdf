import { afterEach, mock, test } from "node:test";
import assert from "node:assert/strict";
import { PersistedSetting, type SettingStore } from "./persisted-setting.js";

/** A store that records every write and can hold the next write until released, or fail it. */
function recordingStore() {
  const values = new Map<string, unknown>();
  const writes: unknown[] = [];
  let hold: Promise<void> | undefined;
  let failNext = false;
  const store: SettingStore = {
    getSetting: async (name) => values.get(name),
    async putSetting(name, value) {
      const held = hold;
      hold = undefined;
      if (held !== undefined) await held;
      if (failNext) {
        failNext = false;
        throw new Error("disk full");
      }
      writes.push(structuredClone(value));
      values.set(name, structuredClone(value));
    },
  };
  return {
    store,
    writes,
    stored: () => values.get("s"),
    /** The next write waits until released; writes after it would not (a slow write overtaken by quick ones). */
    holdNextWrite(): () => void {
      let release!: () => void;
      hold = new Promise((resolve) => (release = resolve));
      return release;
    },
    failNextWrite: () => void (failNext = true),
  };
}

afterEach(() => mock.timers.reset());

test("save stores the state as it is when the write runs; writes run in order, so an older state never wins", async () => {
  const s = recordingStore();
  const errors: unknown[] = [];
  let state = 1;
  const setting = new PersistedSetting({ store: s.store, name: "s", snapshot: () => ({ state }), reportError: (e) => errors.push(e) });
  const release = s.holdNextWrite();
  const first = setting.save();
  await new Promise((resolve) => setImmediate(resolve));
  // The first write is in flight with state 1 and slow; the state moves on and is saved again meanwhile.
  state = 2;
  setting.saveInBackground();
  state = 3;
  const last = setting.save();
  await new Promise((resolve) => setImmediate(resolve));
  assert.deepEqual(s.writes, [], "later writes wait for the one in flight instead of overtaking it");
  release();
  await Promise.all([first, last]);
  // Each write stored the state as it was when it ran: the slow first one could not land after a newer one.
  assert.deepEqual(s.writes, [{ state: 1 }, { state: 3 }, { state: 3 }]);
  assert.deepEqual(s.stored(), { state: 3 });
  assert.deepEqual(errors, []);
});

test("markDirty writes once per debounce period however many changes, flush writes only what changed", async () => {
  mock.timers.enable({ apis: ["setTimeout"] });
  const s = recordingStore();
  let count = 0;
  const setting = new PersistedSetting({ store: s.store, name: "s", snapshot: () => count, reportError: (e) => assert.fail(String(e)) });
  for (let i = 0; i < 100; i++) {
    count++;
    setting.markDirty();
  }
  assert.deepEqual(s.writes, [], "nothing is written on the hot path");
  mock.timers.tick(999);
  await new Promise((resolve) => setImmediate(resolve));
  assert.deepEqual(s.writes, [], "not before the debounce period is over");
  mock.timers.tick(1);
  await new Promise((resolve) => setImmediate(resolve));
  assert.deepEqual(s.writes, [100], "one write for the hundred changes");
  await setting.flush();
  assert.deepEqual(s.writes, [100], "flush writes only what changed since the last write");
  count++;
  setting.markDirty();
  await setting.flush();
  assert.deepEqual(s.writes, [100, 101], "flush writes a change at once (tests call it instead of waiting)");
  mock.timers.tick(1000);
  await new Promise((resolve) => setImmediate(resolve));
  assert.deepEqual(s.writes, [100, 101], "the timer then finds nothing left to write");
  await setting.close();
  assert.deepEqual(s.writes, [100, 101], "close writes only what is unwritten");
});

test("close writes what is still unwritten and stops the timer", async () => {
  mock.timers.enable({ apis: ["setTimeout"] });
  const s = recordingStore();
  let count = 0;
  const setting = new PersistedSetting({ store: s.store, name: "s", snapshot: () => count, reportError: (e) => assert.fail(String(e)) });
  count = 7;
  setting.markDirty();
  await setting.close();
  assert.deepEqual(s.writes, [7]);
  count = 8;
  setting.markDirty();
  mock.timers.tick(5000);
  await new Promise((resolve) => setImmediate(resolve));
  assert.deepEqual(s.writes, [7], "no timed writes after close");
});

test("a failed save rejects; a failed background write is reported; the state is written again on the next flush", async () => {
  const s = recordingStore();
  const errors: unknown[] = [];
  let state = "a";
  const setting = new PersistedSetting({ store: s.store, name: "s", snapshot: () => state, reportError: (e) => errors.push(e) });
  s.failNextWrite();
  await assert.rejects(setting.save(), /disk full/);
  assert.equal(s.stored(), undefined);
  state = "b";
  s.failNextWrite();
  setting.saveInBackground();
  await setting.flush();
  assert.equal(errors.length, 1);
  assert.match(String(errors[0]), /disk full/);
  // The flush after the failed background write found the state still unwritten and wrote it.
  assert.equal(s.stored(), "b");
  await setting.close();
});

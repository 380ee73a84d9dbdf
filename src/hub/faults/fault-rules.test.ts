import { afterEach, test } from "node:test";
import assert from "node:assert/strict";
import { HubClock } from "../clock.js";
import { HubError } from "../errors/index.js";
import { HubTimers } from "../timers/hub-timers.js";
import type { CallContext } from "../call-context.js";
import type { IdentityKey } from "../ports/store.js";
import { FAULT_RULES_SETTING, FaultRules, isDropFault, type FaultCall } from "./fault-rules.js";
import { MemoryStore } from "../../storage/memory/memory-store.js";
import { MessageFaults } from "./message-faults.js";
import type { DeviceLink } from "../ports/device-link.js";

const T0 = Date.UTC(2024, 0, 1);
const OWNER: CallContext = { caller: { kind: "policy", policyName: "iothubowner", rights: ["RegistryRead", "RegistryWrite", "ServiceConnect", "DeviceConnect"] }, protocol: "https", trackingId: "t" };
const SERVICE: CallContext = { caller: { kind: "policy", policyName: "service", rights: ["ServiceConnect"] }, protocol: "https", trackingId: "t" };
const device = (deviceId: string, protocol: FaultCall["protocol"] = "mqtt", moduleId = ""): CallContext => ({ caller: { kind: "device", deviceId, moduleId }, protocol, trackingId: "t" });

const cleanups: Array<() => void> = [];
afterEach(() => {
  for (const cleanup of cleanups.splice(0)) cleanup();
});

function setup(randomSeed?: () => number) {
  const clock = new HubClock({ now: () => T0 });
  const timers = new HubTimers(clock, (error) => assert.fail(String(error)));
  cleanups.push(() => timers.clear());
  const dropped: Array<{ key: IdentityKey; reason: string }> = [];
  const rules = new FaultRules({ clock, timers, disconnect: (key, reason) => void dropped.push({ key, reason }), ...(randomSeed === undefined ? {} : { randomSeed }) });
  const advance = async (seconds: number) => {
    clock.advance(seconds);
    timers.poke();
    await new Promise((resolve) => setImmediate(resolve));
  };
  return { clock, timers, rules, dropped, advance };
}

function refusal(body: unknown): (error: unknown) => boolean {
  return (error) => {
    assert.ok(error instanceof HubError, String(error));
    assert.equal(error.errorName, "ArgumentInvalid", `${JSON.stringify(body)}: ${error.message}`);
    return true;
  };
}

test("rules are validated, with messages naming the valid values", async () => {
  const { rules } = setup();
  const cases: Array<[unknown, RegExp]> = [
    [null, /JSON object/],
    [{ error: 999999, operation: "d2c" }, /catalog.*drop, refuseConnect, delay/],
    [{ error: "NoSuchError", operation: "d2c" }, /'error' must be/],
    [{ error: 403002, operation: "teleport" }, /connect, d2c, c2d\.send/],
    [{ error: 403002, operation: "d2c", probability: 1.5 }, /'probability'/],
    [{ error: 403002, operation: "d2c", probability: 0 }, /'probability'/],
    [{ error: 403002, operation: "d2c", count: 0 }, /'count'/],
    [{ error: 403002, operation: "d2c", count: 1.5 }, /'count'/],
    [{ error: 403002, operation: "d2c", seed: 3 }, /'seed' only/],
    [{ error: 403002, operation: "d2c", afterSeconds: -1 }, /'afterSeconds'/],
    [{ error: 403002, operation: "d2c", protocol: "coap" }, /mqtt, amqp, https/],
    [{ error: 403002, operation: "d2c", moduleId: "m" }, /needs 'deviceId'/],
    [{ error: 403002, operation: "d2c", colour: "red" }, /Unknown field/],
    [{ error: "delay", operation: "d2c" }, /delaySeconds/],
    [{ error: 403002, operation: "d2c", delaySeconds: 2 }, /'delay' faults only/],
    [{ error: "refuseConnect", operation: "d2c" }, /'connect' operation only/],
  ];
  for (const [body, message] of cases) await assert.rejects(rules.add(OWNER, body), (error: unknown) => refusal(body)(error) && message.test((error as Error).message));
});

test("only a policy with every right manages rules; unknown ids are 404", async () => {
  const { rules } = setup();
  await assert.rejects(rules.add(SERVICE, { error: 403002, operation: "d2c" }), (e: unknown) => e instanceof HubError && e.code === 401002);
  assert.throws(() => rules.list(SERVICE), (e: unknown) => e instanceof HubError && e.code === 401002);
  await assert.rejects(rules.remove(OWNER, "f99"), (e: unknown) => e instanceof HubError && e.spec.httpStatus === 404);
});

test("an error by code or name applies to matching calls only, and count spends the rule", async () => {
  const { rules } = setup();
  const rule = await rules.add(OWNER, { error: "403002", operation: "d2c", deviceId: "d1", count: 2 });
  assert.equal(rule.id, "f1");
  assert.equal(rule.error, "IotHubQuotaExceeded");
  assert.equal(rule.code, 403002);
  assert.equal(rules.check(device("d2"), "d2c"), undefined);
  assert.equal(rules.check(device("d1"), "twin.get"), undefined);
  assert.throws(() => rules.enter(device("d1"), "d2c"), (e: unknown) => e instanceof HubError && e.code === 403002 && /fault rule f1/.test(e.message));
  assert.deepEqual(rules.check(device("d1", "amqp", "m1"), "d2c"), { kind: "error", error: "IotHubQuotaExceeded", ruleId: "f1" });
  assert.equal(rules.check(device("d1"), "d2c"), undefined);
  assert.deepEqual(rules.list(OWNER).map((r) => [r.applied, r.state]), [[2, "spent"]]);
  await rules.remove(OWNER, "f1");
  assert.deepEqual(rules.list(OWNER), []);
});

test("device rules reach service calls about the device; protocol and module narrow a rule", async () => {
  const { rules } = setup();
  await rules.add(OWNER, { error: "ServerError", operation: "twin.get", deviceId: "d1", moduleId: "m1", protocol: "amqp" });
  assert.equal(rules.check(device("d1", "amqp"), "twin.get"), undefined);
  assert.equal(rules.check(device("d1", "mqtt", "m1"), "twin.get"), undefined);
  assert.equal(rules.check(device("d1", "amqp", "m1"), "twin.get")?.kind, "error");
  await rules.add(OWNER, { error: 404103, operation: "method.invoke", deviceId: "d2" });
  assert.equal(rules.check(SERVICE, "method.invoke", { deviceId: "d3" }), undefined);
  assert.equal(rules.check(SERVICE, "method.invoke", { deviceId: "d2" })?.kind, "error");
  assert.equal(rules.check(SERVICE, "method.invoke"), undefined);
});

test("seeded probabilities repeat exactly, and an unseeded rule shows the seed it drew", async () => {
  const run = async (): Promise<boolean[]> => {
    const { rules } = setup();
    await rules.add(OWNER, { error: 503001, operation: "d2c", probability: 0.3, seed: 42 });
    return Array.from({ length: 200 }, () => rules.check(device("d1"), "d2c") !== undefined);
  };
  const first = await run();
  assert.deepEqual(await run(), first);
  const hits = first.filter(Boolean).length;
  assert.ok(hits > 30 && hits < 90, `about 30% of 200, got ${hits}`);
  const { rules } = setup(() => 7);
  assert.equal((await rules.add(OWNER, { error: 503001, operation: "d2c", probability: 0.5 })).seed, 7);
});

test("afterSeconds and durationSeconds follow the hub clock", async () => {
  const { rules, advance } = setup();
  await rules.add(OWNER, { error: 429001, operation: "*", afterSeconds: 10, durationSeconds: 5 });
  assert.equal(rules.check(device("d1"), "query"), undefined);
  assert.equal(rules.list(OWNER)[0]!.state, "pending");
  await advance(10);
  assert.equal(rules.check(device("d1"), "connect")?.kind, "error");
  assert.equal(rules.list(OWNER)[0]!.state, "active");
  await advance(5);
  assert.equal(rules.check(device("d1"), "connect"), undefined);
  assert.equal(rules.list(OWNER)[0]!.state, "expired");
});

test("transport faults: drop closes the caller's connection, refuseConnect is 503, delay waits on hub timers", async () => {
  const { rules, dropped, advance } = setup();
  await rules.add(OWNER, { error: "drop", operation: "d2c", count: 1 });
  assert.throws(() => rules.enter(device("d1"), "d2c"), (e: unknown) => isDropFault(e));
  assert.deepEqual(dropped, [{ key: { deviceId: "d1", moduleId: "" }, reason: "DeviceConnectionClosedRemotely" }]);
  await rules.add(OWNER, { error: "refuseConnect", operation: "connect", count: 1 });
  assert.throws(() => rules.enter({ caller: device("d1").caller, protocol: "mqtt" }, "connect"), (e: unknown) => e instanceof HubError && e.code === 503001 && !isDropFault(e));
  await rules.add(OWNER, { error: "delay", operation: "twin.get", delaySeconds: 30 });
  let done = false;
  void rules.enter(device("d1"), "twin.get")!.then(() => (done = true));
  await advance(29);
  assert.equal(done, false);
  await advance(1);
  assert.equal(done, true);
});

test("400027 and 404104 rules end the caller's connection with that reason; other codes refuse only the call", async () => {
  const { rules, dropped } = setup();
  await rules.add(OWNER, { error: 400027, operation: "d2c", count: 1 });
  assert.throws(() => rules.enter(device("d1", "amqp"), "d2c"), (e: unknown) => e instanceof HubError && e.code === 400027);
  await rules.add(OWNER, { error: 500001, operation: "d2c", count: 1 });
  assert.throws(() => rules.enter(device("d2", "amqp"), "d2c"), (e: unknown) => e instanceof HubError && e.code === 500001);
  assert.deepEqual(dropped, [{ key: { deviceId: "d1", moduleId: "" }, reason: "ConnectionForcefullyClosedOnNewConnection" }]);
});

test("a 409002 rule detaches the link the operation travels on, then refuses the call", async () => {
  const clock = new HubClock({ now: () => T0 });
  const timers = new HubTimers(clock, (error) => assert.fail(String(error)));
  cleanups.push(() => timers.clear());
  const detached: string[] = [];
  const rules = new FaultRules({ clock, timers, disconnect: () => assert.fail("no disconnect"), detach: (key, role, reason) => detached.push(`${key.deviceId}:${role}:${reason}`) > 0 });
  await rules.add(OWNER, { error: 409002, operation: "twin.get", count: 1 });
  assert.throws(() => rules.enter(device("d1", "amqp"), "twin.get"), (e: unknown) => e instanceof HubError && e.code === 409002);
  assert.deepEqual(detached, ["d1:twinRequest:LinkCreationConflict"]);
});

test("SDK fault messages: Kill* closes or detaches after the delay, Invoke* fails the sender's calls for the duration", async () => {
  const { rules, timers, dropped, advance } = setup();
  const detached: string[] = [];
  const link = { detach: (role: string) => (detached.push(role), role === "d2c") } as unknown as DeviceLink;
  const faults = new MessageFaults({ timers, rules, find: () => link, disconnect: (key, reason) => void dropped.push({ key, reason }) });
  const props = (type: string, extra: Record<string, string> = {}) => ({ AzIoTHub_FaultOperationType: type, AzIoTHub_FaultOperationCloseReason: "boom", ...extra });

  assert.equal(faults.prepare(device("d1"), { other: "x" }), undefined);
  assert.throws(() => faults.prepare(device("d1"), props("KillEverything")), (e: unknown) => e instanceof HubError && /KillTcp/.test(e.message));
  assert.throws(() => faults.prepare(device("d1"), props("KillTcp", { AzIoTHub_FaultOperationDelayInSecs: "soon" })), /DelayInSecs/);

  faults.prepare(device("d1"), props("KillTcp", { AzIoTHub_FaultOperationDelayInSecs: "2" }))!();
  await advance(1);
  assert.equal(dropped.length, 0);
  await advance(1);
  assert.equal(dropped.length, 1);

  faults.prepare(device("d1", "amqp"), props("KillAmqpD2CLink"))!();
  await advance(0);
  assert.deepEqual(detached, ["d2c"]);
  assert.equal(dropped.length, 1);
  // A link the gateway does not have: the connection is closed instead.
  faults.prepare(device("d1", "amqp"), props("KillAmqpTwinLinkReq"))!();
  await advance(0);
  assert.equal(dropped.length, 2);

  faults.prepare(device("d1", "amqp"), props("InvokeThrottling", { AzIoTHub_FaultOperationDelayInSecs: "1", AzIoTHub_FaultOperationDurationInSecs: "5" }))!();
  assert.equal(rules.check(device("d1", "amqp"), "d2c"), undefined);
  await advance(1);
  assert.deepEqual(rules.check(device("d1", "amqp"), "d2c"), { kind: "error", error: "ThrottlingException", ruleId: "f1" });
  assert.equal(rules.check(device("d2", "amqp"), "d2c"), undefined);
  // Scoped to the sender's own calls: a service call about it is not throttled.
  assert.equal(rules.check(SERVICE, "twin.get", { deviceId: "d1" }), undefined);
  await advance(5);
  assert.equal(rules.check(device("d1", "amqp"), "d2c"), undefined);
  assert.deepEqual(rules.list(OWNER), [], "message rules go once they are over");
});

// Decision 0013: admin rules survive a restart. A "restart" is new objects (clock, timers, rules) over the same store.

/** Rules kept in `store`, as the hub builds them on start; `errors` collects what would go to reportError. */
async function start(store: MemoryStore, offsetSeconds = 0) {
  const clock = new HubClock({ now: () => T0 }, offsetSeconds * 1000);
  const timers = new HubTimers(clock, (error) => assert.fail(String(error)));
  cleanups.push(() => timers.clear());
  const errors: unknown[] = [];
  const rules = await FaultRules.load({ clock, timers, disconnect: () => undefined, persistence: { store, reportError: (error) => errors.push(error) } });
  return { clock, timers, rules, errors };
}

async function storedIds(store: MemoryStore): Promise<string[]> {
  return ((await store.getSetting(FAULT_RULES_SETTING)) as { rules: Array<{ id: string }> }).rules.map((r) => r.id);
}

test("admin rules come back after a restart with their ids, windows and use counts; new ids carry on", async () => {
  const store = new MemoryStore();
  const first = await start(store);
  await first.rules.add(OWNER, { error: 403002, operation: "d2c", deviceId: "d1", count: 5 });
  await first.rules.add(OWNER, { error: 429001, operation: "twin.get", afterSeconds: 60, durationSeconds: 30 });
  // add answers once the store holds the rule, without any flush.
  assert.deepEqual(await storedIds(store), ["f1", "f2"]);
  assert.equal(first.rules.check(device("d1"), "d2c")?.kind, "error");
  assert.equal(first.rules.check(device("d1"), "d2c")?.kind, "error");
  // Use counts are written by the (once-a-second) flush, here called directly.
  await first.rules.flush();
  const before = first.rules.list(OWNER);
  assert.deepEqual(before.map((r) => [r.id, r.applied, r.state]), [["f1", 2, "active"], ["f2", 0, "pending"]]);

  const second = await start(store);
  assert.deepEqual(second.rules.list(OWNER), before);
  // The count carries on: three uses left of five.
  for (let i = 0; i < 3; i++) assert.equal(second.rules.check(device("d1"), "d2c")?.ruleId, "f1");
  assert.equal(second.rules.check(device("d1"), "d2c"), undefined);
  // The window is where it was on the hub clock: 60 s after the rule was added, for 30 s.
  second.clock.advance(59);
  assert.equal(second.rules.check(device("d1"), "twin.get"), undefined);
  second.clock.advance(1);
  assert.equal(second.rules.check(device("d1"), "twin.get")?.ruleId, "f2");
  second.clock.advance(30);
  assert.equal(second.rules.check(device("d1"), "twin.get"), undefined);
  assert.equal((await second.rules.add(OWNER, { error: 500001, operation: "query" })).id, "f3");
  await second.rules.close();

  const third = await start(store, 90);
  assert.deepEqual(third.rules.list(OWNER).map((r) => [r.id, r.applied, r.state]), [["f1", 5, "spent"], ["f2", 1, "expired"], ["f3", 0, "active"]]);
  assert.deepEqual([first.errors, second.errors, third.errors], [[], [], []]);
});

test("a seeded probability rule continues its sequence across a restart instead of starting it again", async () => {
  const RULE = { error: 503001, operation: "d2c", probability: 0.3, seed: 42 };
  const draws = (rules: FaultRules, n: number): boolean[] => Array.from({ length: n }, () => rules.check(device("d1"), "d2c") !== undefined);
  const uninterrupted = setup();
  await uninterrupted.rules.add(OWNER, RULE);
  const expected = draws(uninterrupted.rules, 200);

  const store = new MemoryStore();
  const first = await start(store);
  await first.rules.add(OWNER, RULE);
  assert.deepEqual(draws(first.rules, 80), expected.slice(0, 80));
  await first.rules.flush();
  const second = await start(store);
  assert.deepEqual(draws(second.rules, 120), expected.slice(80));
  assert.equal(second.rules.list(OWNER)[0]!.applied, expected.filter(Boolean).length);
  // Starting again from the seed would have repeated the first draws: the test tells the two apart.
  assert.notDeepEqual(expected.slice(0, 120), expected.slice(80));
});

test("removed rules stay removed, their ids are not reused, and SDK message rules are not stored", async () => {
  const store = new MemoryStore();
  const first = await start(store);
  for (let i = 0; i < 3; i++) await first.rules.add(OWNER, { error: 500001, operation: "registry" });
  await first.rules.remove(OWNER, "f1");
  await first.rules.remove(OWNER, "f3");
  // remove answers once the store no longer holds the rule.
  assert.deepEqual(await storedIds(store), ["f2"]);
  const message = first.rules.addInternal({ error: "ThrottlingException", operation: "*", deviceId: "d1", durationSeconds: 10 });
  assert.equal(message.id, "f4");
  assert.equal(first.rules.check(device("d1"), "registry")?.ruleId, "f2");
  assert.equal(first.rules.check(device("d1"), "d2c")?.ruleId, "f4");
  await first.rules.close();
  assert.deepEqual(await storedIds(store), ["f2"]);

  const second = await start(store);
  assert.deepEqual(second.rules.list(OWNER).map((r) => [r.id, r.source, r.applied]), [["f2", "admin", 1]]);
  assert.equal(second.rules.check(device("d1"), "d2c"), undefined, "the message rule did not come back");
  // The stored counter was 4 (the last write came after the message rule f4): no id in use before is handed out again,
  // neither the removed f3 nor the message rule's f4.
  assert.equal((await second.rules.add(OWNER, { error: 500001, operation: "query" })).id, "f5");
});

test("add and remove that cannot be stored are refused and undone; a stored rule that no longer validates is dropped", async () => {
  const store = new MemoryStore();
  const first = await start(store);
  await first.rules.add(OWNER, { error: 500001, operation: "registry" });
  await first.rules.add(OWNER, { error: 500001, operation: "query" });
  const putSetting = store.putSetting.bind(store);
  store.putSetting = () => Promise.reject(new Error("disk full"));
  await assert.rejects(first.rules.add(OWNER, { error: 500001, operation: "d2c" }), /disk full/);
  await assert.rejects(first.rules.remove(OWNER, "f1"), /disk full/);
  // f1 is back in its place (rules are tried in creation order) and the refused rule is gone.
  assert.deepEqual(first.rules.list(OWNER).map((r) => r.id), ["f1", "f2"]);
  assert.equal(first.rules.check(device("d1"), "d2c"), undefined);
  store.putSetting = putSetting;
  await first.rules.close();
  assert.deepEqual(await storedIds(store), ["f1", "f2"]);

  const stored = (await store.getSetting(FAULT_RULES_SETTING)) as { nextId: number; rules: Array<Record<string, unknown>> };
  await store.putSetting(FAULT_RULES_SETTING, { ...stored, rules: [{ ...stored.rules[0], operation: "teleport" }, stored.rules[1]] });
  const second = await start(store);
  assert.deepEqual(second.rules.list(OWNER).map((r) => r.id), ["f2"]);
  assert.equal(second.errors.length, 1);
  assert.match(String(second.errors[0]), /not valid any more/);
  assert.equal((await second.rules.add(OWNER, { error: 500001, operation: "d2c" })).id, "f4", "the counter was 3 (f3 was refused, not reused)");
});

import { test } from "node:test";
import assert from "node:assert/strict";
import type { CallContext } from "../call-context.js";
import { HubError, type HubErrorName } from "../errors/index.js";
import { MemoryStore } from "../../storage/memory/memory-store.js";
import { CONSUMER_GROUPS_SETTING, ConsumerGroups, MAX_CONSUMER_GROUPS } from "./consumer-groups.js";

const owner: CallContext = { caller: { kind: "policy", policyName: "iothubowner", rights: ["RegistryRead", "RegistryWrite", "ServiceConnect", "DeviceConnect"] }, protocol: "https", trackingId: "own" };
const service: CallContext = { caller: { kind: "policy", policyName: "service", rights: ["ServiceConnect"] }, protocol: "https", trackingId: "svc" };

const hubError = (name: HubErrorName, text?: RegExp) => (error: unknown) => error instanceof HubError && error.errorName === name && (text === undefined || text.test(error.message));

test("$Default always exists and matches in any case", async () => {
  const groups = new ConsumerGroups(new MemoryStore());
  await groups.load();
  assert.deepEqual(await groups.list(owner), ["$Default"]);
  assert.equal(groups.has("$default"), true);
  assert.equal(groups.resolve("$DEFAULT"), "$Default");
  assert.equal(groups.has("other"), false);
});

test("add, list, remove; names compared without regard to case and persisted in the store", async () => {
  const store = new MemoryStore();
  const groups = new ConsumerGroups(store);
  assert.equal(await groups.add(owner, "Analytics"), "Analytics");
  assert.equal(await groups.add(owner, "a.b_c-9"), "a.b_c-9");
  // ARM PUT semantics: creating an existing group returns it as it is.
  assert.equal(await groups.add(owner, "ANALYTICS"), "Analytics");
  assert.equal(await groups.add(owner, "$default"), "$Default");
  assert.deepEqual(await groups.list(owner), ["$Default", "Analytics", "a.b_c-9"]);
  assert.equal(groups.has("analytics"), true);
  assert.deepEqual(await store.getSetting(CONSUMER_GROUPS_SETTING), ["Analytics", "a.b_c-9"]);

  const reloaded = new ConsumerGroups(store);
  await reloaded.load();
  assert.deepEqual(await reloaded.list(owner), ["$Default", "Analytics", "a.b_c-9"]);

  const removed: string[] = [];
  groups.onRemoved((name) => removed.push(name));
  await groups.remove(owner, "analytics");
  assert.deepEqual(removed, ["Analytics"]);
  assert.deepEqual(await groups.list(owner), ["$Default", "a.b_c-9"]);
  assert.equal(groups.has("Analytics"), false);
  await assert.rejects(groups.remove(owner, "analytics"), hubError("NotFound", /The consumer group 'analytics' does not exist/));
});

test("$Default cannot be removed", async () => {
  const groups = new ConsumerGroups(new MemoryStore());
  await assert.rejects(groups.remove(owner, "$Default"), hubError("InvalidOperation", /cannot be deleted/));
  await assert.rejects(groups.remove(owner, "$default"), hubError("InvalidOperation"));
});

test("names follow Azure's rules", async () => {
  const groups = new ConsumerGroups(new MemoryStore());
  for (const name of ["", "-leading", ".leading", "_leading", "$custom", "has space", "slash/no", "x".repeat(51), "ünïcode"]) {
    await assert.rejects(groups.add(owner, name), hubError("ArgumentInvalid", /is not valid/), JSON.stringify(name));
  }
  assert.equal(await groups.add(owner, "x".repeat(50)), "x".repeat(50));
  assert.equal(await groups.add(owner, "9"), "9");
});

test(`at most ${MAX_CONSUMER_GROUPS} groups, $Default included`, async () => {
  const groups = new ConsumerGroups(new MemoryStore());
  await Promise.all(Array.from({ length: MAX_CONSUMER_GROUPS - 1 }, (_, i) => groups.add(owner, `g${i}`)));
  assert.equal((await groups.list(owner)).length, MAX_CONSUMER_GROUPS);
  await assert.rejects(groups.add(owner, "one-too-many"), hubError("ArgumentInvalid", /20 consumer groups/));
  // An existing name is still answered.
  assert.equal(await groups.add(owner, "G3"), "g3");
  await groups.remove(owner, "g0");
  assert.equal(await groups.add(owner, "one-too-many"), "one-too-many");
});

test("only a policy holding every right manages consumer groups", async () => {
  const groups = new ConsumerGroups(new MemoryStore());
  await assert.rejects(groups.list(service), hubError("IotHubUnauthorizedAccess"));
  await assert.rejects(async () => groups.add(service, "x"), hubError("IotHubUnauthorizedAccess"));
  await assert.rejects(async () => groups.remove(service, "x"), hubError("IotHubUnauthorizedAccess"));
});

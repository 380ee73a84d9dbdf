import { test } from "node:test";
import assert from "node:assert/strict";
import type { CallContext } from "../call-context.js";
import { HubClock } from "../clock.js";
import type { Ids } from "../ports/ids.js";
import type { Store } from "../ports/store.js";
import { SerialQueue } from "../../shared/serial-queue.js";
import { MemoryStore } from "../../storage/memory/memory-store.js";
import { Registry } from "./registry.js";

// A start after a crash: identities whose disconnect was never written are Disconnected, as of the start.

const T0 = Date.UTC(2026, 10, 27, 9, 0, 0);
const service: CallContext = { caller: { kind: "policy", policyName: "iothubowner", rights: ["RegistryRead", "RegistryWrite", "ServiceConnect"] }, protocol: "https", trackingId: "t" };
let counter = 0;
const ids: Ids = {
  trackingId: () => String(++counter),
  generationId: () => `63800000000000${String(++counter).padStart(4, "0")}`,
  symmetricKey: () => Buffer.alloc(32, 7).toString("base64"),
};

function registryOn(store: Store, now: number): Registry {
  return new Registry({ store, clock: new HubClock({ now: () => now }), ids, writes: new SerialQueue(), limits: { maxDevicesInList: 1000, maxModulesPerDevice: 50 }, connectedCount: () => 0 });
}

async function state(store: Store, deviceId: string, moduleId = ""): Promise<[string, string, string] | undefined> {
  const identity = (await store.getIdentity({ deviceId, moduleId }))?.identity;
  return identity === undefined ? undefined : [identity.connectionState, identity.connectionStateUpdatedTime, identity.lastActivityTime];
}

test("a start after a crash marks the identities left Connected as Disconnected; a start after a clean stop scans nothing", async () => {
  const store = new MemoryStore();
  const first = registryOn(store, T0);
  assert.equal(await first.resetConnectionStates(), 0, "a new data dir has nothing to reset");
  for (const deviceId of ["a", "b", "c"]) await first.put(service, { deviceId, body: { deviceId }, ifMatch: undefined });
  await first.put(service, { deviceId: "a", moduleId: "m", body: { deviceId: "a", moduleId: "m" }, ifMatch: undefined });
  await Promise.all([
    first.recordConnectionState({ deviceId: "a", moduleId: "" }, true, T0 + 1000),
    first.recordConnectionState({ deviceId: "a", moduleId: "m" }, true, T0 + 1000),
    first.recordConnectionState({ deviceId: "b", moduleId: "" }, true, T0 + 1000),
  ]);
  await first.recordConnectionState({ deviceId: "b", moduleId: "" }, false, T0 + 2000);
  // The process dies here: no stopConnectionStates.

  const second = registryOn(store, T0 + 60_000);
  assert.equal(await second.resetConnectionStates(), 2);
  const connected = "2026-11-27T09:00:01.0000000Z";
  assert.deepEqual(await state(store, "a"), ["Disconnected", "2026-11-27T09:01:00.0000000Z", connected]);
  assert.deepEqual(await state(store, "a", "m"), ["Disconnected", "2026-11-27T09:01:00.0000000Z", connected]);
  assert.deepEqual(await state(store, "b"), ["Disconnected", "2026-11-27T09:00:02.0000000Z", "2026-11-27T09:00:02.0000000Z"]);
  assert.deepEqual((await state(store, "c"))?.[0], "Disconnected");

  // A clean stop: the next start trusts the store and does not scan it.
  await second.recordConnectionState({ deviceId: "c", moduleId: "" }, true, T0 + 61_000);
  await second.stopConnectionStates();
  const scans: unknown[] = [];
  const watched = new Proxy(store, { get: (target, name, receiver) => (name === "scan" ? (...args: unknown[]) => (scans.push(args), target.scan(...(args as [never]))) : Reflect.get(target, name, receiver)) });
  assert.equal(await registryOn(watched, T0 + 120_000).resetConnectionStates(), 0);
  assert.deepEqual(scans, []);
  // That start is running now: a crash after it is caught by the start after.
  assert.equal(await registryOn(store, T0 + 180_000).resetConnectionStates(), 1);
  assert.deepEqual((await state(store, "c"))?.[0], "Disconnected");
});

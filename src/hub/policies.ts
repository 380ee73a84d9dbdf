import type { Ids } from "./ports/ids.js";
import type { Store } from "./ports/store.js";
import { BUILT_IN_POLICIES, RIGHTS, type SharedAccessPolicy } from "./auth/rights.js";

const SETTING = "sharedAccessPolicies";

/**
 * Loads the hub's shared access policies; on first start creates the five built-in ones with random keys and
 * stores them, so later starts (and their connection strings) keep the same keys.
 */
export async function loadOrCreatePolicies(store: Store, ids: Ids): Promise<SharedAccessPolicy[]> {
  const stored = await store.getSetting(SETTING);
  if (Array.isArray(stored) && stored.every(isPolicy)) return stored;
  const policies = BUILT_IN_POLICIES.map((p) => ({ keyName: p.keyName, primaryKey: ids.symmetricKey(), secondaryKey: ids.symmetricKey(), rights: [...p.rights] }));
  await store.putSetting(SETTING, policies);
  return policies;
}

function isPolicy(value: unknown): value is SharedAccessPolicy {
  const p = value as SharedAccessPolicy;
  return typeof p === "object" && p !== null && typeof p.keyName === "string" && typeof p.primaryKey === "string" && typeof p.secondaryKey === "string" && Array.isArray(p.rights) && p.rights.every((r) => (RIGHTS as readonly string[]).includes(r));
}

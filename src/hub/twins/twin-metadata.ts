/**
 * `$metadata` for desired and reported (query-twins-jobs-routing.md §2.7): it mirrors the value tree, every object
 * and leaf has a node, a write refreshes the nodes it touches and every ancestor up to the root, and deleted keys
 * lose their node. Desired nodes carry `$lastUpdated` and `$lastUpdatedVersion`; reported nodes only
 * `$lastUpdated`. Arrays are leaves: their elements get no metadata of their own (our choice; arrays are replaced
 * whole, §2.3).
 */
import { cloneJson, getOwn, isJsonObject, setOwn, type JsonObject } from "./json-value.js";

/** What a write stamps on the nodes it touches. */
export interface MetadataStamp {
  readonly $lastUpdated: string;
  /** Desired only: the desired `$version` produced by the write. */
  readonly $lastUpdatedVersion?: number;
}

/**
 * The `$metadata` tree for `values` (a section after a write) given the tree before it and the patch that was
 * applied. Untouched subtrees keep their old nodes, including configuration marks such as `$lastUpdatedBy`;
 * touched nodes are rebuilt from `stamp`, so a service write over a configuration-written leaf drops those marks.
 * For a wholesale replacement pass the new values as the patch: every node is then touched.
 */
export function refreshMetadata(previous: JsonObject, values: JsonObject, patch: JsonObject, stamp: MetadataStamp): JsonObject {
  const node = stampNode(stamp);
  for (const key of Object.keys(values)) {
    const value = values[key];
    const oldChild = getOwn(previous, key);
    let child: JsonObject;
    if (Object.hasOwn(patch, key)) {
      const patchValue = getOwn(patch, key);
      child =
        isJsonObject(patchValue) && isJsonObject(value)
          ? refreshMetadata(isJsonObject(oldChild) ? oldChild : {}, value, patchValue, stamp)
          : stampTree(value, stamp);
    } else if (isJsonObject(oldChild)) {
      child = cloneJson(oldChild);
    } else {
      // Untouched but without metadata (a record written by something else): give it a consistent node.
      child = stampTree(value, stamp);
    }
    setOwn(node, key, child);
  }
  return node;
}

/** A root `$metadata` for an empty section: what a fresh twin has on both sides (§2.1). */
export function stampNode(stamp: MetadataStamp): JsonObject {
  return stamp.$lastUpdatedVersion === undefined
    ? { $lastUpdated: stamp.$lastUpdated }
    : { $lastUpdated: stamp.$lastUpdated, $lastUpdatedVersion: stamp.$lastUpdatedVersion };
}

/** A node for `value` with every descendant stamped. */
function stampTree(value: unknown, stamp: MetadataStamp): JsonObject {
  return isJsonObject(value) ? refreshMetadata({}, value, value, stamp) : stampNode(stamp);
}

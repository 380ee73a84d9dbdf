import type { LinkAddress } from "./link-address.js";
import type { LinkFactory } from "./link-handler.js";
import { managementLink } from "./management-link.js";
import { partitionLink } from "./partition-link.js";

/** The Event Hub-compatible endpoint: `$management` and partition receivers. */
export const EVENT_HUB_LINK_FACTORIES: Partial<Record<LinkAddress["kind"], LinkFactory>> = {
  management: managementLink,
  partition: partitionLink,
};
